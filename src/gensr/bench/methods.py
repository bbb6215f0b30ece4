"""The benchmarked methods, by registration: adding a method (a peer) is one entry of :data:`METHODS`.

Every method is a function ``fit(X, y, *, time_limit, seed, threads, **options) -> FitOutcome``, named by
its import path (``"package.module:function"``) so that the child process of a fit
(:mod:`gensr.bench.child`) can import it; a :class:`Method` adds default keyword options, which a sweep's
``BenchConfig.options[name]`` extends (e.g. ``{"gensr": {"checkpoint": "runs/x/checkpoint"}}``). A name that
is not registered but contains ``":"`` is taken as such an import path.

``gensr`` is :class:`gensr.GenSRRegressor` with its defaults and ``max_time = time_limit`` (which covers
everything, model loading included); ``gensr-units`` is the same, told the problem's physical units (the
option ``units``: the runner passes ``X_units``/``y_units`` from the problem; the "Feynman with units"
protocol, which SRBench does not have); ``pyoperon``, ``gplearn``, ``rils-rols``, ``hroch``, ``eggp`` and
``qlattice`` are the adapters of :mod:`gensr.bench.peers` (which extra installs which: that package's docstring).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gensr.bench.outcome import FitOutcome


@dataclass(frozen=True)
class Method:
    """A benchmarked method: its fit function's import path and default keyword options."""

    fit: str  # "package.module:function" with fit_gensr's signature
    options: Mapping[str, Any] = field(default_factory=dict)


METHODS: dict[str, Method] = {
    "gensr": Method("gensr.bench.methods:fit_gensr"),
    # a different protocol, never mixed into SRBench tables: gensr told each column's physical units
    "gensr-units": Method("gensr.bench.methods:fit_gensr", {"units": True}),
    "pyoperon": Method("gensr.bench.peers:fit_pyoperon"),
    "gplearn": Method("gensr.bench.peers:fit_gplearn"),
    "rils-rols": Method("gensr.bench.peers:fit_rils_rols"),
    "hroch": Method("gensr.bench.peers:fit_hroch"),
    "eggp": Method("gensr.bench.peers:fit_eggp"),
    "qlattice": Method("gensr.bench.peers:fit_qlattice"),
}


def fit_gensr(X: np.ndarray, y: np.ndarray, *, time_limit: float, seed: int, threads: int = 1,
              checkpoint: str | Path | None = None, search: dict[str, Any] | None = None,
              X_units: Any = None, y_units: str | None = None, **options: Any) -> FitOutcome:
    """Fit :class:`gensr.GenSRRegressor` (defaults, shipped model unless ``checkpoint``) within ``time_limit``.

    ``time_limit`` covers the whole call: importing the estimator (scikit-learn) is taken off ``max_time``,
    which then covers the rest (torch, the model, the search, the front). ``search`` holds dotted
    :class:`~gensr.search.SearchConfig` overrides (``{"budget.plateau": 0}``: JSON-friendly, for sweep
    configs); ``options`` are further estimator parameters (e.g. ``max_generations``).
    """
    import time

    start = time.perf_counter()
    from gensr.estimator import GenSRRegressor

    if search:
        from gensr.search import SearchConfig

        options["search_config"] = SearchConfig().replace(**search)
    left = max(time_limit - (time.perf_counter() - start), 0.05)
    est = GenSRRegressor(checkpoint=checkpoint, max_time=left, random_state=seed, verbose=0, **options)
    est.fit(X, y, X_units=X_units, y_units=y_units)
    result = est.search_result_
    info = {"n_fitted": result.n_fitted, "generations": result.generations, "stop": sorted(result.stop),
            "front_size": len(est.equations_), "equation": str(est.equations_.iloc[est.best_index_]["equation"]),
            "search_s": round(result.timings.get("total", float("nan")), 3),
            "answer_time": round(float(est.equations_.iloc[est.best_index_]["found_at"]), 3),
            "pi_groups": est.pi_groups_}
    return FitOutcome(predict=est.predict, model=est.sympy(),
                      complexity=int(est.equations_.iloc[est.best_index_]["complexity"]),
                      evaluations=int(result.evaluations), info=info)


def resolve(name: str) -> Method:
    """The :class:`Method` of a registered name or of an import path ``"package.module:function"``."""
    if name in METHODS:
        return METHODS[name]
    if ":" in name:
        return Method(name)
    raise ValueError(f"unknown method {name!r}; choose from {list(METHODS)} or give 'package.module:function'")


def get_method(name: str) -> Callable[..., FitOutcome]:
    """The fit function of a registered method name or an import path."""
    import importlib

    module, _, attr = resolve(name).fit.partition(":")
    return getattr(importlib.import_module(module), attr)


def fit_method(name: str, X: np.ndarray, y: np.ndarray, *, time_limit: float, seed: int, threads: int = 1,
               **options: Any) -> FitOutcome:
    """Fit a method by name or import path; ``options`` go to the fit function (e.g. gensr's ``checkpoint``)."""
    return get_method(name)(X, y, time_limit=time_limit, seed=seed, threads=threads, **options)
