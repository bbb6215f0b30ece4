"""Search moves: each proposes expressions or latents and feeds them to the same candidate pool.

A move is a subclass of :class:`Move`. Its ``name`` is its :class:`~gensr.search.config.SearchConfig`
section (every section has ``enabled``; a periodic one has ``every``), its ``stages`` are the labels it
records on the candidates it finds first, and :meth:`Move.run` returns what it offers the latent CMA-ES
(an :class:`Offer`: a latent to re-centre on, or a search shape), never writing shared state for it.
:data:`MOVES` is the one registry, in the order the moves first run; :data:`gensr.search.pool.STAGES`
derives from it. A new move is one class here, listed in :data:`MOVES`, and one config section.

Latent CMA-ES is the loop's engine rather than a move (:class:`LatentCMA`), and LEE re-encoding is how
candidates found by the other moves return to the latent search.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from gensr.cmaes import IPOP
from gensr.codec import decoded_expression, pack_data
from gensr.edits import all_neighbours, neighbours
from gensr.grammar import CONST, Expression, Node
from gensr.refine import geval_path, reencode
from gensr.search.config import SearchConfig
from gensr.search.state import SearchState

__all__ = ["MOVES", "STAGES", "Edits", "Enumerate", "LatentCMA", "LocalSearch", "Localise", "Move", "Offer",
           "PowerLaw", "Refine", "Seeds", "Terms", "build_moves"]


@dataclass(frozen=True)
class Offer:
    """What a move hands the latent CMA-ES.

    Attributes
    ----------
    latent : ndarray or None
        A latent the run should re-centre on if its ``fitness`` beats the run's best.
    fitness : float
        The latent's fitness (best score among its decodes).
    stds : ndarray or None
        A per-coordinate search shape (the prior σ of the best initial latent) for the runs to come.
    """

    latent: np.ndarray | None = None
    fitness: float = -math.inf
    stds: np.ndarray | None = None


class Move:
    """A search move: the section it reads, the stages it records, when it runs, and :meth:`run`.

    ``at_start``: runs once before CMA-ES; ``always``: runs even when the budget is already spent (so that a
    fit always returns a front); ``every`` (from the section, 0 = never again): also after every k-th CMA-ES
    generation.
    """

    name: ClassVar[str]  # its SearchConfig section
    stages: ClassVar[tuple[str, ...]]  # what it records as Candidate.stage
    at_start: ClassVar[bool] = True
    always: ClassVar[bool] = False

    def __init__(self, cfg: SearchConfig):
        self.section: Any = getattr(cfg, self.name, None)
        self.every = int(getattr(self.section, "every", 0))

    @classmethod
    def enabled(cls, cfg: SearchConfig) -> bool:
        return bool(getattr(getattr(cfg, cls.name, None), "enabled", True))

    def run(self, state: SearchState) -> Offer | None:
        raise NotImplementedError


# --------------------------------------------------------------------------------------------------
# moves that propose expressions


class Seeds(Move):
    """The user's seed equations, the baselines and the equations found on dimensionless groups
    (``state.seeds``), scored before anything else, even when start-up has already spent the budget."""

    name, stages, always = "seeds", ("seed", "units"), True  # no config section: always on

    def run(self, state: SearchState) -> None:
        for e, stage in state.seeds:
            state.pool.score(e, stage, 0, force=True)


class PowerLaw(Move):
    """Power laws C·∏ x_i^a_i (and with an offset, of y, y² and 1/y) from log-log least squares
    (:func:`gensr.search.terms.power_law_candidates`)."""

    name, stages = "power_law", ("powerlaw",)

    def run(self, state: SearchState) -> None:
        pc = self.section
        from gensr.search.terms import power_law_candidates

        with state.deadline.section("bookkeeping"):
            exprs = power_law_candidates(state.X, state.y, pc.max_denominator, pc.max_abs_exponent)
        state.score_all(exprs, "powerlaw")


class Edits(Move):
    """Random single edits of the best candidates (:mod:`gensr.edits`), fitted and scored."""

    name, stages = "edits", ("edit",)

    def run(self, state: SearchState) -> None:
        pool, ec = state.pool, self.section
        parents = [pool.candidates[i].expression for i in pool.ranked()[: ec.n_parents]
                   if math.isfinite(pool.candidates[i].score)]
        for parent in parents:
            with state.deadline.section("bookkeeping"):
                edits = neighbours(parent, state.X.shape[1], state.rng, ec.n_edits,
                                   unary=state.pool.language.unary(), binary=state.pool.language.binary())
            if not state.score_all(edits, "edit"):
                return


class LocalSearch(Move):
    """Hill climbing from the best candidate not yet climbed: score its whole single-edit neighbourhood
    (:func:`gensr.edits.all_neighbours`; a random subset past ``max_neighbours``) and step to the best
    neighbour while it raises the score, at most ``steps`` times a round."""

    name, stages = "local", ("local",)

    def __init__(self, cfg: SearchConfig):
        super().__init__(cfg)
        self._climbed: set[tuple[str, ...]] = set()  # skeletons already climbed from, this search

    def run(self, state: SearchState) -> None:
        pool, lc = state.pool, self.section
        current = next((pool.candidates[i] for i in pool.ranked() if math.isfinite(pool.candidates[i].score)
                        and pool.candidates[i].expression.key not in self._climbed), None)
        for _ in range(lc.steps if current is not None else 0):
            self._climbed.add(current.expression.key)
            with state.deadline.section("bookkeeping"):
                around = all_neighbours(current.expression, state.X.shape[1], unary=pool.language.unary(),
                                        binary=pool.language.binary())
                if len(around) > lc.max_neighbours:
                    keep = np.sort(state.rng.choice(len(around), lc.max_neighbours, replace=False))
                    around = [around[i] for i in keep]
            if not state.score_all(around, "local"):
                return
            fitted = [c for c in map(pool.lookup, around) if c is not None and math.isfinite(c.score)]
            best = max(fitted, key=lambda c: c.score, default=None)
            if best is None or best.score <= current.score:
                return
            current = best


# --------------------------------------------------------------------------------------------------
# moves that work through the map


def _prior_sets(state: SearchState) -> list[tuple[np.ndarray, np.ndarray]]:
    """Row subsets and y-noise copies (GenSR's s_i = 0.01(i/5 + 1)·std(y)) for the prior branch."""
    lc = state.cfg.localise
    sets = [(state.X_enc, state.y_enc)]
    for i in range(1, lc.n_subsets + lc.n_ynoise):
        rows = state.rows(False)
        yv = state.y[rows]
        if i >= lc.n_subsets:
            s = 0.01 * ((i - lc.n_subsets) / 5 + 1) * float(np.std(state.y))
            yv = yv + state.rng.normal(0.0, 1.0, len(rows)) * s
        sets.append((state.X_map[rows], yv))
    return sets


class Localise(Move):
    """Coarse localisation (docs/method.md §5.2): decode the prior means of row subsets and y-noise copies,
    the seeds' posterior latents, then samples z ~ N(μ, σ²). Offers the CMA-ES search shape: the prior σ of
    the fittest of these latents (the start is the fittest latent decoded so far, ``state.best_latent``)."""

    name, stages = "localise", ("prior", "ynoise", "seed", "sample")

    def run(self, state: SearchState) -> Offer | None:
        lc = self.section
        sets = _prior_sets(state)
        with state.deadline.section("encode"), torch.no_grad():
            mu, logvar = state.model.encode_prior(*pack_data(sets, state.device))
        mu, sd = mu.double().cpu().numpy(), np.exp(0.5 * logvar.double().cpu().numpy())
        eps = state.rng.standard_normal((lc.n_prior_samples, mu.shape[1]))
        src = np.arange(lc.n_prior_samples) % len(sets)
        groups = [(mu[: lc.n_subsets], sd[: lc.n_subsets], "prior"), (mu[lc.n_subsets :], sd[lc.n_subsets :],
                                                                     "ynoise")]
        fits = [m for m in (state.to_map(s) for s, _ in state.seeds)
                if m is not None and len(m.prefix) + 2 <= state.model.cfg.max_len]
        if fits:
            with state.deadline.section("encode"):
                z_seed = reencode(state.model, fits, state.X_enc, state.y_enc, max_points=len(state.y_enc))
            groups.append((z_seed, np.repeat(sd[:1], len(fits), 0), "seed"))
        groups.append((mu[src] + sd[src] * eps, sd[src], "sample"))
        best, shape = -math.inf, None
        for Z, stds, stage in groups:
            if len(Z) == 0:
                continue
            f = state.evaluate_latents(Z, stage)
            if np.isnan(f).any():
                break
            if shape is None or f.max() > best:
                best, shape = float(f.max()), stds[int(np.argmax(f))]
        return None if shape is None else Offer(stds=shape)


class Terms(Move):
    """Sparse regression over a library of terms built from the columns (and, on reruns, from the front's
    subexpressions): sums of products, polynomials, roots of sums (:mod:`gensr.search.terms`)."""

    name, stages = "terms", ("terms",)

    def run(self, state: SearchState) -> None:
        from gensr.search.terms import Term, common_factor, library, sparse_candidates

        tc = self.section
        cap = state.deadline.share(tc.share)
        with state.deadline.section("bookkeeping"):
            rows = np.sort(state.rng.permutation(len(state.y))[: tc.rows])
            extra = [] if state.generations == 0 else _front_subexpressions(state)
            terms = library(state.X[rows], extra, tc.library_size, state.column_order, cap,
                            state.pool.language.allows)
            factor = common_factor(state.X, state.y)  # on every row: the exponents need the precision
            if factor is not None:
                factor = Term(factor.node, factor.values[rows], True)
            exprs = sparse_candidates(state.y[rows], terms, tc.max_terms, tc.rational, cap, factor)
        state.score_all(exprs, "terms")


class TermEdits(Move):
    """Grow the best formulas by the library term most correlated with their residual (``f + C·t``), and
    prune them by one additive term each; the pool refits every constant (the new C by least squares)."""

    name, stages = "term_edits", ("term_edit",)

    def run(self, state: SearchState) -> None:
        from gensr.search.terms import library

        tc, pool = self.section, state.pool
        parents = [pool.candidates[i].expression for i in pool.ranked()[: tc.n_parents]
                   if math.isfinite(pool.candidates[i].score)]
        if not parents:
            return
        with state.deadline.section("bookkeeping"):
            rows = np.sort(state.rng.permutation(len(state.y))[: tc.rows])
            X, y = state.X[rows], state.y[rows]
            terms = (library(X, _front_subexpressions(state), state.cfg.terms.library_size, state.column_order,
                             state.deadline, state.pool.language.allows) if tc.n_grow else [])
            A = np.column_stack([t.values for t in terms]) if terms else np.empty((len(y), 0))
            edits: list[Expression] = []
            for parent in parents:
                edits += _pruned(parent)
                with np.errstate(all="ignore"):
                    f = parent.evaluate(X)
                if not terms or not np.all(np.isfinite(f)):
                    continue
                # added-variable ranking: y and each term with the parent's own fit (scale and offset) projected
                # out, so a term is judged by what it adds to a refitted parent, not by a mis-scaled residual
                Q, _ = np.linalg.qr(np.column_stack([np.ones_like(f), f]))
                r = y - Q @ (Q.T @ y)
                T = A - Q @ (Q.T @ A)
                norms = np.linalg.norm(T, axis=0)
                if float(np.linalg.norm(r)) <= 1e-12 * (1 + float(np.linalg.norm(y))):
                    continue
                gain = np.where(norms > 1e-9 * (1 + np.linalg.norm(A, axis=0)), (T.T @ r) / np.maximum(norms, 1e-300),
                                0.0)
                for j in np.argsort(-np.abs(gain))[: tc.n_grow]:
                    coef = float(gain[j] / max(float(norms[j]), 1e-300))
                    grown = Node("add", (parent.root, Node("mul", (Node(CONST, value=coef), terms[j].node))))
                    edits.append(Expression(grown))
        state.score_all(edits, "term_edit")


def _pruned(expr: Expression) -> list[Expression]:
    """``expr`` without each of its additive terms in turn (nothing if it has fewer than two)."""

    def terms(node: Node, sign: int) -> list[tuple[int, Node]]:
        if node.token == "add":
            return terms(node.children[0], sign) + terms(node.children[1], sign)
        if node.token == "sub":
            return terms(node.children[0], sign) + terms(node.children[1], -sign)
        return terms(node.children[0], -sign) if node.token == "neg" else [(sign, node)]

    parts = terms(expr.root, 1)
    if len(parts) < 2:
        return []
    out = []
    for drop in range(len(parts)):
        kept = [p for i, p in enumerate(parts) if i != drop]
        sign, root = kept[0]
        root = root if sign > 0 else Node("neg", (root,))
        for sign, node in kept[1:]:
            root = Node("add" if sign > 0 else "sub", (root, node))
        out.append(Expression(root))
    return out


def _front_subexpressions(state: SearchState, n_best: int = 5) -> list[Node]:
    """Subtrees with a variable (and their fitted constants) of the best candidates so far."""
    out = []
    for i in state.pool.ranked()[:n_best]:
        for node in state.pool.candidates[i].expression.root.iter_nodes():
            if node.children and node.has_variable() and node is not state.pool.candidates[i].expression.root:
                out.append(node)
    return out


class Enumerate(Move):
    """Map-guided enumeration: the decoder's most likely skeletons of at most ``max_nodes`` prefix nodes
    under the prior mean (beam search ranks them by log-probability), fitted in that order."""

    name, stages = "enumerate", ("enumerate",)

    def run(self, state: SearchState) -> None:
        ec = self.section
        cap = state.deadline.share(ec.share)
        with state.deadline.section("encode"), torch.no_grad():
            mu, _ = state.model.encode_prior(*pack_data([(state.X_enc, state.y_enc)], state.device))
        with state.deadline.section("decode"):
            beams = state.model.decode(mu, method="beam", beam_size=ec.beam, max_len=ec.max_nodes,
                                       arity=state.arity, token_mask=state.token_mask)[0]
        for ids, _ in beams:
            if cap.expired():
                return
            e = state.from_map(decoded_expression(ids))
            if e is not None and state.pool.score(e, "enumerate", state.evaluations) is None:
                return


class Refine(Move):
    """A LEE round: re-encode the best candidates not yet re-encoded (posterior branch), then Adam steps
    through g_eval from those latents and the best one; offers the fittest refined latent to the CMA-ES run
    (which re-centres there if it beats the run)."""

    name, stages = "lee", ("reencode", "geval")

    def run(self, state: SearchState) -> Offer | None:
        lc, pool = self.section, state.pool
        if state.best_z is None:
            return None
        max_len = state.model.cfg.max_len
        mapped = ((c.expression, state.to_map(c.expression)) for c in (pool.candidates[i] for i in pool.ranked())
                  if math.isfinite(c.score) and c.expression.key not in state.reencoded)
        picks = [(e, m) for e, m in mapped if m is not None and len(m.prefix) + 2 <= max_len][: lc.n_reencode]
        with state.deadline.section("refine"):
            z_re = reencode(state.model, [m for _, m in picks], state.X_enc, state.y_enc,
                            max_points=len(state.y_enc))
        state.reencoded.update(e.key for e, _ in picks)
        best_z, best_f = None, -math.inf
        for stage in ("reencode", "geval"):
            if stage == "reencode":
                Z = z_re
            elif lc.geval_steps and state.model.geval is not None and not state.deadline.expired():
                with state.deadline.section("refine"):
                    path = geval_path(state.model, np.vstack([z_re, state.best_latent()[None]]), state.X_enc,
                                      state.y_enc, steps=lc.geval_steps, lr=lc.geval_lr,
                                      max_points=len(state.y_enc), deadline=state.deadline).path
                Z = np.vstack([path[len(path) // 2], path[-1]]) if len(path) > 1 else path[:0, 0]
            else:
                break
            f = state.evaluate_latents(Z, stage) if len(Z) else np.zeros(0)
            if len(f) and not np.all(np.isnan(f)) and np.nanmax(f) > best_f:
                best_z, best_f = Z[int(np.nanargmax(f))], float(np.nanmax(f))
        return None if best_z is None else Offer(latent=best_z, fitness=best_f)


# --------------------------------------------------------------------------------------------------
# the engine


class LatentCMA:
    """Latent CMA-ES from the best latent, with :class:`gensr.cmaes.IPOP` restarts (from the best latent
    decoded by any stage) and re-centring on latents the moves offer."""

    stage = "cma"

    def __init__(self, state: SearchState, stds: np.ndarray):
        cc = state.cfg.cma
        if cc.max_iter is None:
            cc = dataclasses.replace(cc, max_iter=state.cfg.budget.generations)
        self.opt = IPOP(state.best_latent(), stds=stds, config=cc, rng=state.rng)

    @property
    def sigma(self) -> float:
        return self.opt.es.sigma

    def generation(self, state: SearchState) -> bool:
        """Ask, evaluate and tell one generation; False if the deadline cut it (then it is not told)."""
        X = self.opt.ask()
        f = state.evaluate_latents(X, self.stage)
        if np.isnan(f).any():
            return False
        self.opt.tell(X, -f)
        state.generations += 1
        return True

    def after_moves(self, state: SearchState, offers: list[Offer]) -> dict[str, float]:
        """Re-centre on the fittest offered latent if it beats this run; restart (λ doubles) after a
        restartable stop.

        Returns the CMA-ES stop reasons that end the search (empty while it goes on).
        """
        latents = [o for o in offers if o.latent is not None]
        if latents:
            best = max(latents, key=lambda o: o.fitness)
            if -best.fitness < self.opt.es.result.fbest:
                self.opt.recentre(best.latent)  # type: ignore[arg-type]
        reasons = self.opt.stop(start=state.best_latent())
        state.restarts = self.opt.restarts
        return reasons


MOVES: tuple[type[Move], ...] = (Seeds, PowerLaw, Terms, Enumerate, Localise, Edits, TermEdits, LocalSearch, Refine)
"""The registry: every move, in the order they first run."""

STAGES: tuple[str, ...] = tuple(dict.fromkeys([*(st for m in MOVES for st in m.stages), LatentCMA.stage]))
"""Where a candidate was first found (``Candidate.stage``): the stages of the registered moves and CMA-ES."""


def build_moves(cfg: SearchConfig) -> list[Move]:
    """The enabled moves of a search, in registry order."""
    return [m(cfg) for m in MOVES if m.enabled(cfg)]
