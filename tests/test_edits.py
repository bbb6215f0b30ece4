"""Local symbolic edits: valid, distinct, reproducible neighbours that can reach the nearby right answer."""

import numpy as np

from gensr import parse
from gensr.edits import all_neighbours, neighbours


def test_neighbours_valid_distinct_and_seeded():
    e = parse("C*sin(x0) + x1")
    a = neighbours(e, 3, np.random.default_rng(0), 40)
    b = neighbours(e, 3, np.random.default_rng(0), 40)
    assert [x.prefix for x in a] == [x.prefix for x in b]
    keys = [x.key for x in a]
    assert len(keys) == len(set(keys)) and e.key not in keys and len(a) >= 20
    assert all(set(x.variables) <= {0, 1, 2} for x in a)
    assert all(np.isnan(x.constants).all() for x in a)  # new skeletons: constants unfitted


def test_one_edit_reaches_the_answer():
    target = parse("x0*x1/x2").key
    found = any(x.key == target for x in neighbours(parse("x0*x1/x1"), 3, np.random.default_rng(1), 300,
                                                    max_attempts=3000))
    assert found


def test_all_neighbours_hold_every_random_edit_once():
    e = parse("C*sin(x0) + x1")
    every = all_neighbours(e, 3)
    keys = [x.key for x in every]
    assert len(keys) == len(set(keys)) and e.key not in keys
    drawn = {x.key for x in neighbours(e, 3, np.random.default_rng(0), 500, max_attempts=20000)}
    assert drawn <= set(keys)
    assert [x.key for x in all_neighbours(e, 3)] == keys  # a fixed order
    # only the allowed operators: no new function but sin, no new binary operator but + and ×
    small = all_neighbours(parse("x0*x1"), 2, unary=("sin",), binary=("add", "mul"))
    tokens = {t for x in small for t in x.prefix if not t.startswith("x") and t != "C"}
    assert tokens == {"sin", "add", "mul"}
    assert parse("x0 + x1").key in {x.key for x in small} and parse("sin(x0*x1)").key in {x.key for x in small}
    assert all_neighbours(parse("x0**4 + C"), 1)  # integer leaves (the exponent 4) are neither swapped nor deleted


def test_search_uses_edits(tiny_checkpoint):
    from gensr.checkpoint import load_model
    from gensr.search import SearchConfig, search

    rng = np.random.default_rng(0)
    X = rng.uniform(1, 3, size=(80, 3))
    y = X[:, 0] * X[:, 1] / X[:, 2]
    cfg = SearchConfig().replace(**{"budget.max_time": 20, "budget.max_generations": 2, "cma.popsize": 6,
                                    "localise.n_subsets": 1, "localise.n_ynoise": 0, "localise.n_prior_samples": 4,
                                    "power_law.enabled": False, "terms.enabled": False})  # both would find y at once
    res = search(load_model(tiny_checkpoint), X, y, cfg, rng=0, extra_expressions=["x0*x1/x1"])
    assert any(c.stage == "edit" for c in res.candidates)
    off = search(load_model(tiny_checkpoint), X, y, cfg.replace(**{"edits.enabled": False}), rng=0,
                 extra_expressions=["x0*x1/x1"])
    assert not any(c.stage == "edit" for c in off.candidates)
