"""Snapping fitted constants to readable forms, only when that costs no accuracy."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from gensr.constants import evaluate, fit_constants
from gensr.formula import parse
from gensr.snapping import snap_constant, snap_constants, snap_if_no_loss


def test_snap_constants_maps_each_value():
    assert snap_constants([0.25, 0.123456789]) == [sympy.Rational(1, 4), None]


def test_snap_if_no_loss_keeps_accuracy():
    x = np.linspace(-2.0, 2.0, 100)
    y = 3.0 * x + 1 / (2 * np.pi) + 0.37 * x**2  # 0.37 is not a simple form within rtol
    fn = lambda X, c: c[0] * X[:, 0] + c[1] + c[2] * X[:, 0] ** 2  # noqa: E731
    fit = fit_constants(fn, 3, x[:, None], y, rng=0)
    constants, forms = snap_if_no_loss(fn, fit.constants, x[:, None], y)
    assert forms == [3, 1 / (2 * sympy.pi), None]  # 37/100 is not a short form (q > 12)
    assert constants[0] == 3.0 and constants[1] == 1 / (2 * np.pi) and constants[2] == fit.constants[2]
    snapped_mse = np.mean((evaluate(fn, constants, x[:, None]) - y) ** 2)
    assert snapped_mse <= fit.mse * (1 + 1e-9) + 1e-12 * np.mean(y**2)


def test_snap_if_no_loss_rejects_snaps_that_cost_accuracy():
    rng = np.random.default_rng(0)
    x = np.linspace(-2.0, 2.0, 100)
    y = 0.5003 * x + 0.01 * rng.standard_normal(100)
    fn = lambda X, c: c[0] * X[:, 0]  # noqa: E731
    fit = fit_constants(fn, 1, x[:, None], y, rng=0)
    assert snap_constant(fit.constants[0], rtol=1e-2) == sympy.Rational(1, 2)
    constants, forms = snap_if_no_loss(fn, fit.constants, x[:, None], y, rtol=1e-2)
    assert forms == [None]
    np.testing.assert_array_equal(constants, fit.constants)


def test_forms_are_tried_in_order_until_the_data_accept_one():
    # y = π/2 − acos(x) with noise: the fitted 1.5705 is within 1 % of π/2 and of 11/7; the shorter comes first
    from gensr.snapping import snap_forms

    rng = np.random.default_rng(0)
    X = rng.uniform(-0.9, 0.9, size=(5000, 1))
    y = np.pi / 2 - np.arccos(X[:, 0]) + rng.normal(0, 0.01, 5000)
    forms = [str(f) for f in snap_forms(1.5705, rtol=1e-2)]
    assert forms[0] == "pi/2" and "11/7" in forms
    assert [str(f) for f in snap_forms(1.007, rtol=1e-2)][:1] == ["1"]
    fn = parse("C - acos(x0)").torch_fn()
    values, forms = snap_if_no_loss(fn, [1.5705], X, y, tol=2 * np.sqrt(2 / 5000), rtol=1e-2)
    assert str(forms[0]) == "pi/2" and values[0] == pytest.approx(np.pi / 2)
