"""The benchmarked methods behind one signature: ``fit(X, y, *, time_limit, seed, threads) -> FitOutcome``.

``gensr`` is :class:`gensr.GenSRRegressor` with its defaults and ``max_time = time_limit`` (which covers
everything, model loading included); ``pyoperon`` and ``gplearn`` are the adapters of
:mod:`gensr.bench.peers` (the ``gensr[peers]`` extra).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gensr.bench.outcome import FitOutcome

METHODS = ("gensr", "pyoperon", "gplearn")


def fit_gensr(X: np.ndarray, y: np.ndarray, *, time_limit: float, seed: int, threads: int = 1,
              checkpoint: str | Path | None = None, **options: Any) -> FitOutcome:
    """Fit :class:`gensr.GenSRRegressor` (defaults, shipped model unless ``checkpoint``) within ``time_limit``.

    ``time_limit`` covers the whole call: importing the estimator (scikit-learn) is taken off ``max_time``,
    which then covers the rest (torch, the model, the search, the front). ``options`` are further estimator
    parameters (e.g. ``max_generations``).
    """
    import time

    start = time.perf_counter()
    from gensr import GenSRRegressor

    left = max(time_limit - (time.perf_counter() - start), 0.05)
    est = GenSRRegressor(checkpoint=checkpoint, max_time=left, random_state=seed, verbose=0, **options)
    est.fit(X, y)
    result = est.search_result_
    info = {"n_fitted": result.n_fitted, "generations": result.generations, "stop": sorted(result.stop),
            "front_size": len(est.equations_), "equation": str(est.equations_.iloc[est.best_index_]["equation"]),
            "search_s": round(result.timings.get("total", float("nan")), 3)}
    return FitOutcome(predict=est.predict, model=est.sympy(),
                      complexity=int(est.equations_.iloc[est.best_index_]["complexity"]),
                      evaluations=int(result.evaluations), info=info)


def get_method(name: str) -> Callable[..., FitOutcome]:
    """The fit function of a method name in :data:`METHODS`."""
    if name == "gensr":
        return fit_gensr
    if name in ("pyoperon", "gplearn"):
        from gensr.bench import peers

        return getattr(peers, f"fit_{name}")
    if ":" in name:  # "package.module:function": a method of your own, with fit_gensr's signature
        import importlib

        module, _, attr = name.partition(":")
        return getattr(importlib.import_module(module), attr)
    raise ValueError(f"unknown method {name!r}; choose from {METHODS} or give 'package.module:function'")


def fit_method(name: str, X: np.ndarray, y: np.ndarray, *, time_limit: float, seed: int, threads: int = 1,
               **options: Any) -> FitOutcome:
    """Dispatch to :func:`get_method`; ``options`` go to the method (e.g. gensr's ``checkpoint``)."""
    return get_method(name)(X, y, time_limit=time_limit, seed=seed, threads=threads, **options)
