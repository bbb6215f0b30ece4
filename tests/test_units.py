"""Physical units: parsing, dimension checks, the Buckingham Π basis, and units through the estimator and CLI."""

import pickle
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
import sympy
from sklearn.base import clone

from gensr import GenSRRegressor
from gensr.formula import parse
from gensr.units import dimension_check, parse_units, pi_basis


def _exponents(basis, names):
    return [{names[j]: a for j, a in enumerate(g) if a} for g in basis.groups]


def test_pi_basis_of_a_pendulum_has_no_group_left():
    units = parse_units(["m", "m/s^2", "kg"], "s", ["L", "g", "m"])
    basis = pi_basis(units)
    assert basis.k == 0  # the period is C·sqrt(L/g): nothing left to search
    assert basis.reference == (Fraction(1, 2), Fraction(-1, 2), Fraction(0))
    assert str(basis.lift(parse("C"))) in ("C*(sqrt(x0)/sqrt(x1))", "C*sqrt(x0)/sqrt(x1)")


def test_pi_basis_of_relativistic_mass_is_one_ratio_oriented_below_one():
    units = parse_units(["kg", "m/s", "m/s"], "kg", ["m0", "v", "c"])
    basis = pi_basis(units)
    assert basis.k == 1 and basis.reference == (1, 0, 0)  # y_ref = m0
    assert _exponents(basis, units.names)[0] in ({"v": 1, "c": -1}, {"v": -1, "c": 1})
    X = np.column_stack([np.full(5, 2.0), np.linspace(1, 2, 5), np.linspace(3, 10, 5)])
    oriented = basis.oriented(X)
    assert oriented.group_text() == ["v/c"]
    lifted = oriented.lift(parse("1/sqrt(1 - x0**2)"))
    y = X[:, 0] / np.sqrt(1 - X[:, 1] ** 2 / X[:, 2] ** 2)
    np.testing.assert_allclose(lifted.evaluate(X), y)
    P, y_pi = oriented.transform(X, y)
    np.testing.assert_allclose(P[:, 0], X[:, 1] / X[:, 2])
    np.testing.assert_allclose(y_pi, 1 / np.sqrt(1 - P[:, 0] ** 2))


def test_pi_basis_finds_a_reynolds_number():
    units = parse_units(["kg/m^3", "m/s", "m", "Pa*s"], "N", ["rho", "v", "L", "mu"])
    basis = pi_basis(units)
    assert basis.k == 1
    group = _exponents(basis, units.names)[0]
    assert group in ({"rho": 1, "v": 1, "L": 1, "mu": -1}, {"rho": -1, "v": -1, "L": -1, "mu": 1})
    values = basis.transform(np.array([[2.0, 3.0, 5.0, 7.0]]), np.ones(1))[0][0, 0]
    assert values == pytest.approx(30 / 7 if group["rho"] == 1 else 7 / 30)  # ρ·v·L/μ or its inverse


def test_pi_basis_is_none_when_the_target_dimension_cannot_be_formed():
    assert pi_basis(parse_units(["kg", "m"], "s", ["m", "L"])) is None


def test_feynman_style_unit_strings_and_dimensionless_columns():
    units = parse_units(["m^1 * s^(-1)", "kg^1", ""], "m^2 * s^(-2) * kg^1", ["v", "m", "theta"])
    basis = pi_basis(units)
    assert basis.k == 1 and _exponents(basis, units.names) == [{"theta": 1}]
    assert basis.reference == (2, 1, 0)


@pytest.mark.parametrize("formula, consistent", [
    ("C*x0*x1**2", True),  # kinetic energy, the 1/2 a constant
    ("x0*x1**2", True),
    ("x0*x1**3", False),
    ("x0 + x1", False),  # a mass plus a velocity
    ("x0*x1**2 + C", True),  # a constant takes the dimension it needs
    ("exp(x1)*x0*x1", False),  # exp of a velocity
    ("exp(C*x1)*x0*x1**2", True),
    ("x0*x1**2*sin(x2)", True),  # theta is dimensionless
    ("x0**x1", False),  # a power that varies, of a dimensioned base
])
def test_dimension_check(formula, consistent):
    units = parse_units(["kg", "m/s", "1"], "J", ["m", "v", "theta"])
    assert dimension_check(parse(formula), units) is consistent


