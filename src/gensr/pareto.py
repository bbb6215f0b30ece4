"""Accuracy–complexity Pareto fronts, model selection rules and the GenSR fitness.

- :func:`pareto_front`: the non-dominated candidates in (complexity, loss), both minimised.
- :func:`front_scores` and :func:`select_model`: PySR-style ``model_selection`` ("accuracy", "best",
  "simplest", and gensr's own) over arrays of complexities, losses and R² (``"validation"`` also calls back
  for held-out losses, :mod:`gensr.validation`).
- :func:`score`: GenSR's fitness R² − parsimony·complexity (``docs/method.md`` §5.3), with the
  released code's R² < 0.5 switch as an option.

Everything works on plain arrays, one entry per candidate; the caller keeps the candidates themselves
(expressions, constants) and indexes them with the returned indices. The module is independent of the
grammar and of the search.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from gensr.noise import NoiseFloor

__all__ = ["BALANCE", "HELD_OUT_SE", "NODE_NATS", "RULES", "description_length", "front_scores", "pareto_front",
           "score", "select_model"]

RULES = ("accuracy", "balanced", "best", "mdl", "noise", "simplest", "validation")
"""Names accepted by :func:`select_model`."""

BALANCE = 0.001
"""The ``balanced`` rule's price of a node in R² (:func:`select_model`'s ``balance``)."""

HELD_OUT_SE = 1.0
"""The ``validation`` rule's tolerance in standard errors of the best held-out loss (the one-standard-error
rule of Hastie, Tibshirani and Friedman, §7.10: a simpler formula within it is as good on unseen rows)."""

NODE_NATS = 3.0
"""The ``mdl`` rule's price of a node in nats: about log(20), the choices a node has among the operators and
a few inputs (Bartlett et al. 2023's structure code, simplified)."""


def description_length(complexity: np.ndarray, loss: np.ndarray, n_constants: np.ndarray, n_rows: int,
                       power: float = 2.0) -> np.ndarray:
    """Two-part code length in nats (lower is better): n/p·log(loss) for the residuals (p = 2: the MSE under
    Gaussian noise; p = 1: the mean absolute error under Laplace noise), k/2·log(n) for k fitted constants
    (BIC's price), and :data:`NODE_NATS` per node for the structure.

    >>> description_length(np.array([3, 8]), np.array([24.0, 1.0]), np.array([1, 1]), 500).round(1).tolist()
    [806.6, 27.1]
    """
    c, l, k = (np.asarray(a, dtype=np.float64) for a in (complexity, loss, n_constants))
    with np.errstate(divide="ignore", invalid="ignore"):
        return n_rows / power * np.log(np.maximum(l, 1e-300)) + 0.5 * k * math.log(max(n_rows, 2)) + NODE_NATS * c


def _as_1d(name: str, a: object) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _check_lengths(**arrays: np.ndarray) -> None:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"arrays must have the same length, got {lengths}")


