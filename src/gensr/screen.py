"""The numpy constant fitter, :func:`screen_constants`: the one every search candidate goes through by default.

Numpy forward passes of :meth:`gensr.grammar.Expression.numpy_fn`, one-call finite-difference Jacobians,
Levenberg–Marquardt, and variable projection for the constants that enter linearly. It shares the result
type (:class:`~gensr.constants.ConstantFit`), the starts and the scoring on all rows with the torch fitter
in :mod:`gensr.constants`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.optimize

from gensr._utils import subsample_rows
from gensr._validation import check_weights
from gensr.constants import (
    _BIG_FACTOR,
    _PERFECT_REL_MSE,
    CANDIDATE_ERRORS,
    ConstantFit,
    _best_on_all_rows,
    _mean_one,
    _OutOfTime,
    _starts,
)
from gensr.deadline import Deadline

__all__ = ["screen_constants"]


def screen_constants(
    fn: Callable[[np.ndarray, np.ndarray], object],
    n_constants: int,
    X: np.ndarray,
    y: np.ndarray,
    *,
    init: Sequence[float] | np.ndarray | None = None,
    n_starts: int = 1,
    max_rows: int = 64,
    max_iter: int = 100,
    tol: float = 1e-8,
    deadline: Deadline | None = None,
    rng: np.random.Generator | int | None = None,
    weights: np.ndarray | None = None,
    linear: Sequence[int] = (),
) -> ConstantFit:
    """A fast approximate fit for screening: numpy forward passes, finite-difference Jacobians, few rows.

    Same contract as :func:`fit_constants` (the result is scored on **all** rows), but ``fn`` is a numpy
    callable ``fn(X, c)`` (:meth:`gensr.grammar.Expression.numpy_fn`), so an evaluation costs microseconds
    instead of a torch call. The k forward differences of a Jacobian come from one broadcast evaluation
    (each constant passed as a column of k perturbed values).

    ``linear``: indices of constants in which ``fn`` is affine, jointly (an additive offset and one multiplier
    per additive term: y = Σ a_j g_j(x; θ) + b). They are solved by linear least squares for every value of
    the others (variable projection), so Levenberg–Marquardt only sees θ, and a skeleton whose constants are
    all linear is fitted in one solve, whatever its starts.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    w = check_weights(weights, len(y), "weights", min_nonzero=1)
    gen = np.random.default_rng(rng)
    k = int(n_constants)
    rows = subsample_rows(len(y), max_rows, gen)
    Xs, ys = X[rows], y[rows]
    sw = 1.0 if w is None else np.sqrt(_mean_one(w[rows]))  # weighted least squares: residuals times √w
    n = len(ys)
    big = _BIG_FACTOR * (1.0 + float(np.max(np.abs(ys))))
    counter = [0]

    def predict(Xm: np.ndarray, c: np.ndarray) -> np.ndarray:
        try:
            out = np.asarray(fn(Xm, c), dtype=np.float64)
        except CANDIDATE_ERRORS:
            return np.full(len(Xm), np.nan)
        return out if out.shape == (len(Xm),) else np.broadcast_to(out, (len(Xm),)).astype(np.float64)

    def residuals(c: np.ndarray) -> np.ndarray:
        counter[0] += 1
        if deadline is not None and deadline.expired():
            raise _OutOfTime
        r = predict(Xs, c) - ys
        return np.where(np.isfinite(r) & (np.abs(r) <= big), r, big) * sw

    def jacobian(c: np.ndarray) -> np.ndarray:
        # all k forward differences in ONE call: constant j is a (k, 1) column (row i perturbs constant i),
        # so every operation broadcasts to (k, n)
        counter[0] += 1
        h = 1e-7 * np.maximum(1.0, np.abs(c))
        C = (c[None, :] + np.diag(h)).T[:, :, None]  # (k, k, 1): C[j] = constant j under each perturbation
        base = residuals(c)
        try:
            out = np.broadcast_to(np.asarray(fn(Xs, C), dtype=np.float64), (k, n))
        except CANDIDATE_ERRORS:
            return np.zeros((n, k))
        r = out - ys
        r = np.where(np.isfinite(r) & (np.abs(r) <= big), r, big) * sw
        jac = ((r - base) / h[:, None]).T
        return np.where(np.isfinite(jac) & (base != big * sw)[:, None], jac, 0.0)

    candidates: list[np.ndarray] = []
    with np.errstate(all="ignore"):
        if k == 0:
            candidates.append(np.zeros(0))
        elif linear:
            candidates = _projected_fits(fn, k, sorted(set(linear)), Xs, ys, sw, big, init, n_starts, max_iter, tol,
                                         gen, deadline, counter)
        else:
            try:
                for c0 in _starts(k, init, n_starts, gen):
                    try:
                        sol = scipy.optimize.least_squares(residuals, c0, jac=jacobian, method="lm" if n >= k
                                                           else "trf", ftol=tol, xtol=tol, max_nfev=max_iter)
                        candidates.append(sol.x)
                        if 2.0 * sol.cost <= _PERFECT_REL_MSE * n * float(np.mean(ys**2)):
                            break
                    except CANDIDATE_ERRORS:
                        candidates.append(c0)
            except _OutOfTime:
                pass
        if not candidates:
            candidates.append(_starts(k, init, 1, gen)[0])
    return _best_on_all_rows(lambda c: predict(X, c), candidates, y, counter[0], len(candidates), n, w)


