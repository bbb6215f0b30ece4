"""eggp (de França & Kronberger, e-graph genetic programming; ``pip install eggp``) behind the
:class:`FitOutcome` contract.

eggp has no published SRBench entry. :data:`EGGP_SETTINGS` are its authors' README example (population 100,
maximum size 15, tournament 5, crossover 0.8, mutation 0.2, MSE, simplified output) with one change for
ground-truth problems, as SRBench's ground-truth overrides do for the other peers: the function set adds
``sin``, ``cos`` and ``sqrt`` to the README's ``add, sub, mul, div, power, exp, log``. A larger ``maxSize``
does not keep the clock: at 25 a 10 s limit ran 16 s, and the final simplification of a 6 s run took 45 s
more. The generation count is unbounded in practice (10⁶) and eggp's own clock stops it: ``max_time`` is
whole seconds, and eggp ends :data:`EGGP_CLOCK_EARLY` seconds before it (measured: 10 → 5.0 s, 20 → 15.0 s,
60 → 55.0 s), so the adapter passes the whole seconds left plus that margin.

eggp runs one thread (its Haskell runtime as built on PyPI). The model is eggp's ``Expression`` of its
lowest-training-loss row (what its ``predict`` uses); complexity is eggp's ``size`` of that row; eggp does
not report evaluations.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from gensr.bench.outcome import FitOutcome
from gensr.bench.peers._common import Predictor, convert, jsonable, training_arrays, whole_seconds_left

EGGP_SETTINGS: dict[str, Any] = {
    "gen": 1_000_000, "nPop": 100, "maxSize": 15, "nTournament": 5, "pc": 0.8, "pm": 0.2,
    "nonterminals": "add,sub,mul,div,power,exp,log,sin,cos,sqrt", "loss": "MSE", "optIter": 50, "optRepeat": 2,
    "simplify": True,
}
EGGP_CLOCK_EARLY = 5  # eggp stops this many seconds before its max_time
_INSTALL = "install it with `pip install eggp` (or `pip install 'gensr[peers]'`)"


def eggp_to_sympy(model: str, n_features: int | None = None) -> Any:
    """eggp's ``Expression`` (infix over ``x0 …``, ``^`` for powers, capitalised functions) as sympy."""
    import sympy

    from gensr.bench.parsing import _indexed_symbols, parse

    functions = {"Sin": sympy.sin, "Cos": sympy.cos, "Exp": sympy.exp, "Log": sympy.log, "Sqrt": sympy.sqrt,
                 "Abs": sympy.Abs, "Tanh": sympy.tanh, "Square": lambda a: a**2, "Cube": lambda a: a**3,
                 "Recip": lambda a: 1 / a}
    return parse(model.replace("^", "**"), {**functions, **_indexed_symbols(model, "x", n_features)})


def fit_eggp(X: np.ndarray, y: np.ndarray, *, time_limit: float, seed: int, threads: int = 1,
             max_generations: int | None = None) -> FitOutcome:
    """Fit eggp (:data:`EGGP_SETTINGS`) within ``time_limit`` seconds of its own clock.

    eggp takes no seed (``seed`` is recorded); ``threads`` is recorded, eggp runs one. ``max_generations``
    (default: the settings' 10⁶) bounds the work for tests.
    """
    start = time.perf_counter()
    try:
        from eggp import EGGP
    except ImportError as exc:
        raise ImportError(f"fit_eggp needs eggp; {_INSTALL}") from exc

    X, y = training_arrays(X, y)
    params = {**EGGP_SETTINGS, "max_time": whole_seconds_left(time_limit, start) + EGGP_CLOCK_EARLY}
    if max_generations is not None:
        params["gen"] = int(max_generations)
    est = EGGP(**params)
    est.fit(X, y)
    best = est._best_row()  # the row eggp's predict uses (lowest training loss)
    info: dict[str, Any] = {"fit_s": round(time.perf_counter() - start, 3), "seed_unused": int(seed),
                            "threads_requested": int(threads), "settings": jsonable(params),
                            "front_size": len(est.results), "raw_model": str(best.Expression)[:2000]}
    predict = Predictor(est)
    model = convert(lambda: eggp_to_sympy(str(best.Expression), X.shape[1]), predict(X), X, info)
    return FitOutcome(predict=predict, model=model, complexity=int(best["size"]), evaluations=None, info=info)
