"""The noise floor of a data set: the irreducible error no formula of the inputs can remove.

Estimator: local linear leave-one-out residuals with a bandwidth correction (a difference-based variance
estimator in the spirit of Devroye et al. 2018, "Nearest neighbor estimates of the noise variance"). With
the inputs scaled to unit variance, each sampled row i gets a linear fit through its ``2(d + 1) + 4``
nearest neighbours (itself left out); its residual e_i, divided by 1 + h_i (h_i: the variance factor of the
fit's prediction at row i), has expectation

    E[e_i² / (1 + h_i)] ≈ σ² + β·r_i⁴

where r_i² is the neighbours' mean squared distance: a linear fit leaves only the law's curvature, which
grows like r⁴. A least-squares line through the rows' (r_i⁴, e_i²/(1 + h_i)) gives σ² as its intercept,
the MSE a formula would have if it were exactly the law, and its standard error. Measured on a smooth law
(``tests/test_noise.py``): within about 10 % at noise γ = 0.1 for 1–8 inputs at 1,000 rows or more; about 0
for noise-free data with up to 3 inputs; biased upward (by up to a few % of var y) with 5 or more inputs
and few rows, where neighbours are far apart. With 10 inputs and a few hundred rows the neighbourhoods are
not local at all, and the estimate is the error of a global linear fit: :func:`checked_floor` then marks it
unresolved, when a flexible reference fit beats it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["RESOLVED_Z", "NoiseFloor", "checked_floor", "noise_floor"]

RESOLVED_Z = 3.0  # a floor counts (the noise stop, its check, the "noise" selection rule) when it is more than
# this many standard errors above 0


@dataclass(frozen=True)
class NoiseFloor:
    """An estimate of the irreducible mean squared error of y given X.

    Attributes
    ----------
    mse : float
        The estimated noise variance σ² (≥ 0), in y's units squared.
    se : float
        Its standard error (from the regression of the pairs).
    n_rows : int
        Rows whose residuals were used.
    """

    mse: float
    se: float
    n_rows: int

    def resolved(self, z: float = RESOLVED_Z) -> bool:
        """Whether the floor is clearly above 0 (more than ``z`` standard errors): the data are noisy."""
        return self.mse > z * self.se

    def reached(self, mse: float, z: float = RESOLVED_Z) -> bool:
        """Whether a formula with training ``mse`` is at the floor: within ``z`` standard errors above it, and
        the floor is resolved."""
        return self.resolved(z) and mse <= self.mse + z * self.se


def noise_floor(X: np.ndarray, y: np.ndarray, *, max_rows: int = 1000, extra_neighbours: int = 4,
                rng: np.random.Generator | int | None = 0, weights: np.ndarray | None = None) -> NoiseFloor:
    """Estimate the noise variance of ``y`` given ``X`` (module docstring).

    Parameters
    ----------
    X, y : arrays (n, d) and (n,)
    max_rows : int
        Rows whose residuals are used, at most (a random subset from ``rng``); every row can be a neighbour.
    extra_neighbours : int
        Neighbours beyond the d + 1 a linear fit needs, doubled: ``2(d + 1) + extra_neighbours``.
    weights : array of shape (n,), optional
        Rows of weight 0 are left out.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> X = rng.uniform(1, 5, size=(2000, 2))
    >>> y = X[:, 0] * np.sin(X[:, 1]) + rng.normal(0, 0.1, 2000)
    >>> round(noise_floor(X, y).mse, 2)  # σ² = 0.01
    0.01
    """
    from sklearn.neighbors import NearestNeighbors

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if weights is not None:
        keep = np.asarray(weights) > 0
        X, y = X[keep], y[keep]
    sd = X.std(axis=0)
    Xs = X[:, sd > 0] / sd[sd > 0]
    n, d = Xs.shape
    k = min(n - 1, 2 * (d + 1) + extra_neighbours)
    if d == 0 or k < d + 2:
        return NoiseFloor(float(np.var(y)) if n else 0.0, math.inf, 0)
    gen = np.random.default_rng(rng)
    rows = np.sort(gen.choice(n, size=min(n, max_rows), replace=False))
    dist, idx = NearestNeighbors(n_neighbors=k + 1).fit(Xs).kneighbors(Xs[rows])
    nb = idx[:, 1:]  # (m, k); column 0 is the row itself
    A = np.concatenate([np.ones((len(rows), k, 1)), Xs[nb] - Xs[rows][:, None, :]], axis=2)  # (m, k, d + 1)
    G = np.linalg.pinv(A)  # (m, d + 1, k): the intercept row gives the prediction at the row itself
    pred = np.einsum("mk,mk->m", G[:, 0, :], y[nb])
    h = np.sum(G[:, 0, :] ** 2, axis=1)
    e2 = (y[rows] - pred) ** 2 / (1.0 + h)
    r4 = np.mean(dist[:, 1:] ** 2, axis=1) ** 2
    B = np.column_stack([np.ones_like(r4), r4])
    coef, *_ = np.linalg.lstsq(B, e2, rcond=None)
    resid = e2 - B @ coef
    cov = np.linalg.pinv(B.T @ B) * float(resid @ resid) / max(len(e2) - 2, 1)
    return NoiseFloor(max(float(coef[0]), 0.0), float(math.sqrt(max(cov[0, 0], 0.0))), len(e2))


def checked_floor(X: np.ndarray, y: np.ndarray, floor: NoiseFloor, *, max_rows: int = 1000,
                  weights: np.ndarray | None = None) -> NoiseFloor:
    """``floor``, or the same estimate marked unresolved (``se`` infinite) when a flexible reference fit
    beats it: the out-of-bag MSE of a small random forest (30 trees, each on at most ``max_rows`` rows),
    which overestimates the noise (it adds its own model error), so a lower one means the floor is too high.
    Only a resolved floor (:meth:`NoiseFloor.resolved`) is checked: noise-free data cost nothing. Measured:
    on 10-input black-box sets of a few hundred rows the floor was about a linear fit's error, and the noise
    stop ended fits at R² 0.2–0.4 (BENCHMARKS.md §13)."""
    if not floor.resolved():
        return floor
    from sklearn.ensemble import RandomForestRegressor

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    n = len(y)
    forest = RandomForestRegressor(n_estimators=30, min_samples_leaf=3, max_samples=min(n, max_rows),
                                   oob_score=True, random_state=0, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rows no tree left out have no OOB prediction
        forest.fit(X, y, sample_weight=weights)
    pred = forest.oob_prediction_
    ok = np.isfinite(pred) if weights is None else np.isfinite(pred) & (np.asarray(weights) > 0)
    if ok.sum() < 10:
        return floor
    w = None if weights is None else np.asarray(weights)[ok]
    oob = float(np.average((y[ok] - pred[ok]) ** 2, weights=w))
    return NoiseFloor(floor.mse, math.inf, floor.n_rows) if oob < floor.mse else floor
