"""Plots of benchmark aggregates: mean R² against median complexity and against median time (matplotlib)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gensr.bench.aggregate import aggregate
from gensr.bench.markdown import is_missing, title
from gensr.bench.published import PublishedRow, published_for
from gensr.bench.suites import SUITES

__all__ = ["plot"]

# --------------------------------------------------------------------------------------------------------------
# Plots


def _scatter(ax, xs, ys, labels, *, hollow: bool, log_x: bool) -> None:
    # Colour by position in the full list, so a method keeps its colour when a point is missing on one axis.
    for k, (x, y, lab) in enumerate(zip(xs, ys, labels)):
        if is_missing(x) or is_missing(y) or (log_x and float(x) <= 0):
            continue
        if hollow:
            ax.scatter([x], [y], s=40, facecolors="none", edgecolors="0.35", marker="s", linewidths=1.2)
        else:
            ax.scatter([x], [y], s=40, color=f"C{k % 10}", marker="o", zorder=3)
        ax.annotate(lab, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7,
                    color="0.35" if hollow else "black")


def _plot_group(rows: pd.DataFrame, pubs: list[PublishedRow], title: str, out: Path) -> Path:
    from matplotlib.figure import Figure  # lazy: matplotlib is optional; Figure needs no global backend

    fig = Figure(figsize=(11, 4.5), layout="constrained")
    ax_c, ax_t = fig.subplots(1, 2, sharey=True)
    labels = [f"{m} ({p})" for m, p in zip(rows["method"], rows["protocol"])]
    publabels = [f"{p.method} (published, {p.protocol})" for p in pubs]
    for ax, col, attr, log_x, xlabel in (
        (ax_c, "complexity_median", "complexity", False, "median complexity (method's own node count)"),
        (ax_t, "wall_time_median", "time_s", True, "median wall time per problem (s)"),
    ):
        _scatter(ax, list(rows[col]), list(rows["r2_mean"]), labels, hollow=False, log_x=log_x)
        _scatter(ax, [getattr(p, attr) for p in pubs], [p.r2_mean for p in pubs], publabels, hollow=True,
                 log_x=log_x)
        if log_x:
            from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

            ax.set_xscale("log")  # labels at 1 and 3 of each decade only: minor labels overlap on a short range
            ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 3.0)))
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(xlabel)
        ax.grid(True, alpha=0.3)
    ax_c.set_ylabel("mean test R² (clipped at 0)")
    fig.suptitle(f"{title}: filled = measured, hollow = published")
    fig.savefig(out, dpi=120)
    return out


def plot(data: pd.DataFrame, out_dir: str | Path, *, published: bool = True) -> list[Path]:
    """One PNG per ``(suite, noise)``: mean clipped R² vs median complexity and vs median time (log x).

    Parameters
    ----------
    data : pandas.DataFrame
        Runs (:func:`load_results`) or aggregates (:func:`aggregate`); runs are aggregated first.
    out_dir : str or Path
        Created if needed; files are named ``<suite>_noise<noise>.png``.
    published : bool
        Add the published points that have both coordinates, as hollow labelled markers.

    Returns
    -------
    list of Path
        The files written, in table order.
    """
    agg = data if "r2_mean" in data.columns else aggregate(data)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    order = {s: k for k, s in enumerate(SUITES)}
    groups = sorted(agg.groupby(["suite", "noise"]), key=lambda kv: (order.get(kv[0][0], len(order)), *kv[0]))
    for (suite, noise), rows in groups:
        pubs = published_for(str(suite), float(noise)) if published else []
        name = f"{suite}_noise{float(noise):g}.png"
        paths.append(_plot_group(rows, pubs, title(str(suite), float(noise)), out_dir / name))
    return paths
