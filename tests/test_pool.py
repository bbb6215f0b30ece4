"""The default fitting path: the candidate pool's fitter choice and screen rule, the numpy fitter itself, which
constants count as nonlinear, the power-law and enumeration moves, and the doctests of the modules with examples."""

import doctest
import importlib
import pkgutil
import time

import numpy as np
import pytest

import gensr
from gensr.deadline import Deadline
from gensr.formula import parse
from gensr.screen import screen_constants
from gensr.search import SearchConfig
from gensr.search.moves import Enumerate
from gensr.search.pool import Pool, nonlinear_constants
from gensr.search.terms import power_law_candidates


def _sine(n=200, seed=0):
    X = np.random.default_rng(seed).uniform(-3, 3, size=(n, 1))
    return X, 2.5 * np.sin(1.3 * X[:, 0]) + 0.5


# ---- screen_constants: the fitter nearly every candidate goes through ----------------------------------

def test_screen_recovers_known_constants_and_scores_all_rows():
    X, y = _sine()
    fn = parse("C*sin(C*x0) + C").numpy_fn()
    fit = screen_constants(fn, 3, X, y, init=[2.0, 1.2, 0.0], max_rows=64, max_iter=200, tol=1e-12, rng=0)
    np.testing.assert_allclose(fit.constants, [2.5, 1.3, 0.5], rtol=1e-8)
    assert fit.success and fit.r2 > 1 - 1e-12 and fit.n_rows_fit == 64
    assert not fit.constants.flags.writeable


def test_screen_restarts_escape_a_bad_start():
    X, y = _sine()
    fn = parse("C*sin(C*x0) + C").numpy_fn()
    one = screen_constants(fn, 3, X, y, init=[1.0, -4.0, 0.0], n_starts=1, max_iter=200, tol=1e-12, rng=0)
    many = screen_constants(fn, 3, X, y, init=[1.0, -4.0, 0.0], n_starts=12, max_iter=200, tol=1e-12, rng=0)
    assert many.mse < one.mse and many.r2 > 0.999999 and many.n_starts > 1


def test_screen_is_quiet_on_invalid_candidates_and_keeps_a_deadline():
    X, y = _sine()
    bad = screen_constants(parse("log(C*x0 - 10)").numpy_fn(), 1, X, y, rng=0)  # undefined on every row
    assert not bad.success and bad.mse == np.inf and bad.r2 == -np.inf
    start = time.perf_counter()
    slow = screen_constants(parse("C*sin(C*x0) + C").numpy_fn(), 3, X, y, n_starts=500, max_iter=10_000,
                            deadline=Deadline(0.2), rng=0)
    assert time.perf_counter() - start < 2.0 and np.all(np.isfinite(slow.constants))


def test_screen_and_torch_fitters_agree():
    from gensr.constants import fit_constants

    X, y = _sine()
    e = parse("C*sin(C*x0) + C")
    a = screen_constants(e.numpy_fn(), 3, X, y, init=[2.0, 1.2, 0.0], max_rows=200, max_iter=200, tol=1e-12)
    b = fit_constants(e.torch_fn(), 3, X, y, init=[2.0, 1.2, 0.0], n_starts=1, max_rows=200, rng=0)
    np.testing.assert_allclose(a.constants, b.constants, rtol=1e-6)


# ---- which constants are nonlinear (they get several starts) ---------------------------------------------

@pytest.mark.parametrize(("text", "nonlinear"), [
    ("C*x0 + C", False), ("C/(x0 + C)", False), ("C*x0**2", False),
    ("sin(C*x0)", True), ("C*exp(C*x0)", True), ("x0**C", True), ("log(x0 + C)", True), ("C*sqrt(x0 + C)", False),
])
def test_nonlinear_constants(text, nonlinear):
    assert nonlinear_constants(parse(text).root) is nonlinear


# ---- Pool.score: one fitter setting, the screen, the full fit --------------------------------------------

