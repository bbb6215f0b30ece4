"""Benchmark results as tables: load results CSVs and aggregate them per ``(protocol, suite, noise, method)``.

- :func:`load_results`: read one or more results CSVs (schema in the runner's docs), keeping the last row
  for a repeated key ``(protocol, suite, dataset, method, noise, seed)``.
- :func:`aggregate`: one row per ``(protocol, suite, noise, method)``: R² mean and median, solution rates,
  complexities, time, evaluations, errors.

Aggregation rules (``docs/protocols.md`` §1):

- ``protocol == "gensr"`` (the neural-paper protocol, normally one run per dataset): every run counts as one
  problem; means and medians are taken over runs.
- ``protocol == "srbench"`` (10 seeds per dataset): every continuous metric (clipped test R², both
  complexities, wall time, evaluations) is first reduced to its **per-dataset median over seeds**, as SRBench
  does, and means and medians are then taken over datasets. The solution rates (R² > 0.99, R² > 0.999,
  symbolic) are **means over all runs**, in %; with the same number of seeds per dataset this equals SRBench's
  "mean over datasets of per-dataset rates". SRBench's published *accuracy* column instead thresholds
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
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from gensr.bench.runner import KEY  # columns that identify one run; a repeated key keeps its last row

__all__ = ["AGG_COLUMNS", "GROUP", "KEY", "REQUIRED_COLUMNS", "aggregate", "load_results"]

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
    "answer_time_median",
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


def check_columns(df: pd.DataFrame, required: Iterable[str], where: str) -> None:
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
        check_columns(df, REQUIRED_COLUMNS, f"results file {p}")
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
        # when the chosen equation first appeared (methods that report it; results before it was recorded: NaN)
        "answer_time_median": _median(pd.to_numeric(g["answer_time"], errors="coerce")) if "answer_time" in g
        else NAN,
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
          (SRBench's accuracy-solution rate; equal to ``solved_0999_pct`` with one seed);
        - ``complexity_median``, ``complexity_simplified_median``, ``wall_time_median``, ``wall_time_mean``,
          ``evaluations_median``: over runs, or per-dataset medians for srbench; NaNs skipped;
        - ``answer_time_median``: median over runs of the time at which the chosen equation first appeared
          (NaN for methods that do not report it);
        - ``n_errors``: runs with a non-empty ``error``.
    """
    check_columns(df, REQUIRED_COLUMNS, "aggregate")
    rows = []
    for (protocol, suite, noise, method), g in df.groupby(list(GROUP), sort=True, dropna=False):
        row = {"protocol": protocol, "suite": suite, "noise": float(noise), "method": method}
        row.update(_aggregate_group(str(protocol), g))
        rows.append(row)
    out = pd.DataFrame(rows, columns=list(AGG_COLUMNS))
    return out.sort_values(list(GROUP), kind="stable").reset_index(drop=True)
