"""Tests for gensr.generator: determinism, validity, E2E distributions, numeric round trips, corpus files."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from gensr._config import from_dict, to_dict
from gensr.generator import (
    GeneratorConfig,
    iter_problems,
    problem_rng,
    sample_expression,
    sample_inputs,
    sample_problem,
)
from gensr.grammar import BINARY, CONST, INT_TOKENS, UNARY, VARIABLES
from gensr.inputs import FAMILIES

SMALL = GeneratorConfig(min_points=40, max_points=40)  # fast problems for the per-problem checks


def _same(a, b) -> bool:
    return (a.prefix == b.prefix and np.array_equal(a.constants, b.constants) and np.array_equal(a.X, b.X)
            and np.array_equal(a.y, b.y) and a.n_vars == b.n_vars and a.family == b.family)


# --------------------------------------------------------------------------------------------------
# determinism


def test_same_seed_same_problem():
    for seed in (0, 1, 12345):
        assert _same(sample_problem(np.random.default_rng(seed)), sample_problem(np.random.default_rng(seed)))
    a = sample_problem(np.random.default_rng(0))
    b = sample_problem(np.random.default_rng(1))
    assert not _same(a, b)


def test_iter_problems_uses_per_index_generators():
    whole = list(iter_problems(12, 5, SMALL))
    tail = list(iter_problems(4, 5, SMALL, start=8))
    assert all(_same(x, y) for x, y in zip(whole[8:], tail))
    assert _same(whole[3], sample_problem(problem_rng(5, 3), SMALL))
    other = list(iter_problems(3, 6, SMALL))
    assert not any(_same(x, y) for x, y in zip(whole, other))


# --------------------------------------------------------------------------------------------------
# validity of problems


def test_problems_are_valid():
    cfg = SMALL
    for p in iter_problems(300, 11, cfg):
        d = p.n_vars
        assert cfg.min_vars <= d <= cfg.max_vars
        used = sorted({int(t[1:]) for t in p.prefix if t in VARIABLES})
        assert used == list(range(d))
        assert p.X.shape == (len(p.y), d) and p.X.dtype == np.float64 and p.y.dtype == np.float64
        assert len(p.y) == 40
        assert np.all(np.isfinite(p.y)) and np.all(np.abs(p.y) < cfg.max_abs_y)
        assert np.ptp(p.y) > 0
        assert np.array_equal(p.X, p.X.astype(np.float32))  # stored X is exact
        assert len(p.prefix) <= cfg.max_len
        assert p.family in FAMILIES


def test_point_counts_follow_e2e_range():
    cfg = GeneratorConfig(max_points=60, min_points_per_dim=5)
    for p in iter_problems(200, 2, cfg):
        assert min(5 * p.n_vars, 60) <= len(p.y) <= 60
    fixed = GeneratorConfig(min_points=30, max_points=30)
    assert {len(p.y) for p in iter_problems(20, 2, fixed)} == {30}


def test_max_len_and_small_dimensions():
    cfg = GeneratorConfig(max_len=20, min_vars=1, max_vars=3)
    for e in (sample_expression(np.random.default_rng(i), cfg) for i in range(300)):
        assert len(e.prefix) <= 20
        assert 1 <= len(e.variables) <= 3
    with pytest.raises(RuntimeError, match="max_len"):
        sample_expression(np.random.default_rng(0), GeneratorConfig(max_len=3, max_attempts=20), n_vars=5)


def test_integer_leaves_and_noise():
    cfg = GeneratorConfig(prob_int_leaf=0.5, min_points=30, max_points=30, max_extra_binary=3, min_vars=1,
                          max_vars=2)
    probs = list(iter_problems(100, 4, cfg))
    assert any(t in INT_TOKENS for p in probs for t in p.prefix)
    noisy = GeneratorConfig(noise_gamma=0.1, min_points=30, max_points=30)
    for i in range(20):
        p = sample_problem(problem_rng(9, i), noisy)
        clean = p.expr.evaluate(p.X)
        assert np.all(np.isfinite(p.y))
        assert not np.array_equal(clean, p.y)
        rms = np.sqrt(np.mean(clean**2))
        assert np.std(p.y - clean) < 0.1 * rms * 1.5


# --------------------------------------------------------------------------------------------------
# numeric round trips: prefix → tree → sympy → numpy, and torch


def _comparable_rows(expr, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Rows where y is finite and well conditioned: a 1e-11 relative nudge of X moves y by < 1e-7 relative.

    E2E-style sampling occasionally makes numerically chaotic targets (sin of exp(57 + x) ≈ 1e25), whose
    values depend on the last bits of every intermediate; two correct evaluators cannot agree there.
    """
    nudged = expr.evaluate(X * (1 + 1e-11))
    scale = 1.0 + np.max(np.abs(y[np.isfinite(y)]), initial=0.0)
    return np.isfinite(y) & np.isfinite(nudged) & (np.abs(nudged - y) <= 1e-7 * (np.abs(y) + 1e-3 * scale))


