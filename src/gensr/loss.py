"""The loss a fit minimises and reports: ``GenSRRegressor(loss=...)`` (PySR's ``elementwise_loss``).

:func:`make_loss` turns the user's choice into a :class:`Loss`. Every constant fit keeps its linear
least-squares core (:mod:`gensr.screen`, :mod:`gensr.constants`): ``"relative"`` is least squares with weights
1/y², and the robust losses (``"mae"``, ``"huber"``, a callable) are reached by iteratively reweighted least
squares, each step a weighted least-squares fit from the last step's constants with the weights
ψ(r)/r of the current residuals r (:meth:`Loss.irls_weights`). The search's front, its stops and the
estimator's selection and ``loss`` column then read :meth:`Loss.value`; R² stays the plain (weighted) R².

Values are in y's units: a loss built with ``scale`` (the estimator divides extreme targets by a scale for
the search) computes on y·scale, so a Huber ``delta`` and a callable see the user's numbers.

>>> import numpy as np
>>> y, pred = np.array([1.0, 2.0, 4.0]), np.array([1.0, 2.5, 2.0])
>>> make_loss("mae").value(y, pred)
0.8333333333333334
>>> make_loss("huber", huber_delta=1.0).rows(y, pred).tolist()
[0.0, 0.125, 1.5]
>>> make_loss("relative").value(y, pred)  # ((0.5/2)² + (2/4)²) / 3
0.10416666666666667
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

__all__ = ["LOSSES", "Loss", "make_loss"]

LOSSES = ("mse", "mae", "huber", "relative")
"""The named losses; a callable ``f(y, y_pred) -> per-row loss`` is also accepted."""

_POWER = {"mse": 2.0, "mae": 1.0, "huber": 2.0, "relative": 2.0, "callable": 2.0}
# the loss's degree in the residual, for the description length (n/p·log loss: Gaussian p = 2, Laplace p = 1);
# a callable is read as squared, as Huber is near its fit


@dataclass(frozen=True)
class Loss:
    """A per-row loss ℓ(y, ŷ), its weighted mean, and the IRLS weights that minimise it by least squares.

    Attributes
    ----------
    kind : str
        One of :data:`LOSSES`, or ``"callable"``.
    delta : float
        Huber's threshold in y's units: squared below it, linear above.
    fn : callable or None
        The user's ``f(y, y_pred)`` for ``kind="callable"``.
    scale : float
        y's scale in the search (the loss computes on y·scale, in the user's units).
    """

    kind: str = "mse"
    delta: float = 1.0
    fn: Callable[[np.ndarray, np.ndarray], Any] | None = None
    scale: float = 1.0

    @property
    def is_mse(self) -> bool:
        return self.kind == "mse"

    @property
    def robust(self) -> bool:
        """True when the fit needs reweighting steps (the loss is not a weighted square)."""
        return self.kind in ("mae", "huber", "callable")

    @property
    def power(self) -> float:
        return _POWER[self.kind]

    @property
    def name(self) -> str:
        return getattr(self.fn, "__name__", "callable") if self.kind == "callable" else self.kind

    def scaled(self, scale: float) -> Loss:
        """The same loss for a search on y / ``scale``."""
        return replace(self, scale=float(scale))

    def rows(self, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """ℓ per row, in the user's units (non-finite where ``pred`` is)."""
        s = self.scale
        r = (np.asarray(pred, dtype=np.float64) - np.asarray(y, dtype=np.float64)) * s
        if self.kind == "mse":
            return r * r
        if self.kind == "mae":
            return np.abs(r)
        if self.kind == "huber":
            a, d = np.abs(r), self.delta
            return np.where(a <= d, 0.5 * r * r, d * (a - 0.5 * d))
        if self.kind == "relative":
            return (r / (np.asarray(y, dtype=np.float64) * s)) ** 2
        out = np.asarray(self.fn(np.asarray(y, dtype=np.float64) * s, np.asarray(pred, dtype=np.float64) * s),
                         dtype=np.float64)
        if out.shape != r.shape:
            raise ValueError(f"loss callable returned shape {out.shape} for {len(r)} rows; it must return one "
                             "loss per row")
        return out

    def value(self, y: np.ndarray, pred: np.ndarray, weights: np.ndarray | None = None) -> float:
        """The (weighted) mean of :meth:`rows`; ``inf`` when a prediction is not finite."""
        with np.errstate(all="ignore"):
            per = self.rows(y, pred)
        if not np.all(np.isfinite(per)):
            return math.inf
        return float(np.average(per, weights=weights))

    def baseline(self, y: np.ndarray, weights: np.ndarray | None = None) -> float:
        """The loss of the best constant prediction: the scale of the loss's own R², 1 − loss / baseline
        (the weighted mean for MSE, weighted by 1/y² for the relative error, the weighted median for the
        absolute error, reweighted least squares from the median for Huber's loss and a callable)."""
        y = np.asarray(y, dtype=np.float64)
        w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=np.float64)
        static = self.static_weights(y)
        if self.robust:
            order = np.argsort(y)
            cum = np.cumsum(w[order])
            c = float(y[order][np.searchsorted(cum, 0.5 * cum[-1])])  # the weighted median
            for _ in range(0 if self.kind == "mae" else 20):
                irls = self.irls_weights(y, np.full_like(y, c))
                c = float(np.average(y, weights=w * irls)) if irls is not None and np.any(w * irls > 0) else c
        else:
            c = float(np.average(y, weights=w if static is None else w * static))
        return self.value(y, np.full_like(y, c), weights)

    def static_weights(self, y: np.ndarray) -> np.ndarray | None:
        """Row weights that turn least squares into this loss whatever the fit (``"relative"``: 1/y²)."""
        if self.kind != "relative":
            return None
        y = np.asarray(y, dtype=np.float64)
        return 1.0 / (y * y)

    def least_squares_weights(self, y: np.ndarray, pred: np.ndarray,
                              weights: np.ndarray | None = None) -> np.ndarray | None:
        """The row weights of the least-squares problem this loss is at ``pred``: ``weights`` times the static
        weights times the reweighting of :meth:`irls_weights` (where ``pred`` is finite); None for MSE
        without ``weights``."""
        w = None if weights is None else np.asarray(weights, dtype=np.float64)
        for extra in (self.static_weights(y), self.irls_weights(y, pred) if np.all(np.isfinite(pred)) else None):
            if extra is not None:
                w = extra if w is None else w * extra
        return w

    def irls_weights(self, y: np.ndarray, pred: np.ndarray) -> np.ndarray | None:
        """ψ(r)/r at the residuals r = ŷ − y (None when the loss needs no reweighting): a weighted
        least-squares step with them has the loss's stationary points as its fixed points.

        Residuals below 1e-9 of y's spread (or of the largest residual, for a constant y) get the weight of that
        floor, so an exact row is not infinite."""
        if not self.robust:
            return None
        y = np.asarray(y, dtype=np.float64)
        pred = np.asarray(pred, dtype=np.float64)
        r = pred - y
        floor = 1e-9 * max(float(np.std(y)), float(np.max(np.abs(r), initial=0.0)), 1e-300)
        a = np.maximum(np.abs(r), floor)
        if self.kind == "mae":
            w = 1.0 / a
        elif self.kind == "huber":
            w = np.minimum(1.0, (self.delta / self.scale) / a)
        else:  # ψ/r of the callable by a central difference along ŷ, at a residual of at least the floor
            at = y + np.where(r < 0, -a, a)
            h = 1e-6 * np.maximum(np.abs(at), float(np.std(y)) + 1e-300)
            with np.errstate(all="ignore"):
                d = (self.rows(y, at + h) - self.rows(y, at - h)) / (2 * h * self.scale)
                w = d / (2 * (at - y) * self.scale)
            w = np.where(np.isfinite(w) & (w > 0), w, 0.0)
            if not np.any(w > 0):
                return np.ones_like(y)
        return w / np.max(w)


def make_loss(loss: Any = "mse", *, huber_delta: float = 1.0) -> Loss:
    """The :class:`Loss` for ``loss`` (a name in :data:`LOSSES` or a callable); a one-line ValueError otherwise."""
    if callable(loss):
        return Loss("callable", fn=loss)
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"loss={loss!r}; choose one of {list(LOSSES)} or pass a callable f(y, y_pred) -> "
                         "per-row loss")
    if loss == "huber" and not (isinstance(huber_delta, (int, float)) and math.isfinite(huber_delta)
                                and huber_delta > 0):
        raise ValueError(f"huber_delta must be a positive number in y's units, got {huber_delta!r}")
    return Loss(loss, delta=float(huber_delta))