def test_unknown_units_count_as_any_dimension():
    units = parse_units(["kg", None], "kg", ["m", "v"])
    assert dimension_check(parse("x0 + x1"), units)  # v could be a mass
    assert dimension_check(parse("x0*x1"), units)  # or dimensionless
    assert not dimension_check(parse("x0**2"), units)


@pytest.mark.parametrize("X_units, y_units, message", [
    (["kg", "furlongs/fortnite"], None, "unknown unit 'furlongs/fortnite' for column 'b'"),
    (["kg"], None, "X_units has 1 units but X has 2 columns"),
    ({"a": "kg", "c": "m"}, None, "units given for columns that do not exist: ['c']"),
    (["kg", "m"], "parsecs**", "unknown unit 'parsecs**' for the target"),
    ("kg", None, "X_units must be a list"),
    (["kg", 3], None, "must be a string"),
])
def test_bad_units_fail_in_one_line_before_the_search(X_units, y_units, message):
    X = np.random.default_rng(0).uniform(1, 2, (20, 2))
    est = GenSRRegressor(checkpoint="does/not/exist", verbose=0)  # the model is never reached
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("*", r"\*").replace("[", r"\[")) as err:
        est.fit(pd.DataFrame(X, columns=["a", "b"]), X[:, 0], X_units=X_units, y_units=y_units)
    assert "\n" not in str(err.value)


def _barometric(n=300, seed=0):
    """p = p0·exp(−M g z / (R T)): one dimensionless group over six inputs (a law the terms library cannot
    build without units: the exponent is a product of five columns)."""
    rng = np.random.default_rng(seed)
    p0, M, g, z, R, T = (rng.uniform(1.5, 2, n) for _ in range(6))
    X = np.column_stack([p0, M, g, z, R, T])
    y = p0 * np.exp(-M * g * z / (R * T))
    units = ["Pa", "kg/mol", "m/s^2", "m", "J/(mol*K)", "K"]
    return X, y, units, "Pa"


def test_units_recover_a_law_the_same_budget_misses_without(tiny_checkpoint):
    X, y, X_units, y_units = _barometric()
    kw = {"checkpoint": str(tiny_checkpoint), "deterministic": True, "max_generations": 2, "max_time": 300,
          "random_state": 0, "verbose": 0}
    plain = GenSRRegressor(**kw).fit(X, y)
    with_units = GenSRRegressor(**kw, X_units=X_units, y_units=y_units).fit(X, y)
    assert plain.equations_.iloc[plain.best_index_]["r2"] < 0.9999
    row = with_units.equations_.iloc[with_units.best_index_]
    assert row["r2"] > 0.999999 and row["consistent"]
    (group,) = with_units.pi_groups_  # one dimensionless group: M·g·z/(R·T) (columns x1 … x5), either way up
    expected = sympy.sympify("x1*x2*x3/(x4*x5)")
    assert sympy.sympify(group) in (expected, 1 / expected)
    assert "units" in set(with_units.equations_["stage"])


def test_dimensionless_columns_skip_the_reduced_search(tiny_checkpoint):
    X = np.random.default_rng(2).uniform(1, 2, (60, 2))
    est = GenSRRegressor(checkpoint=str(tiny_checkpoint), deterministic=True, max_generations=1, max_time=300,
                         random_state=0, verbose=0).fit(X, X[:, 0] * X[:, 1], X_units=["", "1"], y_units="")
    assert est.pi_groups_ is None and "units" not in set(est.equations_["stage"])
    assert est.equations_["consistent"].all()  # every formula of dimensionless columns is consistent


