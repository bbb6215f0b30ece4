"""Benchmark problems: Feynman (sampled from the formula table), Strogatz, PMLB black-box, any PMLB folder.

Every loader reads from the benchmark data folder given by ``--data-dir``, laid out as PMLB ships it:

- ``feynman/feynman_equations_clean.csv``: one row per equation with ``formula_sympy`` and ``variables``
  (``name:[low,high]; …``). PMLB keeps the Feynman rows only in Git LFS, so, as SRBench's README advises,
  rows are drawn i.i.d. uniform in each variable's range and the target is the formula. The draw depends only
  on the dataset name and ``rows``: every method and trial sees the same table, as with a PMLB file.
- ``strogatz/pmlb_format/<name>.tsv.gz`` plus ``strogatz/strogatz_equations.csv`` for the true models.
- ``pmlb_blackbox/<name>/<name>.tsv.gz`` and ``lists/gensr_e2e_blackbox_57.txt`` (the neural papers' 57).
- any folder of PMLB-format ``.tsv.gz`` files (``target`` column, tab-separated), searched recursively.

Problems are named; :func:`gensr.bench.suites.load_problem` rebuilds one from ``(suite, name, data_dir)`` so
that workers of a process pool or a dask cluster load their own data instead of receiving arrays. True
formulas are returned as strings over ``x0 … x{d-1}`` (the column order), ready for
:func:`gensr.bench.parsing.parse_model`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

FEYNMAN_ROWS = 100_000  # rows of every PMLB Feynman file
_FEYNMAN_TABLE = Path("feynman") / "feynman_equations_clean.csv"
_FEYNMAN_UNITS = Path("feynman") / "feynman_variables_units.csv"
_STROGATZ_TABLE = Path("strogatz") / "strogatz_equations.csv"
_BLACKBOX_LIST = Path("lists") / "gensr_e2e_blackbox_57.txt"


@dataclass(frozen=True)
class Problem:
    """One regression table.

    Attributes
    ----------
    suite, name : str
        Where it comes from (a key of :data:`gensr.bench.suites.SUITES`) and its PMLB name.
    X : np.ndarray, shape (n, d)
    y : np.ndarray, shape (n,)
    feature_names : tuple of str
        Column names in the file (or formula table) order.
    truth : str or None
        The true formula over ``x0 … x{d-1}``; None for black-box data.
    feature_units, target_units : tuple of (str or None), str or None
        Physical units of the columns and of the target as pint reads them (``""``: dimensionless; None:
        unknown); only Feynman has them (``feynman/feynman_variables_units.csv``), for the "Feynman with
        units" protocol.
    """

    suite: str
    name: str
    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    truth: str | None = None
    feature_units: tuple[str | None, ...] | None = None
    target_units: str | None = None


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{what} not found at {path}; pass --data-dir pointing at a benchdata/PMLB folder")
    return path


def _read_csv(path: Path) -> Any:
    import pandas as pd

    return pd.read_csv(path)


@lru_cache(maxsize=8)
def _feynman_table(data_dir: str) -> Any:
    table = _read_csv(_require(Path(data_dir) / _FEYNMAN_TABLE, "the Feynman formula table"))
    return table[table["in_pmlb"].astype(bool)].set_index("dataset", drop=False)


@lru_cache(maxsize=8)
def _strogatz_table(data_dir: str) -> Any:
    return _read_csv(_require(Path(data_dir) / _STROGATZ_TABLE, "the Strogatz equation table")).set_index("dataset")


def _parse_ranges(spec: str) -> list[tuple[str, float, float]]:
    """``"m:[1,5]; v:[1,2]"`` -> [("m", 1, 5), ("v", 1, 2)]."""
    out = []
    for part in spec.split(";"):
        name, _, rng = part.strip().partition(":")
        low, high = (float(v) for v in rng.strip().strip("[]").split(","))
        out.append((name.strip(), low, high))
    return out


def _to_indexed(formula: str, names: list[str]) -> str:
    """Rewrite a formula over named variables as one over x0 … x{d-1} (sympy, every name a plain Symbol)."""
    import sympy

    from gensr.bench.parsing import parse_model

    symbols = {n: sympy.Symbol(n) for n in names}
    expr = parse_model(formula, symbols)
    return str(expr.xreplace({symbols[n]: sympy.Symbol(f"x{i}") for i, n in enumerate(names)}))


def _pmlb_file(data_dir: Path, name: str) -> Path:
    for candidate in (data_dir / name / f"{name}.tsv.gz", data_dir / "pmlb_blackbox" / name / f"{name}.tsv.gz",
                      data_dir / f"{name}.tsv.gz"):
        if candidate.exists():
            return candidate
    found = sorted(data_dir.rglob(f"{name}.tsv.gz"))
    if not found:
        raise FileNotFoundError(f"no {name}.tsv.gz under {data_dir} (PMLB keeps some large sets only in Git LFS)")
    return found[0]


def read_pmlb(path: str | Path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """X, y and feature names of a PMLB-format file (tab-separated, a ``target`` column)."""
    import pandas as pd

    frame = pd.read_csv(path, sep="\t")
    if "target" not in frame.columns:
        raise ValueError(f"{path} has no 'target' column; PMLB files name the response 'target'")
    features = [c for c in frame.columns if c != "target"]
    bad = [c for c in frame.columns if frame[c].dtype.kind not in "fiub"]
    if bad:
        raise ValueError(f"{path}: non-numeric columns {bad}")
    return (frame[features].to_numpy(np.float64), frame["target"].to_numpy(np.float64),
            tuple(str(c) for c in features))


def sample_feynman(formula: str, ranges: list[tuple[str, float, float]], rows: int, seed: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``rows`` points uniformly in the ranges and evaluate the formula (sympy → numpy)."""
    import sympy

    from gensr.bench.parsing import parse_model

    names = [n for n, _, _ in ranges]
    symbols = [sympy.Symbol(n) for n in names]
    fn = sympy.lambdify(symbols, parse_model(formula, dict(zip(names, symbols))), modules="numpy")
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.uniform(lo, hi, rows) for _, lo, hi in ranges])
    with np.errstate(all="ignore"):
        y = np.broadcast_to(np.asarray(fn(*X.T), dtype=np.float64), (rows,)).copy()
    if not np.isfinite(y).all():
        raise ValueError(f"formula {formula!r} is not finite on {int((~np.isfinite(y)).sum())} sampled rows")
    return X, y


