"""gensr.front: the front as users read it (the canonicalisation table) and the front table."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from gensr import GenSRRegressor
from gensr.front import readable

RNG = np.random.default_rng(0)
X = RNG.uniform(1, 5, size=(300, 5))
NAMES = ["x0", "x1", "x2", "x3", "x4"]
x0, x1, x2, x3, x4 = sympy.symbols("x0:5", real=True)
F = sympy.Float
a, b, c, d, e = X.T

# input form (as fitted and printed before) → the form a person writes; y is the law on the data
TABLE = [
    (x0 / F(float(np.exp(1 / 0.80417))) ** (F(0.80417) * x1 / x2), a * np.exp(-b / c), "x0*exp(-x1/x2)"),
    (F(2.5432) ** (x0 * x1), 2.5432 ** (a * b), "exp(0.933423130614456*x0*x1)"),
    (F(0.159154943091895) * sympy.sqrt(1 / (x0 * x1)), 1 / (2 * np.pi * np.sqrt(a * b)), "1/(2*pi*sqrt(x0*x1))"),
    (-x1 * sympy.cos(x2) * sympy.Abs(x0), -b * np.cos(c) * a, "-x0*x1*cos(x2)"),
    (x1 * x2 / (sympy.Abs(x0) - 1), b * c / (a - 1), "x1*x2/(x0 - 1)"),
    (x1 * sympy.Abs(-x0), -b * -a, "x0*x1"),
    (x0 - F(1.0) * x1 * sympy.log(x2) / x3, a - b * np.log(c) / d, "x0 - x1*log(x2)/x3"),
    (x0 - 2 * x1 * sympy.log(sympy.sqrt(x2)) / x3, a - b * np.log(c) / d, "x0 - x1*log(x2)/x3"),  # a log expanded
    (F(1 / 1.17338) * x0 * x1 * x4 * (F(1.17338) * x2 - F(1.17338) * x3) / (x2 * x3),
     a * b * e * (c - d) / (c * d), "x0*x1*x4*(x2 - x3)/(x2*x3)"),
    (x0 * (F(0.5 / 1.87638) * x1 + F(0.5 / 1.87638) * x2) * (F(1.87638) * x1 - F(1.87638) * x2),
     a * (b**2 - c**2) / 2, "x0*(x1 - x2)*(x1 + x2)/2"),
    (F(np.log(2)) * x0 * x1, np.log(2) * a * b, "x0*x1*log(2)"),
    (F(np.log(10)) * x0, np.log(10) * a, "x0*log(10)"),
    (F(1 / (4 * np.pi**2)) / x0, 1 / (4 * np.pi**2 * a), "1/(4*pi**2*x0)"),
    (F(np.sqrt(2)) * x0, np.sqrt(2) * a, "sqrt(2)*x0"),
    (F(np.e) * x0 + F(0.25), np.e * a + 0.25, "E*x0 + 1/4"),
    # round-off offsets vanish; constants equal up to round-off factor out; roots merge; a factor enters a root
    (F(6.259e-10) - F(1.0) * x0**2 + F(3.0) * x0 - F(2.0) * x0 * x1, 3 * a - 2 * a * b - a**2,
     "-x0**2 - 2*x0*x1 + 3*x0"),
    (F(1.28869502331864) * x0 / sympy.sqrt(F(1.660734863126217) + F(1.6607348631262209) * x1**2 / x2**2),
     a / np.sqrt(1 + b**2 / c**2), "x0/sqrt(x1**2/x2**2 + 1)"),
    (sympy.sqrt(x0) * sympy.sqrt(x1) / sympy.sqrt(x2), np.sqrt(a * b / c), "sqrt(x0*x1/x2)"),
    (x0 * x1 * sympy.sqrt(1 + x2**2 / x1**2 + x3**2 / x1**2), a * np.sqrt(b**2 + c**2 + d**2),
     "x0*sqrt(x1**2 + x2**2 + x3**2)"),
    # positive columns leave the root (Feynman test_4 as the units sweep printed it), and the sum is expanded
    (x1 * x4 * sympy.sqrt((2 + 2 * x2 / x1 + x3**2 / (x0 * x1 * x4**2)) / (x0 * x1 * x4**2)),
     np.sqrt((2 * b + 2 * c + d**2 / (a * e**2)) / a), "sqrt((2*x1 + 2*x2 + x3**2/(x0*x4**2))/x0)"),
]


@pytest.mark.parametrize(("given", "y", "printed"), TABLE)
def test_canonicalisation_table(given, y, printed):
    out = readable(given, X, y, NAMES)
    assert str(out) == printed
    f = sympy.lambdify(sympy.symbols("x0:5", real=True), out, "numpy")
    np.testing.assert_allclose(np.broadcast_to(f(*X.T), y.shape), y, rtol=1e-9)  # no accuracy cost


def test_nothing_is_rewritten_at_an_accuracy_cost():
    # |x0 - 3| changes sign on the data; 0.3333 is not 1/3 to the data's precision
    y = np.abs(a - 3) + 0.3333 * b
    given = sympy.Abs(x0 - 3) + F(0.3333) * x1
    assert readable(given, X, y, NAMES) == given


def test_a_complex_constant_is_left_alone():
    # a root of a negative constant (a black-box fit's sqrt of a sum, with its variable terms snapped away)
    # evaluates to a Python complex; it once crashed the fit (228_elusage)
    given = sympy.sqrt(x0 - x0 - 2)
    assert readable(given, X, a, NAMES) == given


def test_front_prints_the_readable_form_and_merges_equal_members(tiny_checkpoint):
    y = a * np.exp(-b / c)
    model = GenSRRegressor(checkpoint=tiny_checkpoint, max_time=60, max_generations=1, population_size=6,
                           verbose=0, random_state=0, seeds=["x0/C**(C*x1/x2)"]).fit(X[:, :3], y)
    eq = model.equations_
    assert "x0*exp(-x1/x2)" in list(eq["equation"]) and str(model.sympy()) == "x0*exp(-x1/x2)"
    preds = [r.evaluate(X[:50, :3]) for r in eq["expression"]]
    for i in range(len(preds)):
        for j in range(i):
            assert not np.allclose(preds[i], preds[j], rtol=1e-9), (eq["equation"][i], eq["equation"][j])


def test_abs_brought_out_of_a_root_is_resolved():
    # the terms move finds sqrt(x0²x1² + x0²x2² + x0²x3²); factoring brings out |x0|, which is x0 here
    given = sympy.sqrt(x0**2 * x1**2 + x0**2 * x2**2 + x0**2 * x3**2)
    y = a * np.sqrt(b**2 + c**2 + d**2)
    assert str(readable(given, X, y, NAMES)) == "x0*sqrt(x1**2 + x2**2 + x3**2)"


def test_noisy_exact_law_prints_with_simple_constants(tiny_checkpoint):
    # fitted to noisy data, the constants of the exact law absorb noise (1.0004, 0.9987): at the noise floor,
    # snaps the noise cannot tell from the fit are kept
    rng = np.random.default_rng(3)
    X2 = rng.uniform(1, 5, size=(2000, 2))
    f = X2[:, 0] / (X2[:, 1] + 1)
    y = f + rng.normal(0, 0.02 * np.sqrt(np.mean(f**2)), len(f))
    model = GenSRRegressor(checkpoint=tiny_checkpoint, max_time=60, max_generations=1, population_size=6,
                           verbose=0, random_state=0, seeds=["C*x0/(x1 + C)"]).fit(X2, y)
    assert model.search_result_.noise_floor.reached(model.search_result_.best_candidate.mse)
    sigma2 = (0.02 * np.sqrt(np.mean(f**2))) ** 2  # the floor and its error, in y's units
    assert 0 < model.noise_floor_se_ < model.noise_floor_
    assert abs(model.noise_floor_ - sigma2) < 3 * model.noise_floor_se_
    assert "x0/(x1 + 1)" in list(model.equations_["equation"])


def test_noisy_offset_the_noise_cannot_tell_from_zero_is_dropped(tiny_checkpoint):
    # fitted to 1 % noise, sqrt(C + Σ C·x0²·xi²) keeps an offset of a few hundredths under the root; at the
    # floor it is snapped to 0 with the multipliers, and the law prints as written
    rng = np.random.default_rng(3)
    X4 = rng.uniform(1, 5, size=(2000, 4))
    f = X4[:, 0] * np.sqrt(X4[:, 1] ** 2 + X4[:, 2] ** 2 + X4[:, 3] ** 2)
    y = f + rng.normal(0, 0.01 * np.sqrt(np.mean(f**2)), len(f))
    model = GenSRRegressor(checkpoint=tiny_checkpoint, max_time=60, max_generations=1, population_size=6,
                           verbose=0, random_state=0,
                           seeds=["sqrt(C + C*x0**2*x1**2 + C*x0**2*x2**2 + C*x0**2*x3**2)"]).fit(X4, y)
    assert "x0*sqrt(x1**2 + x2**2 + x3**2)" in list(model.equations_["equation"])


def test_extrapolates_fails_a_fitted_edge_singularity():
    """A fractional power of a shift fitted at the data's edge fails just beyond it; laws defined around the
    data (a root of a positive column, a pole outside the probed margin) pass."""
    from gensr import parse
    from gensr.front import extrapolates

    X = np.column_stack([np.linspace(32, 90, 60), np.linspace(-1, 1, 60)])
    assert not extrapolates(parse("(x0 - 32)**0.344"), X)
    assert not extrapolates(parse("sqrt(x1 + 1)"), X)
    assert extrapolates(parse("sqrt(x0) + x1**2"), X)
    assert extrapolates(parse("1/(x0 - 20) + log(x0)"), X)
    positive = np.column_stack([np.linspace(0.01, 1.0, 50)])  # a positive column never probes below 0
    assert extrapolates(parse("log(x0)"), positive)


def test_selection_avoids_an_inexact_equation_that_fails_beyond_the_data():
    import pandas as pd

    table = pd.DataFrame({"complexity": [3, 7, 9], "loss": [2.0, 1.0, 0.5], "r2": [0.8, 0.9, 0.95],
                          "extrapolates": [True, True, False]})
    model = GenSRRegressor(model_selection="accuracy")
    assert model._select(table) == 1
    table["r2"] = [0.8, 0.9, 1.0]  # exact: kept, whatever its domain
    table["loss"] = [2.0, 1.0, 0.0]
    assert model._select(table) == 2
    table["extrapolates"] = False  # nothing extrapolates: the rule's choice
    assert model._select(table) == 2
