"""The benchmark suites, by registration: adding a suite is one entry of :data:`SUITES`.

A :class:`Suite` has a title (for reports), ``list_problems(data_dir)`` (problem names in a fixed order) and
``load(name, data_dir, rows)`` (one :class:`~gensr.bench.data.Problem`; ``rows`` is the number of rows a
synthesised suite samples, and file-backed suites ignore it). The loaders and the data layout are in
:mod:`gensr.bench.data`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gensr.bench import data
from gensr.bench.data import FEYNMAN_ROWS, Problem

__all__ = ["SUITES", "Suite", "list_problems", "load_problem"]


@dataclass(frozen=True)
class Suite:
    """One suite of problems: a title, how to name its problems and how to load one."""

    title: str
    list_problems: Callable[[Path], list[str]]
    load: Callable[[str, Path, int], Problem]


SUITES: dict[str, Suite] = {
    "feynman": Suite("Feynman", data.feynman_names, data.load_feynman),
    "strogatz": Suite("Strogatz", data.strogatz_names, data.load_strogatz),
    "blackbox": Suite("Black-box", data.blackbox_names, data.pmlb_loader("blackbox")),
    "pmlb": Suite("PMLB", data.pmlb_names, data.pmlb_loader("pmlb")),
}


def _suite(name: str) -> Suite:
    try:
        return SUITES[name]
    except KeyError:
        raise ValueError(f"unknown suite {name!r}; choose from {list(SUITES)}") from None


def list_problems(suite: str, data_dir: str | Path) -> list[str]:
    """Names of every problem of ``suite`` under ``data_dir``, in a fixed (sorted) order."""
    return _suite(suite).list_problems(Path(data_dir))


def load_problem(suite: str, name: str, data_dir: str | Path, *, feynman_rows: int = FEYNMAN_ROWS) -> Problem:
    """Load (or, for a synthesised suite such as Feynman, sample ``feynman_rows`` rows of) one problem."""
    return _suite(suite).load(name, Path(data_dir), feynman_rows)
