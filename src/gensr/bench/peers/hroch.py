"""HROCH (Pigoš, ``pip install HROCH``): a C++ hill-climber with least-squares constants, one thread.

Settings (:data:`HROCH_SETTINGS`): the package's defaults with ``num_threads = 1`` and ``time_limit`` set per
call, as in its authors' time-limited SRBench entries (``HROCH_1s`` … ``HROCH_5m`` in janoPig/HROCH's
benchmark workflow, which fit unscaled data: ``scale_x``/``scale_y`` False). ``random_state`` is the seed.

HROCH 1.4.12 calls ``BaseEstimator._validate_data`` and reads ``_estimator_type``, which scikit-learn 1.6
removed: a user of scikit-learn ≥ 1.6 meets ``AttributeError`` on ``fit``. :func:`hroch_regressor` returns a
subclass that restores both (through ``sklearn.utils.validation.validate_data``); nothing else changes.

HROCH's library is built with ``-ffast-math``: importing HROCH switches the process's floating point to
flush-to-zero (subnormal numbers read as 0, which breaks ``hypothesis`` and any numerics that rely on them).
The bench fits every method in a child process (:mod:`gensr.bench.child`), so gensr's own process never
imports it; do the same in your own code.

Complexity is the node count of the sympy form of HROCH's ``sexpr_`` (SRBench's count for HROCH); HROCH does
not report evaluations.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import numpy as np

from gensr.bench.outcome import FitOutcome
from gensr.bench.peers._common import Predictor, convert, jsonable, training_arrays

HROCH_SETTINGS: dict[str, Any] = {"num_threads": 1, "iter_limit": 0}  # the rest: HROCH's defaults
_INSTALL = "install it with `pip install HROCH` (or `pip install 'gensr[peers]'`)"


@functools.cache
def hroch_regressor() -> type:
    """``HROCH.SymbolicRegressor`` with scikit-learn ≥ 1.6's removed ``_validate_data``/``_estimator_type``."""
    from HROCH import SymbolicRegressor
    from sklearn.utils.validation import validate_data

    class Regressor(SymbolicRegressor):
        _estimator_type = "regressor"

        def _validate_data(self, X: Any, y: Any = "no_validation", reset: bool = True, **kwargs: Any) -> Any:
            return validate_data(self, X, y, reset=reset, **kwargs)

    Regressor.__name__ = Regressor.__qualname__ = "SymbolicRegressor"
    return Regressor


def hroch_to_sympy(model: str, n_features: int | None = None) -> Any:
    """HROCH's ``sexpr_`` (infix over ``x0 …``, Python operators, the function names of its ``math`` set) as sympy."""
    import sympy

    from gensr.bench.parsing import _indexed_symbols, parse

    functions = {name: getattr(sympy, name) for name in ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh",
                                                          "tanh", "exp", "log", "sqrt", "cbrt", "floor", "ceiling")}
    functions.update({"abs": sympy.Abs, "pow": sympy.Pow, "ceil": sympy.ceiling, "max": sympy.Max, "min": sympy.Min})
    return parse(model.replace("^", "**"), {**functions, **_indexed_symbols(model, "x", n_features)})


def fit_hroch(X: np.ndarray, y: np.ndarray, *, time_limit: float, seed: int, threads: int = 1,
              max_iterations: int | None = None) -> FitOutcome:
    """Fit HROCH (:data:`HROCH_SETTINGS`) within ``time_limit`` seconds of its own clock.

    HROCH gets ``time_limit`` less the time already spent (the import), and runs one thread whatever
    ``threads`` says (SRBench's one-core protocol; ``threads`` is recorded). ``max_iterations`` (HROCH's
    ``iter_limit``; default: none) bounds the work for tests.
    """
    start = time.perf_counter()
    try:
        regressor = hroch_regressor()
    except ImportError as exc:
        raise ImportError(f"fit_hroch needs HROCH; {_INSTALL}") from exc
    from gensr.bench.metrics import node_count

    X, y = training_arrays(X, y)
    left = max(time_limit - (time.perf_counter() - start), 0.1)
    params = {**HROCH_SETTINGS, "time_limit": left, "random_state": int(seed)}
    if max_iterations is not None:
        params["iter_limit"] = int(max_iterations)
    est = regressor(**params)
    est.fit(X, y)
    info: dict[str, Any] = {"fit_s": round(time.perf_counter() - start, 3), "threads_requested": int(threads),
                            "settings": jsonable(params), "raw_model": str(est.sexpr_)[:2000]}
    predict = Predictor(est)
    model = convert(lambda: hroch_to_sympy(str(est.sexpr_), X.shape[1]), predict(X), X, info)
    return FitOutcome(predict=predict, model=model, complexity=node_count(model) if model is not None else 0,
                      evaluations=None, info=info)
