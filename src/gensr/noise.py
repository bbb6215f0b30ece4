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

__all__ = ["AT_FLOOR_Z", "NOISE_MODELS", "RESOLVED_Z", "LocalLinearNoise", "NoiseFloor", "checked_floor",
           "noise_floor", "residual_floor"]

MAX_WORK = 2e7  # rows × neighbours × (inputs + 1)²: the local fits' cost; 1,000 rows up to 20 inputs, fewer
# beyond (at 50 inputs neighbourhoods are not local anyway, and the forest check decides)

RESOLVED_Z = 3.0  # a floor counts (the noise stop, its check, the "noise" selection rule) when it is more than
# this many standard errors above 0

AT_FLOOR_Z = 2.0  # a formula's residuals are at their own floor when their mean square is within this many of its
# standard errors (the noise stop)


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

    def bounded_by(self, mse: float, n: int | None = None, z: float = RESOLVED_Z) -> NoiseFloor:
        """This floor, or ``mse`` marked unresolved when a formula's training ``mse`` over ``n`` rows beats the
        floor by more than ``z`` standard errors of the difference (the floor's, and the MSE's own sampling
        error σ²·√(2/n): an overfit formula's training MSE sits a few % under σ²): no formula of the inputs
        does better than the noise, so the floor was overestimated (curvature the neighbours could not
        resolve: exact data with inputs over decades, many inputs and few rows), and the noise is at most
        ``mse``. On noise-free data with the law found, the floor is then that fit's round-off."""
        if math.isfinite(mse) and mse < self.mse - z * self.spread(n):
            return NoiseFloor(max(float(mse), 0.0), math.inf, self.n_rows)
        return self

    def spread(self, n: int | None = None) -> float:
        """The standard error of a formula's training MSE against the floor: the floor's own (0 when
        unresolved by a forest) and, over ``n`` rows, the MSE's sampling error σ²·√(2/n)."""
        se = self.se if math.isfinite(self.se) else 0.0
        return math.sqrt(se**2 + (2.0 * self.mse**2 / n if n else 0.0))

    def describe(self) -> str:
        """The floor as printed: the estimate ± its error when resolved, else what bounds it."""
        if not math.isfinite(self.mse):
            return "noise floor unknown"
        if self.resolved():
            return f"noise floor (MSE) {self.mse:.3g} ± {self.se:.2g}"
        return f"noise floor unresolved (MSE ≤ {self.mse:.3g})" if math.isinf(self.se) else \
            f"noise floor unresolved (MSE {self.mse:.3g} ± {self.se:.2g})"

    def ceiling(self, z: float = AT_FLOOR_Z) -> float:
        """The largest MSE at this floor: σ² + z standard errors."""
        return self.mse + z * self.se

    def beaten(self, mse: float, z: float) -> bool:
        """Whether a formula's training ``mse`` is below the floor by more than ``z`` standard errors."""
        return mse < self.mse - z * self.se

    def tolerance(self, lowest: float, z: float) -> float:
        """The largest training MSE statistically indistinguishable from the best formula's ``lowest``:
        m + z·√(se² + 2m²/n) with m = max(lowest, σ²) (the floor's error and an MSE's sampling error over n
        rows, :meth:`spread`)."""
        m = max(lowest, self.mse)
        return m + z * NoiseFloor(m, self.se, self.n_rows).spread(max(self.n_rows, 1))

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
        Rows whose residuals are used, at most (a random subset from ``rng``; fewer with many inputs, as the
        local fits cost rows × neighbours × (d + 1)², :data:`MAX_WORK`); every row can be a neighbour.
    extra_neighbours : int
        Neighbours beyond the d + 1 a linear fit needs, doubled: ``2(d + 1) + extra_neighbours``.
    weights : array of shape (n,), optional
        Sample weights: rows of weight 0 are left out, and the estimate is the weighted mean noise variance
        (what the weighted MSE of the law itself would be).

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
    w = None
    if weights is not None:
        keep = np.asarray(weights) > 0
        X, y, w = X[keep], y[keep], np.asarray(weights, dtype=np.float64)[keep]
    sd = X.std(axis=0)
    Xs = X[:, sd > 0] / sd[sd > 0]
    n, d = Xs.shape
    k = min(n - 1, 2 * (d + 1) + extra_neighbours)
    if d == 0 or k < d + 2:
        return NoiseFloor(float(np.var(y)) if n else 0.0, math.inf, 0)
    gen = np.random.default_rng(rng)
    m = max(min(max_rows, int(MAX_WORK / (k * (d + 1) ** 2))), min(max_rows, 50))  # bounded work at many inputs
    rows = np.sort(gen.choice(n, size=min(n, m), replace=False))
    dist, idx = NearestNeighbors(n_neighbors=k + 1).fit(Xs).kneighbors(Xs[rows])
    nb = idx[:, 1:]  # (m, k); column 0 is the row itself
    A = np.concatenate([np.ones((len(rows), k, 1)), Xs[nb] - Xs[rows][:, None, :]], axis=2)  # (m, k, d + 1)
    G = np.linalg.pinv(A)  # (m, d + 1, k): the intercept row gives the prediction at the row itself
    pred = np.einsum("mk,mk->m", G[:, 0, :], y[nb])
    h = np.sum(G[:, 0, :] ** 2, axis=1)
    e2 = (y[rows] - pred) ** 2 / (1.0 + h)
    r4 = np.mean(dist[:, 1:] ** 2, axis=1) ** 2
    # weighted by the rows' sample weights, the intercept is the noise a weighted MSE sees (Σ w·σ²/Σ w)
    sw = np.ones_like(e2) if w is None else np.sqrt(w[rows] / np.mean(w[rows]))
    B = np.column_stack([np.ones_like(r4), r4]) * sw[:, None]
    coef, *_ = np.linalg.lstsq(B, e2 * sw, rcond=None)
    resid = e2 * sw - B @ coef
    cov = np.linalg.pinv(B.T @ B) * float(resid @ resid) / max(len(e2) - 2, 1)
    return NoiseFloor(max(float(coef[0]), 0.0), float(math.sqrt(max(cov[0, 0], 0.0))), len(e2))


