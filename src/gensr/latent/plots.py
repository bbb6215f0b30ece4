"""Plots of the latent diagnostics (matplotlib, the ``gensr[plot]`` extra): decoded curves and t-SNE maps."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gensr.latent.interpolation import InterpolationResult, unit_constants
from gensr.latent.probe import EMBEDDINGS, ProbeResult


def _figure(figsize: tuple[float, float]) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ValueError("plotting needs matplotlib: pip install 'gensr[plot]'") from None
    return Figure(figsize=figsize)


def plot_interpolation(result: InterpolationResult, path: str | Path) -> Path:
    """Plot A, B and every valid decoded curve (constants = 1) against the one variable; saves a PNG.

    ``ValueError`` if A and B together use more than one variable.
    """
    used = sorted(set(result.a.variables) | set(result.b.variables))
    if len(used) > 1:
        raise ValueError(f"the plot draws curves of one variable; A and B use {len(used)} "
                         f"({', '.join(f'x{i}' for i in used)})")
    col = used[0] if used else 0
    order = np.argsort(result.X[:, col])
    x = result.X[order, col]
    fig = _figure((7.0, 4.5))
    ax = fig.add_subplot(1, 1, 1)
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    for s in result.steps:
        if s.valid and s.expression is not None:
            ax.plot(x, unit_constants(s.expression).evaluate(result.X)[order], color=cmap(s.t), lw=1.2, alpha=0.8,
                    label=f"t={s.t:.2f}: {s.equation}")
    ax.plot(x, result.y_a[order], "k--", lw=2, label=f"A: {result.a}")
    ax.plot(x, result.y_b[order], "r:", lw=2, label=f"B: {result.b}")
    ax.set_xlabel(f"x{col}")
    ax.set_ylabel("y (decoded skeletons with C = 1)")
    ax.set_title(f"latent {'slerp' if result.spherical else 'interpolation'}: "
                 f"{sum(s.valid for s in result.steps)}/{len(result.steps)} valid")
    ax.legend(fontsize=6, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    return path




def plot_tsne(result: ProbeResult, path: str | Path, *, embeddings: Sequence[str] = EMBEDDINGS,
              rng: int = 0) -> Path:
    """t-SNE (scikit-learn) of each embedding: one row each, coloured by class and by mean y; saves a PNG.

    Mean y is shown as ``sign(m)·log10(1 + |m|)``, since generated targets span many orders of magnitude.
    """
    from sklearn.manifold import TSNE

    unknown = [e for e in embeddings if e not in result.embeddings]
    if unknown:
        raise ValueError(f"unknown embeddings {unknown}; available: {sorted(result.embeddings)}")
    fig = _figure((11.0, 4.6 * len(embeddings)))
    from matplotlib import colormaps

    n = len(result.labels)
    colours = colormaps["tab10"]
    m = result.mean_y
    shade = np.sign(m) * np.log10(1.0 + np.abs(m))
    for row, name in enumerate(embeddings):
        feats = result.embeddings[name]
        feats = (feats - feats.mean(0)) / np.where(feats.std(0) > 0, feats.std(0), 1.0)
        xy = TSNE(n_components=2, perplexity=float(min(30.0, max(2.0, (n - 1) / 3))), init="pca",
                  random_state=rng).fit_transform(feats)
        ax1 = fig.add_subplot(len(embeddings), 2, 2 * row + 1)
        for k, cls in enumerate(result.classes):
            sel = result.labels == k
            ax1.scatter(xy[sel, 0], xy[sel, 1], s=9, color=colours(k), marker="o" if cls.endswith("2d") else "^",
                        label=cls)
        logistic = result.score(name, "logistic").accuracy
        ax1.set_title(f"{name}: by class (logistic probe {logistic:.3f})")
        ax1.legend(fontsize=7, markerscale=1.5)
        ax2 = fig.add_subplot(len(embeddings), 2, 2 * row + 2)
        sc = ax2.scatter(xy[:, 0], xy[:, 1], s=9, c=shade, cmap="coolwarm")
        fig.colorbar(sc, ax=ax2, label="sign(mean y)·log10(1 + |mean y|)")
        ax2.set_title(f"{name}: by mean y")
        for ax in (ax1, ax2):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path
