"""Tests for gensr.cmaes: pycma as the oracle for the standard update, then unit tests of the interface."""

from __future__ import annotations

import doctest
import math
import warnings

import numpy as np
import pytest

import gensr.cmaes
from gensr.cmaes import IPOP, CMAESConfig, CMAESResult, LatentCMAES, _strategy_params, fmin


def sphere(X: np.ndarray) -> np.ndarray:
    return np.sum(X**2, axis=-1)


def ellipsoid(X: np.ndarray) -> np.ndarray:
    """Axis-aligned, condition number 1e6: the case a diagonal covariance must learn."""
    d = X.shape[-1]
    return np.sum(10.0 ** (6 * np.arange(d) / (d - 1)) * X**2, axis=-1)


def rosenbrock(X: np.ndarray) -> np.ndarray:
    return np.sum(100 * (X[..., 1:] - X[..., :-1] ** 2) ** 2 + (1 - X[..., :-1]) ** 2, axis=-1)


# name -> (function, target, x0 value); sigma0 = 0.5 everywhere
FUNCTIONS = {
    "sphere": (sphere, 1e-8, 1.0),
    "ellipsoid": (ellipsoid, 1e-8, 1.0),
    "rosenbrock": (rosenbrock, 1e-6, 0.0),
}
MAX_EVALS = 600_000
# pycma has no stall criterion, never evaluates the mean and does not restart by itself: the oracle runs
# the same code as the search (fmin → IPOP → LatentCMAES) with those three switched to pycma's behaviour
PYCMA_LIKE = {"include_mean": False, "max_restarts": 0, "stall_iters": None}


def evals_ours(name: str, d: int, seed: int) -> int:
    f, target, x = FUNCTIONS[name]
    res = fmin(f, np.full(d, x), 0.5, config=CMAESConfig(target=target, max_evals=MAX_EVALS, **PYCMA_LIKE), rng=seed)
    assert res.fbest <= target, f"ours missed the target on {name} d={d} seed={seed}: {res.fbest}"
    return res.evaluations


