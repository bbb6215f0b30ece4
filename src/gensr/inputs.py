"""The generator's input laws: E2E's rotated cluster mixtures and Feynman-like positive ranges.

:func:`input_sampler` returns one problem's sampler; :func:`gensr.generator.sample_inputs` draws the
family from the generator config and calls it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["FAMILIES", "input_sampler"]

FAMILIES = ("cluster", "physical")  # input families; a corpus stores the index into this tuple


def _random_rotations(rng: np.random.Generator, k: int, d: int) -> np.ndarray:
    """k Haar-random orthogonal (d, d) matrices: QR of Gaussian matrices with the sign fix.

    E2E draws from SO(d) (scipy's ``special_ortho_group``); Haar on O(d) gives the same law of X here, since
    a reflection flips one coordinate of ``mean + z·scale``, whose law is symmetric in each coordinate (means
    N(0, 1), noise Gaussian or U(−1, 1)). Skipping the determinant fix saves a ``det`` per problem.
    """
    if d == 1:
        return np.ones((k, 1, 1))
    q, r = np.linalg.qr(rng.standard_normal((k, d, d)))
    return q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]


def _cluster_uniforms(max_clusters: int, n_vars: int) -> int:
    return max_clusters * (n_vars + 1)


class _ClusterInputs:
    """E2E's input law: a mixture of k ~ U{1…max_clusters} clusters with means N(0, 1), per-axis variances
    U(0, 1), a random rotation each and weights U(0, 1) (normalised); all Gaussian or all uniform (50/50);
    then per-dimension standardisation. Rows come in random order (E2E stacks them cluster by cluster).

    The first batch fixes the standardisation; later batches (refills after invalid rows) reuse it, so every
    row has the same law."""

    def __init__(self, n_vars: int, rng: np.random.Generator, max_clusters: int):
        self.rng = rng
        u = rng.random(2 + _cluster_uniforms(max_clusters, n_vars))  # one draw: numpy's per-call cost dominates
        k = 1 + int(u[0] * max_clusters)
        self.gaussian = bool(u[1] < 0.5)
        self.scales = np.sqrt(u[2 : 2 + k * n_vars]).reshape(k, n_vars)  # variances U(0, 1)
        w = u[2 + k * n_vars : 2 + k * n_vars + k]
        self.cum = np.cumsum(w / w.sum())
        self.means = rng.standard_normal((k, n_vars))
        self.rot = _random_rotations(rng, k, n_vars)
        self.shift: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    def __call__(self, n: int) -> np.ndarray:
        rng = self.rng
        comp = np.minimum(np.searchsorted(self.cum, rng.random(n), side="right"), len(self.cum) - 1)
        d = self.means.shape[1]
        z = rng.standard_normal((n, d)) if self.gaussian else rng.uniform(-1.0, 1.0, (n, d))
        v = self.means[comp] + z * self.scales[comp]
        x = np.matmul(v, self.rot)[comp, np.arange(n)]  # (k, n, d): every row by every rotation, then pick
        if self.shift is None:  # np.mean/np.std cost ~3x more in Python overhead at this size
            self.shift = x.sum(axis=0) / n
            dev = x - self.shift
            std = np.sqrt(np.einsum("ij,ij->j", dev, dev) / n)
            self.scale = np.where(std > 0, std, 1.0)
            return dev / self.scale
        return (x - self.shift) / self.scale


class _PhysicalInputs:
    """Feynman-like inputs: variable j is uniform on its own positive interval [lo_j, hi_j] with
    lo_j ~ log-U(physical_low) and hi_j = lo_j·U(physical_ratio) (defaults: within [0.1, 100])."""

    def __init__(self, n_vars: int, rng: np.random.Generator, low: tuple[float, float],
                 ratio: tuple[float, float]):
        self.rng = rng
        self.lo = np.exp(rng.uniform(math.log(low[0]), math.log(low[1]), n_vars))
        self.hi = self.lo * rng.uniform(ratio[0], ratio[1], n_vars)

    def __call__(self, n: int) -> np.ndarray:
        return self.lo + (self.hi - self.lo) * self.rng.random((n, self.lo.shape[0]))


def input_sampler(family: str, n_vars: int, rng: np.random.Generator, *, max_clusters: int,
                  physical_low: tuple[float, float], physical_ratio: tuple[float, float]) -> Any:
    """A sampler ``f(n) -> X (n, n_vars)`` of one problem's inputs (the settings are GeneratorConfig's)."""
    if family == "cluster":
        return _ClusterInputs(n_vars, rng, max_clusters)
    if family == "physical":
        return _PhysicalInputs(n_vars, rng, physical_low, physical_ratio)
    raise ValueError(f"unknown input family {family!r}; known: {list(FAMILIES)}")
