"""Benchmark reports: aggregate results CSVs, set them beside the published numbers, write markdown and plots.

- :func:`load_results`: read one or more results CSVs (schema in the runner's docs), keeping the last row
  for a repeated key ``(protocol, suite, dataset, method, noise, seed)``.
- :func:`aggregate`: one row per ``(protocol, suite, noise, method)``: R² mean and median, solution rates,
  complexities, time, evaluations, errors.
- :data:`PUBLISHED` / :func:`published_frame`: the reference numbers of ``BENCHMARKS.md`` §5, each with its
  source and protocol.
- :func:`markdown_tables`: one markdown table per ``(suite, noise)``, measured rows first, then published ones.
- :func:`write_into`: replace the text between ``<!-- bench:begin -->`` and ``<!-- bench:end -->`` in a file.
- :func:`plot`: R² vs complexity and R² vs time, one PNG per ``(suite, noise)``.
- :func:`report`: all of the above in one call.

Aggregation rules (``BENCHMARKS.md`` §1, §2.3, §4):

- ``protocol == "gensr"`` (the neural-paper protocol, normally one run per dataset): every run counts as one
  problem; means and medians are taken over runs.
- ``protocol == "srbench"`` (10 seeds per dataset): every continuous metric (clipped test R², both
  complexities, wall time, evaluations) is first reduced to its **per-dataset median over seeds**, as SRBench
  does, and means and medians are then taken over datasets. The solution rates (R² > 0.99, R² > 0.999,
  symbolic) are **means over all runs**, in %; with the same number of seeds per dataset this equals SRBench's
  "mean over datasets of per-dataset rates". SRBench's published *accuracy* column (§5.1) instead thresholds
  the per-dataset median R²; that variant is the extra column ``solved_0999_dsmedian_pct``.
- A failed run has ``r2_test_clipped = 0`` (a missing value is read as 0 too), so failures pull R² down;
  complexities and times of failed runs are NaN and are skipped by the medians.
- The symbolic rate is NaN when no run of the group has a symbolic verdict (black-box); otherwise a missing
  verdict counts as "not solved".

Numbers from the two protocols are not directly comparable (threshold, complexity definition, seeds, subsets);
every row in the tables is labelled with its protocol.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from gensr.bench.runner import KEY  # columns that identify one run; a repeated key keeps its last row

__all__ = [
    "AGG_COLUMNS",
    "KEY",
    "PUBLISHED",
    "REQUIRED_COLUMNS",
    "PublishedRow",
    "aggregate",
    "load_results",
    "markdown_tables",
    "plot",
    "published_for",
    "published_frame",
    "report",
    "write_into",
]

GROUP = ("protocol", "suite", "noise", "method")
"""One aggregated row per value of these columns."""

REQUIRED_COLUMNS = (
    *KEY,
    "time_limit",
    "r2_test",
    "r2_test_clipped",
    "solved_099",
    "solved_0999",
    "symbolic",
    "complexity",
    "complexity_simplified",
    "wall_time",
    "evaluations",
    "error",
)
"""Columns :func:`load_results` insists on; the other schema columns (model, host, …) are optional."""

AGG_COLUMNS = (
    *GROUP,
    "time_limit",
    "n",
    "n_runs",
    "r2_mean",
    "r2_median",
    "solved_099_pct",
    "solved_0999_pct",
    "solved_0999_dsmedian_pct",
    "symbolic_pct",
    "complexity_median",
    "complexity_simplified_median",
    "wall_time_median",
    "wall_time_mean",
    "evaluations_median",
    "n_errors",
)
"""Columns of :func:`aggregate`'s result, in order."""

_FLAGS = ("solved_099", "solved_0999", "symbolic")
_NUMERIC = (
    "noise",
    "time_limit",
    "r2_train",
    "r2_test",
    "r2_test_clipped",
    "complexity",
    "complexity_simplified",
    "wall_time",
    "evaluations",
    "n_train",
    "n_test",
    "n_features",
)
# Continuous metrics that the srbench protocol reduces to a per-dataset median over seeds first.
_PER_DATASET = ("r2_test_clipped", "complexity", "complexity_simplified", "wall_time", "evaluations")
_TRUE = {"true", "1", "1.0", "yes", "t"}
_FALSE = {"false", "0", "0.0", "no", "f"}
_SUITE_NAMES = {"feynman": "Feynman", "strogatz": "Strogatz", "blackbox": "Black-box", "pmlb": "PMLB"}
_DASH = "–"
NAN = float("nan")


