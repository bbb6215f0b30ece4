"""Checks of a user's table that need numpy only: the estimator and the CLI share them, and the CLI runs them
before scikit-learn or torch is imported, so bad input fails in about a second."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["MIN_ROWS", "check_rows", "check_weights", "finite_rows"]

MIN_ROWS = 10  # fewer rows cannot tell formulas apart; constant fitting alone would overfit


def finite_rows(X: np.ndarray, y: np.ndarray, names: Sequence[str], nan_policy: str) -> np.ndarray:
    """Mask of rows finite in X and y; with ``nan_policy="raise"``, one error naming the columns instead."""
    bad_x = ~np.isfinite(X)
    finite_y = np.isfinite(y)
    keep = ~bad_x.any(axis=1) & finite_y
    if not keep.all() and nan_policy == "raise":
        cols = np.flatnonzero(bad_x.any(axis=0))
        where = [f"column{'s' if len(cols) > 1 else ''} {', '.join(str(names[i]) for i in cols)}"] if len(cols) else []
        where += ["the target"] if not finite_y.all() else []
        n_bad = int((~keep).sum())
        raise ValueError(f"input contains NaN or inf in {n_bad} row{'s' * (n_bad != 1)} ({' and '.join(where)}); "
                         "clean the data or pass nan_policy='drop' (CLI: --drop-nan) to drop those rows")
    return keep


def check_rows(y: np.ndarray) -> None:
    """Enough usable rows and a target that varies (relative to its scale: 1e-200-scale targets are fine)."""
    if len(y) < MIN_ROWS:
        raise ValueError(f"got n_samples = {len(y)} usable row{'s' * (len(y) != 1)}; gensr needs at least {MIN_ROWS}")
    if np.ptp(y) <= 1e-12 * float(np.max(np.abs(y))):
        raise ValueError("the target y is constant: there is no formula to find beyond y = constant")


def check_weights(weights: object, n: int, name: str = "sample_weight", min_nonzero: int = 2) -> np.ndarray | None:
    """Row weights as float64 (n,) scaled to mean 1 (a scalar weighs every row alike), or None; one-line errors
    for non-numeric, misshapen, negative or non-finite weights, or fewer than ``min_nonzero`` positive ones."""
    if weights is None:
        return None
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric") from None
    if w.ndim == 0:
        w = np.full(n, float(w))
    if w.ndim != 1 or len(w) != n:
        raise ValueError(f"{name} has {w.size} values for {n} rows; one weight per row")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    if np.count_nonzero(w) < min_nonzero:
        raise ValueError(f"{name} must give at least {min_nonzero} row{'s' * (min_nonzero != 1)} a non-zero weight")
    return w / w.mean()
