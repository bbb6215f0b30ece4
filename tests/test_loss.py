"""``loss=``: the named losses, a callable, reweighted least squares, and what the front reports."""

import numpy as np
import pytest
import sympy

from gensr import GenSRRegressor
from gensr.loss import make_loss
from gensr.search import SearchConfig

FAST = {"max_generations": 6, "deterministic": True, "random_state": 0, "verbose": 0, "max_time": 120,
        # the local search (hundreds of refits a round) is off here; its own tests run it
        "search_config": SearchConfig().replace(**{"local.enabled": False})}


def _outliers(n=400, seed=0):
    """y = 2.5·a·b/c with 5 % of the rows moved by 50–100 (gross outliers)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 5, size=(n, 3))
    y = 2.5 * X[:, 0] * X[:, 1] / X[:, 2]
    bad = rng.choice(n, n // 20, replace=False)
    y[bad] += rng.choice([-1, 1], len(bad)) * rng.uniform(50, 100, len(bad))
    return X, y


def _is_law(expr, names=("x0", "x1", "x2"), rtol=1e-2):
    """Whether ``expr`` is c·x0·x1/x2 with c within ``rtol`` of 2.5."""
    by_name = {str(v): v for v in expr.free_symbols}
    x0, x1, x2 = (by_name.get(n, sympy.Symbol(n)) for n in names)
    ratio = sympy.simplify(expr / (x0 * x1 / x2))
    return ratio.is_number and abs(float(ratio) - 2.5) <= rtol * 2.5


def test_huber_recovers_a_law_that_mse_misses(tiny_checkpoint):
    X, y = _outliers()
    mse = GenSRRegressor(checkpoint=tiny_checkpoint, **FAST).fit(X, y)
    huber = GenSRRegressor(checkpoint=tiny_checkpoint, loss="huber", huber_delta=1.0, **FAST).fit(X, y)
    assert not _is_law(mse.sympy())
    assert _is_law(huber.sympy())
    # the reported loss is the chosen row's own Huber loss, and R² its plain R²
    row = huber.equations_.iloc[huber.best_index_]
    pred = huber.predict(X)
    assert row["loss"] == pytest.approx(make_loss("huber").value(y, pred), rel=1e-9)
    assert row["r2"] == pytest.approx(1 - np.mean((y - pred) ** 2) / np.var(y), rel=1e-9)


def test_mae_and_a_callable_reach_the_law(tiny_checkpoint):
    X, y = _outliers(seed=1)
    mae = GenSRRegressor(checkpoint=tiny_checkpoint, loss="mae", **FAST).fit(X, y)
    assert _is_law(mae.sympy(), rtol=1e-3)

    def log_cosh(y_true, y_pred):
        return np.log(np.cosh(y_pred - y_true))

    own = GenSRRegressor(checkpoint=tiny_checkpoint, loss=log_cosh, **FAST).fit(X, y)
    assert _is_law(own.sympy())
    row = own.equations_.iloc[own.best_index_]
    assert row["loss"] == pytest.approx(float(np.mean(log_cosh(y, own.predict(X)))), rel=1e-9)


def test_relative_loss_is_the_mean_squared_relative_error(tiny_checkpoint):
    rng = np.random.default_rng(2)
    X = 10 ** rng.uniform(-2, 3, size=(200, 2))  # y spans ten decades
    y = 0.5 * X[:, 0] * X[:, 1]
    model = GenSRRegressor(checkpoint=tiny_checkpoint, loss="relative", **FAST).fit(X, y)
    x0, x1 = sorted(model.sympy().free_symbols, key=str)
    assert sympy.simplify(model.sympy() - x0 * x1 / 2) == 0
    for _, row in model.equations_.iterrows():
        pred = row["expression"].evaluate(X)
        assert row["loss"] == pytest.approx(float(np.mean(((pred - y) / y) ** 2)), rel=1e-9, abs=1e-30)


def test_loss_errors_are_one_line():
    X, y = np.ones((12, 1)), np.arange(12.0)
    with pytest.raises(ValueError, match="choose one of"):
        GenSRRegressor(loss="l1", verbose=0).fit(X, y)
    with pytest.raises(ValueError, match="huber_delta"):
        GenSRRegressor(loss="huber", huber_delta=-1, verbose=0).fit(X, y)
    with pytest.raises(ValueError, match="y is 0 on 1 rows"):
        GenSRRegressor(loss="relative", verbose=0).fit(X, y)


def test_irls_weights_are_the_losses_own():
    y, pred = np.zeros(4), np.array([0.5, -2.0, 4.0, 1.0])
    assert make_loss("huber", huber_delta=1.0).irls_weights(y, pred).tolist() == [1.0, 0.5, 0.25, 1.0]
    mae = make_loss("mae").irls_weights(y, pred)
    assert mae.tolist() == pytest.approx([1.0, 0.25, 0.125, 0.5])  # 1/|r|, scaled to a largest of 1
    assert make_loss("mse").irls_weights(y, pred) is None
    squared = make_loss(lambda a, b: (a - b) ** 2).irls_weights(y + 1.0, pred)
    assert squared == pytest.approx(np.ones(4), rel=1e-5)  # ψ(r)/r of r² is constant
