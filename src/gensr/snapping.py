"""Readable constants: snap a fitted float to a short sympy form, only when the data cannot tell them apart.

:func:`snap_constant` maps a float to a short sympy form (``3``, ``1/2``, ``pi/4``, ``1/(2*pi)``,
``sqrt(2)``, …) within a relative tolerance; :func:`snap_within_error` applies such forms to a candidate's
constants only within their standard errors (a test, :data:`SNAP_Z`), so noise never turns into a
made-up closed form (evaluated with :func:`gensr.constants.evaluate`, so guarded the same way).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np
import sympy

from gensr._utils import weighted_mse
from gensr.constants import ExpressionFn, evaluate

__all__ = ["SNAP_Z", "float_bits", "snap_constant", "snap_constants", "snap_forms", "snap_window", "snap_within_error",
           "standard_errors"]



def _signed_sqrt(r: sympy.Expr) -> sympy.Expr:
    return sympy.sign(r) * sympy.sqrt(abs(r))


_Form = tuple[Callable[[float], float], Callable[[float], float], Callable[[sympy.Rational], sympy.Expr]]


@lru_cache(maxsize=1)
def _forms() -> tuple[_Form, ...]:
    """(t, inverse of t, build): value is snapped to ``build(p/q)`` when ``t(value) ≈ p/q``.

    The order sets the preference between forms that both match: plain rationals, then π multiples,
    1/π multiples, square roots of rationals, e multiples, square roots with π, π² and 1/π² multiples, ln 2
    and ln 10 multiples.
    """
    pi, e, sqrt, sgn, ln2, ln10 = math.pi, math.e, math.sqrt, math.copysign, math.log(2), math.log(10)
    return (
        (lambda v: v, lambda w: w, lambda r: r),
        (lambda v: v / pi, lambda w: w * pi, lambda r: r * sympy.pi),
        (lambda v: v * pi, lambda w: w / pi, lambda r: r / sympy.pi),
        (lambda v: sgn(v * v, v), lambda w: sgn(sqrt(abs(w)), w), _signed_sqrt),
        (lambda v: v / e, lambda w: w * e, lambda r: r * sympy.E),
        (lambda v: sgn(v * v / pi, v), lambda w: sgn(sqrt(abs(w) * pi), w), lambda r: _signed_sqrt(r * sympy.pi)),
        (lambda v: sgn(v * v * pi, v), lambda w: sgn(sqrt(abs(w) / pi), w), lambda r: _signed_sqrt(r / sympy.pi)),
        (lambda v: v / pi**2, lambda w: w * pi**2, lambda r: r * sympy.pi**2),
        (lambda v: v * pi**2, lambda w: w / pi**2, lambda r: r / sympy.pi**2),
        (lambda v: v / ln2, lambda w: w * ln2, lambda r: r * sympy.log(2)),
        (lambda v: v / ln10, lambda w: w * ln10, lambda r: r * sympy.log(10)),
    )


def snap_forms(
    value: float,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-12,
    max_denominator: int = 12,
    max_numerator: int = 24,
    max_int: int = 100,
    compound: bool = True,
) -> list[sympy.Expr]:
    """Every short exact form of ``value`` within ``rtol`` (relative), shortest first: by |p| + q of its
    rational part, plus one for a π, e, root or log factor (π/2 before 11/7); ties: integers, then the
    order of the forms listed in :func:`snap_constant`. Without ``compound``, only rationals and one factor
    of π, 1/π, e or a root alone (no √(π/2), π², ln 2, ln 10)."""
    value = float(value)
    if not math.isfinite(value):
        return []
    if abs(value) <= atol:
        return [sympy.Integer(0)]
    found: list[tuple[int, int, sympy.Expr]] = []  # (size, preference, form)
    nearest = round(value)
    if abs(nearest) <= max_int and abs(nearest - value) <= rtol * abs(value):
        found.append((abs(nearest) + 1, -1, sympy.Integer(nearest)))
    for rank, (transform, inverse, build) in enumerate(_forms()):
        if not compound and rank not in _SIMPLE_RANKS:
            continue
        w = transform(value)
        if not math.isfinite(w) or w == 0.0:
            continue
        frac = Fraction(w).limit_denominator(max_denominator)
        if frac == 0 or abs(frac.numerator) > max_numerator:
            continue
        if abs(inverse(float(frac)) - value) <= rtol * abs(value):
            size = abs(frac.numerator) + frac.denominator + (rank > 0)  # π/2 (4) before 11/7 (18)
            found.append((size, rank, build(sympy.Rational(frac.numerator, frac.denominator))))
    out: list[sympy.Expr] = []
    for _, _, form in sorted(found, key=lambda t: (t[0], t[1])):
        if form not in out:
            out.append(form)
    return out


def snap_constant(value: float, **options: Any) -> sympy.Expr | None:
    """A short exact form of ``value`` within ``rtol`` (relative), or None: the shortest of
    :func:`snap_forms`, which takes the same keywords (``rtol``, ``atol``, ``max_denominator``,
    ``max_numerator``, ``max_int``) and holds their defaults.

    Forms: 0 (if ``|value| <= atol``); integers up to ``max_int`` in magnitude;
    rationals p/q (``q <= max_denominator``, ``|p| <= max_numerator``); (p/q)·π; p/(q·π); ±sqrt(p/q);
    (p/q)·e; ±sqrt(p/q·π); ±sqrt(p/(q·π)); (p/q)·π²; p/(q·π²); (p/q)·ln 2; (p/q)·ln 10. The nearest p/q for
    each form is found with ``Fraction.limit_denominator``.

    >>> snap_constant(0.15915494), snap_constant(0.5), snap_constant(3.0), snap_constant(0.123456789)
    (1/(2*pi), 1/2, 3, None)
    """
    forms = snap_forms(value, **options)
    return forms[0] if forms else None


def snap_constants(values: Sequence[float] | np.ndarray, **options: Any) -> list[sympy.Expr | None]:
    """:func:`snap_constant` applied to each value (same keywords)."""
    return [snap_constant(v, **options) for v in np.asarray(values, dtype=np.float64).reshape(-1)]


def _mse(fn: ExpressionFn, constants: np.ndarray, X: np.ndarray, y: np.ndarray,
         weights: np.ndarray | None = None) -> float:
    mse = weighted_mse(evaluate(fn, constants, X) - y, weights)
    return mse if math.isfinite(mse) else math.inf


SNAP_Z = 2.0
"""A constant snaps only to a form within this many standard errors of its fitted value (about a 95 % test)."""

ROUND_OFF = 1e-12
"""The MSE of an exact fit is round-off below ``ROUND_OFF·mean(y²)`` (relative error 1e-6): the residual
variance used for standard errors never goes below it, and a fit under it counts as noise-free."""

MAX_REL_SNAP = 0.05
"""However wide its standard error, a constant never snaps to a nonzero form further than 5 % from it: a
constant the data barely determine is left as fitted (or dropped, when 0 is within its error)."""

_SIMPLE_RANKS = frozenset(range(5))  # in _forms(): p/q, p/q·π, p/(q·π), √(p/q), p/q·e: one factor "alone"
_EXPONENT_DENOMINATORS = (1, 2, 3, 10)  # exponents snap to integers, halves, thirds and tenths


def standard_errors(fn: ExpressionFn, constants: Sequence[float] | np.ndarray, X: np.ndarray, y: np.ndarray,
                    weights: np.ndarray | None = None, *, round_off_only: bool = False,
                    free: np.ndarray | None = None) -> tuple[np.ndarray, float, bool]:
    """Standard errors of fitted constants from the Jacobian at the optimum: cov = s²·(JᵀWJ)⁻¹.

    s² is the weighted residual variance SSR/(n − p), never below the round-off of an exact fit
    (:data:`ROUND_OFF`·mean(y²)); J is taken by central differences. Returns (se per constant, s², whether
    the fit is exact to float precision). A constant the data do not determine gets an infinite error.
    ``round_off_only``: s² is the round-off floor whatever the residuals (errors of an exact fit). ``free``
    (a mask): the constants still fitted; the others are fixed (snapped) and get an infinite error.
    """
    c = np.array(constants, dtype=np.float64).reshape(-1)
    n = len(y)
    idx = np.flatnonzero(np.ones(c.size, dtype=bool) if free is None else free)
    k = len(idx)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64) / np.mean(weights)
    mse0 = _mse(fn, c, X, y, weights)
    floor = ROUND_OFF * float(np.average(y**2, weights=w))
    s2 = floor if round_off_only else max(mse0 * n / max(n - k, 1), floor)
    J = np.zeros((n, k))
    for col, j in enumerate(idx):
        h = 1e-6 * max(abs(c[j]), 1e-3)
        up, down = c.copy(), c.copy()
        up[j] += h
        down[j] -= h
        J[:, col] = (evaluate(fn, up, X) - evaluate(fn, down, X)) / (2 * h)
    se = np.full(c.size, math.inf)
    if np.all(np.isfinite(J)) and k:
        info = J.T @ (J * w[:, None])
        with np.errstate(all="ignore"):
            cov = np.linalg.pinv(info, rtol=1e-12) * s2
        d = np.diag(cov)
        se[idx] = np.where((d > 0) & np.isfinite(d) & (np.diag(info) > 0), np.sqrt(np.abs(d)), math.inf)
    return se, s2, mse0 <= floor or round_off_only


def snap_window(value: float, half_width: float, *, exponent: bool = False, compound: bool = False,
                reserved: Collection[str] = (), max_denominator: int = 12, max_numerator: int = 24,
                max_int: int = 100) -> list[tuple[sympy.Expr, float]]:
    """Every short form within ``value ± half_width`` (never beyond :data:`MAX_REL_SNAP`) with its description
    length in bits, shortest first: integers and small rationals p/q (2·log2(|p| + q) bits: the pair), then
    one factor of π, 1/π, e or a root of a rational alone (4 bits more: a prior of 1/16 for a transcendental
    factor). Exponents (``exponent``) take integers, halves, thirds and tenths only (log2(|p| + 1) + 2
    bits). Products of several factors (√(p·π/q), π², ln 2, ln 10; 8 bits more) only with ``compound``, for
    fits exact to float precision. Zero is never proposed here (a zero changes the formula's structure).
    Forms that print a name in ``reserved`` (a column called ``pi`` or ``E``) are never proposed.

    >>> [(str(f), round(b, 1)) for f, b in snap_window(0.9946, 0.007)][:2]
    [('1', 2.0), ('4*E/11', 11.8)]
    >>> [(str(f), round(b, 1)) for f, b in snap_window(0.2994, 0.004, exponent=True)]
    [('3/10', 4.0)]
    """
    value = float(value)
    if not (math.isfinite(value) and value != 0 and half_width >= 0):
        return []
    hw = min(half_width, MAX_REL_SNAP * abs(value))
    lo, hi = value - hw, value + hw
    found: dict[Any, float] = {}

    def add(form: Any, bits: float) -> None:
        if form != 0 and abs(float(form) - value) <= hw and bits < found.get(form, math.inf) \
                and not clashes(form, reserved):
            found[form] = bits

    denominators = _EXPONENT_DENOMINATORS if exponent else range(1, max_denominator + 1)
    for rank, (transform, inverse, build) in enumerate(_forms()):
        if (exponent and rank) or (rank not in _SIMPLE_RANKS and not compound):
            continue
        with np.errstate(all="ignore"):
            a, b = sorted((transform(lo), transform(hi)))
        if not (math.isfinite(a) and math.isfinite(b)):
            continue
        extra = 0.0 if rank == 0 else (4.0 if rank in _SIMPLE_RANKS else 8.0)
        for q in denominators:
            top = max_int if q == 1 else max_numerator
            if a * q > top or b * q < -top:
                continue
            for p in range(max(math.ceil(a * q), -top), min(math.floor(b * q), top) + 1):
                if p == 0 or math.gcd(p, q) != 1:
                    continue
                if abs(inverse(p / q) - value) <= hw:
                    bits = math.log2(abs(p) + 1) + 2.0 if exponent else 2.0 * math.log2(abs(p) + q)
                    add(build(sympy.Rational(p, q)), bits + extra)
    return sorted(found.items(), key=lambda t: (t[1], abs(float(t[0]) - value)))


def clashes(form: Any, names: Collection[str]) -> bool:
    """Whether a form prints a named number (``pi``, ``E``) that is also a column's name in ``names``."""
    return bool(names) and any(str(c) in names for c in form.atoms(sympy.NumberSymbol))


def float_bits(value: float, se: float) -> float:
    """Bits that write ``value`` to its precision (one standard error either side), its sign included: a form
    that takes fewer says the same about the data in less (a snap is then a shorter description, not a
    coincidence the look-elsewhere effect would make likely)."""
    if not (math.isfinite(se) and se > 0):
        return math.inf if se == 0 else 0.0
    return max(math.log2(abs(value) / (2.0 * se)), 0.0) + 1.0


def snap_within_error(
    fn: ExpressionFn,
    constants: Sequence[float] | np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    exponents: Sequence[bool] | None = None,
    z: float = SNAP_Z,
    reserved: Collection[str] = (),
    statistical: bool = True,
    deadline: Any = None,
) -> tuple[np.ndarray, list[sympy.Expr | None]]:
    """Snap constants to short forms the data cannot tell from their fitted values: a statistical decision.

    The test (STYLE 32): constant j snaps to the shortest form of :func:`snap_window` within ``z`` standard
    errors of its fit (:func:`standard_errors`) whose description is shorter than the float's at that
    precision (:func:`float_bits`: 3.06 ± 0.01 does not become 9·e/8, 0.9946 ± 0.0035 becomes 1), and the
    snaps so far together raise the weighted SSR by at most z²·s² per snapped constant, the other free
    constants refitted (a likelihood-ratio test at about 95 % per snap). First, constants within z standard
    errors of 0 are tried at 0 on the same test: an offset or a term the noise cannot tell from nothing is
    dropped. Then the others, most certain first, with the errors of what is left. On an exact fit
    (noise-free data) s² is round-off, so only snaps exact to float precision pass, and only then products
    of several factors (√(π/2), ln 2) are proposed. ``exponents`` marks the constants that are exponents
    (integers, halves, thirds and tenths only); ``reserved`` holds the column names, so that no form prints
    as one of them. Without
    ``statistical`` (a formula whose residuals are not noise, so its standard errors say nothing), s² is
    round-off: only snaps exact to float precision; with it, the constants are first refitted on all the
    rows given (pass a subset of a very large table). The refits stop at ``deadline``
    (:class:`gensr.deadline.Deadline`), keeping the best constants found.

    Returns
    -------
    (constants, forms)
        The new constants (float64, snapped values substituted) and, per constant, its sympy form or None
        when it was left as is.
    """
    c = np.array(constants, dtype=np.float64).reshape(-1)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    forms: list[sympy.Expr | None] = [None] * c.size
    if statistical and c.size and math.isfinite(_mse(fn, c, X, y, weights)):
        # the standard errors are those of the least-squares optimum on these rows; the search may have fitted
        # the constants on a subset (measured: 0.2 % off on 75,000 rows, 50 of their standard errors)
        c = _refit(fn, c, np.ones(c.size, dtype=bool), X, y, weights, deadline)
    mse0 = _mse(fn, c, X, y, weights)
    if not math.isfinite(mse0) or c.size == 0:
        return c, forms
    se, s2, exact = standard_errors(fn, c, X, y, weights, round_off_only=not statistical)
    per_snap = z * z * s2 / len(y)  # the MSE (SSR/n) one snap may add
    is_exp = [False] * c.size if exponents is None else list(exponents)
    done = 0

    def accept(j: int, value: float) -> bool:  # the likelihood-ratio test, the free constants refitted
        nonlocal c, done
        trial = c.copy()
        trial[j] = value
        free = np.array([forms[i] is None and i != j for i in range(c.size)])
        if _mse(fn, trial, X, y, weights) > mse0 + (done + 1) * per_snap and free.any():
            trial = _refit(fn, trial, free, X, y, weights, deadline)
        if _mse(fn, trial, X, y, weights) <= mse0 + (done + 1) * per_snap:
            c, done = trial, done + 1
            return True
        return False

    # first the structure: offsets and terms the noise cannot tell from nothing (their correlation with the
    # other constants would widen the others' errors), then short forms with the errors of what is left
    for j in sorted((j for j in range(c.size) if abs(c[j]) <= z * se[j]), key=lambda j: abs(c[j]) / se[j]):
        if accept(j, 0.0):
            forms[j] = sympy.Integer(0)
    if done:
        se = standard_errors(fn, c, X, y, weights, round_off_only=not statistical,
                             free=np.array([f is None for f in forms]))[0]

    def options(j: int) -> list[sympy.Expr]:
        if not math.isfinite(se[j]):
            return []
        return [f for f, bits in snap_window(c[j], z * se[j], exponent=is_exp[j], compound=exact, reserved=reserved)
                if exact or bits < float_bits(c[j], se[j])]

    first = {j: options(j) for j in range(c.size) if forms[j] is None}
    order = sorted((abs(float(o[0]) - c[j]) / se[j] if se[j] > 0 else 0.0, j) for j, o in first.items() if o)
    for _, j in order:  # most certain first; each through its forms, simplest first, at its current value
        for form in options(j):
            if accept(j, float(form)):
                forms[j] = form
                break
    return c, forms


def _refit(fn: ExpressionFn, c: np.ndarray, free: np.ndarray, X: np.ndarray, y: np.ndarray,
           weights: np.ndarray | None, deadline: Any = None) -> np.ndarray:
    """``c`` with the ``free`` constants refitted (one Levenberg–Marquardt start from their values)."""
    import torch

    from gensr.constants import fit_constants

    base = torch.as_tensor(c, dtype=torch.float64)
    idx = torch.as_tensor(np.flatnonzero(free))

    def sub(Xt: Any, cf: Any) -> Any:  # cf is (k_free,) or, for row-wise Jacobians, (k_free, n)
        full = base.clone() if cf.dim() == 1 else base[:, None].expand(len(base), cf.shape[1]).clone()
        return fn(Xt, full.index_put((idx,), cf))

    fit = fit_constants(sub, int(free.sum()), X, y, init=c[free], n_starts=1, max_iter=50, rng=0, weights=weights,
                        max_rows=len(y), deadline=deadline)
    out = c.copy()
    if fit.success and fit.mse <= _mse(fn, c, X, y, weights):
        out[free] = fit.constants
    return out
