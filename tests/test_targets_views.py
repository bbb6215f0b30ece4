"""Several targets (a 2-D y, ``--target a b``), PySR's keyword names, and the notebook and LaTeX views."""

import json
import re

import numpy as np
import pandas as pd
import pytest
import sympy

from gensr import GenSRRegressor
from gensr.cli import main
from gensr.search import SearchConfig

FAST = {"max_generations": 3, "deterministic": True, "random_state": 0, "verbose": 0, "max_time": 120,
        # the local search (hundreds of refits a round) is off here; its own tests run it
        "search_config": SearchConfig().replace(**{"local.enabled": False})}


def _oscillator(n=300, seed=0):
    """A damped oscillator as a first-order system: x' = v, v' = −2.5·x − 0.4·v (states drawn at random)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x": rng.uniform(-2, 2, n), "v": rng.uniform(-2, 2, n)})
    return X, pd.DataFrame({"dx": X["v"], "dv": -2.5 * X["x"] - 0.4 * X["v"]})


def test_a_system_of_two_equations_gets_one_front_per_column(tiny_checkpoint):
    X, Y = _oscillator()
    model = GenSRRegressor(checkpoint=tiny_checkpoint, **FAST).fit(X, Y)
    assert model.target_names_ == ["dx", "dv"] and len(model.equations_) == len(model.estimators_) == 2
    pred = model.predict(X)
    assert pred.shape == (300, 2)
    np.testing.assert_allclose(pred, Y.to_numpy(), atol=1e-8)
    x, v = sympy.symbols("x v")
    laws = [v, -sympy.Rational(5, 2) * x - sympy.Rational(2, 5) * v]
    for law, found in zip(laws, model.sympy()):
        found = found.subs({s: sympy.Symbol(str(s)) for s in found.free_symbols})
        assert abs(float((found - law).subs({x: 1.3, v: -0.7}))) < 1e-9
    assert model.latex_table().count(r"\begin{table}") == 2
    with pytest.raises(ValueError, match="y_units has 1 units for 2 targets"):
        GenSRRegressor(checkpoint=tiny_checkpoint, **FAST).fit(X, Y, y_units=["m"])


def test_cli_fits_several_targets_in_turn(tiny_checkpoint, tmp_path, capsys):
    X, Y = _oscillator()
    path, out = tmp_path / "ode.csv", tmp_path / "front.json"
    pd.concat([X, Y], axis=1).to_csv(path, index=False)
    assert main(["fit", str(path), "--target", "dx", "dv", "--checkpoint", str(tiny_checkpoint), "--quiet",
                 "--max-generations", "3", "--deterministic", "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert "== dx (1 of 2) ==" in text and "== dv (2 of 2) ==" in text
    result = json.loads(out.read_text())
    assert [t["target"] for t in result["targets"]] == ["dx", "dv"]
    assert all(t["features"] == ["x", "v"] for t in result["targets"])  # no target is a feature of another
    assert all(t["front"][t["chosen"]]["r2"] > 1 - 1e-9 for t in result["targets"])


@pytest.mark.parametrize(("keyword", "hint"), [("niterations", "max_generations"), ("procs", "n_jobs"),
                                               ("elementwise_loss", "loss"), ("max_tme", "did you mean 'max_time'")])
def test_pysr_keywords_name_gensrs_setting(keyword, hint):
    with pytest.raises(TypeError, match=re.escape(hint)) as err:
        GenSRRegressor(**{keyword: 1})
    assert "\n" not in str(err.value)


def test_notebook_and_latex_views_mark_the_chosen_row(tiny_checkpoint):
    unfitted = GenSRRegressor(**FAST)
    assert "GenSRRegressor" in unfitted._repr_html_()  # scikit-learn's diagram before the fit
    X, Y = _oscillator()
    model = GenSRRegressor(checkpoint=tiny_checkpoint, **FAST).fit(X, Y["dv"])
    page = model._repr_html_()
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", page)[1:]  # the header first
    assert len(rows) == len(model.equations_)
    marked = [i for i, r in enumerate(rows) if "▶" in r]
    assert marked == [model.best_index_] and "$" in rows[model.best_index_]
    table = model.latex_table(caption="Damping.", label="tab:dv")
    body = table.split(r"\midrule")[1].split(r"\bottomrule")[0].strip().splitlines()
    assert len(body) == len(model.equations_)
    assert [i for i, line in enumerate(body) if r"\dagger" in line] == [model.best_index_]
    assert table.startswith(r"\begin{table}") and r"\toprule" in table and r"\label{tab:dv}" in table
    assert sympy.latex(model.sympy()).replace(" ", "")[:3] in body[model.best_index_].replace(" ", "")


def test_the_new_parameters_survive_get_params_clone_and_pickle():
    import pickle

    from sklearn.base import clone

    params = {"loss": "huber", "huber_delta": 0.3, "unary_operators": ["sin"], "binary_operators": ["+", "*"],
              "maxsize": 12, "n_jobs": 2}
    est = GenSRRegressor(**params)
    for copy in (clone(est), pickle.loads(pickle.dumps(est))):
        assert {k: copy.get_params()[k] for k in params} == params
