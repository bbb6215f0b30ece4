"""``n_jobs``: several searches (islands) on one fit's deadline, merged into one front.

Island 0 runs in the calling process, with the caller's model, progress bar and callback; islands 1 … k−1
run through joblib at the same time, each a whole :func:`gensr.search.search` with its own seed (PySR's
populations) and, on odd islands, the classical schedule :data:`CLASSICAL` (the terms move every 2
generations, the edits every generation: in a pilot on 8 budget-bound Feynman problems it found 6 of the
default schedule's answers 1.3–7× sooner, BENCHMARKS.md §17), so that the islands complement each other
rather than repeat, its own model (:func:`gensr.checkpoint.load_cached`: loaded once per worker process) and one
torch thread. Whatever joblib backend is active runs them: its process pool by default, a Dask cluster under
``with joblib.parallel_backend("dask"):`` (with at least two Dask workers: joblib runs a one-worker
backend's tasks in this process, after island 0). Every island ends at the caller's deadline, passed as wall-clock
times so that it holds in another process, and :func:`merge` makes one :class:`SearchResult` of their
candidates: one per skeleton (the lowest loss), their Pareto front, and the union of the stop reasons.

With ``deterministic=True`` every island is bounded by counts and seeded from the caller's generator, so
a seed and ``n_jobs`` give the same front.

The first island to find the law (or the noise floor) ends the others after their current generation,
through a stop file on this machine (remote Dask workers run to the deadline); when that island is island 0,
the others are cancelled at once, so an easy law costs no wait for a worker that is still starting. Ctrl-C
(or the user's callback) stops island 0 and cancels the others: island 0's front is returned. A worker that
dies leaves island 0's result, with a warning.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gensr.deadline import Deadline
from gensr.pareto import pareto_front

if TYPE_CHECKING:
    from gensr.search.driver import SearchResult

__all__ = ["CLASSICAL", "island_config", "island_search", "merge", "parallel_search"]

CLASSICAL = {"terms.every": 2, "edits.every": 1}
"""The odd islands' schedule: the classical moves that build on the front (sparse terms over its
subexpressions, single edits) run five and two times as often as in the default schedule."""


def island_config(config: Any, island: int) -> Any:
    """Island ``island``'s settings: ``config`` for even islands, with :data:`CLASSICAL` for odd ones."""
    return config.replace(**CLASSICAL) if island % 2 else config


_ANSWERED = {"target_r2", "noise_floor"}
"""The stop reasons with which an island ends the others: the law, the noise floor (and, on island 0, the
user's callback or Ctrl-C)."""


def island_search(checkpoint: Any, device: str, X: np.ndarray, y: np.ndarray, config: Any, *, seed: int,
                  t0_wall: float, end_wall: float, caller: int, stop_file: str | None = None,
                  deterministic: bool = False, **kwargs: Any) -> SearchResult | None:
    """One island in a worker: the model from the per-process cache, one torch thread in a process of its own (not in
    the ``caller``'s process, as with threads), and the caller's deadline rebuilt from wall-clock times
    (``t0_wall``: the caller's start, ``end_wall``: its end, ``deterministic``: its mode). Once ``stop_file``
    exists (an island found the law), the island stops after its generation, or returns None before it starts;
    when it finds the law itself, it creates the file."""
    if stop_file is not None and os.path.exists(stop_file):
        return None  # before importing torch: another island is done
    import torch

    from gensr.checkpoint import load_cached
    from gensr.search.driver import search

    if os.getpid() != caller:
        torch.set_num_threads(1)
    model = load_cached(checkpoint, device)
    t0 = time.perf_counter() - (time.time() - t0_wall)
    deadline = Deadline(end_wall - t0_wall, t0=t0, deterministic=deterministic)
    stop = _Stop(stop_file, kwargs.pop("callback", None))
    result = search(model, X, y, config, rng=seed, deadline=deadline, callback=stop, **kwargs)
    stop.announce(result)
    return result


