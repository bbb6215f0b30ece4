"""The candidate pool: every fitted skeleton, the skeleton cache, scoring and the fitting screen.

Every move hands expressions to :meth:`Pool.score`. A skeleton is fitted once, in its canonical form (the
key folds variable-free subtrees into one free constant, so the record depends on the key alone); a
repeated skeleton returns its cached score. ``fit.fitter`` chooses the fitter for every candidate. With the
default ``"numpy"``, fitting runs in two steps when there are at least ``2·fit.screen_rows`` rows (else the
full fit alone):

1. **screen**: constants fitted on ``fit.screen_rows`` rows (a fixed random subset) with numpy forward
   passes and 2-point Jacobians (:func:`gensr.screen.screen_constants`: microseconds per evaluation
   where a torch call costs hundreds), then evaluated once on all rows. Constant-free skeletons are only
   evaluated;
2. **full fit**, only for a candidate that could join the accuracy–complexity front: its screened MSE is
   within ``fit.screen_slack`` of the best MSE at its complexity or below. It starts from the screened
   constants on ``fit.rows`` rows, with the same fast numpy fitter at full tolerance (measured: the same
   best scores and fronts as torch Levenberg–Marquardt with exact Jacobians, at 14× the throughput).

With ``fit.fitter="torch"`` every skeleton gets :func:`gensr.constants.fit_constants` (torch, exact
Jacobians, ``fit.method``) on ``fit.rows`` rows, as before the screen existed.

Starts are adaptive: one for skeletons whose constants enter linearly or rationally (the decoded or unit
start converges), ``fit.starts`` when a constant sits inside a periodic, exponential, logarithmic or power
function (frequencies and exponents have many local optima).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gensr.constants import fit_constants
from gensr.deadline import Deadline
from gensr.grammar import CONST, Expression, Node
from gensr.language import Language
from gensr.loss import Loss
from gensr.pareto import score as gensr_score
from gensr.screen import screen_constants
from gensr.search.config import SearchConfig

__all__ = ["Candidate", "Pool", "linear_constants", "nonlinear_constants"]

_NONLINEAR = frozenset(("sin", "cos", "tan", "tanh", "exp", "log", "pow", "arcsin", "arccos", "arctan"))


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
        On all rows given to the search; ``inf`` / ``-inf`` when the fit failed (non-finite predictions).
    loss : float
        The search's loss (:class:`gensr.loss.Loss`) on all rows: ``mse`` for the default loss. The front, the
        screen and the plateau read it; ``nan`` marks a candidate built outside a pool (read as ``mse``).
    score : float
        ``r2 - parsimony * complexity``; ``-inf`` for a failed fit. With another loss than MSE, ``r2`` there
        is the loss's own: 1 − loss / (the best constant's loss, :meth:`gensr.loss.Loss.baseline`).
    stage : str
        Where the skeleton was first found, one of :data:`gensr.search.moves.STAGES`.
    evaluation : int
        Number of latents decoded when it was first found (0 for seed equations).
    screened : bool
        True if only the screening fit was run (it could not join the front).
    found_at : float
        Seconds from the start of the budget (the user's call) to the end of its fit: when it first existed.
    """

    expression: Expression
    complexity: int
    mse: float
    r2: float
    score: float
    stage: str
    evaluation: int
    screened: bool = False
    found_at: float = float("nan")
    loss: float = float("nan")

    @property
    def fit_loss(self) -> float:
        """:attr:`loss`, or :attr:`mse` where no loss was recorded."""
        return self.mse if math.isnan(self.loss) else self.loss


def linear_constants(root: Node) -> tuple[int, ...]:
    """Prefix-order indices of the constants in which the expression is affine, jointly: the additive offset
    and one multiplier per additive term (``C*x0*x1 + C*exp(C*x2) + C`` → the 1st, 2nd and 4th constants).

    The fitter solves them by linear least squares (variable projection): sums of terms need no good starts.
    """
    index: dict[int, int] = {}
    for node in root.iter_nodes():  # prefix order, as Expression.constants
        if node.token == CONST:
            index[id(node)] = len(index)
    if len(index) != sum(n.token == CONST for n in root.iter_nodes()):
        return ()  # a node object shared within the tree: positions are ambiguous

    def terms(node: Node) -> list[Node]:
        if node.token in ("add", "sub"):
            return terms(node.children[0]) + terms(node.children[1])
        return terms(node.children[0]) if node.token == "neg" else [node]

    def factors(node: Node) -> list[Node]:
        if node.token == "mul":
            return factors(node.children[0]) + factors(node.children[1])
        return factors(node.children[0]) if node.token in ("div", "neg") else [node]

    out = []
    for term in terms(root):
        const = next((f for f in factors(term) if f.token == CONST), None)
        if const is not None:
            out.append(index[id(const)])
    return tuple(sorted(out))