# ---- one loader per suite (registered in gensr.bench.suites) ------------------------------------------
@lru_cache(maxsize=4)
def _feynman_units(data_dir: str) -> dict[str, dict[str, str | None]]:
    """{dataset: {variable name or "target": pint unit string or None}} from the units table (empty if absent).

    The table writes ``Length, m^1 * s^(-1)``; the unit is the text after the last comma, ``Dimensionless`` is
    ``""``, and its ``T`` (temperature) is pint's ``K``."""
    import re

    path = Path(data_dir) / _FEYNMAN_UNITS
    if not path.exists():
        return {}
    out: dict[str, dict[str, str | None]] = {}
    for row in _read_csv(path).itertuples():
        text = row.description_units
        unit = None
        if isinstance(text, str):
            unit = text.rsplit(",", 1)[-1].strip()
            unit = "" if unit == "Dimensionless" else re.sub(r"\bT\^", "K^", unit)
        out.setdefault(row.dataset, {})["target" if row.role == "target" else row.name] = unit
    return out


def feynman_names(data_dir: Path) -> list[str]:
    return sorted(_feynman_table(str(data_dir)).index)


def load_feynman(name: str, data_dir: Path, rows: int) -> Problem:
    """Sample ``rows`` rows of one Feynman equation (the draw depends only on the name and ``rows``)."""
    table = _feynman_table(str(data_dir))
    if name not in table.index:
        raise ValueError(f"{name!r} is not one of the {len(table)} Feynman problems")
    row = table.loc[name]
    ranges = _parse_ranges(row["variables"])
    names = [n for n, _, _ in ranges]
    X, y = sample_feynman(row["formula_sympy"], ranges, rows, seed=zlib.crc32(name.encode()))
    units = _feynman_units(str(data_dir)).get(name, {})
    return Problem("feynman", name, X, y, tuple(names), _to_indexed(row["formula_sympy"], names),
                   tuple(units.get(n) for n in names) if units else None, units.get("target"))


def strogatz_names(data_dir: Path) -> list[str]:
    return sorted(_strogatz_table(str(data_dir)).index)


def load_strogatz(name: str, data_dir: Path, rows: int) -> Problem:
    """One Strogatz file with its true formula (``rows`` is unused: the files are read whole)."""
    table = _strogatz_table(str(data_dir))
    if name not in table.index:
        raise ValueError(f"{name!r} is not one of the {len(table)} Strogatz problems")
    X, y, features = read_pmlb(_require(data_dir / table.loc[name, "file_pmlb_format"], f"data of {name}"))
    return Problem("strogatz", name, X, y, features, _to_indexed(table.loc[name, "formula_sympy"], list(features)))


def blackbox_names(data_dir: Path) -> list[str]:
    names = _require(data_dir / _BLACKBOX_LIST, "the 57-dataset list").read_text().split()
    return sorted(n for n in names if not n.startswith("#"))


def pmlb_names(data_dir: Path) -> list[str]:
    if not data_dir.is_dir():
        raise FileNotFoundError(f"PMLB folder {data_dir} does not exist")
    names = sorted({p.name[: -len(".tsv.gz")] for p in data_dir.rglob("*.tsv.gz")})
    if not names:
        raise FileNotFoundError(f"no PMLB-format .tsv.gz files under {data_dir}")
    return names


def pmlb_loader(suite: str) -> Callable[[str, Path, int], Problem]:
    """The loader of a suite of PMLB files without true formulas (``rows`` is unused)."""

    def load(name: str, data_dir: Path, rows: int) -> Problem:
        X, y, features = read_pmlb(_pmlb_file(data_dir, name))
        return Problem(suite, name, X, y, features, None)

    return load