def _pool(n, **fit):
    rng = np.random.default_rng(1)
    X = rng.uniform(1, 3, size=(n, 2))
    y = 2.0 * X[:, 0] ** 2 / X[:, 1] + 0.5
    cfg = SearchConfig().replace(**{f"fit.{k}": v for k, v in fit.items()})
    return Pool(X, y, cfg, Deadline(60.0), fit_seed=0)


def test_pool_screens_only_with_enough_rows_and_refits_what_could_join_the_front():
    pool = _pool(400)
    assert pool.screen
    pool.score(parse("C*x0**2/x1 + C"), "seed", 0)  # joins the front: full fit
    best = pool.lookup(parse("C*x0**2/x1 + C"))
    assert pool.n_full_fits == 1 and not best.screened and best.r2 > 1 - 1e-12
    pool.score(parse("C*sin(C*x1)*x1 + C*exp(x1) + C"), "seed", 0)  # worse and longer: screened only
    assert pool.n_full_fits == 1 and pool.candidates[-1].screened
    small = _pool(100)  # fewer than 2·screen_rows rows: the numpy fitter's full fit alone
    assert not small.screen
    small.score(parse("C*x0**2/x1 + C"), "seed", 0)
    assert small.n_full_fits == 1 and small.candidates[-1].r2 > 1 - 1e-12


@pytest.mark.parametrize("fitter", ["numpy", "torch"])
def test_pool_uses_the_chosen_fitter(fitter, monkeypatch):
    import gensr.search.pool as pool_module

    called = []
    for name in ("screen_constants", "fit_constants"):
        real = getattr(pool_module, name)
        monkeypatch.setattr(pool_module, name, lambda *a, _n=name, _r=real, **k: called.append(_n) or _r(*a, **k))
    pool = _pool(60, fitter=fitter)
    pool.score(parse("C*x0**2/x1 + C"), "seed", 0)
    assert set(called) == {"screen_constants" if fitter == "numpy" else "fit_constants"}
    assert pool.candidates[-1].r2 > 1 - 1e-9
    assert pool.score(parse("3.0*x0**2/x1 + 1.5"), "edit", 5) == pool.candidates[-1].score  # cached skeleton
    assert len(pool) == 1


def test_fitter_setting_is_checked():
    with pytest.raises(ValueError, match=r"fit\.fitter"):
        SearchConfig().replace(**{"fit.fitter": "jax"})


# ---- moves: power laws and the map-guided enumeration -----------------------------------------------------

def test_power_law_candidates_find_monomials_of_y_y2_and_inv_y():
    X = np.random.default_rng(0).uniform(1, 5, size=(100, 3))
    keys = {e.key for e in power_law_candidates(X, 3 * X[:, 0] ** 2 / X[:, 2])}
    assert parse("C*(x0**2/x2)").key in keys
    keys = {e.key for e in power_law_candidates(X, np.sqrt(2 * X[:, 0] * X[:, 1]))}
    assert parse("C*sqrt(x0)*sqrt(x1)").key in keys  # the y² fit's root, as the grammar writes x^(1/2)
    assert power_law_candidates(X - 3, X[:, 0]) == []  # no positive column: nothing to take logs of


def test_enumeration_scores_the_decoders_short_skeletons(model):
    from gensr.search.state import SearchState

    X = np.random.default_rng(0).uniform(1, 3, size=(120, 2))
    y = X[:, 0] * X[:, 1]
    cfg = SearchConfig().replace(**{"enumerate.beam": 8, "enumerate.max_nodes": 5, "enumerate.share": 1.0})
    state = SearchState(model, X, y, cfg, np.random.default_rng(0), Deadline(60.0))
    Enumerate(cfg).run(state)
    found = [c for c in state.pool.candidates if c.stage == "enumerate"]
    assert 1 <= len(found) <= 8 and all(c.complexity <= 5 for c in found)


