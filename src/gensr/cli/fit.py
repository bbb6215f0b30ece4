"""``gensr fit``: read a table, search for the target's equations (or fit ``--formula``), print and save the front."""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas


def add_fit(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fit", help="find equations for a column of a CSV/TSV/Parquet table",
                       description="Fit GenSRRegressor to a table and print the Pareto front of equations.")
    p.add_argument("data", nargs="?", help="CSV, TSV (.tsv, .tsv.gz, PMLB) or Parquet file")
    p.add_argument("--target", required=True, nargs="+",
                   help="name of the column to explain; several (--target a b) are fitted in turn, each with an "
                        "even share of what is left of --max-time")
    p.add_argument("--sep", help="field separator of a text table (default: sniffed from the file, e.g. ',' ';' "
                                 "or a tab)")
    p.add_argument("--features", nargs="+", help="feature columns (default: every other column)")
    p.add_argument("--formula", help='fit only the constants of this formula, e.g. "C*a*b/c + C" (C: a constant '
                                     "to fit; other numbers stay fixed); no search")
    p.add_argument("--max-time", type=float, default=None,
                   help="wall-clock budget of the whole command in seconds (default: the search config's, 60)")
    p.add_argument("--max-generations", type=int, default=None,
                   help="CMA-ES generations (default: the search config's: 200, or 40 with --deterministic)")
    p.add_argument("--deterministic", action="store_true", default=None,
                   help="bound every stage by counts, not by the clock: the same --seed gives the same front on "
                        "any machine (--max-time is then only a ceiling)")
    p.add_argument("--config", help="JSON file with SearchConfig sections (budget, cma, fit, lee, …)")
    p.add_argument("--search", action="append", default=[], metavar="KEY=VALUE",
                   help="a dotted SearchConfig override after --config, e.g. fit.fitter=torch (repeatable)")
    p.add_argument("--checkpoint", help="model checkpoint directory (default: the shipped model)")
    p.add_argument("--model-selection", choices=["best", "balanced", "mdl", "noise", "accuracy", "simplest"],
                   default=None,
                   help="best: PySR's rule; balanced: largest R² - 0.001·complexity; mdl: shortest description "
                        "(residuals, constants, nodes); noise: simplest within the data's noise floor, else mdl; "
                        "accuracy: lowest loss; simplest: simplest with R² >= --r2-threshold (default: the "
                        "estimator's)")
    p.add_argument("--r2-threshold", type=float, default=None,
                   help="R² floor of --model-selection simplest (default: the estimator's, 0.99)")
    p.add_argument("--test-size", type=float, default=0.0,
                   help="hold out this share of rows (e.g. 0.25) and report the chosen equation's test R²")
    p.add_argument("--plot", help="PNG of the front (loss against complexity, chosen equation marked)")
    p.add_argument("--units", nargs="+", metavar="COLUMN=UNIT",
                   help="physical units of columns, the target included, e.g. m0=kg v=m/s c=m/s m=kg ('1' for "
                        "dimensionless): the fit searches the dimensionless groups first, and the front says which "
                        "equations are dimensionally consistent")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--drop-nan", action="store_true", help="drop rows with NaN/inf instead of failing")
    p.add_argument("--output", help="write the whole front and the chosen equation as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def read_table(path: str, sep: str | None = None) -> pandas.DataFrame:
    """Read CSV, TSV (optionally gzipped, as PMLB ships them) or Parquet into a DataFrame.

    ``sep``: the field separator of a text table; by default tab for .tsv and sniffed otherwise.
    """
    import pandas as pd

    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{p} is a directory, not a data file")
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such data file")
    name = p.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            try:
                return pd.read_parquet(p)
            except ImportError:
                raise ValueError("reading Parquet needs pyarrow: pip install pyarrow") from None
        sep = sep or _sniff_sep(p)
        table = pd.read_csv(p, sep=sep)
        header = [str(c) for c in pd.read_csv(p, sep=sep, header=None, nrows=1).iloc[0]]
        twice = sorted({c for c in header if header.count(c) > 1})
        if twice:  # pandas would rename the second one a.1 and fit y = a*a.1 silently
            raise ValueError(f"{p}: duplicate column names {twice}; rename them")
        if table.isna().to_numpy().any():
            _check_row_lengths(p, sep, len(table.columns))
        return table
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{p}: cannot read table ({str(exc).splitlines()[0]})") from None


def _open_text(path: Path) -> Any:
    """A text table for reading, gunzipped when its name ends in .gz."""
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    return opener(path, "rt", errors="replace", newline="")


def _sniff_sep(path: Path) -> str:
    """The field separator of a text table: tab for .tsv/.tab, else sniffed from its first lines (',' if unsure)."""
    import csv

    if path.name.lower().endswith((".tsv", ".tsv.gz", ".tab")):
        return "\t"
    with _open_text(path) as f:
        sample = "".join(f.readline() for _ in range(20))
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _check_row_lengths(path: Path, sep: str, n_columns: int) -> None:
    """A row with fewer fields than the header reads as NaN: name it instead of reporting a NaN."""
    import csv

    with _open_text(path) as f:
        for number, row in enumerate(csv.reader(f, delimiter=sep), start=1):
            if row and len(row) < n_columns:
                raise ValueError(f"{path}: line {number} has {len(row)} field{'s' * (len(row) != 1)}, "
                                 f"the header has {n_columns}")


def _check_writable(path: str) -> None:
    """Fail before the fit, not after it, when an output file cannot be written."""
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"cannot write {p}: it is a directory")
    if not p.parent.is_dir():
        raise ValueError(f"cannot write {p}: folder {p.parent} does not exist")
    if not os.access(p.parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise ValueError(f"cannot write {p}: permission denied")


def _fit_table(args: argparse.Namespace) -> tuple[pandas.DataFrame, list[str], pandas.Series]:
    """Read the table of ``gensr fit`` and check its columns and rows (numpy only, before scikit-learn)."""
    table = read_table(args.data, args.sep)
    if len(table) == 0:
        raise ValueError(f"{args.data} has a header but no data rows")
    if args.target not in table.columns:
        raise ValueError(f"target column {args.target!r} not in {args.data}; columns: {list(table.columns)}")
    targets = getattr(args, "targets", [args.target])  # with several targets, none is a feature of another
    features = args.features or [c for c in table.columns if c not in targets]
    missing = [c for c in features if c not in table.columns]
    if missing:
        raise ValueError(f"feature columns {missing} not in {args.data}")
    if not features:
        raise ValueError(f"{args.data} has no feature columns besides the target")
    y = table[args.target]
    if y.dtype.kind not in "fiub":
        raise ValueError(f"target column {args.target!r} is not numeric (dtype {y.dtype})")
    bad = [c for c in features if table[c].dtype.kind not in "fiub"]
    if bad:
        raise ValueError(f"non-numeric feature columns: {bad}; encode or drop them before fitting")
    # the table's own checks first, with numpy only: bad input fails before scikit-learn and torch load
    from gensr._validation import check_rows, finite_rows

    keep = finite_rows(table[features].to_numpy(float), y.to_numpy(float), features,
                       "drop" if args.drop_nan else "raise")
    check_rows(y.to_numpy(float)[keep])
    return table, features, y


def _units_arg(args: argparse.Namespace, features: list[str]) -> tuple[dict[str, str] | None, str | None]:
    """``--units a=kg b=m/s y=kg`` as (feature units by name, target unit), checked (pint) before the fit."""
    if not args.units:
        return None, None
    given: dict[str, str] = {}
    for item in args.units:
        name, eq, unit = item.partition("=")
        if not eq or not name:
            raise ValueError(f"--units takes COLUMN=UNIT pairs such as v=m/s, got {item!r}")
        if name not in features and name != args.target:
            raise ValueError(f"--units names column {name!r}, which is not a feature or the target; columns: "
                             f"{[*features, args.target]}")
        given[name] = unit
    from gensr.units import parse_units

    X_units = {n: u for n, u in given.items() if n != args.target}
    parse_units(X_units, given.get(args.target), features)
    return X_units, given.get(args.target)


def cmd_fit(args: argparse.Namespace) -> int:
    """``gensr fit``: one target, or several in turn (``--target a b``), each with an even share of what is
    left of ``--max-time``; ``--output`` then holds ``{"targets": [one front's JSON per target]}``."""
    import json

    targets = list(dict.fromkeys(args.target))
    if len(targets) == 1:
        args.target = targets[0]
        return _fit_target(args)
    if args.formula or args.plot:
        raise ValueError(f"{'--formula' if args.formula else '--plot'} takes one --target, got {targets}")
    if args.output:
        _check_writable(args.output)
    code, payloads = 0, []
    for j, name in enumerate(targets):
        print(f"== {name} ({j + 1} of {len(targets)}) ==")
        sub = argparse.Namespace(**vars(args))
        sub.target, sub.targets, sub.share, sub.output = name, targets, 1.0 / (len(targets) - j), None
        sub.units = [u for u in args.units or [] if u.split("=")[0] not in targets or u.split("=")[0] == name]
        code = max(code, _fit_target(sub))
        payloads.append(sub.payload)
        if code == 130:
            break  # Ctrl-C: what was found is printed (and saved below)
    if args.output:
        Path(args.output).write_text(json.dumps({"targets": payloads}, indent=2))
        print(f"wrote {args.output}")
    return code


def _fit_target(args: argparse.Namespace) -> int:
    import json
    import math

    if args.max_time is not None and not (math.isfinite(args.max_time) and args.max_time > 0):
        raise ValueError(f"--max-time must be a positive number of seconds, got {args.max_time:g}")
    if args.max_generations is not None and args.max_generations < 1:
        raise ValueError(f"--max-generations must be at least 1, got {args.max_generations}")
    for path in (args.output, args.plot):
        if path:
            _check_writable(path)
    if args.data is None:  # `--units a=kg b=m data.csv`: the list took the file name
        loose = [u for u in args.units or [] if "=" not in u]
        if len(loose) != 1:
            raise ValueError("gensr fit needs a data file (CSV, TSV or Parquet)")
        args.data = loose[0]
        args.units = [u for u in args.units if u != args.data]
    if args.plot:
        try:  # the import itself, not only the package's presence: a broken matplotlib fails here, not at the end
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot
        except Exception as exc:
            raise ValueError(f"--plot needs a working matplotlib ({type(exc).__name__}: {exc}); pip install "
                             "'gensr[plot]' or leave out --plot") from None
    if not 0.0 <= args.test_size < 1.0:
        raise ValueError(f"--test-size must be in [0, 1), got {args.test_size}")
    from gensr._config import apply_overrides, from_dict, load_json
    from gensr.search import SearchConfig

    base = from_dict(SearchConfig, load_json(args.config), where=args.config) if args.config else SearchConfig()
    search_config = apply_overrides(base, args.search)
    budget = args.max_time if args.max_time is not None else search_config.budget.max_time
    table, features, y = _fit_table(args)
    X_units, y_units = _units_arg(args, features)
    if args.formula:
        return _fit_formula(args, table, features, y)
    from gensr.estimator import GenSRRegressor

    X_all, y_all = table[features], y.to_numpy()
    test = None
    if args.test_size > 0:
        fit_rows, test_rows = _split_rows(len(table), args.test_size, args.seed)
        test = (X_all.iloc[test_rows], y_all[test_rows])
        X_all, y_all = X_all.iloc[fit_rows], y_all[fit_rows]
    # the budget is the whole command's: what start-up and reading the table took is taken off the fit
    spent = time.monotonic() - args.started
    left = max((budget - spent) * getattr(args, "share", 1.0), 0.05)
    if left < budget / 2 and getattr(args, "share", 1.0) == 1.0:
        warnings.warn(f"start-up and reading the data took {spent:.1f} s of --max-time {budget:g}; the search "
                      f"has {left:.1f} s", UserWarning, stacklevel=1)
    model = GenSRRegressor(checkpoint=args.checkpoint, max_time=left, search_config=search_config,
                           max_generations=args.max_generations,
                           deterministic=args.deterministic,
                           **({"model_selection": args.model_selection} if args.model_selection else {}),
                           **({"r2_threshold": args.r2_threshold} if args.r2_threshold is not None else {}),
                           nan_policy="drop" if args.drop_nan else "raise",
                           random_state=args.seed, verbose=0 if args.quiet else 1)
    model.fit(X_all, y_all, X_units=X_units, y_units=y_units)
    interrupted = "interrupted" in model.search_result_.stop
    front = model.equations_
    stop = ", ".join(sorted(model.search_result_.stop)) or "done"
    from gensr.noise import NoiseFloor

    print(f"Pareto front ({len(front)} equations, {model.search_result_.evaluations} latents decoded, "
          f"{model.search_result_.timings.get('total', float('nan')):.1f} s, stopped by {stop}; "
          f"{NoiseFloor(model.noise_floor_, model.noise_floor_se_, len(y_all)).describe()}):")
    if model.pi_groups_ is not None:
        print(f"units: searched {args.target}/({model.y_reference_}) as a function of {model.pi_groups_} first")
    columns = ["complexity", "loss", "r2", "equation"] + (["consistent"] if "consistent" in front else []) \
        + ([] if front["extrapolates"].all() else ["extrapolates"])  # shown when an equation fails beyond the data
    print(front[columns].to_string(index=True))
    print(f"\nchosen ({model.model_selection}): {args.target} = {front.iloc[model.best_index_]['equation']}")
    for note in model.notes_:
        print(f"note: {note.replace('max_time', '--max-time')}")
    if test is not None:
        r2 = _test_r2(model, *test)
        print(f"held-out R² ({len(test[1])} rows, --test-size {args.test_size:g}): {r2:.6f}")
    if len(model.selected_features_) < len(features):
        print(f"note: only these features were used: {[features[i] for i in model.selected_features_]}")
    payload = args.payload = _front_payload(args, model, features)
    if test is not None:
        payload["test_r2"] = r2
        payload["test_rows"] = len(test[1])
    if args.output:  # the result first: a failing plot must not lose it
        Path(args.output).write_text(json.dumps(payload, indent=2))
        print(f"wrote {args.output}")
    if args.plot:
        try:
            model.plot_front(path=args.plot)
        except Exception as exc:  # the front is printed and saved above; the plot alone is lost
            print(f"gensr fit: --plot failed ({type(exc).__name__}: {exc})", file=sys.stderr)
            return 2
        print(f"wrote {args.plot}")
    if interrupted:
        print("gensr fit: interrupted; the front above is what was found so far", file=sys.stderr)
        return 130
    return 0


def _split_rows(n: int, test_size: float, seed: int) -> tuple[Any, Any]:
    """``--test-size``: shuffled fitting and held-out row indices (scikit-learn's split; at least one held out)."""
    from sklearn.model_selection import train_test_split

    return train_test_split(range(n), test_size=max(1, round(test_size * n)), random_state=seed)


def _fit_formula(args: argparse.Namespace, table: pandas.DataFrame, features: list[str], y: pandas.Series) -> int:
    """``gensr fit --formula``: fit the formula's constants (no search), print it with its R², write JSON."""
    import json

    import numpy as np

    from gensr.formula_fit import fit_formula

    keep = np.isfinite(table[features].to_numpy(float)).all(axis=1) & np.isfinite(y.to_numpy(float))
    X_all, y_all = table[features].to_numpy(float)[keep], y.to_numpy(float)[keep]
    test = None
    if args.test_size > 0:
        fit_rows, test_rows = _split_rows(len(y_all), args.test_size, args.seed)
        test = (X_all[test_rows], y_all[test_rows])
        X_all, y_all = X_all[fit_rows], y_all[fit_rows]
    fit = fit_formula(args.formula, X_all, y_all, feature_names=features, random_state=args.seed)
    print(f"{args.target} = {fit}")
    print(f"R² {fit.r2:.6f}, MSE {fit.mse:.6g} on {len(y_all)} rows")
    payload: dict[str, Any] = {"target": args.target, "features": list(features), "formula": args.formula,
                               "equation": str(fit), "r2": fit.r2, "mse": fit.mse,
                               "constants": [float(c) for c in fit.constants]}
    if test is not None:
        from gensr._utils import r2_score

        payload["test_r2"] = r2_score(test[1], fit.predict(test[0]))
        payload["test_rows"] = len(test[1])
        print(f"held-out R² ({len(test[1])} rows, --test-size {args.test_size:g}): {payload['test_r2']:.6f}")
    if args.output:
        Path(args.output).write_text(json.dumps(payload, indent=2))
        print(f"wrote {args.output}")
    return 0


def _front_payload(args: argparse.Namespace, model: Any, features: list[str]) -> dict[str, Any]:
    """The JSON of ``gensr fit --output``: the whole front and the chosen equation."""
    front = model.equations_
    return {"target": args.target, "features": list(features), "model_selection": model.model_selection,
            "noise_floor": model.noise_floor_, "noise_floor_se": _finite_or_none(model.noise_floor_se_),
            "notes": model.notes_, "stop": sorted(model.search_result_.stop),
            "chosen": int(model.best_index_), "selected_features": [features[i] for i in model.selected_features_],
            "front": [{"complexity": int(r.complexity), "loss": float(r.loss), "r2": float(r.r2),
                       "score": float(r.score), "equation": r.equation, "sympy": str(r.sympy_format),
                       "latex": _latex(r.sympy_format), "prefix": list(r.expression.prefix),
                       "constants": [float(c) for c in r.expression.constants],
                       "extrapolates": bool(r.extrapolates),
                       **({"consistent": bool(r.consistent)} if "consistent" in front else {})}
                      for r in front.itertuples()],
            **({"units": dict(zip(model.units_.names, model.units_.inputs)) | {args.target: model.units_.target},
                "pi_groups": model.pi_groups_, "y_reference": model.y_reference_} if model.units_ else {})}


def _finite_or_none(x: float) -> float | None:
    """A float for JSON, which has no infinity: None where it is not finite (an unresolved floor's error)."""
    import math

    return float(x) if math.isfinite(x) else None


def _test_r2(model: object, X: object, y: object) -> float:
    import numpy as np

    from gensr._utils import r2_score

    keep = np.isfinite(np.asarray(y, dtype=float)) & np.isfinite(np.asarray(X, dtype=float)).all(axis=1)
    return r2_score(np.asarray(y, dtype=float)[keep], model.predict(X[keep]))  # type: ignore[attr-defined]


def _latex(expr: object) -> str:
    import sympy

    return sympy.latex(expr)
