"""What every benchmarked method returns: predictions, the formula, its size and the work done."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class FitOutcome:
    """One fitted model, in a form the runner can score the same way for every method.

    Attributes
    ----------
    predict : callable
        ``X (n, d) float64 -> y_hat (n,)`` in the original scale.
    model : sympy.Expr or None
        The returned formula over plain ``sympy.Symbol("x0") … Symbol("x{d-1}")`` in the original scale;
        None when the method's output could not be expressed (the reason is in ``info["model_error"]``).
    complexity : int
        The method's own expression-tree node count: every operator, variable and constant counts 1.
    evaluations : int or None
        Candidate evaluations the method reports; None when it reports none.
    info : dict
        Anything else worth logging (generations, settings), JSON-serialisable.
    """

    predict: Callable[[np.ndarray], np.ndarray]
    model: Any
    complexity: int
    evaluations: int | None = None
    info: dict[str, Any] = field(default_factory=dict)
