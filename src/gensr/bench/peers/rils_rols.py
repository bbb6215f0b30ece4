"""RILS-ROLS (Kartelj & Djukanović, J. Big Data 2023) behind the :class:`FitOutcome` contract."""

from __future__ import annotations

import contextlib
import io
import time
import warnings
from typing import Any

import numpy as np

from gensr.bench.outcome import FitOutcome
from gensr.bench.peers._common import Predictor, convert, jsonable, training_arrays, whole_seconds_left

# RILS-ROLS (Kartelj & Djukanović, J. Big Data 2023), the settings of its authors' SRBench entry for
# ground-truth problems (janoPig/srbench ``experiment/methods/RILS-ROLS_1m.py`` and the ``RILSROLSRegressor``
# defaults of 1.6.7): up to 1,000,000 fitness calls, ``max_complexity`` 50, ``complexity_penalty`` 0.001,
# the whole training sample (``sample_size`` 1; its automatic choice, 0, also takes all rows up to 10,000).
RILS_ROLS_SETTINGS: dict[str, Any] = {"max_fit_calls": 1_000_000, "max_complexity": 50, "complexity_penalty": 0.001,
                                      "sample_size": 1}
_RILS_INSTALL = ("RILS-ROLS builds from source and imports pybind11 without declaring it: `pip install pybind11` "
                 "then `pip install --no-build-isolation rils-rols`")


def _rils_functions() -> dict[str, Any]:
    """The functions RILS-ROLS's C++ printer writes (``ln``, ``pow``, ``sqrt`` …), in sympy."""
    import sympy

    return {"sin": sympy.sin, "cos": sympy.cos, "ln": sympy.log, "exp": sympy.exp, "sqrt": sympy.sqrt,
            "pow": sympy.Pow}


def rils_rols_to_sympy(model: str, n_features: int | None = None) -> Any:
    """RILS-ROLS's raw model string (``get_model_string``: fully parenthesised infix over ``x0 …``, ``ln``,
    ``pow(a,b)``, ``((a)**2)``) as sympy. The raw string is used rather than the package's ``model_string()``,
    which is the output of ``sympy.simplify`` run in a thread with a 2 s timeout (a timed-out simplification
    keeps running in the background)."""
    from gensr.bench.parsing import _indexed_symbols, parse

    return parse(model, {**_rils_functions(), **_indexed_symbols(model, "x", n_features)})


def fit_rils_rols(X: np.ndarray, y: np.ndarray, *, time_limit: float, seed: int, threads: int = 1) -> FitOutcome:
    """Fit RILS-ROLS (:data:`RILS_ROLS_SETTINGS`) within ``time_limit`` seconds of its own clock.

    RILS-ROLS is single-threaded (``threads`` is recorded, not used). Its clock takes whole seconds:
    ``max_time = floor(time_limit - time spent so far)``, at least 1. ``random_state`` is ``seed + 1``, since
    0 means "unseeded" to RILS-ROLS. Complexity is the node count of the parsed raw model (0 when it does not
    parse; the reason is in ``info["model_error"]``); evaluations are its fitness calls.
    """
    start = time.perf_counter()
    try:
        from rils_rols.rils_rols import RILSROLSRegressor
    except ImportError as exc:
        raise ImportError(f"fit_rils_rols needs rils-rols; {_RILS_INSTALL}") from exc
    from gensr.bench.metrics import node_count

    X, y = training_arrays(X, y)
    max_time = whole_seconds_left(time_limit, start)
    params = {**RILS_ROLS_SETTINGS, "max_time": max_time, "random_state": int(seed) + 1}
    est = RILSROLSRegressor(**params)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # its progress prints
        warnings.simplefilter("ignore")
        est.fit(X, y)
    info: dict[str, Any] = {"fit_s": round(time.perf_counter() - start, 3), "threads_used": 1,
                            "best_time": getattr(est, "best_time", None), "settings": jsonable(params),
                            "raw_model": str(est.model)[:2000]}
    predict = Predictor(est)
    model = convert(lambda: rils_rols_to_sympy(str(est.model), X.shape[1]), predict(X), X, info)
    fit_calls = getattr(est, "fit_calls", None)
    return FitOutcome(predict=predict, model=model, complexity=node_count(model) if model is not None else 0,
                      evaluations=int(fit_calls) if fit_calls is not None else None, info=info)
