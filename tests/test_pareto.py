"""Tests for gensr.pareto: fronts, selection rules and the GenSR score."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gensr.pareto import RULES, front_scores, pareto_front, score, select_model


def test_front_removes_dominated_points_and_sorts_by_complexity():
    complexity = [5, 1, 3, 3, 2, 7, 4]
    loss = [0.5, 4.0, 2.0, 1.0, 3.0, 0.5, 1.5]
    # 3 (c=3, l=2.0) loses to 3 (c=3, l=1.0); (4, 1.5) is dominated by (3, 1.0); (7, 0.5) by (5, 0.5)
    assert pareto_front(complexity, loss).tolist() == [1, 4, 3, 0]


def test_front_ignores_non_finite_and_handles_empty():
    assert pareto_front([1, 2, 3], [np.nan, np.inf, 1.0]).tolist() == [2]
    assert pareto_front([1, 2], [np.nan, -np.inf]).tolist() == []
    assert pareto_front([], []).dtype == np.int64


def test_front_keeps_first_of_exact_duplicates():
    assert pareto_front([2, 2, 1], [1.0, 1.0, 3.0]).tolist() == [2, 0]


def test_front_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        pareto_front([1, 2], [1.0])


def test_front_scores_follow_pysr():
    scores = front_scores([1, 3, 4], [1.0, 0.1, 0.0])
    assert scores[0] == 0.0
    assert scores[1] == pytest.approx(-math.log(0.1) / 2)
    assert scores[2] == math.inf
    with pytest.raises(ValueError, match="non-negative"):
        front_scores([1, 2], [1.0, -1.0])


# complexity, loss, r2 of a hand-made candidate list: index 3 and 6 are off the front
C = np.array([1, 3, 5, 9, 12, 15, 6])
L = np.array([10.0, 1.0, 0.9, 0.5, 0.45, 0.44, 2.0])
R2 = np.array([0.0, 0.90, 0.91, 0.95, 0.995, 0.996, 0.8])


def test_rule_accuracy_picks_lowest_loss():
    assert select_model(C, L, R2, rule="accuracy") == 5


def test_rule_accuracy_breaks_ties_by_complexity():
    assert select_model([4, 2, 3], [1.0, 1.0, 2.0], rule="accuracy") == 1


def test_rule_best_picks_largest_score_within_loss_factor():
    # front: 0 (1), 1 (3), 2 (5), 3 (9), 4 (12), 5 (15); min loss 0.44, 1.5× → 0.66: members 3, 4, 5.
    # scores: 3: -log(0.5/0.9)/4 = 0.147; 4: -log(0.9)/3 = 0.035; 5: small → 3.
    assert select_model(C, L, R2, rule="best") == 3
    # with a loose factor, member 1 (score -log(0.1)/2 = 1.15) becomes eligible
    assert select_model(C, L, R2, rule="best", loss_factor=100.0) == 1


def test_rule_best_prefers_a_perfect_fit():
    assert select_model([1, 2, 3], [1.0, 0.0, 0.0]) == 1


def test_rule_simplest_uses_r2_floor_and_falls_back_to_accuracy():
    assert select_model(C, L, R2, rule="simplest", r2_floor=0.99) == 4
    assert select_model(C, L, R2, rule="simplest", r2_floor=0.9) == 1
    assert select_model(C, L, R2, rule="simplest", r2_floor=0.999) == 5  # none reaches it
    with pytest.raises(ValueError, match="needs r2"):
        select_model(C, L, rule="simplest")


def test_selection_ignores_invalid_candidates():
    loss = [np.nan, 0.1, np.inf]
    for rule in RULES:
        assert select_model([1, 2, 3], loss, [1.0, 0.99, 1.0], rule=rule, n_constants=[0, 1, 2], n_rows=50) == 1
    with pytest.raises(ValueError, match="finite"):
        select_model([1, 2], [np.nan, np.inf])


def test_unknown_rule_lists_the_options():
    with pytest.raises(ValueError, match="'accuracy', 'balanced', 'best', 'mdl', 'noise', 'simplest', 'validation'"):
        select_model(C, L, R2, rule="pareto")


def test_score_and_gensr_switch():
    assert score(0.9, 10, 1 / 400) == pytest.approx(0.875)
    assert score(0.3, 10, 1 / 400) == pytest.approx(0.275)
    assert score(0.3, 10, 1 / 400, gensr_switch=True) == pytest.approx(0.3)
    assert score(0.6, 10, 1 / 400, gensr_switch=True) == pytest.approx(0.575)
    assert score(-math.inf, 1, 0.01) == -math.inf and score(math.nan, 1, 0.01) == -math.inf
    out = score(np.array([0.2, 0.9]), np.array([4, 4]), 0.01, gensr_switch=True)
    np.testing.assert_allclose(out, [0.2, 0.86])
    assert isinstance(score(0.5, 1, 0.0), float)


losses = st.one_of(
    st.floats(min_value=0.0, max_value=1e6, allow_nan=False),
    st.sampled_from([math.nan, math.inf, 0.0, 1.0]),
)
points = st.lists(st.tuples(st.integers(min_value=1, max_value=30), losses), max_size=40)


@settings(max_examples=200, deadline=None)
@given(points)
def test_no_front_member_is_dominated(pts):
    c = np.array([p[0] for p in pts], dtype=float)
    l = np.array([p[1] for p in pts], dtype=float)
    front = pareto_front(c, l)
    finite = np.flatnonzero(np.isfinite(l))
    assert set(front.tolist()) <= set(finite.tolist())
    for i in front:
        dominated = ((c <= c[i]) & (l < l[i])) | ((c < c[i]) & (l <= l[i]))
        assert not dominated.any()
    # along the front, complexity strictly increases and loss strictly decreases
    assert np.all(np.diff(c[front]) > 0) and np.all(np.diff(l[front]) < 0)
    # every finite point is matched or dominated by a front member
    for j in finite:
        assert np.any((c[front] <= c[j]) & (l[front] <= l[j]))
    if finite.size:
        for rule in RULES:
            chosen = select_model(c, l, np.ones_like(l), rule=rule, n_constants=np.zeros_like(l), n_rows=100)
            assert chosen in finite


def test_balanced_rule_weighs_accuracy_against_nodes():
    from gensr.pareto import select_model

    c, loss, r2 = [1, 3, 9, 15], [1.0, 0.60, 0.45, 0.449], [0.0, 0.40, 0.55, 0.551]  # noisy data
    assert select_model(c, loss, r2, rule="best") == 1  # PySR's rule: the big early drop
    assert select_model(c, loss, r2, rule="balanced") == 2  # 0.15 of R² is worth 6 nodes; 0.001 is not
    with pytest.raises(ValueError, match="needs r2"):
        select_model(c, loss, rule="balanced")
    with pytest.raises(ValueError, match="needs n_constants and n_rows"):
        select_model(c, loss, r2, rule="mdl")


def test_balanced_rule_returns_the_simplest_exact_law():
    from gensr.pareto import select_model

    c, loss, r2 = [3, 5, 7, 11], [0.5, 1e-4, 1e-30, 1e-31], [0.5, 0.9999, 1.0, 1.0]
    assert select_model(c, loss, r2, rule="balanced") == 2  # not the 0.9999 approximation two nodes shorter
