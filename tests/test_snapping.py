"""Snapping fitted constants to readable forms, only within their standard errors (a test)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from gensr.constants import evaluate, fit_constants
from gensr.formula import parse
from gensr.snapping import (
    SNAP_Z,
    float_bits,
    snap_constants,
    snap_forms,
    snap_window,
    snap_within_error,
    standard_errors,
)


def test_snap_constants_maps_each_value():
    assert snap_constants([0.25, 0.123456789]) == [sympy.Rational(1, 4), None]


def test_exact_snaps_keep_accuracy():
    x = np.linspace(-2.0, 2.0, 100)
    y = 3.0 * x + 1 / (2 * np.pi) + 0.37 * x**2  # 0.37 is not a simple form
    fn = lambda X, c: c[0] * X[:, 0] + c[1] + c[2] * X[:, 0] ** 2  # noqa: E731
    fit = fit_constants(fn, 3, x[:, None], y, rng=0)
    constants, forms = snap_within_error(fn, fit.constants, x[:, None], y)
    assert forms == [3, 1 / (2 * sympy.pi), None]  # 37/100 is not a short form (q > 12)
    assert constants[0] == 3.0 and constants[1] == 1 / (2 * np.pi) and constants[2] == pytest.approx(0.37)
    snapped_mse = np.mean((evaluate(fn, constants, x[:, None]) - y) ** 2)
    assert snapped_mse <= 1e-12 * np.mean(y**2)


def test_a_snap_beyond_the_standard_error_is_refused():
    # 0.5003 ± 0.0002 (0.01 noise over 10,000 rows): 1/2 is 1.5 standard errors away at 100 rows, 15 at 10,000
    rng = np.random.default_rng(0)
    fn = lambda X, c: c[0] * X[:, 0]  # noqa: E731
    for n, snapped in ((100, True), (10_000, False)):
        x = np.linspace(-2.0, 2.0, n)
        y = 0.5003 * x + 0.01 * rng.standard_normal(n)
        fit = fit_constants(fn, 1, x[:, None], y, rng=0)
        se, _, _ = standard_errors(fn, fit.constants, x[:, None], y)
        _, forms = snap_within_error(fn, fit.constants, x[:, None], y)
        assert (forms == [sympy.Rational(1, 2)]) == snapped == (abs(fit.constants[0] - 0.5) <= SNAP_Z * se[0])


def test_standard_errors_match_least_squares_theory():
    # a straight line: se(slope) = σ/√Σ(x − x̄)², se(intercept) = σ·√(1/n + x̄²/Σ(x − x̄)²)
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 4, 400)
    y = 2 * x + 1 + rng.normal(0, 0.3, 400)
    fn = lambda X, c: c[0] * X[:, 0] + c[1]  # noqa: E731
    fit = fit_constants(fn, 2, x[:, None], y, rng=0)
    se, s2, exact = standard_errors(fn, fit.constants, x[:, None], y)
    sxx = np.sum((x - x.mean()) ** 2)
    assert se[0] == pytest.approx(np.sqrt(s2 / sxx), rel=1e-4) and not exact
    assert se[1] == pytest.approx(np.sqrt(s2 * (1 / 400 + x.mean() ** 2 / sxx)), rel=1e-4)


def test_noisy_constants_never_snap_to_made_up_closed_forms():
    # a·b/c at 10 % noise: 1 is within the error and is the shortest form; a product such as
    # sqrt(21)*sqrt(log(10))/7 (0.99339) is never proposed for a noisy fit, and 3.06 ± 0.01 is not 9·e/8
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 5, size=(300, 3))
    f = X[:, 0] * X[:, 1] / X[:, 2]
    y = f + rng.normal(0, 0.1 * np.sqrt(np.mean(f**2)), 300)
    fn = parse("C*x0*x1/x2").torch_fn()
    fit = fit_constants(fn, 1, X, y, rng=0)
    assert abs(fit.constants[0] - 1) > 1e-3  # the noise moved it
    assert snap_within_error(fn, fit.constants, X, y)[1] == [1]
    assert not any("log" in str(f) or "pi" in str(f) for f, _ in snap_window(0.99339, 0.005))
    assert [str(f) for f, bits in snap_window(3.06, 0.02) if bits < float_bits(3.06, 0.01)] == []


def test_exponents_snap_to_halves_thirds_and_tenths():
    # a Cobb–Douglas law at 1 % noise: exponents 0.3 and 0.7, never sqrt(14)/(7*sqrt(pi)) or 2*pi/9
    rng = np.random.default_rng(0)
    A, K, L = rng.uniform(1, 3, 300), rng.uniform(1, 10, 300), rng.uniform(1, 10, 300)
    X = np.column_stack([A, K, L])
    f = A * K**0.3 * L**0.7
    y = f + rng.normal(0, 0.01 * np.sqrt(np.mean(f**2)), 300)
    expr = parse("C*x0*x1**C*x2**C")
    from gensr.front import exponent_mask

    assert exponent_mask(expr) == [False, True, True]
    fn = expr.torch_fn()
    fit = fit_constants(fn, 3, X, y, rng=0)
    _, forms = snap_within_error(fn, fit.constants, X, y, exponents=exponent_mask(expr))
    assert forms == [1, sympy.Rational(3, 10), sympy.Rational(7, 10)]


def test_pi_over_two_is_found_within_its_error():
    # y = π/2 − acos(x) with noise: the fitted 1.5705 is within two standard errors of π/2
    rng = np.random.default_rng(0)
    X = rng.uniform(-0.9, 0.9, size=(5000, 1))
    y = np.pi / 2 - np.arccos(X[:, 0]) + rng.normal(0, 0.01, 5000)
    fn = parse("C - acos(x0)").torch_fn()
    fit = fit_constants(fn, 1, X, y, rng=0)
    values, forms = snap_within_error(fn, fit.constants, X, y)
    assert str(forms[0]) == "pi/2" and values[0] == pytest.approx(np.pi / 2)
    assert [str(f) for f in snap_forms(1.5705, rtol=1e-2)][:1] == ["pi/2"]
