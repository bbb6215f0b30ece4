"""What ``GenSRRegressor.fit`` reads before the search: the cached model, checked frames and targets, the
user's seed formulas, the units and the always-scored baselines."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from gensr.grammar import Expression


def check_frame(X: Any) -> None:
    """Name non-numeric DataFrame columns before numpy turns them into an opaque conversion error."""
    columns = getattr(X, "columns", None)
    if columns is not None:
        names = [str(c) for c in columns]
        twice = sorted({c for c in names if names.count(c) > 1})
        if twice:
            raise ValueError(f"duplicate column names {twice}; rename them (each column must print as itself)")
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return
    bad = [str(name) for name, dt in dtypes.items() if getattr(dt, "kind", "O") not in "fiub"]
    if bad:
        raise ValueError(f"non-numeric feature columns: {bad}; encode or drop them before fitting")


def target(y: Any) -> np.ndarray:
    """y as a float array, with a clear error for text targets."""
    raw = np.asarray(y)
    if np.iscomplexobj(raw):
        raise ValueError("Complex data not supported: the target y is complex")
    try:
        out = raw.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError("the target y must be numeric; encode or drop non-numeric values") from None
    return out


def n_rows(X: Any) -> int:
    shape = getattr(X, "shape", None)
    return int(shape[0]) if shape is not None and len(shape) else len(X)


def user_seeds(seeds: Any, names: list[str], selected: np.ndarray) -> list[Expression]:
    """The ``seeds`` formulas over the feature names, as expressions over the selected features."""
    if seeds is None:
        return []
    from gensr.formula import parse

    if isinstance(seeds, str):
        seeds = [seeds]
    position = {int(j): i for i, j in enumerate(selected)}
    out = []
    for text in seeds:
        expr = parse(text, names) if isinstance(text, str) else text
        if not isinstance(expr, Expression):
            raise TypeError(f"seeds must be formula strings, got {type(text).__name__}")
        missing = [names[v] for v in expr.variables if v not in position]
        if missing:
            warnings.warn(f"seed {text!r} uses features that were not selected ({missing}); skipped", UserWarning,
                          stacklevel=3)
            continue
        out.append(expr.renamed(position))
    return out


def units(X_units: Any, y_units: Any, names: list[str]) -> Any:
    """The parsed units (None when none are given); bad units fail here, before the model loads."""
    if X_units is None and y_units is None:
        return None
    from gensr.units import parse_units

    return parse_units(X_units, y_units, names)


def baselines(n_vars: int) -> list[Expression]:
    """Always-scored seed equations: a constant and each single-feature affine law C*x_j + C."""
    from gensr.grammar import CONST, Node

    out = [Expression(Node(CONST))]
    for j in range(n_vars):
        out.append(Expression(Node("add", (Node("mul", (Node(CONST), Node(f"x{j}"))), Node(CONST)))))
    return out


def n_targets(y: Any) -> int:
    """The number of target columns: 1 for a 1-D y or a single column."""
    shape = getattr(y, "shape", None)
    if shape is None:
        shape = np.asarray(y).shape
    return int(shape[1]) if len(shape) == 2 else 1


PYSR_KEYWORDS = {
    "niterations": "max_generations", "ncycles_per_iteration": "max_generations", "procs": "n_jobs",
    "populations": "n_jobs", "multithreading": "n_jobs", "cluster_manager": "n_jobs with joblib.parallel_backend",
    "elementwise_loss": "loss", "loss_function": "loss", "timeout_in_seconds": "max_time", "maxdepth": "maxsize",
    "verbosity": "verbose", "progress": "verbose", "early_stop_condition": "search_config.budget.target_r2",
    "weights": "fit(X, y, sample_weight=...)", "variable_names": "a pandas DataFrame's column names",
    "select_k_features": "automatic (more than 100 features are ranked by mutual information)",
}
"""PySR's keywords gensr does not take, with gensr's equivalent (PySR's own names that gensr shares, such as
``maxsize``, ``binary_operators`` or ``model_selection``, are parameters)."""


def unknown_keywords(keywords: dict[str, Any], known: list[str]) -> str:
    """The one-line message for keywords ``GenSRRegressor`` does not take: PySR's point to gensr's setting,
    others to the closest parameter name."""
    import difflib

    name = sorted(keywords)[0]
    if name in PYSR_KEYWORDS:
        return f"GenSRRegressor has no {name!r} (PySR's name); gensr's equivalent is {PYSR_KEYWORDS[name]}"
    close = difflib.get_close_matches(name, known, n=1)
    return f"GenSRRegressor got an unexpected keyword {name!r}" + (f"; did you mean {close[0]!r}?" if close else "")