def _assert_agree(actual: np.ndarray, expected: np.ndarray, rows: np.ndarray) -> None:
    ok = rows & np.isfinite(actual)
    scale = 1e-9 * (1.0 + np.max(np.abs(expected[ok]), initial=0.0))
    np.testing.assert_allclose(actual[ok], expected[ok], rtol=1e-6, atol=scale)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_sympy_numpy_agree(seed):
    import sympy

    p = sample_problem(np.random.default_rng(seed), SMALL)
    expr = p.expr
    assert expr.prefix == p.prefix
    y_np = expr.evaluate(p.X)
    np.testing.assert_allclose(y_np, p.y, rtol=1e-12, atol=0)  # the generator's y is the expression's
    symbols = sympy.symbols(" ".join(VARIABLES[: p.n_vars]), real=True, seq=True)
    f = sympy.lambdify(symbols, expr.to_sympy(), "numpy")
    with np.errstate(all="ignore"):
        y_sym = np.broadcast_to(np.asarray(f(*p.X.T), dtype=np.float64), y_np.shape)
    _assert_agree(y_sym, y_np, _comparable_rows(expr, p.X, y_np))


def test_torch_agrees_with_numpy():
    torch = pytest.importorskip("torch")
    for p in iter_problems(60, 21, SMALL):
        y_np = p.expr.evaluate(p.X)
        y_t = p.expr.torch_evaluate(torch.from_numpy(p.X)).numpy()
        rows = _comparable_rows(p.expr, p.X, y_np)
        assert (rows & np.isfinite(y_t)).mean() > 0.9
        _assert_agree(y_t, y_np, rows)


# --------------------------------------------------------------------------------------------------
# distributions (expressions only: 20k samples)


@pytest.fixture(scope="module")
def skeletons():
    cfg = GeneratorConfig(constants="none")
    rng = np.random.default_rng(2024)
    return cfg, [sample_expression(rng, cfg) for _ in range(20_000)]


def _chi2_p(observed: dict[str, int], weights: dict[str, float]) -> float:
    names = [k for k, w in weights.items() if w > 0]
    obs = np.array([observed.get(k, 0) for k in names], dtype=float)
    exp = np.array([weights[k] for k in names], dtype=float)
    exp = exp / exp.sum() * obs.sum()
    return float(stats.chisquare(obs, exp).pvalue)


def test_operator_frequencies_match_weights(skeletons):
    cfg, exprs = skeletons
    counts = Counter(t for e in exprs for t in e.prefix)
    unary_w, binary_w = dict(cfg.unary_weights), dict(cfg.binary_weights)
    for name in UNARY:  # zero weight: never sampled
        if unary_w.get(name, 0.0) == 0.0:
            assert counts[name] == 0, name
    for name in BINARY:
        if binary_w.get(name, 0.0) == 0.0:
            assert counts[name] == 0, name
    assert _chi2_p(counts, unary_w) > 1e-4
    assert _chi2_p(counts, binary_w) > 1e-4
    total_unary = sum(counts[k] for k in UNARY)
    assert abs(counts["sqrt"] / total_unary - 5 / 17.4) < 0.02  # E2E: sqrt 0.287


