"""The fine search (gensr.search): budget, determinism, candidate-table invariants, seeds, LEE on/off, errors.

The tiny checkpoint decodes valid but mostly wrong equations: nothing here expects it to recover a formula
on its own; recovery is tested by injecting the right skeleton as a seed equation.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time

import numpy as np
import pytest
import torch

from gensr.formula import parse
from gensr.search import STAGES, Candidate, SearchConfig, SearchResult, search

# small initial populations keep every test well under a second of search
# the local search is off: it makes data3's law exact before CMA-ES starts, and these tests need CMA-ES to run
SMALL = {"localise__n_subsets": 2, "localise__n_ynoise": 4, "localise__n_prior_samples": 8, "local__enabled": False}


def config(**changes) -> SearchConfig:
    """A SearchConfig from ``section__field=value`` keywords (dotted keys cannot be keyword names)."""
    return SearchConfig().replace(**{k.replace("__", "."): v for k, v in changes.items()})


@pytest.fixture(scope="module")
def data3():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (400, 3))
    return X, 1.5 * X[:, 0] * X[:, 1] + np.sin(1.7 * X[:, 2])  # outside the terms library: the CMA-ES runs


@pytest.fixture(scope="module")
def result(model, data3):
    X, y = data3
    return search(model, X, y, config(budget__max_time=60, budget__max_generations=8, lee__every=3, **SMALL), rng=3)


def test_respects_the_time_budget(model, data3):
    X, y = data3
    t0 = time.perf_counter()
    res = search(model, X, y, config(budget__max_time=3.0, budget__max_generations=10_000, budget__target_r2=2.0),
                 rng=0)
    wall = time.perf_counter() - t0
    assert wall <= 3.0 * 1.1, f"3 s budget took {wall:.2f} s"
    assert res.stop == {"max_time": 3.0}
    assert set(res.timings) == {"encode", "decode", "fit", "refine", "bookkeeping", "total"}
    parts = sum(v for k, v in res.timings.items() if k != "total")
    assert parts == pytest.approx(res.timings["total"], rel=1e-6)
    assert all(v >= 0 for v in res.timings.values()) and res.timings["total"] <= wall
    assert res.timings["fit"] > 0 and res.timings["decode"] > 0 and res.n_fitted > 0


def test_same_seed_same_equations(model, data3):
    X, y = data3
    cfg = config(budget__max_time=120, budget__max_generations=3, **SMALL)
    a, b = (search(model, X, y, cfg, rng=np.random.default_rng(11)) for _ in range(2))
    # Same skeletons in the same order, same scores to float precision. Fitted constants are not compared
    # bitwise: when constants are not identifiable (e.g. C + (C - C*x0)), the LM end point moves with the
    # last-bit noise of numpy/BLAS reductions, which depends on memory alignment, while the fit does not.
    assert [c.expression.skeleton.to_infix() for c in a.candidates] == [
        c.expression.skeleton.to_infix() for c in b.candidates
    ]
    assert [(c.stage, c.evaluation, c.complexity) for c in a.candidates] == [
        (c.stage, c.evaluation, c.complexity) for c in b.candidates
    ]
    np.testing.assert_allclose([c.score for c in a.candidates], [c.score for c in b.candidates], rtol=1e-9)
    assert a.generations == b.generations == 3 and a.stop == {"max_generations": 3.0}
    assert a.evaluations == b.evaluations and a.best == b.best


def test_candidate_table_invariants(result, data3):
    X, y = data3
    res = result
    assert isinstance(res, SearchResult) and res.n_fitted == len(res.candidates) > 0
    assert len({c.expression.key for c in res.candidates}) == res.n_fitted  # no skeleton fitted twice
    var = float(np.var(y))
    for c in res.candidates:
        assert isinstance(c, Candidate) and c.stage in STAGES and 0 <= c.evaluation <= res.evaluations
        assert math.isfinite(c.score) or c.score == -math.inf
        if math.isfinite(c.score):
            assert c.r2 == pytest.approx(1 - c.mse / var, rel=1e-9, abs=1e-9)
            assert c.score == pytest.approx(c.r2 - res.config.parsimony * c.complexity)
            pred = c.expression.evaluate(X)
            assert np.mean((pred - y) ** 2) == pytest.approx(c.mse, rel=1e-6)
        else:
            assert c.mse == math.inf and c.r2 == -math.inf
        assert c.complexity == c.expression.complexity and not np.any(np.isnan(c.expression.constants))
    scores = [c.score for c in res.candidates]
    assert res.best == int(np.argmax(scores))
    # the front: non-dominated, simplest first, MSE strictly falling
    front = [res.candidates[i] for i in res.front]
    assert len(front) >= 1 and res.front_candidates == front
    for a, b in itertools.pairwise(front):
        assert a.complexity < b.complexity and a.mse > b.mse
    for f in front:
        assert not any(c.complexity <= f.complexity and c.mse < f.mse for c in res.candidates)
    assert 0 <= res.select("best") < res.n_fitted
    assert res.candidates[res.select("accuracy")].mse == min(c.mse for c in res.candidates)  # ties: the simpler


def test_history_and_counters(result):
    res = result
    assert [h["generation"] for h in res.history] == list(range(res.generations + 1))
    assert res.generations == 8 and res.stop == {"max_generations": 8.0}
    assert math.isnan(res.history[0]["sigma"]) and all(h["sigma"] > 0 for h in res.history[1:])
    # the best score so far and the counters never go down (best_r2 is the R² of the best-score candidate: a
    # shorter one can win the score with a lower R²)
    for key in ("best_score", "evaluations", "n_fitted", "elapsed"):
        values = [h[key] for h in res.history]
        assert values == sorted(values), key
    assert res.history[-1]["evaluations"] == res.evaluations
    assert res.n_invalid >= 0 and res.restarts == 0
    stages = {c.stage for c in res.candidates}
    assert "cma" in stages and stages & {"prior", "enumerate"}  # enumeration meets the prior mean's decode first


def test_injected_skeleton_is_recovered(model):
    rng = np.random.default_rng(5)
    X = rng.uniform(-3, 3, (300, 2))
    y = 2.5 * np.sin(1.3 * X[:, 0]) - 0.7
    res = search(model, X, y, config(budget__max_time=30, **SMALL), rng=0,
                 extra_expressions=["C*sin(C*x0) + C", parse("x1 + C")])
    best = res.best_candidate
    assert best.r2 > 0.999999 and best.stage == "seed" and best.evaluation == 0
    assert sorted(np.round(np.abs(best.expression.constants), 6)) == [0.7, 1.3, 2.5]
    assert res.stop == {"target_r2": 0.999999} and res.generations == 0


@pytest.mark.parametrize(
    ("lee", "expected"),
    [
        ({"lee__enabled": False}, set()),
        ({"lee__every": 1, "lee__geval_steps": 0}, {"reencode"}),
        ({"lee__every": 1, "lee__n_reencode": 0, "lee__geval_steps": 3}, {"geval"}),
        ({"lee__every": 2, "lee__n_reencode": 3, "lee__geval_steps": 3}, {"reencode", "geval"}),
    ],
)
def test_refinement_on_and_off(model, data3, lee, expected):
    X, y = data3
    res = search(model, X, y, config(budget__max_time=60, budget__max_generations=4, **SMALL, **lee), rng=1)
    refined = {c.stage for c in res.candidates} & {"reencode", "geval"}
    assert refined <= expected  # a stage may find only cached skeletons, but never runs when off
    if not expected:
        assert res.timings["refine"] == 0.0
    else:
        assert res.timings["refine"] > 0.0
    assert res.generations == 4


def test_restarts_and_gensr_update(model, data3):
    X, y = data3
    cfg = config(budget__max_time=60, budget__max_generations=30, cma__stall_iters=1, cma__max_restarts=2,
                 cma__update="gensr", cma__top_k=4, lee__enabled=False, **SMALL)
    res = search(model, X, y, cfg, rng=2)
    assert res.restarts == 2 and res.stop == {"stall": 1.0}


def test_callback_progress_and_names(model, data3):
    X, y = data3
    seen = []

    def stop_after_two(info):
        seen.append(info)
        return info["generation"] >= 2

    res = search(model, X, y, config(budget__max_time=60, budget__target_r2=2.0, budget__noise_stop=False, **SMALL),
                 rng=0,
                 feature_names=["a", "b", "c"],
                 extra_expressions=["C*a*b + sin(C*c)"], progress=True, callback=stop_after_two)
    assert res.stop == {"callback": 1.0} and res.generations == 2 and len(seen) == 3
    assert isinstance(seen[-1]["best"], Candidate) and res.feature_names == ("a", "b", "c")
    assert res.best_candidate.r2 > 0.999999  # the seed is the truth, with its constant 1.5 fitted


@pytest.mark.parametrize(
    ("X", "y", "kwargs", "match"),
    [
        (np.ones((5, 2)), np.ones(4), {}, "rows but y has"),
        (np.ones(5), np.ones(5), {}, "2-D"),
        (np.ones((5, 2, 1)), np.ones(5), {}, "2-D"),
        (np.ones((5, 2)), np.ones((5, 2)), {}, "1-D"),
        (np.ones((1, 2)), np.ones(1), {}, "at least 2 rows"),
        (np.ones((5, 101)), np.ones(5), {}, "select the most relevant features"),
        (np.ones((5, 0)), np.ones(5), {}, "features"),
        (np.array([[1.0, np.nan], [2.0, 3.0]]), np.ones(2), {}, "finite"),
        (np.ones((3, 2)), np.array([1.0, np.inf, 2.0]), {}, "finite"),
        (np.ones((3, 2)), np.ones(3), {"feature_names": ["a"]}, "feature names"),
        (np.ones((3, 2)), np.ones(3), {"extra_expressions": ["x0 + x2"]}, "x2"),
    ],
)
def test_input_validation(model, X, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        search(model, X, y, config(budget__max_time=1), rng=0, **kwargs)


@pytest.mark.parametrize(
    "bad",
    [{"budget.max_time": 0}, {"budget.max_generations": 0}, {"localise.n_subsets": 0}, {"localise.n_ynoise": -1},
     {"fit.method": "nm"}, {"cma.update": "full"}, {"localise.temperatures": (0.0,)}, {"cma.popsize": 1},
     {"parsimony": -1.0}, {"lee.geval_lr": 0.0}, {"fit.screen_slack": 0.5}, {"enumerate.share": 0.0},
     {"nosection.x": 1}],
)
def test_config_validation(bad):
    with pytest.raises((ValueError, TypeError)):
        SearchConfig().replace(**bad)


def test_device_setting_never_moves_the_callers_model(model, data3):
    X, y = data3
    before = {k: v.clone() for k, v in model.state_dict().items()}
    search(model, X, y, config(budget__max_generations=1, device="cpu", **SMALL), rng=0)
    assert next(model.parameters()).device.type == "cpu"
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # weights and BN stats kept


def test_move_registry_names_sections_and_derives_stages():
    """A move is one class (in MOVES) and one config section: its name is the section, ``enabled`` switches
    it, and the stages it records are where STAGES comes from."""
    from gensr.search.moves import MOVES, STAGES, LatentCMA, build_moves

    sections = [m.name for m in MOVES if m.name != "seeds"]  # the user's seeds have no section
    cfg = SearchConfig().replace(**{f"{name}.enabled": True for name in sections})
    for move in MOVES:
        if move.name != "seeds":
            assert dataclasses.is_dataclass(getattr(cfg, move.name)), move.name
            off = build_moves(cfg.replace(**{f"{move.name}.enabled": False}))
            assert move not in [type(m) for m in off] and len(off) == len(MOVES) - 1
    assert set(STAGES) == {st for m in MOVES for st in m.stages} | {LatentCMA.stage}
    assert [type(m) for m in build_moves(cfg)] == list(MOVES)
    # by default every move runs but the term edits (measured to hurt on noisy data, BENCHMARKS.md §13)
    assert [t.name for t in map(type, build_moves(SearchConfig()))] == [m.name for m in MOVES if m.name != "term_edits"]


def test_moves_offer_latents_instead_of_writing_state(model, data3):
    """Localisation offers the search shape, a LEE round offers its fittest refined latent (an Offer)."""
    from gensr.deadline import Deadline
    from gensr.search.moves import Localise, Offer, Refine
    from gensr.search.state import SearchState

    X, y = data3
    cfg = config(**SMALL)
    state = SearchState(model, X, y, cfg, np.random.default_rng(0), Deadline(600.0))
    shape = Localise(cfg).run(state)
    assert isinstance(shape, Offer) and shape.stds.shape == (model.cfg.latent_dim,) and shape.latent is None
    refined = Refine(cfg).run(state)
    assert isinstance(refined, Offer) and refined.latent.shape == (model.cfg.latent_dim,)
    assert np.isfinite(refined.fitness) and not hasattr(state, "recentre")


def test_the_map_reads_the_most_informative_columns(model):
    """12 columns, y from the last two: the map reads 10 (them among them), decodes come back over the data's
    columns, and only formulas over the map's columns are re-encoded; the scores use every column."""
    from gensr.deadline import Deadline
    from gensr.search.moves import Refine
    from gensr.search.state import SearchState

    rng = np.random.default_rng(0)
    X = rng.uniform(1, 2, (150, 12))  # at most max_points rows: every row is encoded
    y = 2.0 * X[:, 11] * X[:, 10]
    state = SearchState(model, X, y, config(**SMALL), np.random.default_rng(0), Deadline(600.0))
    cols = [int(j) for j in state.map_columns]
    assert len(cols) == 10 and {10, 11} <= set(cols) and cols == sorted(cols)
    assert state.X_enc.shape[1] == 10 and np.array_equal(state.X_enc, X[:, cols])
    assert state.from_map(parse("x0 * x9")).variables == (cols[0], cols[9])
    outside = next(j for j in range(12) if j not in cols)
    assert state.to_map(parse(f"x{outside} + x11")) is None
    assert state.to_map(parse("x10 * x11")).variables == (cols.index(10), cols.index(11))
    for e in state.decode(rng.standard_normal((4, model.cfg.latent_dim)))[0]:
        assert e is None or set(e.variables) <= set(cols)
    wide, inside = parse(f"C*x{outside} + C*x10*x11"), parse("C*x10*x11")  # wide: a column the map lacks
    for e in (wide, inside):
        state.pool.score(e, "seed", 0)
    assert all(c.r2 > 0.999999 for c in state.pool.candidates)  # scored on every column
    state.best_z = np.zeros(model.cfg.latent_dim)
    Refine(config(**SMALL)).run(state)
    assert inside.key in state.reencoded and wide.key not in state.reencoded


def test_more_columns_than_the_map_reads(model):
    rng = np.random.default_rng(1)
    X = rng.uniform(1, 2, (200, 14))
    res = search(model, X, X[:, 13] + 3.0 * X[:, 12], config(budget__max_generations=1, **SMALL), rng=0)
    assert len(res.map_columns) == 10 and res.best_candidate.r2 > 0.999999
    assert set(res.best_candidate.expression.variables) == {12, 13}
