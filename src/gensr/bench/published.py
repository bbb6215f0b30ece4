"""Published reference numbers (``docs/protocols.md`` §5), held as data in ``published.csv``.

Every row names its ``source`` (the paper's CSVs, SRBench's tables, the GenSR leaderboard) and its
``protocol`` (``"gensr"``: the neural-paper protocol; ``"srbench"``: SRBench v2.0; ``docs/protocols.md`` §1).
Numbers that a source does not publish are empty (NaN). Adding a reference result is one line of the CSV.
"""

from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from importlib import resources
from typing import Any

import pandas as pd

__all__ = ["PublishedRow", "published", "published_for", "published_frame"]

NAN = float("nan")


@dataclass(frozen=True)
class PublishedRow:
    """One published reference result. Missing numbers are NaN.

    ``complexity`` and ``time_s`` are medians over problems unless ``complexity_stat`` / ``time_stat`` say
    ``"mean"``. ``complexity`` is the method's own (prefix) node count; ``complexity_simplified`` is SRBench's
    sympy-simplified count (``docs/protocols.md`` §2). ``protocol`` uses the results-CSV names: ``"gensr"`` is the
    neural-paper protocol, ``"srbench"`` SRBench v2.0 (``docs/protocols.md`` §1).
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


def _value(kind: type, text: str) -> Any:
    if kind is float:
        return float(text) if text.strip() else NAN
    return int(text) if kind is int else text


@lru_cache(maxsize=1)
def published() -> tuple[PublishedRow, ...]:
    """Every row of the package's ``published.csv``, in file (table) order."""
    kinds = {f.name: {"float": float, "int": int}.get(str(f.type), str) for f in fields(PublishedRow)}
    text = resources.files("gensr.bench").joinpath("published.csv").read_text(encoding="utf-8")
    reader = csv.DictReader(text.splitlines())
    if list(reader.fieldnames or []) != list(kinds):
        raise ValueError(f"published.csv: columns {reader.fieldnames}, expected {list(kinds)}")
    return tuple(PublishedRow(**{k: _value(kinds[k], v) for k, v in row.items()}) for row in reader)


def published_frame() -> pd.DataFrame:
    """The published rows as a DataFrame, one row per entry, columns as the :class:`PublishedRow` fields."""
    return pd.DataFrame([asdict(r) for r in published()], columns=[f.name for f in fields(PublishedRow)])


def published_for(suite: str, noise: float) -> list[PublishedRow]:
    """The published rows of one ``(suite, noise)``, in table order."""
    return [p for p in published() if p.suite == suite and math.isclose(p.noise, noise, rel_tol=1e-9,
                                                                          abs_tol=1e-12)]