# ---- doctests: the modules whose docstrings hold examples run them -------------------------------------------

def _modules():
    return sorted(m.name for m in pkgutil.walk_packages(gensr.__path__, "gensr.") if not m.name.endswith("__main__"))


def _with_examples() -> list[str]:
    """The modules whose docstrings hold at least one example (a module without one is not tested vacuously)."""
    finder = doctest.DocTestFinder()
    return [name for name in _modules() if any(t.examples for t in finder.find(importlib.import_module(name)))]


WITH_EXAMPLES = _with_examples()


def test_doctest_count():
    """How many modules' examples run (the parametrized test below), out of how many modules."""
    assert len(WITH_EXAMPLES) >= 20, f"{len(WITH_EXAMPLES)} of {len(_modules())} modules hold examples"


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_doctests(name):
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, extraglobs={"np": np}, optionflags=flags)
    assert result.failed == 0 and result.attempted > 0


# ---- variable projection: linear constants by least squares ------------------------------------------------

@pytest.mark.parametrize(("text", "linear"), [
    ("C*x0*x1 + C*exp(C*x2) + C", (0, 1, 3)), ("C", (0,)), ("C*x0/(x1 + C)", (0,)), ("sin(C*x0)", ()),
    ("C*(x0 + C*x1)", (0,)), ("x0 - C*log(x1)*x2", (0,)),
])
def test_linear_constants(text, linear):
    from gensr.search.pool import linear_constants

    assert linear_constants(parse(text).canonical().root) == linear


def test_sum_of_three_products_is_solved_in_one_step_from_any_start():
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 3, size=(300, 6))
    y = 1.5 * X[:, 0] * X[:, 3] - 2.0 * X[:, 1] * X[:, 4] + 0.7 * X[:, 2] * X[:, 5] + 3.0
    fn = parse("C*x0*x3 + C*x1*x4 + C*x2*x5 + C").numpy_fn()
    fit = screen_constants(fn, 4, X, y, init=[-50.0, 80.0, 1e3, -7.0], max_iter=1, linear=(0, 1, 2, 3))
    np.testing.assert_allclose(fit.constants, [1.5, -2.0, 0.7, 3.0], rtol=1e-9)
    assert fit.n_evals <= 2  # one projection, one final evaluation


def test_projection_rescues_a_sum_with_a_nonlinear_term():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 3, size=(300, 2))
    y = 2.5 * np.exp(-0.7 * X[:, 0]) + 1.2 * X[:, 1] - 0.5
    fn = parse("C*exp(C*x0) + C*x1 + C").numpy_fn()
    plain = screen_constants(fn, 4, X, y, max_rows=64, max_iter=40, rng=0)
    projected = screen_constants(fn, 4, X, y, max_rows=64, max_iter=40, rng=0, linear=(0, 2, 3))
    assert plain.r2 < 0.999 and projected.r2 > 1 - 1e-12
    np.testing.assert_allclose(projected.constants, [2.5, -0.7, 1.2, -0.5], rtol=1e-7)
    w = rng.uniform(0, 1, 300)  # weights go through the projection too
    weighted = screen_constants(fn, 4, X, y, max_rows=64, max_iter=40, rng=0, linear=(0, 2, 3), weights=w)
    assert weighted.r2 > 1 - 1e-12
    pool = _pool(400)  # and the pool applies it by default
    pool.score(parse("C*x0**2/x1 + C"), "seed", 0)
    assert pool.candidates[-1].r2 > 1 - 1e-12


# ---- the sparse-terms move ---------------------------------------------------------------------------------

