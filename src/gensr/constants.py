"""Fitting and snapping the numeric constants of a candidate expression.

This module implements the constant-fitting step of GenSR's scoring (``docs/method.md`` §5.5)
as a free function, :func:`fit_constants`, with its own result type, :class:`ConstantFit`, shared by the
search, the refinement and the estimator. It knows nothing about the grammar:
a candidate is a differentiable torch callable ``fn(X, c) -> y_hat`` whose constants are an input.

Differences from the released GenSR code, all deliberate:

- gradients are exact (torch autograd) instead of 2-point finite differences;
- Levenberg–Marquardt (``scipy.optimize.least_squares``) is the default; BFGS is kept as ``method="bfgs"``;
- several starts (the decoded constants, if any, then random ones) instead of one;
- the time bound is an iteration/evaluation cap (plus an optional :class:`~gensr.deadline.Deadline` checked
  inside the objective), never a signal-based timeout.

Floating-point safety is local: every evaluation runs under ``np.errstate`` and
torch produces NaN/inf silently; non-finite outputs become a large finite residual during the fit and an
infinite loss in the result. Nothing here changes process-wide state.

Readable constants (snapping fitted values to ``1/2``, ``pi/4`` …) are in :mod:`gensr.snapping`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import torch

from gensr._utils import r2_score, subsample_rows, weighted_mse
from gensr._validation import check_weights
from gensr.deadline import Deadline

__all__ = [
    "CANDIDATE_ERRORS",
    "ConstantFit",
    "ExpressionFn",
    "evaluate",
    "fit_constants",
]

ExpressionFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``fn(X, c) -> y_hat``: X is (n, d) float64, c is (n_constants,) float64, y_hat is (n,) (or broadcastable)."""

CANDIDATE_ERRORS: tuple[type[BaseException], ...] = (ArithmeticError, RuntimeError, ValueError, IndexError)
"""Exceptions raised by a *bad candidate* (torch shape/domain errors, overflow, a variable index beyond the
data): they make the candidate invalid instead of escaping. Anything else (``TypeError``, …) is a bug in
the caller and propagates."""

_METHODS = ("lm", "bfgs")
_BIG_FACTOR = 1e8  # residuals beyond 1e8·(1 + max|y|) are clipped: far from any sensible fit, yet n·BIG² stays finite
_PERFECT_REL_MSE = 1e-24  # a start reaching mse <= this·mean(y²) is exact to float precision: skip the rest
_TOL = 1e-12  # ftol/xtol/gtol for LM and gtol (on the y-variance-normalised MSE) for BFGS


class _OutOfTime(Exception):
    """Raised inside the objective when the deadline has passed; the best point seen is kept."""


@dataclass(frozen=True, eq=False)
class ConstantFit:
    """Result of :func:`fit_constants`.

    Attributes
    ----------
    constants : np.ndarray
        (n_constants,) float64, read-only: the best constants found (chosen by MSE on all rows, valid first).
    mse : float
        Mean squared error on **all** rows given; ``inf`` when ``success`` is False.
    r2 : float
        Coefficient of determination on all rows, as ``sklearn.metrics.r2_score`` (``force_finite=True``:
        constant ``y`` gives 1.0 for a perfect fit, else 0.0). Not clipped at 0 (GenSR clips; do it when
        scoring). ``-inf`` when ``success`` is False.
    success : bool
        True iff the predictions are finite on every row and the MSE is finite. It says nothing about
        convergence of the optimiser.
    n_evals : int
        Calls of ``fn`` made (residuals, Jacobians, validation and final evaluations).
    n_starts : int
        Optimiser starts actually run (fewer than requested after an exact fit or a time-out).
    n_rows_fit : int
        Rows used by the optimiser (``min(n, max_rows)``).
    """

    constants: np.ndarray
    mse: float
    r2: float
    success: bool
    n_evals: int
    n_starts: int
    n_rows_fit: int


# --------------------------------------------------------------------------------------------------------
# Metrics and plain evaluation
# --------------------------------------------------------------------------------------------------------


