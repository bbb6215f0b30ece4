"""Readable constants: snap a fitted float to a short sympy form, only when that costs no accuracy.

:func:`snap_constant` maps a float to a short sympy form (``3``, ``1/2``, ``pi/4``, ``1/(2*pi)``,
``sqrt(2)``, …); :func:`snap_if_no_loss` applies such forms to a candidate's constants only when its MSE
does not grow (evaluated with :func:`gensr.constants.evaluate`, so guarded the same way).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np
import sympy

from gensr._utils import weighted_mse
from gensr.constants import ExpressionFn, evaluate

__all__ = ["snap_constant", "snap_constants", "snap_forms", "snap_if_no_loss"]



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
) -> list[sympy.Expr]:
    """Every short exact form of ``value`` within ``rtol`` (relative), shortest first: by |p| + q of its
    rational part, plus one for a π, e, root or log factor (π/2 before 11/7); ties: integers, then the
    order of the forms listed in :func:`snap_constant`."""
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


def snap_if_no_loss(
    fn: ExpressionFn,
    constants: Sequence[float] | np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    *,
    tol: float = 1e-9,
    atol: float | None = None,
    rtol: float = 1e-6,
    weights: np.ndarray | None = None,
    zero: bool = False,
) -> tuple[np.ndarray, list[sympy.Expr | None]]:
    """Snap constants to readable forms one at a time, keeping a snap only when it costs no accuracy.

    Constants are tried greedily, closest to their snapped form first, each through its forms simplest first
    (:func:`snap_forms`); a snap is kept if the MSE on
    ``(X, y)`` with all snaps so far stays ``<= mse0·(1 + tol) + atol``, where ``mse0`` is the MSE of the
    unsnapped constants and ``atol`` (default ``1e-12·mean(y²)``, i.e. float-precision noise of an exact
    fit) absorbs round-off. No refit is done. With ``weights`` (sample weights) the MSE is weighted. With
    ``zero`` (for fits at the noise floor, where ``tol`` is the noise's allowance), the constants left over are
    then tried at 0, smallest first: an offset or a term that the noise cannot tell from nothing is dropped.

    Returns
    -------
    (constants, forms)
        The new constants (float64, snapped values substituted) and, per constant, its sympy form or None
        when it was left as is.
    """
    c = np.array(constants, dtype=np.float64).reshape(-1)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if atol is None:
        atol = 1e-12 * float(np.mean(y**2))
    forms: list[sympy.Expr | None] = [None] * c.size
    mse0 = _mse(fn, c, X, y, weights)
    if not math.isfinite(mse0):
        return c, forms
    limit = mse0 * (1.0 + tol) + atol
    proposals = []
    for j, v in enumerate(c):
        options = snap_forms(v, rtol=rtol)
        if options:
            proposals.append((abs(float(options[0]) - v) / max(abs(v), 1e-300), j, options))
    for _, j, options in sorted(proposals, key=lambda t: (t[0], t[1])):
        for form in options:  # simplest first; the first the data accept is kept
            trial = c.copy()
            trial[j] = float(form)
            if _mse(fn, trial, X, y, weights) <= limit:
                c, forms[j] = trial, form
                break
    left = [j for j in range(c.size) if forms[j] is None] if zero else []
    for j in sorted(left, key=lambda j: abs(c[j])):
        trial = c.copy()
        trial[j] = 0.0
        if _mse(fn, trial, X, y, weights) <= limit:
            c, forms[j] = trial, sympy.Integer(0)
    return c, forms