_SEVERAL_TERMS = {
    "three products over six inputs": ((1.0, 3.0, 6), lambda X: 1.5 * X[:, 0] * X[:, 3] - 2 * X[:, 1] * X[:, 4]
                                       + 0.7 * X[:, 2] * X[:, 5]),
    "degree-3 polynomial in two inputs": ((-2.0, 2.0, 2), lambda X: X[:, 0] ** 3 - 2 * X[:, 0] ** 2 * X[:, 1]
                                          + 0.5 * X[:, 1] - 1),
    "root of a sum of squares": ((1.0, 3.0, 2), lambda X: np.sqrt(X[:, 0] ** 2 + 4 * X[:, 1] ** 2)),
    "a product minus a square": ((0.5, 3.0, 2), lambda X: 3 * X[:, 0] - 2 * X[:, 0] * X[:, 1] - X[:, 0] ** 2),
    "ratio of two sums": ((0.5, 3.0, 2), lambda X: (X[:, 0] + 2 * X[:, 1]) / (1 + X[:, 0] * X[:, 1])),
}


@pytest.mark.parametrize("name", list(_SEVERAL_TERMS))
def test_terms_move_recovers_laws_with_several_terms(name, model):
    from gensr.search import search

    (lo, hi, d), law = _SEVERAL_TERMS[name]
    X = np.random.default_rng(0).uniform(lo, hi, size=(400, d))
    y = law(X)
    cfg = SearchConfig().replace(**{"budget.max_time": 600.0, "budget.max_generations": 1, "lee.enabled": False,
                                    "enumerate.enabled": False, "terms.share": 1.0})
    result = search(model, X, y, cfg, rng=0)
    exact = [c for c in result.candidates if c.stage == "terms" and c.r2 > 1 - 1e-12]
    assert exact, name
    # the exact sum is short: the true terms, their coefficients and at most an offset
    assert min(c.complexity for c in exact) <= {2: 20, 6: 20}[d] + 2


def test_terms_path_recovers_a_noisy_root_of_a_sum_of_squares():
    # at 1 % noise, forward selection on y² first picks a proxy (x0²·√x3) for the three true terms; the
    # backward pass finds the true three-term set inside the larger sets
    import re

    from gensr.search.terms import library, sparse_candidates

    hits = 0
    for seed in range(4):
        rng = np.random.default_rng(seed)
        X = rng.uniform(1, 5, size=(400, 4))
        f = X[:, 0] * np.sqrt(X[:, 1] ** 2 + X[:, 2] ** 2 + X[:, 3] ** 2)
        y = f + rng.normal(0, 0.01 * np.sqrt(np.mean(f**2)), len(f))
        found = [str(e.to_sympy(["x0", "x1", "x2", "x3"])) for e in sparse_candidates(y, library(X), 6)]
        hits += any(re.fullmatch(r"sqrt\(([-0-9.e]+ \+ )?([0-9.]+\*x0\*\*2\*x\d\*\*2( \+ )?){3}"
                                 r"( [+-] [-0-9.e]+)?\)", s) for s in found)
    assert hits == 4


def test_terms_recover_a_root_of_a_difference_of_three_input_ratios():
    """x0/sqrt(1 − x1²/x2²): 1/y² is a sum of 1/x0² and x1²/(x0²·x2²), a three-input monomial with −2s."""
    from gensr.search.terms import library, sparse_candidates

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(1, 5, 500), rng.uniform(1, 2, 500), rng.uniform(3, 10, 500)])
    y = X[:, 0] / np.sqrt(1 - X[:, 1] ** 2 / X[:, 2] ** 2)
    exact = [e for e in sparse_candidates(y, library(X), 6) if np.allclose(e.evaluate(X), y, rtol=1e-9)]
    assert exact and min(len(e.prefix) for e in exact) <= 20