def test_structure_statistics(skeletons):
    cfg, exprs = skeletons
    dims = np.array([len(e.variables) for e in exprs])
    assert stats.chisquare(np.bincount(dims, minlength=11)[1:]).pvalue > 1e-4  # D ~ U{1…10}
    lengths = []
    for e in exprs:
        d = len(e.variables)
        assert e.variables == tuple(range(d))
        n_bin = sum(t in BINARY for t in e.prefix)
        n_un = sum(t in UNARY for t in e.prefix)
        assert d - 1 <= n_bin <= d + cfg.max_extra_binary
        assert n_un <= cfg.max_unary
        assert CONST not in e.prefix
        lengths.append(len(e.prefix))
    assert max(lengths) <= cfg.max_len
    assert 13 < np.mean(lengths) < 19  # GenSR as released (no constants): mean 16.3, max 31 (measured)
    assert max(lengths) <= 31


def test_tree_shapes_are_uniform():
    # D = 5, b ∈ {4, 5}: the 14 (Catalan) shapes with b = 4 must be equally likely
    cfg = GeneratorConfig(constants="none", max_unary=0, max_extra_binary=0)
    rng = np.random.default_rng(7)
    shapes = Counter()
    for _ in range(8000):
        shape = "".join("o" if t in BINARY else "." for t in sample_expression(rng, cfg, n_vars=5).prefix)
        if shape.count("o") == 4:
            shapes[shape] += 1
    assert len(shapes) == 14
    assert sum(shapes.values()) > 3000
    assert stats.chisquare(list(shapes.values())).pvalue > 1e-4


def test_unary_placement_follows_e2e():
    # every unary sits above a child subtree (never the root) of fewer than 6 tokens, counted before
    # unaries were added
    cfg = GeneratorConfig(constants="none")
    rng = np.random.default_rng(3)
    for _ in range(500):
        prefix = sample_expression(rng, cfg).prefix
        assert prefix[0] not in UNARY or len(prefix) == 1
        for i, t in enumerate(prefix):
            if t in UNARY:
                sub = prefix[i + 1 : i + 1 + _subtree_len(prefix, i + 1)]
                assert sum(u not in UNARY for u in sub) < 6


def _subtree_len(prefix, start: int) -> int:
    need, i = 1, start
    while need:
        t = prefix[i]
        need += (2 if t in BINARY else 1 if t in UNARY else 0) - 1
        i += 1
    return i - start


# --------------------------------------------------------------------------------------------------
# constants


def test_constants_modes():
    rng = np.random.default_rng(5)
    none = GeneratorConfig(constants="none")
    assert all(CONST not in sample_expression(rng, none).prefix for _ in range(300))
    affine = GeneratorConfig()
    for _ in range(300):
        e = sample_expression(rng, affine)
        assert e.prefix[:2] == ("add", CONST)  # the outer additive constant
        assert e.n_constants >= 2
        c = e.constants
        assert np.all(np.isfinite(c)) and len(c) == e.n_constants
        assert np.all((np.abs(c) >= 1e-3 - 1e-12) & (np.abs(c) <= 99.9 + 1e-9))
    p = sample_problem(np.random.default_rng(8), SMALL)
    np.testing.assert_array_equal(p.expr.constants, p.constants)


def test_outer_additive_constant_has_its_own_probability():
    rng = np.random.default_rng(6)
    for prob, lo, hi in ((0.0, 0.0, 0.0), (0.5, 0.4, 0.6)):
        cfg = GeneratorConfig(outer_add_prob=prob)
        share = np.mean([sample_expression(rng, cfg).prefix[:2] == ("add", CONST) for _ in range(600)])
        assert lo <= share <= hi
    with pytest.raises(ValueError, match="outer_add_prob"):
        GeneratorConfig(outer_add_prob=1.5)