# --------------------------------------------------------------------------------------------------------------
# Loading


def _as_flag(s: pd.Series) -> pd.Series:
    """True/False/NA from bools, 0/1 or strings such as ``"True"``; anything else (empty, NaN) is NA."""

    def one(v: object) -> object:
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            return pd.NA
        t = str(v).strip().lower()
        if t in _TRUE:
            return True
        if t in _FALSE:
            return False
        return pd.NA

    return s.map(one).astype("boolean")


def _check_columns(df: pd.DataFrame, required: Iterable[str], where: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{where}: missing column(s) {', '.join(missing)}; required: {', '.join(required)}")


def load_results(paths: Sequence[str | Path] | str | Path) -> pd.DataFrame:
    """Read results CSVs into one frame, keeping the last row of every repeated run key.

    Parameters
    ----------
    paths : sequence of str or Path (a single path is accepted too)
        Results CSVs in the runner's schema. Files are read in the given order, so for a key
        ``(protocol, suite, dataset, method, noise, seed)`` present several times the row that comes last (the
        last file, then the last line) wins: a resumed or re-run sweep overrides the earlier result.

    Returns
    -------
    pandas.DataFrame
        The rows, with ``noise``, ``time_limit``, R², complexity, time and evaluation columns as float,
        ``seed`` as nullable Int64, ``solved_099``, ``solved_0999`` and ``symbolic`` as nullable boolean
        (NA for black-box ``symbolic``), ``error`` as str (``""`` for none), and a fresh RangeIndex.

    Raises
    ------
    ValueError
        If no path is given, a file does not exist or cannot be parsed, or a file lacks a column of
        :data:`REQUIRED_COLUMNS`.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if len(paths) == 0:
        raise ValueError("load_results: no results file given")
    frames = []
    for p in map(Path, paths):
        if not p.is_file():
            raise ValueError(f"results file not found: {p}")
        try:
            df = pd.read_csv(p, dtype={"protocol": str, "suite": str, "dataset": str, "method": str}, na_values=[""],
                             keep_default_na=True)
        except pd.errors.EmptyDataError as exc:
            raise ValueError(f"results file {p} is empty (not even a header)") from exc
        _check_columns(df, REQUIRED_COLUMNS, f"results file {p}")
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    for c in _NUMERIC:
        if c in df.columns:
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    df["seed"] = pd.to_numeric(df["seed"], errors="coerce").astype("Int64")
    for c in _FLAGS:
        df[c] = _as_flag(df[c])
    for c in ("protocol", "suite", "dataset", "method", "error"):
        df[c] = df[c].astype("string").fillna("").astype(str)
    return df.drop_duplicates(subset=list(KEY), keep="last").reset_index(drop=True)


# --------------------------------------------------------------------------------------------------------------
# Aggregation


def _rate(s: pd.Series, *, nan_if_all_missing: bool = False) -> float:
    """Percentage of True; NA counts as False, unless every value is NA and ``nan_if_all_missing``."""
    if len(s) == 0 or (nan_if_all_missing and not s.notna().any()):
        return NAN
    return 100.0 * float(s.fillna(False).astype(float).mean())


def _median(s: pd.Series) -> float:
    s = s.dropna()
    return float(s.median()) if len(s) else NAN


def _mean(s: pd.Series) -> float:
    s = s.dropna()
    return float(s.mean()) if len(s) else NAN


def _aggregate_group(protocol: str, g: pd.DataFrame) -> dict[str, float]:
    g = g.assign(r2_test_clipped=g["r2_test_clipped"].fillna(0.0))
    # SRBench: per-dataset median over seeds first. With one seed per dataset this changes nothing.
    per_ds = g.groupby("dataset", sort=False)[list(_PER_DATASET)].median()
    units = per_ds if protocol == "srbench" else g
    limits = g["time_limit"].dropna().unique()
    return {
        "time_limit": float(limits[0]) if len(limits) == 1 else NAN,
        "n": int(g["dataset"].nunique()),
        "n_runs": len(g),
        "r2_mean": _mean(units["r2_test_clipped"]),
        "r2_median": _median(units["r2_test_clipped"]),
        "solved_099_pct": _rate(g["solved_099"]),
        "solved_0999_pct": _rate(g["solved_0999"]),
        "solved_0999_dsmedian_pct": 100.0 * float((per_ds["r2_test_clipped"] > 0.999).mean()),
        "symbolic_pct": _rate(g["symbolic"], nan_if_all_missing=True),
        "complexity_median": _median(units["complexity"]),
        "complexity_simplified_median": _median(units["complexity_simplified"]),
        "wall_time_median": _median(units["wall_time"]),
        "wall_time_mean": _mean(units["wall_time"]),
        "evaluations_median": _median(units["evaluations"]),
        "n_errors": int((g["error"].astype(str).str.strip() != "").sum()),
    }


def aggregate(df: pd.DataFrame) -> pd.DataFrame:
    """One row per ``(protocol, suite, noise, method)`` with the summary statistics of the runs.

    Parameters
    ----------
    df : pandas.DataFrame
        Runs as returned by :func:`load_results`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`AGG_COLUMNS`, sorted by protocol, suite, noise and method:

        - ``time_limit``: the groups' time limit in s (NaN if its runs used several);
        - ``n``: distinct datasets (problems); ``n_runs``: rows;
        - ``r2_mean``, ``r2_median``: of ``r2_test_clipped``; for the srbench protocol over the per-dataset
          medians over seeds (module docstring);
        - ``solved_099_pct``, ``solved_0999_pct``, ``symbolic_pct``: % of all runs (symbolic NaN for black-box);
        - ``solved_0999_dsmedian_pct``: % of datasets whose median clipped R² over seeds exceeds 0.999
          (SRBench's accuracy-solution rate, §5.1; equal to ``solved_0999_pct`` with one seed);
        - ``complexity_median``, ``complexity_simplified_median``, ``wall_time_median``, ``wall_time_mean``,
          ``evaluations_median``: over runs, or per-dataset medians for srbench; NaNs skipped;
        - ``n_errors``: runs with a non-empty ``error``.
    """
    _check_columns(df, REQUIRED_COLUMNS, "aggregate")
    rows = []
    for (protocol, suite, noise, method), g in df.groupby(list(GROUP), sort=True, dropna=False):
        row = {"protocol": protocol, "suite": suite, "noise": float(noise), "method": method}
        row.update(_aggregate_group(str(protocol), g))
        rows.append(row)
    out = pd.DataFrame(rows, columns=list(AGG_COLUMNS))
    return out.sort_values(list(GROUP), kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------------------------
# Published numbers (BENCHMARKS.md §5)


@dataclass(frozen=True)
class PublishedRow:
    """One published reference result. Missing numbers are NaN.

    ``complexity`` and ``time_s`` are medians over problems unless ``complexity_stat`` / ``time_stat`` say
    ``"mean"``. ``complexity`` is the method's own (prefix) node count; ``complexity_simplified`` is SRBench's
    sympy-simplified count (``BENCHMARKS.md`` §3). ``protocol`` uses the results-CSV names: ``"gensr"`` is the
    neural-paper protocol (§4), ``"srbench"`` SRBench v2.0 (§2).
    """

    method: str
    suite: str
    noise: float
    protocol: str
    source: str
    n: int
    r2_mean: float = NAN
    r2_median: float = NAN
    solved_099_pct: float = NAN
    solved_0999_pct: float = NAN
    symbolic_pct: float = NAN
    complexity: float = NAN
    complexity_stat: str = "median"
    complexity_simplified: float = NAN
    time_s: float = NAN
    time_stat: str = "median"
    note: str = ""


# §5.4, Feynman (119) and Strogatz (14): (noise, R²>0.99 %, R²>0.999 %, mean R², median R², mean cplx, mean time s)
_NEURAL_GT = {
    ("TPSR λ=0.1", "feynman"): (
        (0.0, 95.0, 71.4, 0.9925, 1.000, 57.2, 236),
        (0.001, 94.1, 69.7, 0.9921, 1.000, 59.8, 190),
        (0.01, 94.1, 68.1, 0.9911, 0.9998, 64.3, 217),
        (0.1, 84.9, 39.5, 0.9837, 0.9972, 67.0, 184),
    ),
    ("TPSR λ=0.1", "strogatz"): (
        (0.0, 78.6, 35.7, 0.9648, 0.9975, 56.1, 291),
        (0.001, 78.6, 57.1, 0.9216, 0.9999, 55.6, 193),
        (0.01, 71.4, 50.0, 0.9799, 0.9980, 56.1, 175),
        (0.1, 50.0, 21.4, 0.9708, 0.9859, 56.3, 159),
    ),
    ("SNIP (LSO)", "feynman"): (
        (0.0, 88.2, 22.7, 0.9853, 0.9950, 31.6, 1500),
        (0.001, 83.2, 20.2, 0.9904, 0.9954, 31.4, 1365),
        (0.01, 83.2, 26.1, 0.9870, 0.9960, 32.6, 1210),
        (0.1, 79.0, 51.3, 0.9917, 0.9992, 37.7, 6515),
    ),
    ("SNIP (LSO)", "strogatz"): (
        (0.0, 92.9, 50.0, 0.9952, 0.9989, 29.3, 509),
        (0.001, 57.1, 28.6, 0.9667, 0.9918, 27.6, 278),
        (0.01, 78.6, 35.7, 0.9844, 0.9963, 29.4, 238),
        (0.1, 64.3, 28.6, 0.9187, 0.9983, 39.4, 5651),
    ),
}
_NEURAL_SOURCE = {"TPSR λ=0.1": "TPSR CSVs §5.4", "SNIP (LSO)": "SNIP CSVs §5.4"}
# §5.4 black-box, 55 sets: (method, median R², mean R², median cplx, median time s)
_NEURAL_BB = (
    ("TPSR λ=0.1", 0.945, 0.792, 96, 490, "TPSR CSVs §5.4"),
    ("TPSR λ=0.5", 0.932, 0.799, 80, 442, "TPSR CSVs §5.4"),
    ("SNIP", 0.873, 0.758, 47, 5374, "SNIP CSVs §5.4"),
)
# §5.5, GenSR leaderboard scrape: (suite, noise, mean R², n)
_GENSR = (
    ("strogatz", 0.001, 0.9951, 14),
    ("strogatz", 0.01, 0.9936, 14),
    ("strogatz", 0.1, 0.9773, 14),
    ("blackbox", 0.0, 0.8416, 57),
)
# §5.1, SRBench ground truth: {method: {(suite, noise): (symbolic %, accuracy R²>0.999 %)}}
_SRBENCH_GT = {
    "AI Feynman": ((55.8, 78.5), (1.5, 9.7), (0.0, 0.0), (27.1, 35.7), (13.7, 35.7), (0.8, 0.0)),
    "Operon": ((16.6, 86.2), (0.3, 81.9), (0.1, 0.0), (11.4, 92.9), (0.0, 92.9), (0.0, 0.0)),
    "GP-GOMEA": ((26.8, 71.6), (1.6, 72.8), (0.0, 0.0), (29.5, 71.4), (0.9, 71.4), (0.0, 0.0)),
    "gplearn": ((16.3, 32.8), (15.8, 24.1), (13.2, 14.2), (8.9, 7.1), (8.9, 7.1), (8.9, 7.1)),
}
_SRBENCH_GT_CELLS = (("feynman", 0.0), ("feynman", 0.001), ("feynman", 0.01),
                     ("strogatz", 0.0), ("strogatz", 0.001), ("strogatz", 0.01))
# §5.3, SRBench black-box restricted to GenSR's 57 sets: (method, median R², clipped mean R², median size, time s)
_SRBENCH_BB57 = (
    ("Operon", 0.934, 0.784, 47.5, 528),
    ("GP-GOMEA", 0.844, 0.740, 29.5, 6791),
    ("gplearn", 0.642, 0.597, 18.0, 22871),
)


def _build_published() -> tuple[PublishedRow, ...]:
    rows: list[PublishedRow] = []
    for (method, suite), cells in _NEURAL_GT.items():
        for noise, r99, r999, mean, median, cplx, t in cells:
            rows.append(PublishedRow(
                method, suite, noise, "gensr", _NEURAL_SOURCE[method], 119 if suite == "feynman" else 14,
                r2_mean=mean, r2_median=median, solved_099_pct=r99, solved_0999_pct=r999,
                complexity=float(cplx), complexity_stat="mean", time_s=float(t), time_stat="mean",
                note="one run per dataset; mean R² of r2_predict (clipping not recorded); GPU time"))
    for method, median, mean, cplx, t, source in _NEURAL_BB:
        rows.append(PublishedRow(method, "blackbox", 0.0, "gensr", source, 55, r2_mean=mean, r2_median=median,
                                 complexity=float(cplx), time_s=float(t), note="55 PMLB sets with ≤ 10 features"))
    for suite, noise, mean, n in _GENSR:
        rows.append(PublishedRow("GenSR", suite, noise, "gensr", "GenSR leaderboard scrape §5.5", n, r2_mean=mean,
                                 note="reported R², very probably the mean over problems (inferred)"))
    for method, cells in _SRBENCH_GT.items():
        for (suite, noise), (sym, acc) in zip(_SRBENCH_GT_CELLS, cells):
            n = 116 if suite == "feynman" else 14
            rows.append(PublishedRow(
                method, suite, noise, "srbench", "SRBench v2.0 §5.1", n,
                solved_0999_pct=acc, symbolic_pct=sym,
                note="10 seeds; accuracy thresholds the per-dataset median R² over seeds"))
    for method, median, mean, size, t in _SRBENCH_BB57:
        rows.append(PublishedRow(method, "blackbox", 0.0, "srbench", "SRBench v2.0 §5.3, 57 sets", 57,
                                 r2_mean=mean, r2_median=median, complexity=size, time_s=float(t),
                                 note="10 seeds, per-dataset medians; size is the method's own node count"))
    return tuple(rows)


PUBLISHED: tuple[PublishedRow, ...] = _build_published()
"""Published reference numbers from ``BENCHMARKS.md`` §5.1, §5.3, §5.4 and §5.5 (NaN where not published)."""


def published_frame() -> pd.DataFrame:
    """:data:`PUBLISHED` as a DataFrame, one row per entry, columns as the :class:`PublishedRow` fields."""
    return pd.DataFrame([asdict(r) for r in PUBLISHED], columns=[f.name for f in fields(PublishedRow)])


# --------------------------------------------------------------------------------------------------------------
# Markdown


def _same_noise(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _is_missing(x: object) -> bool:
    return x is None or x is pd.NA or (isinstance(x, (float, np.floating)) and math.isnan(x))


def _fmt_r2(x: object) -> str:
    return _DASH if _is_missing(x) else f"{float(x):.4f}"


def _fmt_pct(x: object) -> str:
    return _DASH if _is_missing(x) else f"{float(x):.1f}"


def _fmt_count(x: object) -> str:
    """Complexities and counts: integers as such, others with one decimal; thousands separators."""
    if _is_missing(x):
        return _DASH
    x = float(x)
    return f"{x:,.0f}" if x == round(x) or abs(x) >= 1000 else f"{x:,.1f}"


def _fmt_time(x: object) -> str:
    if _is_missing(x):
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
           "median simplified complexity", "median time s", "median evaluations")

_LEGEND = (
    "Protocols: `gensr` = neural-paper protocol (`BENCHMARKS.md` §4: one run per dataset, fixed split seed); "
    "`srbench` = SRBench v2.0 (§2: 10 seeds, R² and sizes are per-dataset medians over seeds, rates are means "
    "over runs). R² is test R² clipped at 0. Complexity is the method's own prefix-node count; simplified "
    "complexity is SRBench's sympy-simplified count (§3). \"(mean)\" marks a published mean where the column "
    "holds medians. Numbers from different protocols are not directly comparable."
)


def _measured_label(r: pd.Series) -> str:
    tl = r.get("time_limit", NAN)
    limit = "mixed time limits" if _is_missing(tl) else f"{float(tl):g} s"
    return f"{r['method']} (measured, {r['protocol']}, {limit})"


def _measured_cells(r: pd.Series) -> list[str]:
    return [
        _measured_label(r), str(int(r["n"])), _fmt_r2(r["r2_mean"]), _fmt_r2(r["r2_median"]),
        _fmt_pct(r["solved_099_pct"]), _fmt_pct(r["solved_0999_pct"]), _fmt_pct(r["symbolic_pct"]),
        _fmt_count(r["complexity_median"]), _fmt_count(r["complexity_simplified_median"]),
        _fmt_time(r["wall_time_median"]), _fmt_count(r["evaluations_median"]),
    ]


def _published_cells(p: PublishedRow) -> list[str]:
    return [
        f"{p.method} (published, {p.source}, {p.protocol})", str(p.n), _fmt_r2(p.r2_mean), _fmt_r2(p.r2_median),
        _fmt_pct(p.solved_099_pct), _fmt_pct(p.solved_0999_pct), _fmt_pct(p.symbolic_pct),
        _with_stat(_fmt_count(p.complexity), p.complexity_stat), _fmt_count(p.complexity_simplified),
        _with_stat(_fmt_time(p.time_s), p.time_stat), _DASH,
    ]


def _title(suite: str, noise: float) -> str:
    return f"{_SUITE_NAMES.get(suite, suite)}, noise γ = {noise:g}"


def published_for(suite: str, noise: float) -> list[PublishedRow]:
    """The :data:`PUBLISHED` rows for one ``(suite, noise)``, in table order."""
    return [p for p in PUBLISHED if p.suite == suite and _same_noise(p.noise, noise)]


def markdown_tables(agg: pd.DataFrame, *, published: bool = True) -> str:
    """Markdown tables, one per ``(suite, noise)`` present in ``agg``: measured rows, then published rows.

    Parameters
    ----------
    agg : pandas.DataFrame
        Output of :func:`aggregate`.
    published : bool
        Append the matching :data:`PUBLISHED` rows to each table.

    Returns
    -------
    str
        A legend paragraph followed by the tables, each under a ``### <Suite>, noise γ = <noise>`` heading.
        Measured rows are labelled ``"<method> (measured, <protocol>, <time_limit> s)"``, published rows
        ``"<method> (published, <source>, <protocol>)"``. Missing values show as "–".
    """
    _check_columns(agg, AGG_COLUMNS, "markdown_tables")
    parts = [_LEGEND]
    suites = list(dict.fromkeys([*_SUITE_NAMES, *sorted(agg["suite"].unique())]))
    for suite in suites:
        sub = agg[agg["suite"] == suite]
        for noise in sorted(sub["noise"].unique()):
            rows = sub[sub["noise"] == noise].sort_values(["protocol", "method"], kind="stable")
            lines = [f"### {_title(suite, float(noise))}", "", "| " + " | ".join(_HEADER) + " |",
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


# --------------------------------------------------------------------------------------------------------------
# Plots


def _scatter(ax, xs, ys, labels, *, hollow: bool, log_x: bool) -> None:
    # Colour by position in the full list, so a method keeps its colour when a point is missing on one axis.
    for k, (x, y, lab) in enumerate(zip(xs, ys, labels)):
        if _is_missing(x) or _is_missing(y) or (log_x and float(x) <= 0):
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
            ax.set_xscale("log")
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
    order = {s: k for k, s in enumerate(_SUITE_NAMES)}
    groups = sorted(agg.groupby(["suite", "noise"]), key=lambda kv: (order.get(kv[0][0], len(order)), *kv[0]))
    for (suite, noise), rows in groups:
        pubs = published_for(str(suite), float(noise)) if published else []
        name = f"{suite}_noise{float(noise):g}.png"
        paths.append(_plot_group(rows, pubs, _title(str(suite), float(noise)), out_dir / name))
    return paths


# --------------------------------------------------------------------------------------------------------------
# All together


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
