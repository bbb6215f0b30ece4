"""Checks of a user's table that need numpy only: the estimator and the CLI share them, and the CLI runs them
before scikit-learn or torch is imported, so bad input fails in about a second."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["MIN_ROWS", "check_rows", "finite_rows"]

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
