"""``SearchState``: what every move reads and feeds during one search call.

It holds the data, the model and its decoding constraints, the map's columns, the candidate
:class:`~gensr.search.pool.Pool`, the :class:`~gensr.deadline.Deadline`, and the latent side of the search:
the fittest latent decoded so far and the per-coordinate search shape (the prior σ of the best initial
latent). The one pipeline from latents to scored candidates, :meth:`SearchState.evaluate_latents`, lives
here, so every latent move (localisation, CMA-ES, LEE) scores the same way.

The map reads every column when there are at most as many as the model takes (``model.cfg.max_vars``), else
the most informative by mutual information; its decodes are mapped back to the data's columns, and only
formulas over its columns are re-encoded. Every other move, the fits and the scores use all columns.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from gensr._utils import model_device, rank_features
from gensr.codec import arity_tensor, decoded_expression, token_mask_for
from gensr.deadline import Deadline
from gensr.grammar import Expression
from gensr.loss import Loss
from gensr.noise import NOISE_MODELS
from gensr.search.config import SearchConfig
from gensr.search.pool import Pool

__all__ = ["SearchState"]

_DECODE_CHUNK = 32  # latents decoded per model call: bounds the overshoot of the deadline by one decode


class SearchState:
    """Data, model, pool, deadline and the best latent of one search; moves read and update it."""

    def __init__(self, model: torch.nn.Module, X: np.ndarray, y: np.ndarray, cfg: SearchConfig,
                 rng: np.random.Generator, deadline: Deadline, weights: np.ndarray | None = None,
                 seeds: list[tuple[Expression, str]] | None = None, loss: Loss | None = None):
        self.model, self.X, self.y, self.cfg, self.rng, self.deadline = model, X, y, cfg, rng, deadline
        self.weights = weights
        self.seeds = list(seeds or ())  # (equation, stage): the user's seeds, the baselines, units equations
        self.device = model_device(model)
        self.tgen = torch.Generator(device=self.device).manual_seed(int(rng.integers(2**62)))
        self.pool = Pool(X, y, cfg, deadline, fit_seed=int(rng.integers(2**62)), weights=weights,
                         loss=loss)
        self.arity = arity_tensor(self.device)
        width = model.cfg.max_vars
        with deadline.section("bookkeeping"):
            # columns by relevance (the terms library's order) and the map's view: the first `width` of them
            self.column_order = np.arange(X.shape[1]) if X.shape[1] <= width else rank_features(X, y, rng)
        self.map_columns = np.sort(self.column_order[:width])
        self._to_map = {int(j): i for i, j in enumerate(self.map_columns)}
        self.X_map = X if X.shape[1] <= width else X[:, self.map_columns]
        self.token_mask = token_mask_for([len(self.map_columns)], self.device, cfg.operators)  # (1, V)
        enc_rows = self.rows(X.shape[0] <= cfg.localise.max_points)
        self.X_enc, self.y_enc = self.X_map[enc_rows], y[enc_rows]  # subset 0: also the data of the LEE steps
        self.best_z: np.ndarray | None = None  # the fittest latent decoded so far (the first one on ties)
        self.best_zf = -math.inf
        self.reencoded: set[tuple[str, ...]] = set()
        self.evaluations = self.n_invalid = self.generations = self.restarts = 0
        with deadline.section("bookkeeping"):
            # its own fixed seeds: the search's stream is untouched
            self.noise_model = NOISE_MODELS[cfg.budget.noise_model]()
            self.noise = self.noise_model.floor(X, y, weights=weights)

    def rows(self, all_rows: bool) -> np.ndarray:
        """Rows of one encoded subset: all of them, ``max_points`` at random, or half if there are fewer.

        With sample weights, rows of weight 0 are never encoded and the others are drawn by weight.
        """
        n, m = len(self.y), self.cfg.localise.max_points
        if self.weights is not None and np.count_nonzero(self.weights) < n:
            kept = np.flatnonzero(self.weights)
            if all_rows or len(kept) <= 2:
                return kept
            size = m if len(kept) > m else max(2, len(kept) // 2)
            p = self.weights[kept] / self.weights[kept].sum()
            return np.sort(self.rng.choice(kept, size=size, replace=False, p=p))
        if all_rows:
            return np.arange(n)
        size = m if n > m else max(2, n // 2)
        return np.sort(self.rng.choice(n, size=size, replace=False))

    # ---- latents -> candidates -----------------------------------------------------------------------
    def decode(self, Z: np.ndarray) -> list[list[Expression | None]]:
        """Greedy and temperature decodes of each latent, parsed (None where a decode does not parse)."""
        with self.deadline.section("decode"):
            z = torch.as_tensor(Z, dtype=torch.float32, device=self.device)
            kw = {"arity": self.arity, "token_mask": self.token_mask}
            outs = [self.model.decode(z, method="greedy", **kw)]
            for t in self.cfg.localise.temperatures:
                outs.append(self.model.decode(z, method="sample", temperature=t, generator=self.tgen, **kw))
        return [[self.from_map(decoded_expression(ids[i])) for ids in outs] for i in range(len(Z))]

    def from_map(self, expr: Expression | None) -> Expression | None:
        """A decoded expression (over the map's columns) over the data's columns."""
        if expr is None or self.X_map is self.X:
            return expr
        return expr.renamed(self.map_columns)

    def to_map(self, expr: Expression) -> Expression | None:
        """An expression over the map's columns (what the model can encode); None if it uses another column."""
        if self.X_map is self.X:
            return expr
        if not all(v in self._to_map for v in expr.variables):
            return None
        return expr.renamed(self._to_map)

    def evaluate_latents(self, Z: np.ndarray, stage: str) -> np.ndarray:
        """Fitness (best score among its decodes, −inf if none is valid) per latent; NaN where time ran out."""
        fitness = np.full(len(Z), np.nan)
        for start in range(0, len(Z), _DECODE_CHUNK):
            if self.deadline.expired():
                break
            decodes = self.decode(Z[start : start + _DECODE_CHUNK])
            base, self.evaluations = self.evaluations, self.evaluations + len(decodes)
            for i, exprs in enumerate(decodes):
                best = -math.inf
                for e in exprs:
                    s = -math.inf if e is None else self.pool.score(e, stage, base + i + 1)
                    if s is None:
                        return fitness
                    self.n_invalid += e is None
                    best = max(best, s)
                fitness[start + i] = best
                if self.best_z is None or best > self.best_zf:
                    self.best_z, self.best_zf = np.array(Z[start + i], dtype=np.float64), best
        return fitness

    def score_all(self, exprs: list[Expression], stage: str) -> bool:
        """Score expressions in order; False once the deadline stops it."""
        for e in exprs:
            if self.pool.score(e, stage, self.evaluations) is None:
                return False
        return True

    def best_latent(self) -> np.ndarray:
        assert self.best_z is not None, "no latent decoded yet"
        return self.best_z

    def best_candidate(self) -> Any:
        return None if self.pool.best is None else self.pool.candidates[self.pool.best]