def _tensor(a: object) -> torch.Tensor:
    """float64 tensor sharing memory with a writable array, copying read-only ones (torch warns on those)."""
    arr = np.asarray(a, dtype=np.float64)
    return torch.from_numpy(arr if arr.flags.writeable else arr.copy())


def _as_output(out: object, n: int) -> torch.Tensor:
    """Coerce ``fn``'s return value to a float64 (n,) tensor; raise ValueError if it cannot be."""
    if not isinstance(out, torch.Tensor):
        out = torch.as_tensor(out, dtype=torch.float64)
    if out.is_complex():
        raise ValueError("complex output")
    return torch.broadcast_to(out.to(torch.float64), (n,))


def evaluate(fn: ExpressionFn, constants: Sequence[float] | np.ndarray, X: np.ndarray) -> np.ndarray:
    """Evaluate ``fn`` on ``X`` with the given constants; never warns, never raises for a bad candidate.

    Returns an (n,) float64 array; a candidate that raises one of :data:`CANDIDATE_ERRORS` gives all NaN.
    """
    X_t = _tensor(X)
    c_t = _tensor(np.asarray(constants, dtype=np.float64).reshape(-1))
    n = X_t.shape[0]
    try:
        with torch.no_grad(), np.errstate(all="ignore"):
            return _as_output(fn(X_t, c_t), n).numpy().copy()
    except CANDIDATE_ERRORS:
        return np.full(n, np.nan)


# --------------------------------------------------------------------------------------------------------
# The guarded objective
# --------------------------------------------------------------------------------------------------------


