"""Markdown of benchmark aggregates: one table per ``(suite, noise)``, measured rows then published ones.

- :func:`markdown_tables`: the tables, under a legend of the protocols.
- :func:`write_into`: replace the text between ``<!-- bench:begin -->`` and ``<!-- bench:end -->`` in a file.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from gensr.bench.aggregate import AGG_COLUMNS, NAN, check_columns
from gensr.bench.published import PublishedRow, published_for
from gensr.bench.suites import SUITES

__all__ = ["is_missing", "markdown_tables", "title", "write_into"]

_DASH = "–"

# --------------------------------------------------------------------------------------------------------------
# Markdown


def is_missing(x: object) -> bool:
    return x is None or x is pd.NA or (isinstance(x, (float, np.floating)) and math.isnan(x))


def _fmt_r2(x: object) -> str:
    return _DASH if is_missing(x) else f"{float(x):.4f}"


def _fmt_pct(x: object) -> str:
    return _DASH if is_missing(x) else f"{float(x):.1f}"


def _fmt_count(x: object) -> str:
    """Complexities and counts: integers as such, others with one decimal; thousands separators."""
    if is_missing(x):
        return _DASH
    x = float(x)
    return f"{x:,.0f}" if x == round(x) or abs(x) >= 1000 else f"{x:,.1f}"


def _fmt_time(x: object) -> str:
    if is_missing(x):
        return _DASH
    x = float(x)
    if abs(x) < 10:
        return f"{x:.2f}"
    if abs(x) < 100:
        return f"{x:.1f}"
    return f"{x:,.0f}"


def _with_stat(text: str, stat: str) -> str:
    return text if text == _DASH or stat == "median" else f"{text} ({stat})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


_HEADER = ("method", "n", "mean R²", "median R²", "R²>0.99 %", "R²>0.999 %", "symbolic %", "median complexity",
           "median simplified complexity", "median time s", "median time to the answer s", "median evaluations")

_LEGEND = (
    "Protocols: `gensr` = neural-paper protocol (`docs/protocols.md` §1: one run per dataset, fixed split seed); "
    "`srbench` = SRBench v2.0 (10 seeds, R² and sizes are per-dataset medians over seeds, rates are means "
    "over runs). R² is test R² clipped at 0. Complexity is the method's own prefix-node count; simplified "
    "complexity is SRBench's sympy-simplified count (`docs/protocols.md` §2). \"(mean)\" marks a published "
    "mean where the column holds medians. Numbers from different protocols are not directly comparable."
)


def _measured_label(r: pd.Series) -> str:
    tl = r.get("time_limit", NAN)
    limit = "mixed time limits" if is_missing(tl) else f"{float(tl):g} s"
    return f"{r['method']} (measured, {r['protocol']}, {limit})"


def _measured_cells(r: pd.Series) -> list[str]:
    return [
        _measured_label(r), str(int(r["n"])), _fmt_r2(r["r2_mean"]), _fmt_r2(r["r2_median"]),
        _fmt_pct(r["solved_099_pct"]), _fmt_pct(r["solved_0999_pct"]), _fmt_pct(r["symbolic_pct"]),
        _fmt_count(r["complexity_median"]), _fmt_count(r["complexity_simplified_median"]),
        _fmt_time(r["wall_time_median"]), _fmt_time(r["answer_time_median"]), _fmt_count(r["evaluations_median"]),
    ]


def _published_cells(p: PublishedRow) -> list[str]:
    return [
        f"{p.method} (published, {p.source}, {p.protocol})", str(p.n), _fmt_r2(p.r2_mean), _fmt_r2(p.r2_median),
        _fmt_pct(p.solved_099_pct), _fmt_pct(p.solved_0999_pct), _fmt_pct(p.symbolic_pct),
        _with_stat(_fmt_count(p.complexity), p.complexity_stat), _fmt_count(p.complexity_simplified),
        _with_stat(_fmt_time(p.time_s), p.time_stat), _DASH, _DASH,
    ]


def title(suite: str, noise: float) -> str:
    """The heading of one table: the suite's registered title and the noise level."""
    return f"{SUITES[suite].title if suite in SUITES else suite}, noise γ = {noise:g}"


def markdown_tables(agg: pd.DataFrame, *, published: bool = True) -> str:
    """Markdown tables, one per ``(suite, noise)`` present in ``agg``: measured rows, then published rows.

    Parameters
    ----------
    agg : pandas.DataFrame
        Output of :func:`aggregate`.
    published : bool
        Append the matching published rows (:mod:`gensr.bench.published`) to each table.

    Returns
    -------
    str
        A legend paragraph followed by the tables, each under a ``### <Suite>, noise γ = <noise>`` heading.
        Measured rows are labelled ``"<method> (measured, <protocol>, <time_limit> s)"``, published rows
        ``"<method> (published, <source>, <protocol>)"``. Missing values show as "–".
    """
    check_columns(agg, AGG_COLUMNS, "markdown_tables")
    parts = [_LEGEND]
    suites = list(dict.fromkeys([*SUITES, *sorted(agg["suite"].unique())]))
    for suite in suites:
        sub = agg[agg["suite"] == suite]
        for noise in sorted(sub["noise"].unique()):
            rows = sub[sub["noise"] == noise].sort_values(["protocol", "method"], kind="stable")
            lines = [f"### {title(suite, float(noise))}", "", "| " + " | ".join(_HEADER) + " |",
                     "|" + "---|" * len(_HEADER)]
            body = [_measured_cells(r) for _, r in rows.iterrows()]
            if published:
                body += [_published_cells(p) for p in published_for(suite, float(noise))]
            lines += ["| " + " | ".join(_cell(c) for c in cells) + " |" for cells in body]
            parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


# --------------------------------------------------------------------------------------------------------------
# Writing into a markdown file


def write_into(path: str | Path, text: str, marker: str = "bench") -> Path:
    """Put ``text`` between ``<!-- {marker}:begin -->`` and ``<!-- {marker}:end -->`` in a markdown file.

    The bytes outside the markers are left untouched. If the file has no markers (or does not exist), a new
    section holding the markers is appended. Calling it twice with the same text gives the same file.

    Parameters
    ----------
    path : str or Path
        The markdown file (for instance ``BENCHMARKS.md``).
    text : str
        What goes between the markers; leading and trailing newlines are normalised.
    marker : str
        Marker name.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If only one marker is present, a marker occurs more than once, or the end marker precedes the begin one.
    """
    path = Path(path)
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    old = path.read_bytes().decode("utf-8") if path.exists() else ""
    block = f"{begin}\n{text.strip(chr(10))}\n{end}"
    nb, ne = old.count(begin), old.count(end)
    if nb == 0 and ne == 0:
        sep = "" if old == "" else ("\n" if old.endswith("\n") else "\n\n")
        new = f"{old}{sep}## Benchmark results (generated by `gensr.bench.report`)\n\n{block}\n"
    elif nb == 1 and ne == 1:
        i, j = old.index(begin), old.index(end)
        if j < i:
            raise ValueError(f"{path}: {end!r} comes before {begin!r}")
        new = old[:i] + block + old[j + len(end):]
    else:
        raise ValueError(f"{path}: expected exactly one {begin!r} and one {end!r}, found {nb} and {ne}")
    if new != old:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(new.encode("utf-8"))
        os.replace(tmp, path)
    return path