def pareto_front(complexity: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated candidates, sorted by increasing complexity.

    A candidate is kept iff no other candidate has complexity ``<=`` and loss ``<`` its own, or
    complexity ``<`` and loss ``<=``. Among equal (complexity, loss) duplicates the first index is kept;
    at equal complexity only the lowest loss survives; a more complex candidate with the same loss as a
    simpler one is dropped. Candidates with a non-finite loss or complexity are ignored. Along the
    returned front, complexity strictly increases and loss strictly decreases.

    Parameters
    ----------
    complexity, loss : array-like of shape (n,)

    Returns
    -------
    np.ndarray of int64, shape (m,), m <= n (m = 0 if no candidate is finite).

    >>> pareto_front([1, 2, 2, 3, 5], [4.0, 3.0, 2.0, 2.0, 0.5]).tolist()
    [0, 2, 4]
    """
    c = _as_1d("complexity", complexity)
    l = _as_1d("loss", loss)
    _check_lengths(complexity=c, loss=l)
    idx = np.flatnonzero(np.isfinite(c) & np.isfinite(l))
    if idx.size == 0:
        return np.zeros(0, dtype=np.int64)
    idx = idx[np.lexsort((idx, l[idx], c[idx]))]  # by complexity, then loss, then index
    ls = l[idx]
    best_before = np.minimum.accumulate(np.concatenate(([np.inf], ls[:-1])))
    return idx[ls < best_before].astype(np.int64)


def front_scores(complexity: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """PySR's score along a front: ``-Δlog(loss)/Δcomplexity`` relative to the previous member.

    ``complexity`` and ``loss`` describe the front members in order (as returned by :func:`pareto_front`):
    complexity strictly increasing, loss decreasing and ``>= 0``. The first member scores 0; a member
    with loss 0 scores ``inf`` (as in PySR).
    """
    c = _as_1d("complexity", complexity)
    l = _as_1d("loss", loss)
    _check_lengths(complexity=c, loss=l)
    if np.any(l < 0):
        raise ValueError("front_scores needs non-negative losses (the log-loss ratio is undefined otherwise)")
    scores = np.zeros(len(l))
    if len(l) > 1:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.log(l[1:]) - np.log(l[:-1])
            scores[1:] = np.where(l[1:] == 0, np.inf, -ratio / np.diff(c))
    return scores


def select_model(
    complexity: np.ndarray,
    loss: np.ndarray,
    r2: np.ndarray | None = None,
    *,
    rule: str = "best",
    r2_floor: float = 0.99,
    loss_factor: float = 1.5,
    balance: float = BALANCE,
    noise: NoiseFloor | tuple[float, float, int] | None = None,
    z: float = 2.0,
    n_constants: np.ndarray | None = None,
    n_rows: int | None = None,
    power: float = 2.0,
    validation: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
) -> int:
    """Index of the candidate chosen by ``rule``, PySR's ``model_selection`` on arrays.

    Rules
    -----
    ``"accuracy"``
        The lowest finite loss; ties go to the lower complexity, then the lower index.
    ``"best"``
        PySR's default. Among the :func:`pareto_front` members whose loss is ``<= loss_factor × min loss``
        (PySR: 1.5), the one with the largest :func:`front_scores` score, i.e. the largest drop in
        log-loss per unit of complexity relative to the *previous front member* (which may itself be
        outside the loss filter). Ties go to the simpler member. Losses must be ``>= 0``.
    ``"balanced"``
        Accuracy-weighted: the largest ``r2 − balance·complexity`` (default: an extra node must buy 0.001
        of R²); ties go to the simpler. If some candidate is exact to float precision (R² ≥ 1 − 1e-10), the
        simplest exact one is chosen: there is no accuracy left to trade. Needs ``r2``. Unlike ``"best"``,
        a big early drop in loss does not win over a later member that is much more accurate, which
        matters on noisy real data (measured: BENCHMARKS.md §8).
    ``"simplest"``
        The lowest complexity among candidates with a finite loss and ``r2 >= r2_floor`` (ties: lower
        loss); if none reaches the floor, falls back to ``"accuracy"``. Needs ``r2``. The default floor
        0.99 is GenSR's success threshold.
    ``"mdl"``
        The shortest two-part description of the data (:func:`description_length`: residuals, fitted
        constants and nodes, over ``n_rows`` rows), or the simplest candidate exact to float precision when
        there is one. Needs ``r2``, ``n_constants`` and ``n_rows``. An information criterion, so the price of
        a term scales with the evidence for it: a term that lowers the MSE 24-fold over 500 rows is kept,
        where ``"balanced"``'s fixed 0.001 of R² per node dropped it.
    ``"noise"``
        The simplest candidate statistically indistinguishable from the best, given the data's noise floor ``noise``
        (a :class:`gensr.noise.NoiseFloor`, or its fields σ², standard error and rows n): the lowest complexity with
        loss ≤ m + z·√(se² + 2m²/n), m = max(lowest loss, σ²) (:meth:`~gensr.noise.NoiseFloor.tolerance`; the second
        term is the sampling error of an MSE over n rows). ``"mdl"`` instead (``"balanced"`` without
        ``n_constants``) when the floor is not resolved (σ² ≤ 3·se, :data:`gensr.noise.RESOLVED_Z`: the data look
        noise-free, or the floor is too uncertain to trust), when some candidate is exact to float precision, or
        when a candidate beats the floor by more than z·se (the floor is then overestimated, as with many inputs and
        few rows); where the floor is not resolved and nothing is exact, ``"validation"`` when ``validation`` is
        given.
    ``"validation"``
        The one-standard-error rule on held-out losses: the simplest candidate whose mean held-out loss is
        within one standard error of the lowest, ``validation(indices) -> (means, standard errors)``
        (:func:`gensr.validation.validator`: k-fold refits on the training rows). The simplest exact candidate
        when there is one; ``"mdl"`` (as for ``"noise"``) when no candidate has a finite held-out loss or
        there is no ``validation``.

    Parameters
    ----------
    complexity, loss : array-like of shape (n,)
        Non-finite losses mark invalid candidates, never selected.
    r2 : array-like of shape (n,), optional
        Read by ``"simplest"`` (which requires it), ``"balanced"``, ``"mdl"`` and the exactness tests.
    power : float
        The loss's degree in the residuals, for ``"mdl"``'s code length (2 for the MSE, 1 for the mean
        absolute error).
    validation : callable, optional
        ``validation(indices) -> (mean held-out losses, their standard errors)`` of those candidates, called
        at most once, with the candidates most accurate first (``inf`` marks one left out or failed).

    Returns
    -------
    int
        Index into the input arrays.

    Raises
    ------
    ValueError
        Unknown rule, mismatched lengths, or no candidate with a finite loss and complexity.

    >>> c, l = [1, 3, 5, 9], [10.0, 1.0, 0.9, 0.8]
    >>> select_model(c, l, rule="accuracy"), select_model(c, l, rule="best")
    (3, 1)
    """
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; expected one of {', '.join(map(repr, RULES))}")
    c = _as_1d("complexity", complexity)
    l = _as_1d("loss", loss)
    _check_lengths(complexity=c, loss=l)
    valid = np.isfinite(c) & np.isfinite(l)
    if not valid.any():
        raise ValueError("no candidate has a finite loss and complexity")
    idx = np.flatnonzero(valid)
    r = None
    if rule in ("simplest", "balanced", "noise", "mdl", "validation") and r2 is not None:  # the rules reading R²
        r = _as_1d("r2", r2)
        _check_lengths(complexity=c, r2=r)
    fallback = "mdl" if n_constants is not None and n_rows is not None else "balanced"  # noise, validation
    if rule == "noise":
        floor = NoiseFloor(0.0, math.inf, 1) if noise is None else NoiseFloor(*noise)
        lowest = float(l[idx].min())
        exact = r is not None and bool(np.any(r[idx] >= 1 - 1e-10))
        # trusted only when resolved (as everywhere: RESOLVED_Z standard errors; with 2, a floor of ±40 % that
        # the forest never checked picked 19-node underfits on 10-input Friedman sets), when nothing is exact,
        # and when no formula beats it by more than its error
        if floor.resolved() and not exact and not floor.beaten(lowest, z):
            ok = idx[l[idx] <= floor.tolerance(lowest, z)]
            return int(ok[np.lexsort((ok, l[ok], c[ok]))[0]])
        rule = "validation" if not floor.resolved() and validation is not None else fallback
    if rule == "validation":
        with np.errstate(invalid="ignore"):
            exact = r is not None and bool(np.any(r[idx] >= 1 - 1e-10))
        if validation is not None and not exact:
            order = idx[np.lexsort((idx, l[idx]))]  # the most accurate first: a deadline leaves out the rest
            mean, se = (np.asarray(a, dtype=np.float64) for a in validation(order))
            ok = np.isfinite(mean)
            if ok.any():
                best = int(np.flatnonzero(ok)[np.argmin(mean[ok])])
                near = order[ok & (mean <= mean[best] + HELD_OUT_SE * se[best])]
                return int(near[np.lexsort((near, l[near], c[near]))[0]])
        rule = fallback
    if rule in ("simplest", "balanced", "mdl") and r is None:
        raise ValueError(f"rule={rule!r} needs r2")
    if rule == "mdl":
        if n_constants is None or n_rows is None:
            raise ValueError("rule='mdl' needs n_constants and n_rows")
        k = _as_1d("n_constants", n_constants)
        _check_lengths(complexity=c, n_constants=k)
        with np.errstate(invalid="ignore"):
            exact = idx[r[idx] >= 1 - 1e-10]
        if exact.size:
            return int(exact[np.lexsort((exact, l[exact], c[exact]))[0]])
        dl = description_length(c[idx], l[idx], k[idx], n_rows, power)
        return int(idx[np.lexsort((idx, c[idx], dl))[0]])

    if rule == "simplest":
        with np.errstate(invalid="ignore"):
            ok = idx[r[idx] >= r2_floor]
        if ok.size:
            return int(ok[np.lexsort((ok, l[ok], c[ok]))[0]])
        rule = "accuracy"

    if rule == "balanced":
        with np.errstate(invalid="ignore"):
            exact = idx[r[idx] >= 1 - 1e-10]
            value = np.where(np.isfinite(r[idx]), r[idx] - balance * c[idx], -np.inf)
        if exact.size:
            return int(exact[np.lexsort((exact, l[exact], c[exact]))[0]])
        return int(idx[np.lexsort((idx, c[idx], -value))[0]])

    if rule == "accuracy":
        return int(idx[np.lexsort((idx, c[idx], l[idx]))[0]])

    front = pareto_front(c, l)
    scores = front_scores(c[front], l[front])
    keep = l[front] <= loss_factor * l[front].min()
    candidates = front[keep]
    return int(candidates[np.argmax(scores[keep])])  # argmax takes the first (simplest) among ties


def score(
    r2: float | np.ndarray,
    complexity: float | np.ndarray,
    parsimony: float,
    *,
    gensr_switch: bool = False,
    switch_r2: float = 0.5,
) -> float | np.ndarray:
    """GenSR fitness: ``R² − parsimony·complexity`` (higher is better).

    With ``gensr_switch=True``, candidates with ``R² < switch_r2`` (0.5 in the released code) score their
    bare R², without the complexity penalty (``docs/method.md`` §5.3). The released code uses
    ``parsimony = 1/400`` and clips R² at 0 before scoring; pass ``np.maximum(r2, 0)`` to reproduce that.
    Non-finite (NaN or −inf) R² scores ``-inf``. Scalars in, float out; arrays in, array out.

    >>> score(0.9, 10, 0.0025), score(0.3, 10, 0.0025, gensr_switch=True)
    (0.875, 0.3)
    """
    r = np.asarray(r2, dtype=np.float64)
    comp = np.asarray(complexity, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        penalised = r - parsimony * comp
        out = np.where(r < switch_r2, r, penalised) if gensr_switch else penalised
        out = np.where(np.isfinite(r), out, -np.inf)
    return float(out) if out.ndim == 0 else out