def evals_pycma(name: str, d: int, seed: int) -> int:
    cma = pytest.importorskip("cma")
    f, target, x = FUNCTIONS[name]
    options = {
        "CMA_diagonal": True,
        "seed": seed,
        "verbose": -9,
        "popsize": 4 + int(3 * math.log(d)),  # the same λ as ours
        "ftarget": target,
        "maxfevals": MAX_EVALS,
        "tolfun": 0,  # only the target and the budget may stop it
        "tolfunhist": 0,
    }
    es = cma.CMAEvolutionStrategy(np.full(d, x), 0.5, options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pycma warns about large samples on rosenbrock
        while not es.stop():
            X = es.ask()
            es.tell(X, list(f(np.asarray(X))))
    assert es.result.fbest <= target, f"pycma missed the target on {name} d={d}"
    return es.result.evaluations


ORACLE_CASES = [
    ("sphere", 20, (1, 2)),
    ("sphere", 50, (1, 2)),
    ("sphere", 100, (1, 2)),
    ("ellipsoid", 20, (1, 2)),
    ("ellipsoid", 50, (1, 2)),
    ("ellipsoid", 100, (1, 2)),
    ("rosenbrock", 20, (1, 2)),
    # seeds where neither implementation ends in rosenbrock's local minimum near x_1 = -1
    pytest.param("rosenbrock", 50, (3, 4), marks=pytest.mark.slow),
    pytest.param("rosenbrock", 100, (3, 4), marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("name", "d", "seeds"), ORACLE_CASES)
def test_standard_update_matches_pycma_diagonal(name, d, seeds):
    """Our sep-CMA-ES needs at most twice the evaluations of pycma's CMA_diagonal, averaged over seeds."""
    pytest.importorskip("cma")
    ours = np.mean([evals_ours(name, d, s) for s in seeds])
    theirs = np.mean([evals_pycma(name, d, s) for s in seeds])
    assert ours <= 2 * theirs, f"{name} d={d}: ours {ours:.0f} evals vs pycma {theirs:.0f}"


def test_gensr_constants_match_method_table():
    """GENSR_METHOD.md §6.5 table, d = 512, μ = 16."""
    p = _strategy_params(512, 16, "gensr", None)
    assert p.mueff == pytest.approx(9.18, abs=0.01)
    assert p.cs == pytest.approx(0.0213, abs=1e-4)
    assert p.ds == pytest.approx(1.0213, abs=1e-4)
    assert p.cc == pytest.approx(0.0078, abs=1e-4)
    assert p.c1 == pytest.approx(7.6e-6, rel=0.01)
    assert p.chi_n == pytest.approx(22.6, abs=0.05)
    assert p.cmu == 0.0
    assert _strategy_params(512, 16, "gensr", 1e-3).c1 == 1e-3  # the c1_min floor


def test_standard_rates_are_sep_cma():
    n = 50
    p, g = _strategy_params(n, 7, "standard", None), _strategy_params(n, 7, "gensr", None)
    assert p.c1 == pytest.approx(g.c1 * (n + 2) / 3)  # Ros & Hansen's (n + 2)/3 speed-up
    assert 0 < p.cmu <= 1 - p.c1
    assert p.weights.sum() == pytest.approx(1.0) and np.all(np.diff(p.weights) < 0)


def test_same_seed_same_result():
    cfg = CMAESConfig(max_iter=30, max_restarts=1, stall_iters=5)
    a = fmin(ellipsoid, np.ones(8), 0.3, config=cfg, rng=7)
    b = fmin(ellipsoid, np.ones(8), 0.3, config=cfg, rng=np.random.default_rng(7))
    c = fmin(ellipsoid, np.ones(8), 0.3, config=cfg, rng=8)
    np.testing.assert_array_equal(a.xbest, b.xbest)
    np.testing.assert_array_equal(a.stds, b.stds)
    assert (a.fbest, a.evaluations, a.evals_best) == (b.fbest, b.evaluations, b.evals_best)
    assert a.fbest != c.fbest


def test_nan_and_inf_losses_rank_last_and_never_crash():
    def objective(X):
        f = sphere(X)
        f[X[:, 0] > 0.5] = np.nan  # invalid candidates (e.g. an unparsable decode)
        f[X[:, 1] > 0.5] = np.inf
        return f

    res = fmin(objective, np.zeros(5), 1.0, config=CMAESConfig(max_iter=60), rng=0)
    assert np.isfinite(res.fbest) and res.xbest[0] <= 0.5 and res.xbest[1] <= 0.5
    es = LatentCMAES(np.zeros(3), 1.0, rng=0)
    es.tell(es.ask(), np.full(es.popsize, np.nan))  # a generation of failures only
    assert es.result.fbest == math.inf and np.all(np.isfinite(es.mean))
    np.testing.assert_array_equal(es.result.xbest, np.zeros(3))  # nothing better than x0 is known


def test_stop_reasons():
    res = fmin(sphere, np.ones(4), 0.5, config=CMAESConfig(**PYCMA_LIKE, max_iter=5), rng=0)
    assert res.iterations == 5 and set(res.stop) == {"maxiter"}
    res = fmin(sphere, np.ones(4), 0.5, config=CMAESConfig(**PYCMA_LIKE, target=1e-3), rng=0)
    assert res.fbest <= 1e-3 and "target" in res.stop
    res = fmin(sphere, np.ones(4), 0.5, config=CMAESConfig(**PYCMA_LIKE, max_evals=50), rng=0)
    assert "maxfevals" in res.stop and 50 <= res.evaluations < 50 + 8
    stall = CMAESConfig(**{**PYCMA_LIKE, "stall_iters": 3})
    res = fmin(lambda X: np.full(len(X), np.inf), np.ones(4), 0.5, config=stall, rng=0)
    assert set(res.stop) == {"stall"} and res.iterations == 3
    res = fmin(sphere, np.ones(4), 0.5, config=CMAESConfig(**PYCMA_LIKE, tolx=1e-4), rng=0)
    assert "tolx" in res.stop and np.all(res.stds < 1e-4)
    res = fmin(lambda X: np.zeros(len(X)), np.ones(4), 0.5, config=CMAESConfig(**PYCMA_LIKE, tolfun=1e-9), rng=0)
    assert "tolfun" in res.stop
    res = fmin(sphere, np.ones(4), 0.5, config=CMAESConfig(**PYCMA_LIKE, max_iter=100), rng=0, callback=lambda es: True)
    assert res.stop == {"callback": 1.0} and res.iterations == 1


@pytest.mark.parametrize("update", ["standard", "gensr"])
def test_top_k_leaves_other_coordinates_at_the_mean(update):
    x0 = np.arange(8.0)
    stds = np.array([0.1, 2.0, 0.5, 3.0, 0.0, 1.0, 0.2, 0.4])
    cfg = CMAESConfig(top_k=3, update=update, max_iter=20, include_mean=False)
    es = LatentCMAES(x0, 0.5, stds=stds, config=cfg, rng=0)
    frozen = np.array([True, False, True, False, True, False, True, True])  # top 3: indices 3, 1, 5
    for _ in range(5):
        X = es.ask()
        assert np.all(X[:, frozen] == x0[frozen]) and np.all(X[:, ~frozen] != x0[~frozen])
        X[:, frozen] += 1.0  # even if the caller perturbs them, the mean does not follow
        es.tell(X, sphere(X))
    assert np.all(es.mean[frozen] == x0[frozen])
    assert np.all(es.result.stds[frozen] == 0) and np.all(es.result.stds[~frozen] > 0)


def test_stds_are_normalised_into_sigma():
    stds = np.array([0.5, 2.0, 1.0])
    es = LatentCMAES(np.zeros(3), 0.1, stds=stds, rng=0)
    assert es.sigma == pytest.approx(0.2)  # sigma0 · max(stds)
    np.testing.assert_allclose(es.result.stds, 0.1 * stds)  # initial std of coordinate i: sigma0 · stds[i]


def test_include_mean_puts_the_mean_first():
    cfg = CMAESConfig(include_mean=True, popsize=9, update="gensr")
    es = LatentCMAES(np.full(6, 2.0), 0.5, config=cfg, rng=0)
    for _ in range(3):
        X = es.ask()
        assert X.shape == (9, 6)
        np.testing.assert_array_equal(X[0], es.mean)
        assert not np.any(np.all(X[1:] == es.mean, axis=1))
        es.tell(X, sphere(X))


@pytest.mark.parametrize("top_k", [None, 10])
def test_gensr_update_decreases_sphere(top_k):
    d = 32
    cfg = CMAESConfig(update="gensr", popsize=20, mu=5, include_mean=True, top_k=top_k, max_iter=150)
    res = fmin(sphere, np.ones(d), 0.3, config=cfg, rng=3)
    searched = top_k or d  # the frozen coordinates stay at 1 and contribute d - searched to f
    assert res.fbest - (d - searched) < 0.01 * searched
    # its rank-one rate 2/((d + 1.3)² + μ_eff) barely changes the covariance shape
    if top_k is None:
        shape = res.stds / res.stds.max()
        assert shape.min() > 0.8


def test_ipop_restart_grows_the_population_within_a_global_budget():
    popsizes = []

    def record(es):
        popsizes.append(es.popsize)
        return False

    cfg = CMAESConfig(popsize=6, stall_iters=4, max_restarts=2, max_evals=400)
    res = fmin(lambda X: np.full(len(X), 1.0), np.zeros(3), 1.0, config=cfg, rng=0, callback=record)
    assert res.restarts == 2 and sorted(set(popsizes)) == [6, 12, 24]
    # f = 1 everywhere: the first generation sets the best, stall fires 4 generations later
    assert res.iterations == len(popsizes) == 3 * 5 and res.evaluations == 5 * (6 + 12 + 24)
    assert set(res.stop) == {"stall"}
    cfg = CMAESConfig(popsize=6, stall_iters=4, max_restarts=5, max_evals=60)
    res = fmin(lambda X: np.full(len(X), 1.0), np.zeros(3), 1.0, config=cfg, rng=0)
    assert res.restarts == 1 and "maxfevals" in res.stop and res.evaluations <= 60 + 12


def test_restart_from_best_and_result_fields():
    cfg = CMAESConfig(max_restarts=1, tolx=1e-3, restart_from="best")
    res = fmin(sphere, np.full(4, 3.0), 1.0, config=cfg, rng=1)
    assert isinstance(res, CMAESResult) and res.restarts == 1
    assert 1 <= res.evals_best <= res.evaluations and res.fbest == pytest.approx(sphere(res.xbest))
    assert res.xfavorite.shape == res.stds.shape == (4,)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"x0": np.zeros((2, 2))}, "1-D"),
        ({"x0": np.array([0.0, np.nan])}, "finite"),
        ({"sigma0": 0.0}, "sigma0"),
        ({"sigma0": -1.0}, "sigma0"),
        ({"stds": np.ones(3)}, "shape"),
        ({"stds": np.array([1.0, -1.0])}, ">= 0"),
        ({"stds": np.zeros(2)}, "positive"),
        ({"config": CMAESConfig(mu=40)}, "mu"),  # λ = 4 for d = 2
    ],
)
def test_constructor_validation(kwargs, match):
    args = {"x0": np.zeros(2), "sigma0": 1.0} | kwargs
    with pytest.raises(ValueError, match=match):
        LatentCMAES(args.pop("x0"), args.pop("sigma0"), **args)