class _Objective:
    """Residuals r(c) = fn(X, c) − y and their exact Jacobian on the fitting rows, guarded.

    Rows whose residual is non-finite or beyond ``big`` get the residual ``big`` and a zero Jacobian row,
    so the least-squares cost stays finite and consistent with its gradient.

    The Jacobian (n, k) is computed by one of three modes, chosen once per fit by :meth:`select_mode`:

    - ``"rowwise"``: call ``fn`` with constants of shape (k, n), one copy per row, and back-propagate
      ``sum(out)``: since row i depends only on column i, the gradient *is* Jᵀ. One forward and one
      backward pass, ~5× faster than ``jacfwd`` on small problems. Used only if, at the first start, it
      reproduces the plain forward values and a reverse-mode projection Jᵀv of the true Jacobian;
    - ``"jacfwd"``: ``torch.func.jacfwd`` (forward mode, k tangents vectorised);
    - ``"2-point"``: finite differences by scipy, the last resort when neither works.
    """

    def __init__(self, fn: ExpressionFn, X: np.ndarray, y: np.ndarray, k: int, deadline: Deadline | None,
                 weights: np.ndarray | None = None):
        self.fn = fn
        self.X = _tensor(X)
        self.y = y
        self.w = weights  # row weights (mean 1) or None; residuals are scaled by their square roots
        self.sw = None if weights is None else np.sqrt(weights)
        self.n = len(y)
        self.k = k
        self.big = _BIG_FACTOR * (1.0 + float(np.max(np.abs(y))))
        # normalises the BFGS loss: the weighted variance of y, as the loss is weighted
        self.scale = float(np.average((y - np.average(y, weights=weights)) ** 2, weights=weights)) \
            or float(np.average(y**2, weights=weights)) or 1.0
        self.deadline = deadline
        self.n_evals = 0
        self.mode: str | None = None  # "rowwise", "jacfwd" or "2-point", set by select_mode
        self.reset_best()

    def reset_best(self) -> None:
        self.best_loss = math.inf
        self.best_c: np.ndarray | None = None

    # -- raw evaluations ------------------------------------------------------------------------------
    def _tick(self) -> None:
        self.n_evals += 1
        if self.deadline is not None and self.deadline.expired():
            raise _OutOfTime

    def evaluable(self, c: np.ndarray) -> bool:
        """False if ``fn`` raises one of :data:`CANDIDATE_ERRORS` at ``c`` (non-finite output is fine)."""
        return self._forward(c) is not None

    def _forward(self, c: np.ndarray) -> np.ndarray | None:
        self._tick()
        try:
            with torch.no_grad():
                return _as_output(self.fn(self.X, _tensor(c)), self.n).numpy()
        except CANDIDATE_ERRORS:
            return None

    def _rowwise(self, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._tick()
        C = _tensor(c).reshape(self.k, 1).repeat(1, self.n).requires_grad_(True)  # (k, n)
        with torch.enable_grad():
            out = _as_output(self.fn(self.X, C), self.n)
            if not out.requires_grad:  # fn ignores its constants
                return out.detach().numpy(), np.zeros((self.n, self.k))
            (g,) = torch.autograd.grad(out.sum(), C, allow_unused=True)
        jac = np.zeros((self.n, self.k)) if g is None else g.T.numpy()
        return out.detach().numpy(), jac

    def _jacfwd(self, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._tick()
        n = self.n

        def f(cc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            out = _as_output(self.fn(self.X, cc), n)
            return out, out

        jac, out = torch.func.jacfwd(f, has_aux=True)(_tensor(c))
        return out.detach().numpy(), torch.broadcast_to(jac, (n, self.k)).detach().numpy()

    def _out_and_jac(self, c: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        try:
            return self._rowwise(c) if self.mode == "rowwise" else self._jacfwd_quiet(c)
        except CANDIDATE_ERRORS:
            return None

    def _jacfwd_quiet(self, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # The first forward-mode call in a process makes torch script its jvp decompositions, which emits
        # a DeprecationWarning from torch internals; keep it from reaching callers that treat warnings as
        # errors. Scoped, restored on exit.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return self._jacfwd(c)

    def _projected_jacobian(self, c: np.ndarray, plain: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(Jᵀv, v, rows): one reverse-mode pass on the plain call, over the ``rows`` where ``plain`` is finite.

        ``v`` is a fixed non-uniform weight vector, so a Jacobian that mixes rows (e.g. ``fn`` averaging
        its constants) does not pass the check by symmetry.
        """
        self._tick()
        rows = np.isfinite(plain)
        v = torch.as_tensor(1.5 + np.cos(1.618 * np.arange(self.n))[rows])
        c_t = _tensor(c).clone().requires_grad_(True)
        with torch.enable_grad():
            out = _as_output(self.fn(self.X[torch.as_tensor(rows)], c_t), int(rows.sum()))
            g = None
            if out.requires_grad:
                (g,) = torch.autograd.grad((out * v).sum(), c_t, allow_unused=True)
        return (np.zeros(self.k) if g is None else g.numpy()), v.numpy(), rows

    def select_mode(self, c0: np.ndarray) -> None:
        """Pick the Jacobian mode at the first start ``c0`` (see the class docstring).

        ``"rowwise"`` is accepted when it reproduces the plain forward values and one reverse-mode
        projection Jᵀv of the true Jacobian; otherwise ``"jacfwd"`` is used, or ``"2-point"`` if that
        fails too.
        """
        if self.k == 0:
            return
        plain = self._forward(c0)
        if plain is None:  # cannot validate anything here; jacfwd is the safe default
            self.mode = "jacfwd"
            return
        try:
            out_rw, jac_rw = self._rowwise(c0)
            if _same(plain, out_rw, rtol=1e-12):
                proj, v, rows = self._projected_jacobian(c0, plain)
                if _same(proj, jac_rw[rows].T @ v, rtol=1e-8):
                    self.mode = "rowwise"
                    return
        except CANDIDATE_ERRORS:
            pass
        try:
            self._jacfwd_quiet(c0)
            self.mode = "jacfwd"
        except CANDIDATE_ERRORS:
            self.mode = "2-point"

    # -- what the optimisers call -----------------------------------------------------------------------
    def _guard(self, c: np.ndarray, out: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Clipped (and weighted) residuals and the mask of rows kept as they are; records ``c`` if it is the
        best yet.

        "Best" compares the true (unclipped, weighted) MSE of points whose residuals are all finite, so a
        finite but poor candidate is still reported with its real loss.
        """
        if out is None:
            r = np.full(self.n, self.big)
            return (r if self.sw is None else r * self.sw), np.zeros(self.n, dtype=bool)
        r = out - self.y
        finite = np.isfinite(r)
        if finite.all():
            mse = weighted_mse(r, self.w)
            if mse < self.best_loss:
                self.best_loss, self.best_c = mse, np.array(c, dtype=np.float64)
        ok = finite & (np.abs(r) <= self.big)
        r = np.where(ok, r, self.big)
        return (r if self.sw is None else r * self.sw), ok

    def residuals(self, c: np.ndarray) -> np.ndarray:
        return self._guard(c, self._forward(c))[0]

    def _weighted_jacobian(self, jac: np.ndarray, ok: np.ndarray) -> np.ndarray:
        jac = np.where(ok[:, None] & np.isfinite(jac), jac, 0.0)
        return jac if self.sw is None else jac * self.sw[:, None]

    def jacobian(self, c: np.ndarray) -> np.ndarray:
        res = self._out_and_jac(c)
        if res is None:
            return np.zeros((self.n, self.k))
        _, ok = self._guard(c, res[0])
        return self._weighted_jacobian(res[1], ok)

    def loss(self, c: np.ndarray) -> float:
        """MSE / var(y) of the clipped residuals, for BFGS with finite-difference gradients."""
        r, _ = self._guard(c, self._forward(c))
        return float(np.mean(r**2)) / self.scale

    def loss_and_grad(self, c: np.ndarray) -> tuple[float, np.ndarray]:
        """MSE / var(y) of the clipped residuals and its exact gradient (zero on clipped rows)."""
        res = self._out_and_jac(c)
        r, ok = self._guard(c, None if res is None else res[0])
        loss = float(np.mean(r**2)) / self.scale
        if res is None:
            return loss, np.zeros(self.k)
        jac = self._weighted_jacobian(res[1], ok)
        grad = (2.0 / (self.n * self.scale)) * (jac.T @ np.where(ok, r, 0.0))
        return loss, grad


def _same(a: np.ndarray, b: np.ndarray, *, rtol: float) -> bool:
    """Same shape, same non-finite pattern, and close where finite."""
    if a.shape != b.shape:
        return False
    fa, fb = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(fa, fb):
        return False
    scale = float(np.max(np.abs(a[fa]), initial=0.0))
    return bool(np.allclose(a[fa], b[fb], rtol=rtol, atol=rtol * (1.0 + scale)))


# --------------------------------------------------------------------------------------------------------
# fit_constants
# --------------------------------------------------------------------------------------------------------


def _starts(
    k: int, init: Sequence[float] | np.ndarray | None, n_starts: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """``init`` (or all ones, a neutral prefactor guess) then random starts.

    Random starts alternate N(0, 1) and signed log-uniform magnitudes in [0.1, 10], so both small
    constants and constants of either sign and other orders of magnitude are tried.
    """
    if init is None:
        first = np.ones(k)
    else:
        first = np.asarray(init, dtype=np.float64).reshape(-1)
        if first.shape != (k,):
            raise ValueError(f"init has {first.size} values, expected n_constants={k}")
        first = np.where(np.isfinite(first), first, 1.0)
    starts = [first]
    for i in range(1, n_starts):
        if i % 2 == 1:
            starts.append(rng.standard_normal(k))
        else:
            starts.append(rng.choice([-1.0, 1.0], size=k) * 10.0 ** rng.uniform(-1.0, 1.0, size=k))
    return starts


def _run_start(obj: _Objective, c0: np.ndarray, method: str, max_iter: int) -> None:
    """One optimisation from ``c0``; the result is read from ``obj.best_c`` (best valid point seen)."""
    k = obj.k
    if method == "lm":
        jac = "2-point" if obj.mode == "2-point" else obj.jacobian
        scipy.optimize.least_squares(
            obj.residuals,
            c0,
            jac=jac,
            method="lm" if obj.n >= k else "trf",  # MINPACK's LM needs at least as many rows as constants
            ftol=_TOL,
            xtol=_TOL,
            gtol=_TOL,
            max_nfev=max_iter,
        )
    else:
        if obj.mode == "2-point":
            scipy.optimize.minimize(obj.loss, c0, method="BFGS", options={"maxiter": max_iter, "gtol": _TOL})
        else:
            scipy.optimize.minimize(
                obj.loss_and_grad, c0, jac=True, method="BFGS", options={"maxiter": max_iter, "gtol": _TOL}
            )


def fit_constants(
    fn: ExpressionFn,
    n_constants: int,
    X: np.ndarray,
    y: np.ndarray,
    *,
    init: Sequence[float] | np.ndarray | None = None,
    n_starts: int = 4,
    max_rows: int = 1024,
    method: str = "lm",
    max_iter: int = 100,
    deadline: Deadline | None = None,
    rng: np.random.Generator | int | None = None,
    weights: np.ndarray | None = None,
) -> ConstantFit:
    r"""Fit the constants of ``fn`` by least squares and score the result on all rows.

    Minimises :math:`\frac1n\sum_i (fn(X_i, c) - y_i)^2` over :math:`c \in \mathbb{R}^k` on at most
    ``max_rows`` rows, from several starts, with exact torch gradients; the best constants are then
    evaluated on **all** rows of ``X`` (float64).

    Parameters
    ----------
    fn : callable
        ``fn(X, c) -> y_hat`` with ``X`` a (n, d) float64 tensor and ``c`` a (k,) float64 tensor; must be
        differentiable in ``c`` and act row by row. ``fn`` should index constants as ``c[j]`` and combine
        them element-wise, which enables the fast "row-wise" Jacobian (see ``_Objective``); other
        callables fall back to ``torch.func.jacfwd`` automatically.
    n_constants : int
        k, the number of constants. 0 just evaluates ``fn``.
    X, y : array-like
        (n, d) inputs and (n,) finite targets.
    init : array-like of length k, optional
        First start (e.g. the decoded constants); non-finite entries are replaced by 1. Default: all ones.
    n_starts : int
        Total starts, the first included; the others are random (from ``rng``). Stops early after a start
        fits the subset exactly (MSE ≤ 1e-24·mean(y²)).
    max_rows : int
        At most this many rows are used to fit, a fixed subset drawn from ``rng`` if ``n > max_rows``.
    method : {"lm", "bfgs"}
        ``"lm"``: Levenberg–Marquardt (``scipy.optimize.least_squares``, method ``"lm"``, or ``"trf"`` when
        rows < k) with the exact Jacobian. ``"bfgs"``: ``scipy.optimize.minimize(method="BFGS", jac=True)``
        with exact gradients, on the MSE divided by var(y).
    max_iter : int
        Per start: ``max_nfev`` for LM (function evaluations, Jacobians not counted), ``maxiter`` for BFGS.
    deadline : Deadline, optional
        The wall-clock budget (:class:`gensr.deadline.Deadline`), checked at every evaluation; once it has
        passed, the best valid point seen so far is kept. Default: no limit (iterations are capped anyway).
    rng : numpy Generator, int or None
        Seeds the row subset and the random starts (``np.random.default_rng(rng)``).
    weights : array-like of shape (n,), optional
        Non-negative row weights (``sample_weight``): the fit minimises, and ``mse`` and ``r2`` report, the
        weighted squared error. Default: every row weighs 1.

    Returns
    -------
    ConstantFit
        Invalid candidates (NaN/inf anywhere on the rows, or raising one of :data:`CANDIDATE_ERRORS`) give
        ``success=False``, ``mse=inf``, ``r2=-inf``; no warning or candidate exception escapes.

    Examples
    --------
    >>> import numpy as np, torch
    >>> X = np.linspace(-3, 3, 50)[:, None]; y = 2.0 * X[:, 0] + 1.0
    >>> fit = fit_constants(lambda X, c: c[0] * X[:, 0] + c[1], 2, X, y, rng=0)
    >>> bool(fit.success), np.round(fit.constants, 6).tolist()
    (True, [2.0, 1.0])
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if n_constants < 0 or n_starts < 1 or max_rows < 1 or max_iter < 1:
        raise ValueError("need n_constants >= 0 and n_starts, max_rows, max_iter >= 1")
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if X.ndim != 2 or X.shape[0] != y.shape[0] or y.size == 0:
        raise ValueError(f"X must be (n, d) and y (n,) with n >= 1; got {X.shape} and {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("y must be finite")
    w = check_weights(weights, len(y), "weights", min_nonzero=1)
    gen = np.random.default_rng(rng)
    k = int(n_constants)

    with np.errstate(all="ignore"):
        rows = subsample_rows(len(y), max_rows, gen)
        obj = _Objective(fn, X[rows], y[rows], k, deadline, None if w is None else _mean_one(w[rows]))
        candidates: list[tuple[float, np.ndarray]] = []
        n_run = 0
        if k == 0:
            candidates.append((0.0, np.zeros(0)))
        else:
            starts = _starts(k, init, n_starts, gen)
            try:
                for c0 in starts:
                    n_run += 1
                    obj.reset_best()
                    if not obj.evaluable(c0):  # raises at c0: constant residuals, nothing to descend
                        continue
                    if obj.mode is None:
                        obj.select_mode(c0)
                    try:
                        _run_start(obj, c0, method, max_iter)
                    except CANDIDATE_ERRORS:  # e.g. scipy rejecting a degenerate problem; keep the best seen
                        pass
                    finally:
                        if obj.best_c is not None:
                            candidates.append((obj.best_loss, obj.best_c))
                    if obj.best_loss <= _PERFECT_REL_MSE * float(np.average(obj.y**2, weights=obj.w)):
                        break
            except _OutOfTime:  # the interrupted start's best point was kept by the `finally` above
                pass
            if not candidates:  # never valid on the fitting rows: report the first start
                candidates.append((math.inf, starts[0]))
        return _final(fn, X, y, candidates, obj.n_evals, n_run, len(rows), w)


def _final(
    fn: ExpressionFn,
    X: np.ndarray,
    y: np.ndarray,
    candidates: list[tuple[float, np.ndarray]],
    n_evals: int,
    n_run: int,
    n_rows_fit: int,
    weights: np.ndarray | None = None,
) -> ConstantFit:
    """Score candidates on all rows (only the best one if the fit used all rows) and keep the best."""
    candidates = sorted(candidates, key=lambda t: t[0])
    if n_rows_fit == len(y):
        candidates = candidates[:1]
    return _best_on_all_rows(lambda c: evaluate(fn, c, X), [c for _, c in candidates], y,
                             n_evals + len(candidates), n_run, n_rows_fit, weights)


def _mean_one(w: np.ndarray) -> np.ndarray:
    """Weights scaled to mean 1 (a subset of rows may hold only zero weights: then all ones)."""
    total = float(np.mean(w))
    return w / total if total > 0 else np.ones_like(w)


def _best_on_all_rows(predict: Callable[[np.ndarray], np.ndarray], candidates: Sequence[np.ndarray],
                      y: np.ndarray, n_evals: int, n_run: int, n_rows_fit: int,
                      weights: np.ndarray | None = None) -> ConstantFit:
    """The candidate constants with the lowest (weighted) MSE on all rows (valid first), as a :class:`ConstantFit`."""
    best: tuple[float, float, np.ndarray] | None = None
    for c in candidates:
        with np.errstate(all="ignore"):  # candidates are evaluated guarded, never with a warning
            pred = predict(c)
            r2 = r2_score(y, pred, weights)
            mse = weighted_mse(pred - y, weights) if math.isfinite(r2) else math.inf
        if not math.isfinite(mse):
            mse, r2 = math.inf, -math.inf
        if best is None or mse < best[0]:
            best = (mse, r2, c)
    assert best is not None
    mse, r2, c = best
    constants = np.array(c, dtype=np.float64)
    constants.setflags(write=False)
    return ConstantFit(constants=constants, mse=mse, r2=r2, success=math.isfinite(mse), n_evals=n_evals,
                       n_starts=n_run, n_rows_fit=n_rows_fit)