def _projected_fits(fn: Callable[[np.ndarray, Any], object], k: int, linear: list[int], Xs: np.ndarray,
                    ys: np.ndarray, sw: Any, big: float, init: Sequence[float] | np.ndarray | None, n_starts: int,
                    max_iter: int, tol: float, gen: np.random.Generator, deadline: Deadline | None,
                    counter: list[int]) -> list[np.ndarray]:
    """Variable projection (see :func:`screen_constants`): LM over the nonlinear constants θ, the linear ones
    solved by weighted least squares at every θ. Returns the full constant vectors of the starts run.

    One broadcast call of ``fn`` evaluates p values of θ (a point, or a point and its k forward steps for a
    Jacobian) times m + 1 settings of the linear constants (all 0, then each one alone at 1): shape
    (p, m + 1, n). The p small normal-equation systems are solved together.
    """
    m, n = len(linear), len(ys)
    others = [i for i in range(k) if i not in set(linear)]
    unit = np.vstack([np.zeros(m), np.eye(m)])[None, :, :, None]  # (1, m + 1, m, 1)
    w_rows = np.broadcast_to(np.asarray(sw, dtype=np.float64), (n,))

    def project(thetas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(p, k) full constants and (p, n) weighted clipped residuals for the (p, len(others)) θ values."""
        counter[0] += 1
        if deadline is not None and deadline.expired():
            raise _OutOfTime
        p = len(thetas)
        c: list[Any] = [0.0] * k
        for col, i in enumerate(others):
            c[i] = thetas[:, col][:, None, None]  # (p, 1, 1)
        for j, i in enumerate(linear):
            c[i] = unit[:, :, j]  # (1, m + 1, 1)
        full = np.zeros((p, k))
        full[:, others] = thetas
        bad = np.full((p, n), big) * w_rows
        try:
            out = np.broadcast_to(np.asarray(fn(Xs, c), dtype=np.float64), (p, m + 1, n))
        except CANDIDATE_ERRORS:
            return full, bad
        g0 = out[:, 0]  # (p, n)
        G = (out[:, 1:] - g0[:, None]) * w_rows  # (p, m, n), weighted
        b = (ys - g0) * w_rows  # (p, n)
        M = G @ G.transpose(0, 2, 1)  # (p, m, m)
        ridge = 1e-13 * np.trace(M, axis1=1, axis2=2)[:, None, None] + 1e-300
        try:
            a = np.linalg.solve(M + ridge * np.eye(m), (G @ b[:, :, None]))[:, :, 0]  # (p, m)
        except np.linalg.LinAlgError:
            return full, bad
        ok = np.isfinite(a).all(1, keepdims=True)  # an undefined basis (NaN rows) leaves no solution
        a = np.where(ok, a, 1.0)  # then report finite unit constants, as the plain fitter does
        full[:, linear] = a
        r = (G * a[:, :, None]).sum(1) - b  # weighted residuals
        ok = ok & np.isfinite(r) & (np.abs(r) <= big * w_rows)
        return full, np.where(ok, r, bad)

    if not others:  # every constant is linear: one solve
        try:
            return [project(np.zeros((1, 0)))[0][0]]
        except _OutOfTime:
            return [np.ones(k)]

    def residuals(theta: np.ndarray) -> np.ndarray:
        return project(theta[None])[1][0]

    def jacobian(theta: np.ndarray) -> np.ndarray:  # all forward differences in one call
        h = 1e-7 * np.maximum(1.0, np.abs(theta))
        _, r = project(np.vstack([theta, theta + np.diag(h)]))
        jac = ((r[1:] - r[0]) / h[:, None]).T
        return np.where(np.isfinite(jac), jac, 0.0)

    first = None if init is None else np.asarray(init, dtype=np.float64).reshape(-1)[others]
    out: list[np.ndarray] = []
    try:
        for t0 in _starts(len(others), first, n_starts, gen):
            try:
                sol = scipy.optimize.least_squares(residuals, t0, jac=jacobian,
                                                   method="lm" if n >= len(others) else "trf", ftol=tol, xtol=tol,
                                                   max_nfev=max_iter)
                full, r = project(sol.x[None])
                out.append(full[0])
                if float(np.sum(r**2)) <= _PERFECT_REL_MSE * n * float(np.mean(ys**2)):
                    break
            except CANDIDATE_ERRORS:
                out.append(project(t0[None])[0][0])
    except _OutOfTime:
        pass
    return out
