"""Benchmark reports: aggregate results CSVs, set them beside the published numbers, write markdown and plots.

The report is four rooms, one after the other:

- :mod:`gensr.bench.aggregate`: :func:`load_results` and :func:`aggregate` (the aggregation rules are in
  its docstring);
- :mod:`gensr.bench.published`: the reference numbers (``docs/protocols.md`` §5), read from the package's
  ``published.csv`` (each row with its source and protocol);
- :mod:`gensr.bench.markdown`: :func:`markdown_tables` and :func:`write_into`;
- :mod:`gensr.bench.plots`: :func:`plot`.

:func:`report` runs them in one call (``gensr bench report``); the names above are re-exported here.
Numbers from the two protocols are not directly comparable (threshold, complexity definition, seeds, subsets);
every row in the tables is labelled with its protocol.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gensr.bench.aggregate import AGG_COLUMNS, KEY, REQUIRED_COLUMNS, aggregate, load_results
from gensr.bench.markdown import markdown_tables, write_into
from gensr.bench.plots import plot
from gensr.bench.published import PublishedRow, published, published_for, published_frame

__all__ = [
    "AGG_COLUMNS",
    "KEY",
    "REQUIRED_COLUMNS",
    "PublishedRow",
    "aggregate",
    "load_results",
    "markdown_tables",
    "plot",
    "published",
    "published_for",
    "published_frame",
    "report",
    "write_into",
]


def __getattr__(name: str) -> Any:
    if name == "PUBLISHED":  # the published rows (kept for earlier callers), read on first use
        return published()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def report(results_paths: Sequence[str | Path] | str | Path, *, benchmarks_md: str | Path | None = None,
           plot_dir: str | Path | None = None) -> str:
    """Load, aggregate and tabulate results; optionally plot and write into a markdown file.

    Parameters
    ----------
    results_paths : path or sequence of paths
        Results CSVs (:func:`load_results`).
    benchmarks_md : str or Path, optional
        Markdown file to update between the ``bench`` markers (:func:`write_into`).
    plot_dir : str or Path, optional
        Where to write the PNGs (:func:`plot`); they are linked from the markdown, relative to
        ``benchmarks_md`` when one is given.

    Returns
    -------
    str
        The markdown (as written into ``benchmarks_md``).
    """
    agg = aggregate(load_results(results_paths))
    text = markdown_tables(agg)
    if plot_dir is not None:
        pngs = plot(agg, plot_dir)
        base = Path(benchmarks_md).resolve().parent if benchmarks_md is not None else None
        links = []
        for p in pngs:
            target = Path(os.path.relpath(p.resolve(), base)).as_posix() if base is not None else p.as_posix()
            links.append(f"![{p.stem}]({target})")
        if links:
            text += "\n### Plots\n\n" + "\n\n".join(links) + "\n"
    if benchmarks_md is not None:
        write_into(benchmarks_md, text)
    return text