class _Stop:
    """An island's callback: the user's (island 0 only), then whether another island found the law (the stop
    file exists). :meth:`announce` creates the file when this island found it."""

    def __init__(self, stop_file: str | None, user: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self.stop_file, self.user, self.by_user, self.by_file = stop_file, user, False, False

    def __call__(self, info: dict[str, Any]) -> bool:
        if self.user is not None and self.user(info):
            self.by_user = True
            return True
        self.by_file = self.stop_file is not None and os.path.exists(self.stop_file)
        return self.by_file

    def answered(self, result: SearchResult) -> bool:
        """Whether this island ended the fit: the law or the noise floor, the user's callback, Ctrl-C."""
        return bool(set(result.stop) & _ANSWERED) or self.by_user or "interrupted" in result.stop

    def announce(self, result: SearchResult) -> None:
        """Create the stop file if this island ended the fit; name the stop ``island`` (not ``callback``)
        if another island's file ended this one."""
        if self.by_file and not self.by_user:
            result.stop.pop("callback", None)
            result.stop["island"] = 1.0
        elif self.stop_file is not None and self.answered(result):
            open(self.stop_file, "w").close()


def parallel_search(model: Any, checkpoint: Any, X: np.ndarray, y: np.ndarray, config: Any, *, n_islands: int,
                    rng: np.random.Generator, deadline: Deadline, progress: bool = False,
                    callback: Callable[[dict[str, Any]], Any] | None = None, **kwargs: Any) -> SearchResult:
    """``n_islands`` searches of (X, y) until ``deadline``, merged (:func:`merge`); ``kwargs`` go to every
    :func:`gensr.search.search` (feature names, seeds, sample weights, loss).

    The first island to find the law (or the noise floor) stops the others after their generation. When
    that is island 0, the others are cancelled at once and island 0's result is returned: the user does not
    wait for a worker that is still starting. Otherwise every island's result is merged."""
    import tempfile

    from joblib import Parallel, delayed

    from gensr.search.driver import search

    # a file reaches worker processes on this machine (remote Dask workers run to the deadline); never in
    # deterministic mode, where every island runs its counts
    folder = None if deadline.deterministic else tempfile.mkdtemp(prefix="gensr-islands-")
    stop_file = None if folder is None else os.path.join(folder, "stop")
    seeds = [int(s) for s in rng.integers(2**62, size=n_islands)]
    t0_wall = time.time() - deadline.elapsed()
    end_wall = time.time() + deadline.remaining()
    device = str(config.device or "cpu")
    # a pool of at least 2: joblib runs n_jobs=1 in this process, after island 0
    others = Parallel(n_jobs=max(2, n_islands - 1), return_as="generator")(
        delayed(island_search)(checkpoint, device, X, y, island_config(config, i), seed=s, t0_wall=t0_wall,
                               end_wall=end_wall, caller=os.getpid(), stop_file=stop_file,
                               deterministic=deadline.deterministic, **kwargs)
        for i, s in enumerate(seeds[1:], start=1))
    stop = _Stop(stop_file, callback)
    results = [search(model, X, y, config, rng=seeds[0], deadline=deadline, progress=progress, callback=stop,
                      **kwargs)]
    stop.announce(results[0])
    try:
        if stop_file is not None and stop.answered(results[0]):
            with warnings.catch_warnings():  # joblib says that it cancelled the running islands
                warnings.simplefilter("ignore")
                others.close()
        else:
            results.extend(r for r in others if r is not None)
    except KeyboardInterrupt:
        warnings.warn("interrupted while waiting for the other islands: returning island 0's equations",
                      UserWarning, stacklevel=2)
        results[0].stop["interrupted"] = 1.0
    except Exception as exc:  # a worker died (Ctrl-C while it started, memory): island 0's result stands
        warnings.warn(f"the other islands failed ({type(exc).__name__}: {str(exc)[:120]}); returning the "
                      f"equations of {len(results)} of {n_islands}", UserWarning, stacklevel=2)
    finally:
        if folder is not None:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
    return merge(results)


def merge(results: Sequence[SearchResult]) -> SearchResult:
    """One result from several islands' on the same data: each skeleton once (the fit with the lowest loss,
    first on ties, found when the first island found it), their Pareto front and best score, summed counts,
    the union of the stop reasons, the histories in time order (each row with its ``island``), and the
    slowest island's timings."""
    from gensr.search.driver import SearchResult

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
