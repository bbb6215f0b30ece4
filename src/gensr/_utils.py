"""Small helpers with one home each: R², row subsets, devices, the git SHA and the run environment."""

from __future__ import annotations

import datetime
import math
import os
import platform
import socket
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["environment", "git_sha", "model_device", "r2_score", "resolve_device", "subsample_rows", "weighted_mse"]

_VERSIONS = ("gensr", "numpy", "scipy", "torch", "sympy", "scikit-learn", "pandas", "pyoperon", "gplearn", "dask")


def r2_score(y: np.ndarray, y_pred: np.ndarray, weights: np.ndarray | None = None) -> float:
    """sklearn-style R² (``force_finite=True``, ``sample_weight`` as ``weights``) that never warns.

    Non-finite predictions, or predictions of another shape than ``y``, give ``-inf``; a constant ``y`` gives 1
    for an exact prediction and 0 otherwise.
    """
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if y_pred.shape != y.shape:
        return -math.inf
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    with np.errstate(all="ignore"):
        if not np.all(np.isfinite(y_pred)):
            return -math.inf
        ss_res = float(np.sum(w * (y - y_pred) ** 2))
        ss_tot = float(np.sum(w * (y - np.average(y, weights=w)) ** 2))
    if not math.isfinite(ss_res):
        return -math.inf
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else 0.0
    return 1.0 - ss_res / ss_tot


def weighted_mse(residuals: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Mean of squared residuals, weighted by ``weights`` (normalised to their sum) when given."""
    with np.errstate(all="ignore"):
        if weights is None:
            return float(np.mean(residuals**2))
        return float(np.sum(weights * residuals**2) / np.sum(weights))


def subsample_rows(n: int, max_rows: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``min(n, max_rows)`` rows, drawn without replacement from ``rng`` if ``n > max_rows``."""
    if n <= max_rows:
        return np.arange(n)
    return np.sort(rng.choice(n, size=max_rows, replace=False))


def rank_features(X: np.ndarray, y: np.ndarray, rng: np.random.Generator, max_rows: int = 2000) -> np.ndarray:
    """Column indices, most informative first, by mutual information with ``y`` on up to ``max_rows`` rows."""
    from sklearn.feature_selection import mutual_info_regression

    rows = subsample_rows(len(y), max_rows, rng)
    mi = mutual_info_regression(X[rows], y[rows], random_state=int(rng.integers(2**31)))
    return np.argsort(-mi, kind="stable")


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of a module's parameters."""
    return next(model.parameters()).device


def resolve_device(name: str) -> torch.device:
    """``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda[:k]"``; asking for CUDA without it is an error."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but CUDA is not available; use 'cpu' or 'auto'")
    return torch.device(name)


def git_sha() -> str:
    """The commit of the source tree this package runs from, or ``"unknown"`` (not a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def environment(device: torch.device | None = None, sha: str | None = None) -> dict[str, Any]:
    """Versions and machine facts recorded beside every run (training runs and benchmark sweeps)."""
    from importlib import metadata

    import torch

    versions: dict[str, str | None] = {}
    for dist in _VERSIONS:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    cuda = device is not None and device.type == "cuda"
    return {"python": platform.python_version(), "platform": platform.platform(), "host": socket.gethostname(),
            "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "device": str(device) if device is not None else None,
            "cuda": torch.cuda.get_device_name(device) if cuda else None,
            "git_sha": sha if sha is not None else git_sha(), "versions": versions,
            "started_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