def residual_floor(X: np.ndarray, residuals: np.ndarray, floor: NoiseFloor, *,
                   weights: np.ndarray | None = None) -> NoiseFloor:
    """The floor re-estimated on a formula's residuals, then bounded by their mean square
    (:meth:`NoiseFloor.bounded_by`): the noise is the same, but the curvature the neighbours must resolve is
    the law's minus the formula's, so the estimator's upward bias shrinks as the formula nears the law (on
    y = sin(x0)·x1 + x2³ at 1 % noise, 500 rows: 2.6× σ² on y, about σ² on a good fit's residuals; on exact
    data with the law found, round-off). ``floor`` (the estimate on y) is kept when the residuals are not
    finite. As on y, a forest checks the new floor (:func:`checked_floor`, here beating it by 3 standard
    errors): residuals it can predict are structure, not noise."""
    r = np.asarray(residuals, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(r)):
        return floor
    mse = float(np.average(r**2, weights=weights))
    again = checked_floor(X, r, noise_floor(X, r, weights=weights), weights=weights, z=RESOLVED_Z)
    return again.bounded_by(mse, len(r))


def checked_floor(X: np.ndarray, y: np.ndarray, floor: NoiseFloor, *, max_rows: int = 1000,
                  weights: np.ndarray | None = None, z: float = 0.0) -> NoiseFloor:
    """``floor``, or the same estimate marked unresolved (``se`` infinite) when a flexible reference fit
    beats it: the out-of-bag MSE of a small random forest (30 trees, each on at most ``max_rows`` rows),
    which overestimates the noise (it adds its own model error), so a lower one means the floor is too high.
    Only a resolved floor (:meth:`NoiseFloor.resolved`) is checked: noise-free data cost nothing. Measured:
    on 10-input black-box sets of a few hundred rows the floor was about a linear fit's error, and the noise
    stop ended fits at R² 0.2–0.4 (BENCHMARKS.md §13). With ``z``, the forest must beat the floor by ``z`` of
    its standard errors (on a good fit's residuals both estimate the same noise, and a forest 1 % under it
    is chance, not structure)."""
    if not floor.resolved():
        return floor
    from sklearn.ensemble import RandomForestRegressor

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if len(y) > 2 * max_rows:  # bounded work: the out-of-bag error of 2·max_rows rows is known to a few %
        keep = np.sort(np.random.default_rng(0).choice(len(y), 2 * max_rows, replace=False))
        X, y, weights = X[keep], y[keep], None if weights is None else np.asarray(weights)[keep]
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
    return NoiseFloor(floor.mse, math.inf, floor.n_rows) if oob < floor.mse - z * floor.se else floor


class LocalLinearNoise:
    """The noise model the search, the stops, the selection and the snapping read (by name, ``budget.noise_model``):
    the floor of y given X and of a formula's residuals, each a :class:`NoiseFloor`. Local linear fits with a
    forest's check (module docstring). A new noise model is one class with these three methods, listed in
    :data:`NOISE_MODELS`; everything downstream reads only the :class:`NoiseFloor` it returns."""

    def estimate(self, X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> NoiseFloor:
        """The floor of ``y`` given ``X``, unchecked (:func:`noise_floor`)."""
        return noise_floor(X, y, weights=weights)

    def check(self, X: np.ndarray, y: np.ndarray, floor: NoiseFloor, weights: np.ndarray | None = None,
              z: float = 0.0) -> NoiseFloor:
        """``floor``, or marked unresolved when a flexible reference fit beats it (:func:`checked_floor`)."""
        return checked_floor(X, y, floor, weights=weights, z=z)

    def floor(self, X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> NoiseFloor:
        """The data's floor: :meth:`estimate`, then :meth:`check`."""
        return self.check(X, y, self.estimate(X, y, weights), weights)

    def residual(self, X: np.ndarray, residuals: np.ndarray, floor: NoiseFloor,
                 weights: np.ndarray | None = None) -> NoiseFloor:
        """The floor re-estimated on a formula's residuals (:func:`residual_floor`)."""
        return residual_floor(X, residuals, floor, weights=weights)


NOISE_MODELS = {"local_linear": LocalLinearNoise}
"""The noise models by name (``SearchConfig.budget.noise_model``)."""
