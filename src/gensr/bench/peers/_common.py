"""What every peer adapter shares: a picklable predictor, the formula-versus-predictions check, and the
conversion of a peer's model to sympy with its failure recorded rather than raised."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np


class Predictor:
    """``X -> float64 predictions`` of a fitted estimator (a class rather than a closure, so it pickles)."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def __call__(self, X: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            y_hat = self.estimator.predict(np.asarray(X, dtype=np.float64))
        return np.asarray(y_hat, dtype=np.float64).reshape(-1)


def agreement(model: Any, y_hat: np.ndarray, X: np.ndarray) -> float:
    """Fraction of rows where the formula gives the method's own prediction (rtol 1e-4, atol 1e-8)."""
    import sympy

    symbols = [sympy.Symbol(f"x{i}") for i in range(X.shape[1])]
    f = sympy.lambdify(symbols, model, modules="numpy")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = np.broadcast_to(np.asarray(f(*X.T)), y_hat.shape)
        if np.iscomplexobj(values):
            values = np.where(np.abs(values.imag) <= 1e-12, values.real, np.nan)
        return float(np.mean(np.isclose(values.astype(np.float64), y_hat, rtol=1e-4, atol=1e-8)))


def convert(to_sympy: Callable[[], Any], y_hat: np.ndarray, X: np.ndarray, info: dict[str, Any]) -> Any:
    """Run a model conversion; on failure return None and say why in ``info["model_error"]``."""
    try:
        model = to_sympy()
    except Exception as exc:  # any failure is reported, never swallowed
        info["model_error"] = f"{type(exc).__name__}: {exc}"[:500]
        return None
    try:
        info["model_agreement"] = round(agreement(model, y_hat, X), 4)
    except Exception as exc:
        info["model_agreement_error"] = f"{type(exc).__name__}: {exc}"[:500]
    return model


def jsonable(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings as JSON-friendly values (tuples become lists), for ``FitOutcome.info``."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}


def whole_seconds_left(time_limit: float, start: float) -> int:
    """``floor(time_limit - time spent since start)``, at least 1: for peers whose clock takes whole seconds,
    rounded down so that the call stays within the limit."""
    import math
    import time

    return max(1, math.floor(time_limit - (time.perf_counter() - start)))


def training_arrays(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """X as a float64 matrix and y as a float64 vector, as every adapter hands them to its peer."""
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64).reshape(-1)


def steps_within(step: Callable[[int], bool], *, max_steps: int, time_limit: float, start: float,
                 cap: str) -> tuple[int, float, str]:
    """Run ``step(i)`` for i = 0, 1, … (it returns True when the peer's own criterion says stop) until
    ``max_steps``, that criterion, or until the next step, estimated to last as long as the last one, would
    end past ``time_limit`` seconds from ``start`` (the first step always runs), for peers without a clock.

    Returns the steps run, the last step's seconds and the stop reason: ``cap`` (the step cap),
    ``"stopping_criteria"`` or ``"time_limit"``.
    """
    import time

    steps, last_s = 0, 0.0
    while steps < max_steps:
        t0 = time.perf_counter()
        own_stop = step(steps)
        last_s = time.perf_counter() - t0
        steps += 1
        if own_stop:
            return steps, last_s, "stopping_criteria"
        if time.perf_counter() - start + last_s > time_limit:
            return steps, last_s, "time_limit"
    return steps, last_s, cap