def nonlinear_constants(node: Node, inside: bool = False) -> bool:
    """True if a constant leaf sits below a periodic/exponential/logarithmic/power operator."""
    if node.token == CONST:
        return inside
    inside = inside or node.token in _NONLINEAR
    return any(nonlinear_constants(c, inside) for c in node.children)


class Pool:
    """Candidates in the order found, the cache by canonical key, the best score and the screen."""

    def __init__(self, X: np.ndarray, y: np.ndarray, cfg: SearchConfig, deadline: Deadline, fit_seed: int,
                 weights: np.ndarray | None = None, loss: Loss | None = None):
        self.X, self.y, self.cfg, self.deadline, self.fit_seed = X, y, cfg, deadline, fit_seed
        self.weights = weights  # sample weights: every fit, MSE, R² and loss of the pool is weighted
        self.loss = Loss() if loss is None else loss
        self.language = Language.of(cfg.operators, cfg.maxsize)  # formulas outside it are refused unfitted
        static = self.loss.static_weights(y)  # "relative": least squares with 1/y² is the loss itself
        self.fit_weights = weights if static is None else static * (1.0 if weights is None else weights)
        # another loss scores 1 − loss / (the best constant's loss), its own R², so that the score, the CMA-ES
        # and the best candidate follow the loss the user chose
        self._loss0 = None if self.loss.is_mse else self.loss.baseline(y, weights)
        self.candidates: list[Candidate] = []
        self.cache: dict[tuple[str, ...], int] = {}
        self.best: int | None = None
        self._best_loss_at: dict[int, float] = {}  # lowest loss per complexity, for the front test
        self.n_full_fits = 0
        self.exact_complexity = math.inf  # the lowest complexity exact to float precision (R² >= 1 - 1e-10)
        self.last_gain = 0  # the evaluation count at the last real gain (the plateau stop): a new best score, or a
        #   front member at least 1 % more accurate than every simpler one
        fc = cfg.fit
        self.screen = 0 < fc.screen_rows and 2 * fc.screen_rows <= min(len(y), fc.rows)

    def __len__(self) -> int:
        return len(self.candidates)

    def lookup(self, expr: Expression) -> Candidate | None:
        idx = self.cache.get(expr.key)
        return None if idx is None else self.candidates[idx]

    def could_join_front(self, complexity: int, loss: float, slack: float = 1.0) -> bool:
        """Whether a candidate of this complexity and loss (divided by ``slack``) beats every simpler one."""
        best = min((m for c, m in self._best_loss_at.items() if c <= complexity), default=math.inf)
        return loss / slack < best

    def score(self, expr: Expression, stage: str, evaluation: int, force: bool = False) -> float | None:
        """The score of ``expr``'s skeleton, fitting it if new; None if the deadline has passed, ``-inf`` for
        a formula outside the language (an operator the user excluded, or larger than ``maxsize``).

        ``force`` fits even after the deadline (with half a second for the fit): the seed equations and
        baselines, so that a budget eaten by start-up still returns a front.
        """
        known = self.lookup(expr)
        if known is not None:
            return known.score
        if self.deadline.expired() and not force:
            return None
        limit = self.deadline.at_least(0.5) if force else self.deadline
        canon = expr.canonical()
        if not self.language.allows(canon):
            return -math.inf
        cfg, fc, k = self.cfg, self.cfg.fit, canon.n_constants
        starts = fc.starts if k and (not fc.adaptive_starts or nonlinear_constants(canon.root)) else 1
        init = canon.constants if k else None
        linear = linear_constants(canon.root) if fc.linear_solve and k else ()
        if len(linear) == 1 and k > 1:  # one term times a nonlinear part: LM over all converges as well, faster
            linear = ()
        screened = False
        with self.deadline.section("fit"):
            if fc.fitter == "numpy" and not self.screen:  # too few rows to screen: the full fit alone
                fit = screen_constants(canon.numpy_fn(), k, self.X, self.y, init=init, n_starts=starts,
                                       max_rows=fc.rows, max_iter=fc.max_iter, tol=1e-12, deadline=limit,
                                       rng=self.fit_seed, weights=self.fit_weights, linear=linear)
                self.n_full_fits += bool(k)
            elif fc.fitter == "numpy":
                fn = canon.numpy_fn()
                fit = screen_constants(fn, k, self.X, self.y, init=init, n_starts=starts,
                                       max_rows=fc.screen_rows, max_iter=fc.screen_max_iter, deadline=limit,
                                       rng=self.fit_seed, weights=self.fit_weights, linear=linear)
                if k and self.could_join_front(canon.complexity, self._loss_of(fn, fit), fc.screen_slack):
                    full = screen_constants(fn, k, self.X, self.y, init=fit.constants, n_starts=1,
                                            max_rows=fc.rows, max_iter=fc.max_iter, tol=1e-12,
                                            deadline=limit, rng=self.fit_seed, weights=self.fit_weights,
                                            linear=linear)
                    self.n_full_fits += 1
                    if full.mse <= fit.mse:
                        fit = full
                else:
                    screened = bool(k)
            else:
                fit = fit_constants(canon.torch_fn(), k, self.X, self.y, init=init, n_starts=starts,
                                    max_rows=fc.rows, method=fc.method, max_iter=fc.max_iter, deadline=limit,
                                    rng=self.fit_seed, weights=self.fit_weights)
                self.n_full_fits += bool(k)
            if self.loss.robust and k and not screened:
                fit = self._reweighted(canon, fit, starts=1, linear=linear, deadline=limit)
        fitted = canon.with_constants(fit.constants) if k else canon
        mse, r2, loss = float(fit.mse), float(fit.r2), float(fit.mse)
        if not self.loss.is_mse:  # the fit's weights were the loss's: measure with the user's weights
            mse, r2, loss = self._measure(fitted)
        fit_r2 = r2 if self._loss0 is None else (1.0 - loss / self._loss0 if self._loss0 > 0 else -math.inf)
        s = float(gensr_score(fit_r2, canon.complexity, cfg.parsimony))
        cand = Candidate(fitted, canon.complexity, mse, r2, s, stage, evaluation, screened,
                         self.deadline.elapsed(), loss)
        self.cache[expr.key] = len(self.candidates)
        self.candidates.append(cand)
        if cand.r2 >= 1 - 1e-10:  # not target_r2: smooth approximations with many terms reach 0.999999
            self.exact_complexity = min(self.exact_complexity, cand.complexity)
        if math.isfinite(cand.loss):
            c = cand.complexity
            if self.could_join_front(c, cand.loss / 0.99):
                self.last_gain = evaluation
            self._best_loss_at[c] = min(self._best_loss_at.get(c, math.inf), cand.loss)
        if self.best is None or s > self.candidates[self.best].score:
            if self.best is None or s > self.candidates[self.best].score + 1e-9:
                self.last_gain = evaluation
            self.best = len(self.candidates) - 1
        return s

    def _measure(self, expr: Expression) -> tuple[float, float, float]:
        """MSE and R² with the user's weights, and the loss, of a fitted expression on all rows."""
        from gensr._utils import r2_score, weighted_mse

        with np.errstate(all="ignore"):
            pred = expr.evaluate(self.X)
        if not np.all(np.isfinite(pred)):
            return math.inf, -math.inf, math.inf
        return (weighted_mse(pred - self.y, self.weights), r2_score(self.y, pred, self.weights),
                self.loss.value(self.y, pred, self.weights))

    def _predict(self, fn: object, constants: object) -> np.ndarray:
        """``fn`` on all rows at ``constants``."""
        with np.errstate(all="ignore"):
            pred = np.asarray(fn(self.X, np.asarray(constants)), dtype=np.float64)  # type: ignore[operator]
        return np.broadcast_to(pred, self.y.shape)

    def _loss_of(self, fn: object, fit: object) -> float:
        """The screen's loss of a fit (its MSE for the default loss)."""
        if self.loss.is_mse:
            return float(fit.mse)  # type: ignore[attr-defined]
        return self.loss.value(self.y, self._predict(fn, fit.constants), self.weights)  # type: ignore

    def _reweighted(self, canon: Expression, fit: object, *, starts: int, linear: tuple[int, ...],
                    deadline: Deadline) -> object:
        """Iteratively reweighted least squares from ``fit``: ``fit.irls_steps`` weighted fits, each from the
        last constants with the weights ψ(r)/r of its residuals (:meth:`gensr.loss.Loss.least_squares_weights`);
        the step with the lowest loss is kept."""
        fc, fn = self.cfg.fit, canon.numpy_fn()
        best, pred = fit, self._predict(fn, fit.constants)  # type: ignore[attr-defined]
        best_loss = self.loss.value(self.y, pred, self.weights)
        for _ in range(fc.irls_steps):
            if deadline.expired() or not math.isfinite(best_loss):
                break
            w = self.loss.least_squares_weights(self.y, pred, self.weights)
            if w is None or np.count_nonzero(w) < 2:
                break
            step = screen_constants(fn, canon.n_constants, self.X, self.y, init=best.constants, n_starts=starts,
                                    max_rows=fc.rows, max_iter=fc.max_iter, tol=1e-12, deadline=deadline,
                                    rng=self.fit_seed, weights=w, linear=linear)
            step_pred = self._predict(fn, step.constants)
            step_loss = self.loss.value(self.y, step_pred, self.weights)
            if not step_loss < best_loss:
                break
            best, best_loss, pred = step, step_loss, step_pred
        return best

    def ranked(self) -> list[int]:
        """Indices by score, best first (ties: first found)."""
        return sorted(range(len(self.candidates)), key=lambda i: -self.candidates[i].score)