def test_terms_recover_ratios_whose_denominator_has_no_constant_term():
    """x²/(K² + x²) with x near 0 (no negative power of x in the library) and a weighted mean: the rational
    regression normalises Q by one of its terms (y·q0 = P − y·(Q − q0)), not by a constant 1."""
    from gensr.search.terms import library, sparse_candidates

    rng = np.random.default_rng(3)
    hill = np.column_stack([rng.uniform(0, 10, 400), rng.uniform(1, 4, 400)])
    mean = rng.uniform(1, 5, size=(400, 4))
    for X, y in ((hill, hill[:, 0] ** 2 / (hill[:, 1] ** 2 + hill[:, 0] ** 2)),
                 (mean, (mean[:, 0] * mean[:, 2] + mean[:, 1] * mean[:, 3]) / (mean[:, 0] + mean[:, 1]))):
        found = sparse_candidates(y, library(X), 6, rational=True)
        assert any(np.allclose(e.evaluate(X), y, rtol=1e-9, atol=1e-12) for e in found)
        assert not any(np.allclose(e.evaluate(X), y, rtol=1e-9, atol=1e-12)
                       for e in sparse_candidates(y, library(X), 6, rational=False))


def test_terms_recover_a_function_of_one_input_times_a_ratio_of_two_others():
    """a − b·log(c)/d with c over four decades: log(c)·b/d is one library term."""
    from gensr.search.terms import library, sparse_candidates

    rng = np.random.default_rng(4)
    X = np.column_stack([rng.uniform(1, 5, 400), rng.uniform(1, 5, 400), 10 ** rng.uniform(-2, 2, 400),
                         rng.uniform(1, 5, 400)])
    y = X[:, 0] - X[:, 1] * np.log(X[:, 2]) / X[:, 3]
    exact = [e for e in sparse_candidates(y, library(X), 6) if np.allclose(e.evaluate(X), y, rtol=1e-9)]
    assert exact and min(len(e.prefix) for e in exact) == 14  # C + C·x0 + C·(log(x2)·(x1/x3))


def test_common_factor_takes_the_columns_that_only_multiply():
    """x1·x4²·(x0 − 2·x3)/x2 changes sign, and four-factor terms are outside the library; the factor x1·x4²/x2
    leaves x0 − 2·x3, which the regressions find; x0 and x3 sit inside the difference and stay out."""
    from gensr.grammar import Expression
    from gensr.search.terms import Term, common_factor, library, sparse_candidates

    rng = np.random.default_rng(1)
    X = rng.uniform(1, 5, size=(5000, 5))
    y = X[:, 1] * X[:, 4] ** 2 * (X[:, 0] - 2 * X[:, 3]) / X[:, 2]
    factor = common_factor(X, y)
    assert factor is not None and set(Expression(factor.node).variables) == {1, 2, 4}
    rows = slice(0, 400)
    found = sparse_candidates(y[rows], library(X[rows]), 6, factor=Term(factor.node, factor.values[rows], True))
    assert any(np.allclose(e.evaluate(X), y, rtol=1e-9, atol=1e-9) for e in found)
    assert not any(np.allclose(e.evaluate(X), y, rtol=1e-9, atol=1e-9) for e in sparse_candidates(y[rows],
                                                                                          library(X[rows]), 6))
    # a column whose slope is near a whole number by chance leaves a curve in the residual: no factor
    assert common_factor(X, X[:, 0] + X[:, 1] * X[:, 2]) is None


def test_terms_regress_square_roots_of_y():
    """A square of a sum and the inverse square of a sum: √y and 1/√y are the sums the library spans."""
    from gensr.search.terms import library, sparse_candidates

    rng = np.random.default_rng(2)
    X = np.column_stack([rng.uniform(3, 5, 400), rng.uniform(1, 2, 400)])
    for y in ((X[:, 0] - 0.5 * X[:, 1] ** 2) ** 2, 1 / (1 + X[:, 0] * X[:, 1]) ** 2):
        exact = [e for e in sparse_candidates(y, library(X), 6) if np.allclose(e.evaluate(X), y, rtol=1e-9)]
        assert exact and min(len(e.prefix) for e in exact) <= 12