def test_short_skeletons_are_downsampled():
    # a bare variable (with or without constants) is the most repeated draw; short_keep_prob thins it
    def share_short(cfg: GeneratorConfig) -> float:
        probs = iter_problems(400, 4, cfg)
        return float(np.mean([len(p.prefix) - 2 * p.prefix.count(CONST) <= 1 for p in probs]))

    base = GeneratorConfig(min_vars=1, max_vars=1, max_extra_binary=1, max_unary=0, min_points=20, max_points=20)
    before = share_short(base)
    after = share_short(GeneratorConfig(**{**dataclasses.asdict(base), "short_len": 1, "short_keep_prob": 0.1}))
    assert before > 0.1 and after < before / 3
    with pytest.raises(ValueError, match="short_keep_prob"):
        GeneratorConfig(short_keep_prob=0.0)


def test_dimension_weights():
    cfg = GeneratorConfig(min_vars=1, max_vars=4, dim_weights=(4.0, 2.0, 1.0, 0.0), min_points=20, max_points=20)
    counts = Counter(p.n_vars for p in iter_problems(700, 3, cfg))
    assert counts[4] == 0 and counts[1] > counts[2] > counts[3] > 0
    assert stats.chisquare([counts[1], counts[2], counts[3]], np.array([4, 2, 1]) / 7 * 700).pvalue > 1e-3
    # uniform configs keep the historical draw, so existing corpora and seeds reproduce
    assert from_dict(GeneratorConfig, to_dict(cfg)) == cfg
    with pytest.raises(ValueError, match="dim_weights"):
        GeneratorConfig(min_vars=1, max_vars=4, dim_weights=(1.0, 1.0))


def test_affine_prefactor_rules():
    # E2E add_prefactors: a + b·arg inside unaries (unless arg is add/sub), a factor on each non-add/sub
    # child of add/sub
    cfg = GeneratorConfig(max_len=200)
    rng = np.random.default_rng(11)
    for _ in range(300):
        pre = sample_expression(rng, cfg).prefix
        for i, t in enumerate(pre):
            if t in UNARY:
                assert pre[i + 1] in ("add", "sub")
                if pre[i + 2] == CONST:
                    assert pre[i + 1 : i + 5] == ("add", CONST, "mul", CONST)
            if t in ("add", "sub") and pre[i + 1] != CONST:  # an original add/sub node
                first = i + 1
                second = first + _subtree_len(pre, first)
                for child in (first, second):
                    assert pre[child] in ("add", "sub") or pre[child : child + 2] == ("mul", CONST)


# --------------------------------------------------------------------------------------------------
# inputs


def test_physical_family():
    cfg = GeneratorConfig(input_families=(("physical", 1.0),), min_points=50, max_points=50)
    for p in iter_problems(40, 13, cfg):
        assert p.family == "physical"
        assert np.all(p.X > 0)
        assert p.X.min() >= 0.1 * (1 - 1e-6) and p.X.max() <= 100.0 * (1 + 1e-6)
        assert np.all(p.X.max(axis=0) / p.X.min(axis=0) <= 10.0 * (1 + 1e-6))
    X = sample_inputs(4, 500, np.random.default_rng(0), cfg, family="physical")
    assert X.shape == (500, 4) and np.all(X > 0)


def test_cluster_family_standardised():
    rng = np.random.default_rng(1)
    for d in (1, 3, 10):
        X = sample_inputs(d, 200, rng, family="cluster")
        assert X.shape == (200, d)
        np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-9)
        np.testing.assert_allclose(X.std(axis=0), 1.0, rtol=1e-9)
    # problems: invalid rows are dropped and refilled, so close to (not exactly) standardised
    means, stds = [], []
    for p in iter_problems(100, 17, GeneratorConfig(min_points=200)):
        assert p.family == "cluster"
        means.append(p.X.mean(axis=0))
        stds.append(p.X.std(axis=0))
    assert abs(np.median(np.concatenate(means))) < 0.05
    assert abs(np.median(np.concatenate(stds)) - 1.0) < 0.05
    with pytest.raises(ValueError, match="family"):
        sample_inputs(2, 10, rng, family="nope")


def test_family_mixture():
    cfg = GeneratorConfig(input_families=(("cluster", 1.0), ("physical", 1.0)), min_points=20, max_points=20)
    fams = Counter(p.family for p in iter_problems(200, 1, cfg))
    assert 60 < fams["physical"] < 140 and fams["cluster"] + fams["physical"] == 200


# --------------------------------------------------------------------------------------------------
# config