def test_config_and_tell_validation():
    for bad in ({"update": "full"}, {"popsize": 1}, {"popsize": 4, "mu": 5}, {"top_k": 0}, {"c1_min": 2.0}):
        with pytest.raises(ValueError):
            CMAESConfig(**bad)
    es = LatentCMAES(np.zeros(3), 1.0, rng=0)
    X = es.ask()
    with pytest.raises(ValueError, match="shape"):
        es.tell(X[:, :2], sphere(X))
    with pytest.raises(ValueError, match="match"):
        es.tell(X, sphere(X)[:-1])
    with pytest.raises(ValueError, match="at least"):
        es.tell(X[:1], sphere(X[:1]))
    with pytest.raises(ValueError, match="finite"):
        es.tell(np.full_like(X, np.inf), sphere(X))


def test_docstring_examples():
    assert doctest.testmod(gensr.cmaes, extraglobs={"np": np}).failed == 0


def test_ipop_recentre_and_explicit_restart_point():
    """The latent search's two uses of the restart policy: re-centring (not a restart) and restarting at
    the best latent any stage decoded (passed in)."""
    cfg = CMAESConfig(popsize=6, stall_iters=2, max_restarts=1, max_iter=40)
    opt = IPOP(np.zeros(3), 1.0, config=cfg, rng=0)
    X = opt.ask()
    opt.tell(X, sphere(X - 5.0))
    opt.recentre(np.full(3, 5.0))
    assert opt.restarts == 0 and opt.popsize == 6 and np.all(opt.es.mean == 5.0)
    assert opt.iterations == 1 and opt.evaluations == 6  # totals carry over
    while not opt.es.stop():
        X = opt.ask()
        opt.tell(X, np.ones(len(X)))  # flat: stall fires
    assert opt.stop(start=np.full(3, -7.0)) == {}
    assert opt.restarts == 1 and opt.popsize == 12 and np.all(opt.es.mean == -7.0)
    assert opt.es.max_iter == 40 - opt.iterations  # one budget over all runs
    while not (reasons := opt.stop()):
        X = opt.ask()
        opt.tell(X, np.ones(len(X)))
    assert set(reasons) == {"stall"} and opt.restarts == 1  # no restarts left
    assert opt.result.fbest == 1.0 and opt.result.restarts == 1  # the flat runs beat the first generation
