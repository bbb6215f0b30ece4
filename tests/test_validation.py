"""Selection by internal validation (gensr.validation, select_model's "validation" rule and its use by "noise")."""

import numpy as np
import pytest

from gensr.formula import parse
from gensr.pareto import select_model
from gensr.validation import cross_validate, validator


def _noisy_line(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    return X, 2.0 * X[:, 0] + 1.0 + rng.normal(0, 0.3, n)


def test_held_out_loss_prefers_the_law_to_an_overfit_and_an_underfit():
    X, y = _noisy_line()
    forms = [parse("1.0"), parse("2*x0 + 1"), parse("2*x0 + 1 + 0.1*sin(30*x1) + 0.1*cos(40*x1) + 0.1*x1**5")]
    mean, se = cross_validate(forms, X, y)
    assert mean[1] < mean[0] and np.all(se > 0)
    assert abs(mean[1] - 0.09) < 0.02  # the noise variance
    i = select_model([1, 5, 25], [1.4, 0.089, 0.087], [0.0, 0.94, 0.9405], rule="validation",
                     validation=validator(forms, X, y))
    assert i == 1  # the overfit's extra terms do not beat the law by a standard error on held-out rows


def test_a_deadline_leaves_the_rest_out_and_the_rule_falls_back():
    from gensr.deadline import Deadline

    X, y = _noisy_line()
    mean, se = cross_validate([parse("2*x0 + 1")] * 3, X, y, deadline=Deadline(0.0))
    assert np.all(np.isinf(mean)) and np.all(np.isinf(se))
    calls = []

    def nothing(idx):
        calls.append(list(idx))
        return np.full(len(idx), np.inf), np.full(len(idx), np.inf)

    c, loss, r2 = [1, 3, 9], [1.0, 0.5, 0.45], [0.0, 0.5, 0.55]
    assert select_model(c, loss, r2, rule="validation", validation=nothing, n_constants=[1, 2, 4],
                        n_rows=100) == select_model(c, loss, r2, rule="mdl", n_constants=[1, 2, 4], n_rows=100)
    assert calls == [[2, 1, 0]]  # asked once, the most accurate first


def test_noise_rule_validates_only_where_the_floor_is_unresolved_and_nothing_is_exact():
    calls = []

    def last(idx):
        calls.append(len(idx))
        return np.where(np.asarray(idx) == 2, 0.0, 1.0), np.full(len(idx), 0.01)

    c, loss, r2 = [1, 3, 9], [1.0, 0.5, 0.45], [0.0, 0.5, 0.55]
    kw = dict(rule="noise", n_constants=[1, 2, 4], n_rows=100, validation=last)
    assert select_model(c, loss, r2, noise=(0.0, 1.0, 100), **kw) == 2 and calls == [3]  # unresolved: held-out
    assert select_model(c, loss, r2, noise=(0.5, 0.01, 100), **kw) == 1 and calls == [3]  # resolved: the floor
    assert select_model(c, [1.0, 0.5, 0.0], [0.0, 0.5, 1.0], noise=(0.0, 1.0, 100), **kw) == 2 and calls == [3]


def test_the_estimator_selects_by_held_out_rows(tiny_checkpoint, monkeypatch):
    import gensr.validation
    from gensr import GenSRRegressor
    from gensr.search import SearchConfig

    seen = []
    real = gensr.validation.cross_validate
    monkeypatch.setattr(gensr.validation, "cross_validate", lambda e, *a, **k: seen.append(len(e)) or real(e, *a, **k))
    X, y = _noisy_line(200)
    est = GenSRRegressor(checkpoint=tiny_checkpoint, model_selection="validation", max_generations=2,
                         population_size=8, max_time=20.0, random_state=0, verbose=0,
                         search_config=SearchConfig().replace(**{"local.enabled": False})).fit(X, y)
    assert seen == [len(est.equations_)]  # the whole front, once, in user units
    mean, _ = real(list(est.equations_["expression"]), X, y)
    assert mean[est.best_index_] < 2 * mean.min() and est.score(X, y) > 0.9


def test_ctrl_c_during_the_refits_keeps_the_choice(monkeypatch):
    import gensr.validation

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(gensr.validation, "cross_validate", interrupted)
    X, y = _noisy_line()
    c, loss, r2 = [1, 3, 9], [1.0, 0.5, 0.45], [0.0, 0.5, 0.55]
    with pytest.warns(UserWarning, match="interrupted during the held-out refits"):
        i = select_model(c, loss, r2, rule="validation", validation=validator([parse("1.0")] * 3, X, y),
                         n_constants=[1, 2, 4], n_rows=100)
    assert i == select_model(c, loss, r2, rule="mdl", n_constants=[1, 2, 4], n_rows=100)
