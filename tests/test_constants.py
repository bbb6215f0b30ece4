"""Tests for gensr.constants: constant fitting, guards, row subsets and snapping."""

import math
import time
import warnings

import numpy as np
import pytest
import sklearn.metrics
import torch

from gensr.constants import (
    ConstantFit,
    evaluate,
    fit_constants,
    subsample_rows,
)
from gensr.deadline import Deadline

A, B, C = 2.5, 1.3, -0.7


def sine(X: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return c[0] * torch.sin(c[1] * X[:, 0]) + c[2]


@pytest.fixture
def sine_data() -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(-3.0, 3.0, 200)
    return x[:, None], A * np.sin(B * x) + C


def _canonical(c: np.ndarray) -> np.ndarray:
    """a·sin(b·x) = (−a)·sin(−b·x): map to a > 0."""
    c = np.array(c)
    if c[0] < 0:
        c[:2] *= -1
    return c


def _assert_recovered(fit: ConstantFit) -> None:
    assert fit.success
    assert fit.r2 > 0.999999
    np.testing.assert_allclose(_canonical(fit.constants), [A, B, C], rtol=1e-6)


@pytest.mark.parametrize("method", ["lm", "bfgs"])
def test_recovers_sine_from_default_start(method, sine_data):
    fit = fit_constants(sine, 3, *sine_data, method=method, rng=0)
    _assert_recovered(fit)
    assert fit.n_rows_fit == 200 and fit.n_evals > 0


@pytest.mark.parametrize("method", ["lm", "bfgs"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multistart_escapes_a_bad_init(method, seed, sine_data):
    bad_init = [1.0, 4.0, 0.0]  # converges to a local minimum (b ≈ 4, R² ≈ 0.02) on its own
    alone = fit_constants(sine, 3, *sine_data, init=bad_init, n_starts=1, method=method, rng=seed)
    assert alone.r2 < 0.5 and alone.n_starts == 1
    fit = fit_constants(sine, 3, *sine_data, init=bad_init, n_starts=8, method=method, rng=seed)
    _assert_recovered(fit)
    assert 2 <= fit.n_starts <= 8  # stops after the first exact fit


def test_result_is_frozen(sine_data):
    fit = fit_constants(sine, 3, *sine_data, rng=0)
    with pytest.raises(AttributeError):
        fit.mse = 0.0
    with pytest.raises(ValueError):
        fit.constants[0] = 1.0


def test_zero_constants_just_evaluates(sine_data):
    X, y = sine_data
    fit = fit_constants(lambda X, c: 2.0 * torch.sin(X[:, 0]), 0, X, y)
    pred = 2.0 * np.sin(X[:, 0])
    assert fit.success and fit.n_starts == 0 and fit.constants.shape == (0,)
    assert fit.mse == pytest.approx(np.mean((pred - y) ** 2), rel=1e-12)
    assert fit.r2 == pytest.approx(sklearn.metrics.r2_score(y, pred), rel=1e-12)


@pytest.mark.parametrize("method", ["lm", "bfgs"])
@pytest.mark.parametrize(
    "fn",
    [
        lambda X, c: c[0] * torch.log(-(X[:, 0] ** 2) - 1.0 - c[1] ** 2),  # log of negatives: NaN everywhere
        lambda X, c: c[0] / (X[:, 0] - X[:, 0]) + c[1],  # 1/0: ±inf / NaN
        lambda X, c: torch.sqrt(X[:, 0]) + c[0] + 0 * c[1],  # NaN on half of the rows whatever c is
        lambda X, c: X[:, 7] * c[0] + c[1],  # variable index beyond the data: IndexError
        lambda X, c: torch.ones(3) * c[0] + c[1],  # wrong output shape: RuntimeError
    ],
    ids=["log-negative", "div-by-zero", "sqrt-half", "bad-index", "bad-shape"],
)
def test_invalid_candidate_is_quiet_and_unsuccessful(method, fn, sine_data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = fit_constants(fn, 2, *sine_data, method=method, rng=0)
    assert not fit.success
    assert fit.mse == math.inf and fit.r2 == -math.inf
    assert fit.constants.shape == (2,) and np.all(np.isfinite(fit.constants))


def test_invalid_region_is_avoided():
    """sqrt(c1 − x) is valid only for c1 >= max x: the fit must end in the valid region."""
    x = np.linspace(0.0, 2.0, 100)
    y = 1.5 * np.sqrt(3.0 - x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = fit_constants(lambda X, c: c[0] * torch.sqrt(c[1] - X[:, 0]), 2, x[:, None], y, init=[1.0, 2.5])
    assert fit.success
    np.testing.assert_allclose(fit.constants, [1.5, 3.0], rtol=1e-6)


@pytest.mark.parametrize("method", ["lm", "bfgs"])
def test_huge_but_finite_predictions_are_valid(method, sine_data):
    X, y = sine_data
    fit = fit_constants(lambda X, c: 1e12 + c[0] * X[:, 0], 1, X, y, method=method, rng=0)
    assert fit.success and math.isfinite(fit.mse) and fit.mse > 1e23


@pytest.mark.parametrize(
    "fn",
    [
        lambda X, c: X @ c[:2] + c[2],  # not element-wise in c: falls back to jacfwd
        lambda X, c: c.mean() * X[:, 0] + c[1] * X[:, 1] + c[2],  # mixes constants: row-wise check must catch it
    ],
    ids=["matmul", "mean"],
)
def test_non_elementwise_callables_get_exact_jacobians(fn):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    with torch.no_grad():
        y = fn(torch.as_tensor(X), torch.tensor([0.5, -2.0, 1.0], dtype=torch.float64)).numpy()
    fit = fit_constants(fn, 3, X, y, n_starts=1, rng=0)
    assert fit.success and fit.mse < 1e-20


def test_max_rows_subset_is_deterministic_and_scored_on_all_rows():
    rng = np.random.default_rng(1)
    X = rng.uniform(-3, 3, size=(3000, 1))
    y = A * np.sin(B * X[:, 0]) + C + 0.3 * rng.standard_normal(3000)
    fits = [fit_constants(sine, 3, X, y, max_rows=128, n_starts=2, rng=seed) for seed in (7, 7, 8)]
    assert all(f.n_rows_fit == 128 for f in fits)
    np.testing.assert_array_equal(fits[0].constants, fits[1].constants)
    assert not np.array_equal(fits[0].constants, fits[2].constants)  # another subset, another optimum
    pred = evaluate(sine, fits[0].constants, X)
    assert fits[0].mse == pytest.approx(np.mean((pred - y) ** 2), rel=1e-12)
    assert fits[0].r2 == pytest.approx(sklearn.metrics.r2_score(y, pred), rel=1e-12)

    rows = subsample_rows(3000, 128, np.random.default_rng(7))
    np.testing.assert_array_equal(rows, subsample_rows(3000, 128, np.random.default_rng(7)))
    assert len(np.unique(rows)) == 128 and np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(subsample_rows(10, 128, np.random.default_rng(7)), np.arange(10))


def test_fewer_rows_than_constants_uses_trf():
    X = np.array([[0.0], [1.0]])
    fit = fit_constants(lambda X, c: c[0] + c[1] * X[:, 0] + c[2] * X[:, 0] ** 2, 3, X, np.array([1.0, 2.0]))
    assert fit.success and fit.mse < 1e-20


def test_deadline_is_respected():
    x = np.linspace(-1, 1, 200)[:, None]
    y = np.cos(3 * x[:, 0])
    start = time.perf_counter()
    fit = fit_constants(
        lambda X, c: c[0] * torch.exp(c[1] * X[:, 0]) + c[2] * torch.cosh(c[3] * X[:, 0]),
        4,
        x,
        y,
        n_starts=50,
        max_iter=100_000,
        deadline=Deadline(0.05),
        rng=0,
    )
    assert time.perf_counter() - start < 1.0
    assert fit.n_starts < 50
    assert fit_constants(lambda X, c: c[0] * X[:, 0], 1, x, y, deadline=Deadline(0.0)).n_starts == 1


def test_argument_validation(sine_data):
    with pytest.raises(ValueError, match="method"):
        fit_constants(sine, 3, *sine_data, method="newton")
    with pytest.raises(ValueError, match="init"):
        fit_constants(sine, 3, *sine_data, init=[1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        fit_constants(sine, 3, sine_data[0], np.full(200, np.nan))
