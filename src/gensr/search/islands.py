"""``n_jobs``: several searches (islands) on one fit's deadline, merged into one front.

Island 0 runs in the calling process, with the caller's model, progress bar and callback; islands 1 … k−1
run through joblib at the same time, each a whole :func:`gensr.search.search` with its own seed (PySR's
populations), its own model (:func:`gensr.checkpoint.load_cached`: loaded once per worker process) and one
torch thread. Whatever joblib backend is active runs them: its process pool by default, a Dask cluster under
``with joblib.parallel_backend("dask"):`` (with at least two Dask workers: joblib runs a one-worker
backend's tasks in this process, after island 0). Every island ends at the caller's deadline, passed as wall-clock
times so that it holds in another process, and :func:`merge` makes one :class:`SearchResult` of their
candidates: one per skeleton (the lowest loss), their Pareto front, and the union of the stop reasons.

With ``deterministic=True`` every island is bounded by counts and seeded from the caller's generator, so
a seed and ``n_jobs`` give the same front.

Ctrl-C stops island 0 at once. Islands in worker processes of the same terminal get the signal too and return
what they found; if waiting for them is interrupted again, their results are given up and island 0's kept.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gensr.deadline import Deadline
from gensr.pareto import pareto_front
from gensr.search.driver import SearchResult, search

__all__ = ["island_search", "merge", "parallel_search"]


def island_search(checkpoint: Any, device: str, X: np.ndarray, y: np.ndarray, config: Any, *, seed: int,
                  t0_wall: float, end_wall: float, caller: int, **kwargs: Any) -> SearchResult:
    """One island in a worker: the model from the per-process cache, one torch thread in a process of its own
    (not in the ``caller``'s process, as with threads), and the caller's deadline rebuilt from wall-clock
    times (``t0_wall``: the caller's start, ``end_wall``: its end)."""
    import os

    import torch

    from gensr.checkpoint import load_cached

    if os.getpid() != caller:
        torch.set_num_threads(1)
    model = load_cached(checkpoint, device)
    t0 = time.perf_counter() - (time.time() - t0_wall)
    deadline = Deadline(end_wall - t0_wall, t0=t0, deterministic=config.budget.deterministic)
    return search(model, X, y, config, rng=seed, deadline=deadline, **kwargs)


def parallel_search(model: Any, checkpoint: Any, X: np.ndarray, y: np.ndarray, config: Any, *, n_islands: int,
                    rng: np.random.Generator, deadline: Deadline, progress: bool = False,
                    callback: Callable[[dict[str, Any]], Any] | None = None, **kwargs: Any) -> SearchResult:
    """``n_islands`` searches of (X, y) until ``deadline``, merged (:func:`merge`); ``kwargs`` go to every
    :func:`gensr.search.search` (feature names, seeds, sample weights, loss)."""
    from joblib import Parallel, delayed

    seeds = [int(s) for s in rng.integers(2**62, size=n_islands)]
    t0_wall = time.time() - deadline.elapsed()
    end_wall = time.time() + deadline.remaining()
    device = str(config.device or "cpu")
    # a pool of at least 2: joblib runs n_jobs=1 in this process, after island 0
    others = Parallel(n_jobs=max(2, n_islands - 1), return_as="generator")(
        delayed(island_search)(checkpoint, device, X, y, config, seed=s, t0_wall=t0_wall, end_wall=end_wall,
                               caller=os.getpid(), **kwargs) for s in seeds[1:])
    results = [search(model, X, y, config, rng=seeds[0], deadline=deadline, progress=progress, callback=callback,
                      **kwargs)]
    try:
        results.extend(others)
    except KeyboardInterrupt:
        warnings.warn("interrupted while waiting for the other islands: returning island 0's equations",
                      UserWarning, stacklevel=2)
        results[0].stop["interrupted"] = 1.0
    return merge(results)


def merge(results: Sequence[SearchResult]) -> SearchResult:
    """One result from several islands' on the same data: each skeleton once (the fit with the lowest loss,
    first on ties, found when the first island found it), their Pareto front and best score, summed counts,
    the union of the stop reasons, the histories in time order (each row with its ``island``), and the
    slowest island's timings."""
    if len(results) == 1:
        return results[0]
    import dataclasses

    chosen: dict[tuple[str, ...], Any] = {}
    first: dict[tuple[str, ...], float] = {}
    for res in results:
        for cand in res.candidates:
            key = cand.expression.key
            first[key] = min(first.get(key, math.inf), cand.found_at)
            if key not in chosen or cand.fit_loss < chosen[key].fit_loss:
                chosen[key] = cand
    # the skeleton existed from the first island's fit of it (every island's clock starts at the user's call)
    candidates = tuple(dataclasses.replace(c, found_at=first[k]) for k, c in chosen.items())
    scores = np.array([c.score for c in candidates], dtype=float)
    best = int(np.argmax(scores)) if len(candidates) and np.isfinite(scores).any() else None
    comp = np.array([c.complexity for c in candidates], dtype=float)
    loss = np.array([c.fit_loss for c in candidates], dtype=float)
    front = pareto_front(comp, loss) if candidates else np.zeros(0, dtype=np.int64)
    stop: dict[str, float] = {}
    for res in results:
        stop.update(res.stop)
    slowest = max(results, key=lambda r: r.timings.get("total", 0.0))
    history = sorted(({**row, "island": float(i)} for i, r in enumerate(results) for row in r.history),
                     key=lambda row: row.get("elapsed", 0.0))
    lead = results[0]
    return SearchResult(
        candidates=candidates, best=best, front=front, evaluations=sum(r.evaluations for r in results),
        n_fitted=len(candidates), n_invalid=sum(r.n_invalid for r in results),
        generations=sum(r.generations for r in results), restarts=sum(r.restarts for r in results), stop=stop,
        timings=dict(slowest.timings), history=tuple(history), config=lead.config,
        feature_names=lead.feature_names, n_full_fits=sum(r.n_full_fits for r in results),
        noise_floor=lead.noise_floor, map_columns=lead.map_columns)