def test_units_survive_get_params_clone_and_pickle(tiny_checkpoint):
    X, y, X_units, y_units = _barometric(n=80)
    est = GenSRRegressor(checkpoint=str(tiny_checkpoint), deterministic=True, max_generations=1, max_time=300,
                         random_state=0, verbose=0, X_units=X_units, y_units=y_units)
    assert est.get_params()["X_units"] == X_units and est.get_params()["y_units"] == "Pa"
    twin = clone(est)
    assert twin.X_units == X_units and twin.y_units == "Pa"
    est.fit(X, y)
    back = pickle.loads(pickle.dumps(est))
    assert back.units_.inputs == tuple(X_units) and back.units_.target == "Pa"
    assert back.pi_groups_ == est.pi_groups_
    assert list(back.equations_["consistent"]) == list(est.equations_["consistent"])
    np.testing.assert_allclose(back.predict(X), est.predict(X))


def test_an_unformable_target_dimension_warns_once_and_fits_without_the_reduction(tiny_checkpoint):
    X = np.random.default_rng(1).uniform(1, 2, (60, 2))
    y = X[:, 0] * X[:, 1]
    est = GenSRRegressor(checkpoint=str(tiny_checkpoint), deterministic=True, max_generations=1, max_time=300,
                         random_state=0, verbose=0)
    with pytest.warns(UserWarning, match="cannot be formed") as record:
        est.fit(X, y, X_units=["kg", "m"], y_units="s")
    assert sum("cannot be formed" in str(w.message) for w in record) == 1
    assert est.pi_groups_ is None and "consistent" in est.equations_


def test_an_inconsistent_choice_gives_way_to_a_consistent_near_equal_one():
    est = GenSRRegressor()
    table = pd.DataFrame({"complexity": [3, 5, 7], "loss": [1.0, 1e-8, 0.9e-8], "r2": [0.5, 0.99999999, 0.999999995],
                          "consistent": [True, True, False]})
    est.model_selection = "accuracy"
    assert est._select(table) == 1  # the accuracy rule picks row 2, which is not consistent
    table["consistent"] = [True, False, False]
    assert est._select(table) == 2  # no consistent row is near: the rule's choice stands


def test_cli_units_errors_exit_2(tmp_path):
    path = tmp_path / "d.csv"
    x = np.arange(1.0, 13.0)
    pd.DataFrame({"m0": x, "v": x**2, "m": x**3}).to_csv(path, index=False)
    for units, message in ((["m0=kgg"], "unknown unit 'kgg'"), (["q=kg"], "not a feature or the target"),
                           (["m0kg"], "COLUMN=UNIT")):
        proc = subprocess.run([sys.executable, "-m", "gensr", "fit", str(path), "--target", "m", "--units", *units],
                              capture_output=True, text=True)
        assert proc.returncode == 2, proc.stderr
        assert message in proc.stderr and "Traceback" not in proc.stderr


def test_ctrl_c_in_the_units_search_keeps_its_equations(tiny_checkpoint, monkeypatch):
    """Ctrl-C during the search on the Π groups: what it found is scored on the columns and returned, with a
    warning, and the search on the raw columns does not run on."""
    import gensr.search

    real, calls = gensr.search.search, []

    def interrupt_the_first(*args, **kwargs):
        calls.append(kwargs.get("feature_names"))
        if len(calls) == 1:
            def ctrl_c(info):
                raise KeyboardInterrupt
            kwargs["callback"] = ctrl_c
        return real(*args, **kwargs)

    monkeypatch.setattr(gensr.search, "search", interrupt_the_first)
    X, y, X_units, y_units = _barometric(n=120)
    est = GenSRRegressor(checkpoint=str(tiny_checkpoint), max_time=300, random_state=0, verbose=0)
    with pytest.warns(UserWarning, match="interrupted"):
        est.fit(X, y, X_units=X_units, y_units=y_units)
    assert len(calls) == 2 and "interrupted" in est.search_result_.stop
    assert est.search_result_.generations == 0
    assert est.equations_["r2"].max() > 0.999999 and "units" in set(est.equations_["stage"])