def test_every_column_and_the_library_order():
    """Over 13 columns, one input's terms come first, so greedy selection does not start from a product."""
    from gensr.search.terms import library, sparse_candidates

    X = np.random.default_rng(0).uniform(1, 2, size=(80, 13))
    y = 3 * X[:, 12] + X[:, 11]
    order = [12, 11, *range(11)]
    terms = library(X, max_terms=4000, order=order)
    pairs = [t for t in terms if len({n.token for n in t.node.iter_nodes() if n.token.startswith("x")}) == 2]
    assert {n.token for n in pairs[0].node.iter_nodes() if n.token.startswith("x")} == {"x11", "x12"}
    assert any(np.allclose(e.evaluate(X), y, rtol=1e-9) and len(e.prefix) <= 9 for e in sparse_candidates(y, terms))


def test_terms_library_is_generic_and_bounded():
    from gensr.search.terms import library

    X = np.random.default_rng(0).uniform(-1, 1, size=(50, 10))
    terms = library(X, max_terms=500)
    assert len(terms) == 500 and all(t.values.shape == (50,) for t in terms)
    positive = np.abs(X) + 0.1  # roots and logs only of positive columns
    kinds = {n.token for t in library(positive[:, :2]) for n in t.node.iter_nodes()}
    assert {"sqrt", "log"} <= kinds
    assert not {"sqrt", "log"} & {n.token for t in library(X[:, :2]) for n in t.node.iter_nodes()
                                  if n.children and n.children[0].token.startswith("x")}


def test_terms_library_has_no_poles_near_zero():
    from gensr.search.terms import library

    X = np.random.default_rng(0).uniform(-3, 3, size=(200, 2))  # crosses zero
    X[:, 1] = np.random.default_rng(1).uniform(1, 3, 200)  # stays away from it
    inverse_of = {n.children[0].token for t in library(X) for n in t.node.iter_nodes() if n.token == "inv"}
    assert "x0" not in inverse_of and "x1" in inverse_of


def test_pruned_drops_each_additive_term_with_its_sign():
    from gensr.formula import parse
    from gensr.search.moves import _pruned

    out = {str(e) for e in _pruned(parse("x0*x1 - sin(x2) + 3"))}
    assert out == {"-sin(x2) + 3", "x0*x1 + 3", "x0*x1 - sin(x2)"}
    assert _pruned(parse("x0*x1")) == []


def test_term_edits_grow_a_formula_by_the_term_its_residual_lacks(model):
    """Only the seeds and the term edits run: the seed C·x0·x1 lacks the x2² term of the law, and one round
    of term edits adds it (the library term most correlated with the residual), exactly."""
    from gensr.search import search

    X = np.random.default_rng(1).uniform(0.5, 3.0, size=(300, 3))
    y = 2.0 * X[:, 0] * X[:, 1] + 1.5 * X[:, 2] ** 2
    off = {f"{m}.enabled": False for m in ("power_law", "terms", "enumerate", "localise", "edits", "lee")}
    cfg = SearchConfig().replace(**off, **{"budget.max_time": 600.0, "budget.max_generations": 1,
                                           "budget.deterministic": True, "term_edits.enabled": True})
    result = search(model, X, y, cfg, rng=0, extra_expressions=["C*x0*x1"])
    grown = [c for c in result.candidates if c.stage == "term_edit" and c.r2 > 1 - 1e-12]
    assert grown and min(c.complexity for c in grown) <= 11
    no_edits = search(model, X, y, cfg.replace(**{"term_edits.enabled": False}), rng=0, extra_expressions=["C*x0*x1"])
    assert no_edits.stop == {"no_latent": 1.0}  # the map is off: no CMA-ES; not "max_time" (600 s were not spent)
    assert max(c.r2 for c in no_edits.candidates) < 0.999


def test_terms_recover_a_degree_5_polynomial_in_one_input():
    from gensr.search.terms import library, sparse_candidates

    X = np.random.default_rng(0).uniform(-2, 2, size=(300, 1))
    y = 0.5 * X[:, 0] ** 5 - X[:, 0] ** 4 + 2 * X[:, 0] ** 2 - 1
    exact = [e for e in sparse_candidates(y, library(X), 6) if np.allclose(e.evaluate(X), y, rtol=1e-9)]
    assert exact and min(len(e.prefix) for e in exact) <= 20


