"""``n_jobs``: islands on one deadline and one front, on joblib's process pool or a Dask cluster."""

import numpy as np
import pytest

from gensr import GenSRRegressor
from gensr.search import SearchConfig
from gensr.search.islands import merge

FAST = {"max_generations": 3, "deterministic": True, "random_state": 0, "verbose": 0, "max_time": 120,
        "population_size": 8,
        # the local search and the symbolic edits (hundreds of refits a round) are off here; their own tests run them
        "search_config": SearchConfig().replace(**{"local.enabled": False, "edits.enabled": False})}


def _data():
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 3, size=(120, 3))
    return X, np.sin(X[:, 0]) * X[:, 1] + X[:, 2] ** 3


def test_two_islands_make_one_front_and_are_deterministic(tiny_checkpoint):
    X, y = _data()
    one = GenSRRegressor(checkpoint=tiny_checkpoint, **FAST).fit(X, y)
    two = GenSRRegressor(checkpoint=tiny_checkpoint, n_jobs=2, **FAST).fit(X, y)
    again = GenSRRegressor(checkpoint=tiny_checkpoint, n_jobs=2, **FAST).fit(X, y)
    assert list(two.equations_["equation"]) == list(again.equations_["equation"])
    result = two.search_result_
    assert {row["island"] for row in result.history} == {0.0, 1.0}
    assert result.generations == 2 * one.search_result_.generations  # each island ran its own generations
    keys = [c.expression.key for c in result.candidates]
    assert len(keys) == len(set(keys))  # one candidate per skeleton
    best = max(c.score for c in result.candidates)
    assert result.candidates[result.best].score == best


def test_merge_keeps_each_skeletons_lowest_loss(tiny_checkpoint):
    X, y = _data()
    a = GenSRRegressor(checkpoint=tiny_checkpoint, **FAST).fit(X, y).search_result_
    b = GenSRRegressor(checkpoint=tiny_checkpoint, **{**FAST, "random_state": 1}).fit(X, y).search_result_
    merged = merge([a, b])
    lowest = {}
    for c in a.candidates + b.candidates:
        lowest[c.expression.key] = min(lowest.get(c.expression.key, np.inf), c.fit_loss)
    assert {c.expression.key: c.fit_loss for c in merged.candidates} == lowest
    assert merged.evaluations == a.evaluations + b.evaluations


# joblib's Dask backend may report a KeyError from its own weak-reference cleanup when the cluster closes
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_islands_run_on_a_dask_cluster(tiny_checkpoint):
    distributed = pytest.importorskip("distributed")
    import joblib

    X, y = _data()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as stream, joblib.parallel_backend("dask"):
            model = GenSRRegressor(checkpoint=tiny_checkpoint, n_jobs=2, **FAST).fit(X, y)
    assert stream.data  # island 1 ran as a Dask task
    assert {row["island"] for row in model.search_result_.history} == {0.0, 1.0}


def test_odd_islands_run_the_classical_schedule():
    from gensr.search import SearchConfig
    from gensr.search.islands import CLASSICAL, island_config

    base = SearchConfig()
    assert island_config(base, 0) == base == island_config(base, 2)
    odd = island_config(base, 1)
    assert (odd.terms.every, odd.edits.every) == (CLASSICAL["terms.every"], CLASSICAL["edits.every"])
    assert odd.replace(**{"terms.every": base.terms.every, "edits.every": base.edits.every}) == base


def test_bad_n_jobs_is_a_one_line_error():
    X, y = _data()
    with pytest.raises(ValueError, match="n_jobs must be a non-zero integer or None"):
        GenSRRegressor(n_jobs=0, verbose=0).fit(X, y)
