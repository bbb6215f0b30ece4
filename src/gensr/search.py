"""GenSR's fine search: coarse localisation by the prior branch, then CMA-ES in latent space (GENSR_METHOD.md §6).

:func:`search` takes a trained :class:`gensr.model.CVAE` and a user's data and returns every equation it
scored, in a :class:`SearchResult`. The stages, in order, all under one wall-clock budget:

1. **seed equations** (optional, ``extra_expressions``): the user's skeletons are fitted and scored first;
2. **coarse localisation** (§6.2): the prior branch encodes ``n_subsets`` random row subsets and
   ``n_ynoise`` y-noise re-encodings (GenSR's s_i = 0.01(i/5 + 1)·std(y)); the means are decoded, then the
   seeds' posterior latents, then ``n_prior_samples`` samples z ~ N(μ, σ²) of the encodings;
3. **fine search** (§6.5): :class:`gensr.cmaes.LatentCMAES` from the best latent so far, with the prior σ
   of that latent's encoding as the per-coordinate search shape; IPOP restarts (λ doubles) after a
   restartable stop;
4. **LEE refinement** (§9.3, our reading; :mod:`gensr.refine`) every ``reencode_every`` generations and once
   after the initial population: the best candidates not yet re-encoded go through the posterior branch,
   and Adam steps through ``g_eval`` move those latents and the best latent; the results are decoded and
   scored, and a refined latent that beats the CMA-ES run re-centres it there;
5. **local symbolic edits** (:mod:`gensr.edits`) every ``edit_every`` generations and once before CMA-ES:
   random single edits of the best candidates (swap a variable or operator, wrap in a unary, delete a node,
   combine with a variable or constant), fitted and scored like decodes. Edited candidates that become the
   best are re-encoded by the next LEE round, which brings them back into the latent search.

The candidate pipeline is batched: latents (B, L) → ``model.decode`` (greedy, plus sampling at each of
``temperatures``; grammar-constrained, no variable beyond the data's d) → :class:`Expression` (invalid
parses are counted, never fitted) → the canonical skeleton key → a cache, so a skeleton is fitted once and
a repeated skeleton reuses its record → :func:`gensr.constants.fit_constants` on at most ``fit_rows`` rows
of the raw data, R² on all rows → score = R² − parsimony·complexity. A latent's fitness is the best score
among its decodes (failures −inf); CMA-ES minimises −fitness. Unlike the released GenSR (§8 q7), a repeated
skeleton keeps its cached score instead of scoring 0.

Where we depart from the released code: one time budget covers everything (GenSR's clock starts after the
initial population, §6.6); every fitted candidate is kept, and the result carries the complexity–MSE
Pareto front instead of one equation; the model reads raw X (it standardises internally) where GenSR
standardises X for the encoder; constants are fitted by Levenberg–Marquardt with exact gradients.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from tqdm.auto import tqdm

from gensr.cmaes import RESTARTABLE, CMAESConfig, LatentCMAES
from gensr.codec import arity_tensor, decoded_expression, pack_data, token_mask_for
from gensr.constants import fit_constants
from gensr.edits import neighbours
from gensr.grammar import MAX_VARS, Expression, parse
from gensr.pareto import pareto_front, select_model
from gensr.pareto import score as gensr_score
from gensr.refine import geval_path, reencode

__all__ = ["STAGES", "Candidate", "SearchConfig", "SearchResult", "search"]

STAGES = ("seed", "prior", "ynoise", "sample", "cma", "reencode", "geval", "edit")
"""Where a candidate was first found (see the module docstring)."""

_DECODE_CHUNK = 32  # latents decoded per model call: bounds the overshoot of the deadline by one decode
_TIMING_KEYS = ("encode", "decode", "fit", "refine", "bookkeeping")


@dataclass(frozen=True)
class SearchConfig:
    """Settings of :func:`search`; every default says why it was chosen."""

    # -- budgets and stopping
    max_time: float = 60.0  # wall-clock s for EVERYTHING (encoding, initial population, fits, bookkeeping)
    max_generations: int = 200  # CMA-ES generations over all restarts (GenSR: 120 of 81); time usually binds
    target_r2: float = 0.999999  # stop once the best-score candidate's training R² reaches this: exact fits of
    # noise-free data reach it, noisy data never do (GenSR's 0.95/0.99 stop on approximations); > 1: never
    # -- CMA-ES (gensr.cmaes)
    popsize: int | None = None  # λ; None: 4 + ⌊3 ln L⌋ (14 at L = 32), cheap generations (GenSR: 81 at L = 512)
    sigma0: float = 1.0  # initial step in units of the prior σ: samples start where p(z | data) has mass
    cma_update: Literal["standard", "gensr"] = "standard"  # sep-CMA-ES; "gensr" = the released update
    top_k: int | None = None  # search only the k latent dims of largest prior σ (GenSR's top-k, off there too)
    include_mean: bool = True  # evaluate the mean each generation as GenSR does; its decode is often cached
    max_restarts: int = 3  # IPOP restarts (λ doubles) after tolfun/tolx/stall; the clock usually ends first
    stall_iters: int | None = 20  # generations without a better latent that end a run (and trigger a restart)
    # -- scoring
    parsimony: float = 0.0025  # w in score = R² − w·complexity: GenSR's 1/400 per prefix node
    # -- coarse localisation (§6.2)
    max_points: int = 200  # rows per encoded subset, as in GenSR and in training
    n_subsets: int = 4  # random row subsets prior-encoded (subset 0 = all rows if n <= max_points); >= 1
    n_ynoise: int = 16  # y-noise re-encodings with s_i = 0.01(i/5 + 1)·std(y) (GenSR: 40)
    n_prior_samples: int = 32  # z ~ N(μ, σ²) of the encodings, decoded for the initial population (GenSR: 40)
    temperatures: tuple[float, ...] = (0.5,)  # every latent is also sampled at these (GenSR: 2 samples at 0.1,
    # nearly greedy; the skeleton cache makes a more diverse second decode cheap)
    # -- constants (gensr.constants.fit_constants)
    fit_rows: int = 1024  # rows used to fit constants (GenSR: the first 1,024); R² always uses all rows
    fit_starts: int = 3  # decoded/unit constants, then random starts: frequencies and exponents need several
    fit_method: Literal["lm", "bfgs"] = "lm"  # Levenberg–Marquardt with exact Jacobians; "bfgs" as GenSR
    fit_max_iter: int = 100  # per start: LM evaluations or BFGS iterations
    # -- LEE refinement (gensr.refine)
    reencode_every: int = 5  # a refinement round every k generations (and once before CMA-ES); 0 = off
    n_reencode: int = 4  # best not-yet-re-encoded candidates re-encoded per round (posterior branch)
    geval_steps: int = 10  # Adam steps on z through g_eval per round; 0 = off (also off without g_eval)
    geval_lr: float = 0.05  # Adam step in latent units: ~0.5 over 10 steps, about one prior σ
    # -- local symbolic edits (gensr.edits)
    edit_every: int = 2  # an edit round every k generations (and once before CMA-ES); 0 = off
    n_edit_parents: int = 3  # best candidates edited per round
    n_edits: int = 12  # random single edits per parent and round; the skeleton cache dedupes repeats
    # -- hardware
    device: str | None = None  # None: the model's own device; else the model is moved there (in place)

    def __post_init__(self) -> None:
        positive = ("max_time", "sigma0")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        at_least_one = ("max_generations", "max_points", "n_subsets", "fit_rows", "fit_starts", "fit_max_iter")
        for name in at_least_one:
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {getattr(self, name)!r}")
        non_negative = ("n_ynoise", "n_prior_samples", "max_restarts", "reencode_every", "n_reencode", "geval_steps",
                        "edit_every", "n_edit_parents", "n_edits")
        for name in non_negative:
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {getattr(self, name)!r}")
        if self.cma_update not in ("standard", "gensr"):
            raise ValueError(f"cma_update must be 'standard' or 'gensr', got {self.cma_update!r}")
        if self.fit_method not in ("lm", "bfgs"):
            raise ValueError(f"fit_method must be 'lm' or 'bfgs', got {self.fit_method!r}")
        if self.popsize is not None and self.popsize < 2:
            raise ValueError(f"popsize must be >= 2 or None, got {self.popsize}")
        if any(not t > 0 for t in self.temperatures):
            raise ValueError(f"temperatures must be > 0, got {self.temperatures}")
        if self.parsimony < 0 or self.geval_lr <= 0:
            raise ValueError("parsimony must be >= 0 and geval_lr > 0")


@dataclass(frozen=True)
class Candidate:
    """One fitted skeleton.

    Attributes
    ----------
    expression : Expression
        With its fitted constants.
    complexity : int
        Prefix-node complexity (:attr:`Expression.complexity`).
    mse, r2 : float
        On all rows given to :func:`search`; ``inf`` / ``-inf`` when the fit failed (non-finite predictions).
    score : float
        ``r2 - parsimony * complexity``; ``-inf`` for a failed fit.
    stage : str
        Where the skeleton was first found, one of :data:`STAGES`.
    evaluation : int
        Number of latents decoded when it was first found (0 for seed equations).
    """

    expression: Expression
    complexity: int
    mse: float
    r2: float
    score: float
    stage: str
    evaluation: int


@dataclass(frozen=True)
class SearchResult:
    """Everything :func:`search` found.

    Attributes
    ----------
    candidates : tuple of Candidate
        Every fitted skeleton, one entry per distinct canonical key, in the order found.
    best : int or None
        Index of the highest score (first among ties); None if nothing was fitted in time.
    front : np.ndarray of int
        Indices on the complexity–MSE Pareto front (:func:`gensr.pareto.pareto_front`), simplest first.
    evaluations : int
        Latents decoded (each decoded greedily and at every temperature).
    n_fitted : int
        Distinct skeletons fitted (= ``len(candidates)``).
    n_invalid : int
        Decodes that did not parse into an expression.
    generations : int
        CMA-ES generations over all restarts.
    restarts : int
        IPOP restarts made.
    stop : dict of str to float
        The reasons that ended the search with their thresholds: ``max_time``, ``max_generations``,
        ``target_r2``, ``callback`` or the CMA-ES reasons (``tolfun``, ``tolx``, ``stall``, ...).
    timings : dict of str to float
        Seconds in ``encode`` (prior branch), ``decode``, ``fit`` (constants), ``refine`` (LEE re-encoding
        and g_eval steps), ``bookkeeping`` (all else: parsing, cache, CMA-ES updates, Pareto front) and
        ``total`` (the wall time of the call; the five parts sum to it).
    history : tuple of dict
        One row per generation (generation 0 = after the initial population): ``generation``,
        ``best_score``, ``best_r2``, ``sigma`` (NaN before CMA-ES), ``evaluations``, ``n_fitted``, ``elapsed``.
    config : SearchConfig
    feature_names : tuple of str or None
    """

    candidates: tuple[Candidate, ...]
    best: int | None
    front: np.ndarray
    evaluations: int
    n_fitted: int
    n_invalid: int
    generations: int
    restarts: int
    stop: dict[str, float]
    timings: dict[str, float]
    history: tuple[dict[str, float], ...]
    config: SearchConfig = field(default_factory=SearchConfig)
    feature_names: tuple[str, ...] | None = None

    @property
    def best_candidate(self) -> Candidate | None:
        return None if self.best is None else self.candidates[self.best]

    @property
    def front_candidates(self) -> list[Candidate]:
        return [self.candidates[i] for i in self.front]

    def select(self, rule: str = "best") -> int:
        """Index chosen by :func:`gensr.pareto.select_model` (``"accuracy"``, ``"best"``, ``"simplest"``) on MSE."""
        c = [x.complexity for x in self.candidates]
        return select_model(c, [x.mse for x in self.candidates], [x.r2 for x in self.candidates], rule=rule)


# --------------------------------------------------------------------------------------------------
# input checks


def _check_data(X: Any, y: Any, model: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_rows, n_features), got shape {X.shape}; use X.reshape(-1, 1) for one "
                         "feature")
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (n_rows,), got shape {y.shape}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    if X.shape[0] < 2:
        raise ValueError(f"need at least 2 rows, got {X.shape[0]}")
    d_max = min(MAX_VARS, model.cfg.max_vars)
    if not 1 <= X.shape[1] <= d_max:
        raise ValueError(f"X has {X.shape[1]} features; the model takes 1 to {d_max}: select the most relevant "
                         "features first (e.g. by mutual information or correlation with y)")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ValueError("X and y must be finite (no NaN or inf): drop or impute those rows first")
    return X, y


def _check_seeds(exprs: Sequence[Expression | str] | None, names: Sequence[str] | None,
                 d: int) -> list[Expression]:
    out = []
    for e in exprs or ():
        expr = parse(e, names) if isinstance(e, str) else e
        if not isinstance(expr, Expression):
            raise TypeError(f"extra_expressions must hold Expression objects or strings, got {type(e).__name__}")
        if any(v >= d for v in expr.variables):
            raise ValueError(f"seed equation {expr} uses x{max(expr.variables)} but the data have {d} features")
        out.append(expr)
    return out


# --------------------------------------------------------------------------------------------------
# the search


class _Clock:
    """The deadline and the time split; sections must not nest."""

    def __init__(self, t0: float, max_time: float):
        self.t0, self.deadline = t0, t0 + max_time
        self.timings = dict.fromkeys(_TIMING_KEYS, 0.0)

    def remaining(self) -> float:
        return self.deadline - time.perf_counter()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] += time.perf_counter() - start

    def finish(self) -> dict[str, float]:
        total = self.elapsed()
        out = dict(self.timings)
        out["bookkeeping"] = max(0.0, total - sum(v for k, v in out.items() if k != "bookkeeping"))
        out["total"] = total
        return out


class _Search:
    """State of one call of :func:`search`: data, candidate table, skeleton cache, best latent, counters."""

    def __init__(self, model: torch.nn.Module, X: np.ndarray, y: np.ndarray, cfg: SearchConfig,
                 rng: np.random.Generator, clock: _Clock, bar: Any, callback: Callable[..., Any] | None):
        self.model, self.X, self.y, self.cfg, self.rng, self.clock = model, X, y, cfg, rng, clock
        self.bar, self.callback = bar, callback
        self.device = next(model.parameters()).device
        self.tgen = torch.Generator(device=self.device).manual_seed(int(rng.integers(2**62)))
        self.fit_seed = int(rng.integers(2**62))  # one seed for every fit: the same fitting rows for all
        self.arity = arity_tensor(self.device)
        self.token_mask = token_mask_for([X.shape[1]], self.device)  # (1, V)
        enc_rows = self._rows(X.shape[0] <= cfg.max_points)
        self.X_enc, self.y_enc = X[enc_rows], y[enc_rows]  # subset 0: also the data of the LEE steps
        self.candidates: list[Candidate] = []
        self.cache: dict[tuple[str, ...], int] = {}
        self.best: int | None = None
        self.best_z: np.ndarray | None = None  # the fittest latent decoded so far (the first one on ties)
        self.best_zf = -math.inf
        self.stds: np.ndarray | None = None  # CMA-ES search shape: prior σ of the best initial latent
        self.reencoded: set[tuple[str, ...]] = set()
        self.evaluations = self.n_invalid = self.generations = self.restarts = 0
        self.stop: dict[str, float] = {}
        self.history: list[dict[str, float]] = []

    def _rows(self, all_rows: bool) -> np.ndarray:
        """Rows of one encoded subset: all of them, ``max_points`` at random, or half if there are fewer."""
        n = len(self.y)
        if all_rows:
            return np.arange(n)
        size = self.cfg.max_points if n > self.cfg.max_points else max(2, n // 2)
        return np.sort(self.rng.choice(n, size=size, replace=False))

    # ---- candidate pipeline ----------------------------------------------------------------------------
    def score(self, expr: Expression, stage: str, evaluation: int) -> float | None:
        """The score of ``expr``'s skeleton, fitting it if new; None if the deadline has passed."""
        idx = self.cache.get(expr.key)
        if idx is not None:
            return self.candidates[idx].score
        remaining = self.clock.remaining()
        if remaining <= 0:
            return None
        # fit the canonical form: the key folds variable-free subtrees (log(2), 2 + 3) into one free constant,
        # so fitting it makes the record a function of the key alone, whichever decode met it first
        canon = expr.canonical()
        cfg, k = self.cfg, canon.n_constants
        with self.clock.section("fit"):
            fit = fit_constants(canon.torch_fn(), k, self.X, self.y, init=canon.constants if k else None,
                                n_starts=cfg.fit_starts, max_rows=cfg.fit_rows, method=cfg.fit_method,
                                max_iter=cfg.fit_max_iter, time_limit=remaining, rng=self.fit_seed)
        fitted = canon.with_constants(fit.constants) if k else canon
        s = float(gensr_score(fit.r2, canon.complexity, cfg.parsimony))
        cand = Candidate(fitted, canon.complexity, float(fit.mse), float(fit.r2), s, stage, evaluation)
        self.cache[expr.key] = len(self.candidates)
        self.candidates.append(cand)
        if self.best is None or s > self.candidates[self.best].score:
            self.best = len(self.candidates) - 1
        return s

    def decode(self, Z: np.ndarray) -> list[list[Expression | None]]:
        """Greedy and temperature decodes of each latent, parsed (None where a decode does not parse)."""
        with self.clock.section("decode"):
            z = torch.as_tensor(Z, dtype=torch.float32, device=self.device)
            kw = {"arity": self.arity, "token_mask": self.token_mask}
            outs = [self.model.decode(z, method="greedy", **kw)]
            for t in self.cfg.temperatures:
                outs.append(self.model.decode(z, method="sample", temperature=t, generator=self.tgen, **kw))
        return [[decoded_expression(ids[i]) for ids in outs] for i in range(len(Z))]

    def evaluate_latents(self, Z: np.ndarray, stage: str) -> np.ndarray:
        """Fitness (best score among its decodes, −inf if none is valid) per latent; NaN where time ran out."""
        fitness = np.full(len(Z), np.nan)
        for start in range(0, len(Z), _DECODE_CHUNK):
            if self.clock.expired():
                break
            decodes = self.decode(Z[start : start + _DECODE_CHUNK])
            base, self.evaluations = self.evaluations, self.evaluations + len(decodes)
            for i, exprs in enumerate(decodes):
                best = -math.inf
                for e in exprs:
                    s = -math.inf if e is None else self.score(e, stage, base + i + 1)
                    if s is None:
                        return fitness
                    self.n_invalid += e is None
                    best = max(best, s)
                fitness[start + i] = best
                if self.best_z is None or best > self.best_zf:
                    self.best_z, self.best_zf = np.array(Z[start + i], dtype=np.float64), best
        return fitness

    def best_latent(self) -> np.ndarray:
        assert self.best_z is not None, "no latent decoded yet"
        return self.best_z

    # ---- stages ----------------------------------------------------------------------------------------
    def seeds(self, exprs: list[Expression]) -> None:
        for e in exprs:
            if self.score(e, "seed", 0) is None:
                return

    def coarse(self, seeds: list[Expression]) -> None:
        """Prior-encode the subsets and y-noise sets; decode the means, the seeds' latents, prior samples."""
        cfg, n_sets = self.cfg, self.cfg.n_subsets + self.cfg.n_ynoise
        sets = [(self.X_enc, self.y_enc)]
        for i in range(1, n_sets):
            rows = self._rows(False)
            yv = self.y[rows]
            if i >= cfg.n_subsets:
                s = 0.01 * ((i - cfg.n_subsets) / 5 + 1) * float(np.std(self.y))
                yv = yv + self.rng.normal(0.0, 1.0, len(rows)) * s
            sets.append((self.X[rows], yv))
        with self.clock.section("encode"), torch.no_grad():
            mu, logvar = self.model.encode_prior(*pack_data(sets, self.device))
        mu, sd = mu.double().cpu().numpy(), np.exp(0.5 * logvar.double().cpu().numpy())
        eps = self.rng.standard_normal((cfg.n_prior_samples, mu.shape[1]))
        src = np.arange(cfg.n_prior_samples) % n_sets
        groups = [(mu[: cfg.n_subsets], sd[: cfg.n_subsets], "prior"), (mu[cfg.n_subsets :], sd[cfg.n_subsets :],
                  "ynoise")]
        fits = [s for s in seeds if len(s.prefix) + 2 <= self.model.cfg.max_len]
        if fits:
            with self.clock.section("encode"):
                z_seed = reencode(self.model, fits, self.X_enc, self.y_enc, max_points=len(self.y_enc))
            groups.append((z_seed, np.repeat(sd[:1], len(fits), 0), "seed"))
        groups.append((mu[src] + sd[src] * eps, sd[src], "sample"))
        best = -math.inf
        for Z, stds, stage in groups:
            if len(Z) == 0:
                continue
            f = self.evaluate_latents(Z, stage)
            if np.isnan(f).any():
                break
            if self.stds is None or f.max() > best:
                best, self.stds = float(f.max()), stds[int(np.argmax(f))]

    def refine(self) -> tuple[np.ndarray | None, float]:
        """A LEE round: re-encode the best new candidates, then g_eval steps; returns the best refined latent."""
        cfg, best_z, best_f = self.cfg, None, -math.inf
        max_len = self.model.cfg.max_len
        order = sorted(range(len(self.candidates)), key=lambda i: -self.candidates[i].score)
        picks = [c.expression for c in (self.candidates[i] for i in order)
                 if math.isfinite(c.score) and c.expression.key not in self.reencoded
                 and len(c.expression.prefix) + 2 <= max_len][: cfg.n_reencode]
        with self.clock.section("refine"):
            z_re = reencode(self.model, picks, self.X_enc, self.y_enc, max_points=len(self.y_enc))
        self.reencoded.update(e.key for e in picks)
        for stage in ("reencode", "geval"):
            if stage == "reencode":
                Z = z_re
            elif cfg.geval_steps and self.model.geval is not None and not self.clock.expired():
                with self.clock.section("refine"):
                    path = geval_path(self.model, np.vstack([z_re, self.best_latent()[None]]), self.X_enc,
                                      self.y_enc, steps=cfg.geval_steps, lr=cfg.geval_lr,
                                      max_points=len(self.y_enc), time_limit=self.clock.remaining()).path
                Z = np.vstack([path[len(path) // 2], path[-1]]) if len(path) > 1 else path[:0, 0]
            else:
                break
            f = self.evaluate_latents(Z, stage) if len(Z) else np.zeros(0)
            if len(f) and not np.all(np.isnan(f)) and np.nanmax(f) > best_f:
                best_z, best_f = Z[int(np.nanargmax(f))], float(np.nanmax(f))
        return best_z, best_f

    def edit(self) -> None:
        """A round of local symbolic edits of the best candidates (:mod:`gensr.edits`), fitted and scored."""
        cfg = self.cfg
        order = sorted(range(len(self.candidates)), key=lambda i: -self.candidates[i].score)
        parents = [self.candidates[i].expression for i in order[: cfg.n_edit_parents]
                   if math.isfinite(self.candidates[i].score)]
        for parent in parents:
            with self.clock.section("bookkeeping"):
                edits = neighbours(parent, self.X.shape[1], self.rng, cfg.n_edits)
            for e in edits:
                if self.score(e, "edit", self.evaluations) is None:
                    return

    def new_es(self, x0: np.ndarray, popsize: int | None) -> LatentCMAES:
        cfg = self.cfg
        es_cfg = CMAESConfig(popsize=popsize, update=cfg.cma_update, top_k=cfg.top_k, include_mean=cfg.include_mean,
                             stall_iters=cfg.stall_iters, max_iter=max(1, cfg.max_generations - self.generations))
        return LatentCMAES(x0, cfg.sigma0, stds=self.stds, config=es_cfg, rng=self.rng)

    def should_stop(self) -> bool:
        reasons = self.global_stop()
        self.stop.update(reasons)
        return bool(reasons)

    def global_stop(self) -> dict[str, float]:
        cfg, out = self.cfg, {}
        if self.clock.expired():
            out["max_time"] = cfg.max_time
        if self.generations >= cfg.max_generations:
            out["max_generations"] = float(cfg.max_generations)
        if self.best is not None and self.candidates[self.best].r2 >= cfg.target_r2:
            out["target_r2"] = cfg.target_r2
        return out

    def log(self, sigma: float) -> bool:
        """Append a history row, update the progress bar; True if the callback asks to stop."""
        best = None if self.best is None else self.candidates[self.best]
        row = {"generation": self.generations, "best_score": best.score if best else -math.inf,
               "best_r2": best.r2 if best else -math.inf, "sigma": sigma, "evaluations": self.evaluations,
               "n_fitted": len(self.candidates), "elapsed": self.clock.elapsed()}
        self.history.append(row)
        if best is not None:
            self.bar.set_postfix_str(f"R²={best.r2:.6f} {str(best.expression)[:40]}", refresh=False)
        self.bar.update(1 if self.generations else 0)
        if self.callback is not None and self.callback({**row, "best": best}):
            self.stop["callback"] = 1.0
            return True
        return False

    def fine(self) -> None:
        """CMA-ES generations with IPOP restarts and LEE rounds until a stop reason fires."""
        cfg = self.cfg
        es = self.new_es(self.best_latent(), cfg.popsize)
        while not self.should_stop():
            X = es.ask()
            f = self.evaluate_latents(X, "cma")
            if np.isnan(f).any():  # the deadline cut the generation: it is not told
                continue
            es.tell(X, -f)
            self.generations += 1
            if self.log(es.sigma):
                return
            if cfg.reencode_every and self.generations % cfg.reencode_every == 0 and not self.clock.expired():
                z, fz = self.refine()
                if z is not None and -fz < es.result.fbest:  # a refined latent beats this run: re-centre there
                    es = self.new_es(z, es.popsize)
            if cfg.edit_every and self.generations % cfg.edit_every == 0 and not self.clock.expired():
                self.edit()
            if self.should_stop():  # our reasons first: CMA-ES's own maxiter mirrors max_generations
                return
            es_stop = es.stop()
            if es_stop and es_stop.keys() <= RESTARTABLE and self.restarts < cfg.max_restarts:
                self.restarts += 1
                es = self.new_es(self.best_latent(), 2 * es.popsize)
            elif es_stop:
                self.stop.update(es_stop)
                return

    def run(self, seeds: list[Expression]) -> None:
        self.seeds(seeds)
        if not self.clock.expired():
            self.coarse(seeds)
        if self.cfg.edit_every and not self.clock.expired():
            self.edit()
        if self.best_z is not None and not self.clock.expired() and self.cfg.reencode_every:
            self.refine()
        if self.log(math.nan):
            return
        if self.best_z is not None and self.stds is not None:
            self.fine()
        elif not self.should_stop():
            self.stop["max_time"] = self.cfg.max_time  # nothing decoded in time

    def result(self, feature_names: tuple[str, ...] | None) -> SearchResult:
        with self.clock.section("bookkeeping"):
            comp = np.array([c.complexity for c in self.candidates], dtype=float)
            mse = np.array([c.mse for c in self.candidates], dtype=float)
            front = pareto_front(comp, mse) if self.candidates else np.zeros(0, dtype=np.int64)
        return SearchResult(
            candidates=tuple(self.candidates), best=self.best, front=front, evaluations=self.evaluations,
            n_fitted=len(self.candidates), n_invalid=self.n_invalid, generations=self.generations,
            restarts=self.restarts, stop=dict(self.stop), timings=self.clock.finish(), history=tuple(self.history),
            config=self.cfg, feature_names=feature_names,
        )


def search(
    model: torch.nn.Module,
    X: Any,
    y: Any,
    config: SearchConfig = SearchConfig(),  # frozen, hence safe as a default
    *,
    rng: np.random.Generator | int | None = None,
    feature_names: Sequence[str] | None = None,
    extra_expressions: Sequence[Expression | str] | None = None,
    progress: bool = False,
    callback: Callable[[dict[str, Any]], bool | None] | None = None,
) -> SearchResult:
    """Search the latent space of ``model`` for equations y ≈ f(X) (GenSR §6 with LEE refinement).

    Parameters
    ----------
    model : CVAE
        A trained model (e.g. :func:`gensr.checkpoint.load_model`); it is put in eval mode for the call.
    X : array-like, shape (n, d)
        Raw inputs, 1 <= d <= 10, n >= 2, finite. The model reads raw values (it standardises internally);
        constants are fitted and candidates scored on raw X and y.
    y : array-like, shape (n,)
        Raw targets, finite.
    config : SearchConfig
    rng : numpy Generator, int or None
        Source of all randomness (row subsets, y-noise, prior samples, CMA-ES, the torch generator of
        temperature sampling, the fitting rows and starts). The same seed gives the same equations as long
        as the time budget does not bind (bound the run by ``max_generations`` to compare runs).
    feature_names : sequence of str, optional
        Names of the d columns, used to parse string seed equations and in the progress bar.
    extra_expressions : sequence of Expression or str, optional
        Seed equations (skeletons like ``"C*sin(C*x0) + C"`` or formulas with constants, used as the
        first start of their fit). They are scored before anything else and their posterior latents join
        the initial population.
    progress : bool
        Show a tqdm bar (generation, best R², best equation).
    callback : callable, optional
        ``callback(info)`` after the initial population and after each generation, with ``info`` a
        history row plus ``"best"`` (the best :class:`Candidate` or None); returning True stops the search.

    Returns
    -------
    SearchResult

    Raises
    ------
    ValueError
        Shape mismatch, fewer than 2 rows, d > 10 (select features first), non-finite values, a seed
        equation using a variable the data lack.
    """
    t0 = time.perf_counter()
    X, y = _check_data(X, y, model)
    names = None if feature_names is None else tuple(str(n) for n in feature_names)
    if names is not None and len(names) != X.shape[1]:
        raise ValueError(f"{len(names)} feature names for {X.shape[1]} features")
    seeds = _check_seeds(extra_expressions, names, X.shape[1])
    if config.device is not None:
        model.to(config.device)
    was_training = model.training
    model.eval()
    clock = _Clock(t0, config.max_time)
    bar = tqdm(total=config.max_generations, disable=not progress, desc="gensr", unit="gen", leave=False)
    try:
        run = _Search(model, X, y, config, np.random.default_rng(rng), clock, bar, callback)
        run.run(seeds)
        return run.result(names)
    finally:
        bar.close()
        model.train(was_training)