def test_config_json_round_trip():
    cfg = GeneratorConfig(constants="none", unary_weights=[["sin", 2.0], ["exp", 1]], max_vars=4)
    assert cfg.unary_weights == (("sin", 2.0), ("exp", 1.0))
    back = from_dict(GeneratorConfig, json.loads(json.dumps(to_dict(cfg))))
    assert back == cfg and hash(back) == hash(cfg)
    assert from_dict(GeneratorConfig, {}) == GeneratorConfig()
    with pytest.raises(ValueError, match="max_vars"):
        from_dict(GeneratorConfig, {"max_var": 3})
    with pytest.raises(ValueError, match="unknown names"):
        GeneratorConfig(unary_weights=(("sinh", 1.0),))
    with pytest.raises(ValueError, match="constants"):
        GeneratorConfig(constants="linear")
    with pytest.raises(ValueError):
        GeneratorConfig(min_vars=3, max_vars=2)
    with pytest.raises(ValueError):
        GeneratorConfig(max_abs_y=1e100)


def test_defaults_follow_e2e():
    cfg = GeneratorConfig()
    u = dict(cfg.unary_weights)
    assert (u["sqrt"], u["inv"], u["pow2"], u["tan"], u["arcsin"], u["neg"]) == (5, 3, 3, 0.2, 0, 0)
    assert dict(cfg.binary_weights) == {"add": 1, "sub": 1, "mul": 1, "div": 0, "pow": 0}
    assert (cfg.min_vars, cfg.max_vars, cfg.max_unary, cfg.max_extra_binary) == (1, 10, 4, 3)
    assert cfg.max_len + 2 <= 64


# --------------------------------------------------------------------------------------------------
# corpus files




def test_with_dims_keeps_the_weights_that_stay():
    cfg = GeneratorConfig(min_vars=1, max_vars=4, dim_weights=(4.0, 2.0, 1.0, 0.0))
    assert cfg.with_dims(2, 3).dim_weights == (2.0, 1.0)
    assert cfg.with_dims(4, 6).dim_weights == ()  # only zeros and unknowns left: uniform
    assert GeneratorConfig().with_dims(2, 2).min_vars == 2


def test_nested_structures_in_the_mix():
    """structure_prob draws the nested shapes (gensr.structures): every input appears, the constants sit in
    prefix order (y is the printed formula's), and a share of 0 leaves the E2E stream untouched."""
    import dataclasses

    import sympy

    from gensr.generator import GeneratorConfig, problem_rng, sample_problem

    base = GeneratorConfig(max_vars=3, max_points=50, min_points=50)
    mixed = dataclasses.replace(base, structure_prob=1.0, require_all_inputs=True)
    off = dataclasses.replace(base, structure_prob=0.0)
    assert [sample_problem(problem_rng(1, i), off).prefix for i in range(20)] == \
        [sample_problem(problem_rng(1, i), base).prefix for i in range(20)]
    functions = 0
    for i in range(40):
        p = sample_problem(problem_rng(2, i), mixed)
        names = [f"x{j}" for j in range(p.n_vars)]
        assert {f"x{j}" for j in range(p.n_vars)} <= set(p.prefix)
        f = sympy.lambdify(sympy.symbols(names), p.expr.to_sympy(names), "numpy")
        np.testing.assert_allclose(f(*p.X.T), p.y, rtol=1e-6)
        functions += any(t in ("exp", "log", "sin", "cos", "sqrt", "tanh", "arctan") for t in p.prefix)
    assert functions >= 30  # "power" is the only shape without a function


def test_require_all_inputs_drops_cancelled_variables():
    from gensr.generator import _uses_every_input

    X = np.random.default_rng(0).uniform(1, 2, (32, 2))
    for tokens, uses in ((["add", "x0", "div", "x1", "x1"], False), (["add", "x0", "x1"], True),
                         (["mul", "x0", "div", "mul", "x1", "x0", "x1"], False)):
        y = X[:, 0] + (X[:, 1] if uses else 1.0) if tokens[0] == "add" else X[:, 0] ** 2
        assert _uses_every_input(tokens, [], X, y) is uses