def test_rational_terms_recover_a_numerator_of_degree_three_over_a_leading_monomial():
    """(u + v)/(1 + uv/c²) = c²(u + v)/(c² + uv): P's terms u·c², v·c² have degree 3 and hold q0 = c²'s input."""
    from gensr.search.terms import library, sparse_candidates

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(1, 5, 300), rng.uniform(1, 2, 300), rng.uniform(1, 2, 300)])
    y = (X[:, 2] + X[:, 1]) / (1 + X[:, 2] * X[:, 1] / X[:, 0] ** 2)
    assert any(np.allclose(e.evaluate(X), y, rtol=1e-9) for e in sparse_candidates(y, library(X), 6, rational=True))


def test_terms_recover_a_distance_through_squared_differences():
    """y² = (x1 − x0)² + (x3 − x2)²: two library terms on the y² transform, where monomials need six."""
    from gensr.search.terms import library, sparse_candidates

    X = np.random.default_rng(3).uniform(1, 5, size=(300, 4))
    y = np.sqrt((X[:, 1] - X[:, 0]) ** 2 + (X[:, 3] - X[:, 2]) ** 2)
    exact = [e for e in sparse_candidates(y, library(X), 3) if np.allclose(e.evaluate(X), y, rtol=1e-9)]
    assert exact and min(len(e.prefix) for e in exact) <= 16  # with the intercept the pool then drops


@pytest.mark.parametrize(("ranges", "law"), [
    ([(-1.5, 1.5)], lambda X: np.sin(X[:, 0] ** 2 + X[:, 0])),
    ([(1, 3), (1, 3), (0, 2), (0, 1)], lambda X: 2.0 * X[:, 0] * np.sin(X[:, 1] * X[:, 2] - X[:, 3])),
    ([(0, 2), (0.5, 2)], lambda X: 3.0 - np.exp(X[:, 0] * X[:, 1] - X[:, 1] ** 2)),
])
def test_terms_recover_functions_of_non_monomial_arguments(ranges, law):
    from gensr.search.terms import library, sparse_candidates

    rng = np.random.default_rng(1)
    X = np.column_stack([rng.uniform(lo, hi, 300) for lo, hi in ranges])
    y = law(X)
    exact = [e for e in sparse_candidates(y, library(X), 6) if np.allclose(e.evaluate(X), y, rtol=1e-9, atol=1e-12)]
    assert exact


def test_local_search_makes_a_near_miss_exact(model):
    """Only the seeds and the local search run: the seed C·x0·sin(x1·x2) lacks the −x3 inside the sine, one
    edit away, and the climb reaches the law; without the local search nothing does."""
    from gensr.search import search

    X = np.random.default_rng(2).uniform(0.5, 2.0, size=(300, 4))
    y = 2.0 * X[:, 0] * np.sin(X[:, 1] * X[:, 2] - X[:, 3])
    off = {f"{m}.enabled": False for m in ("power_law", "terms", "enumerate", "localise", "edits", "lee")}
    cfg = SearchConfig().replace(**off, **{"budget.max_time": 600.0, "budget.max_generations": 1,
                                           "budget.deterministic": True, "local.max_neighbours": 2000,
                                           "local.steps": 2})
    result = search(model, X, y, cfg, rng=0, extra_expressions=["C*x0*sin(x1*x2)"])
    exact = [c for c in result.candidates if c.stage == "local" and c.r2 > 1 - 1e-12]
    assert exact and min(c.complexity for c in exact) <= 10
    without = search(model, X, y, cfg.replace(**{"local.enabled": False}), rng=0, extra_expressions=["C*x0*sin(x1*x2)"])
    assert max(c.r2 for c in without.candidates) < 0.999
