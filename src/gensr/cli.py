"""The ``gensr`` command line: ``generate``, ``train``, ``fit``, ``interpolate``, ``probe`` and ``bench``.

Each subcommand is a thin call into one library function. ``main(argv)`` returns the exit code: 0 on
success, 2 on bad input (a clear one-line message, never a traceback), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas

# What the interpreter had spent when this module was imported: the start-up that ``--max-time`` charges when
# ``gensr`` runs as a program. CPU time (not the process's age in /proc) because a shell that execs
# ``gensr`` as the last command of ``bash -c 'pip install … && gensr …'`` hands over its own start time,
# while the CPU time of the commands it ran before (child processes) is not this process's.
_IMPORTED_AT = time.monotonic()
_STARTUP_CPU = time.process_time()


def _add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="write a sharded corpus of (equation, data) pairs",
                       description="Generate random equations with sampled data points (E2E-style; see the "
                                   "gensr.generator docstring) "
                                   "and write them as .npz shards plus config.json.")
    p.add_argument("--n", type=int, required=True, help="number of (equation, data) pairs")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--seed", type=int, default=0, help="corpus seed (same seed, same corpus, any --workers)")
    p.add_argument("--workers", type=int, default=1, help="parallel processes")
    p.add_argument("--shard-size", type=int, default=10_000, help="pairs per shard file")
    p.add_argument("--config", help="JSON file with GeneratorConfig keys")
    p.add_argument("--show", type=int, default=0, help="print the first K equations of the corpus")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", help="GeneratorConfig overrides like max_vars=3")


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the CVAE",
                       description="Train the dual-branch CVAE on generated data. Settings: a preset, then "
                                   "--config FILE, then overrides like train.lr=3e-4 or model.d_model=128.")
    p.add_argument("--config", help="JSON file with model/generator/train sections (see configs/)")
    p.add_argument("--preset", choices=["tiny", "default"], default=None,
                   help="starting point before --config (default: the file's 'preset' key, else 'default')")
    p.add_argument("--out", default="runs/train", help="run directory")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its state.pt")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.max_steps=100")


def _add_fit(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fit", help="find equations for a column of a CSV/TSV/Parquet table",
                       description="Fit GenSRRegressor to a table and print the Pareto front of equations.")
    p.add_argument("data", nargs="?", help="CSV, TSV (.tsv, .tsv.gz, PMLB) or Parquet file")
    p.add_argument("--target", required=True, help="name of the column to explain")
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


def _add_interpolate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("interpolate", help="decode the latent path between two equations",
                       description="Encode formulas A and B with the posterior branch on shared points, decode "
                                   "along the line (or slerp) between their latents, and report per step the "
                                   "decoded equation, its validity and its normalised RMSE to A and B (every "
                                   "constant of a decoded skeleton set to 1; nothing is fitted).")
    p.add_argument("a", help='formula A, e.g. "x0*sin(x1)" (variables x0…x9; constants allowed)')
    p.add_argument("b", help='formula B, e.g. "x0*exp(x1)"')
    p.add_argument("--checkpoint", help="model checkpoint directory (default: the shipped model)")
    p.add_argument("--steps", type=int, default=9, help="decoded points, endpoints included (default 9)")
    p.add_argument("--spherical", action="store_true", help="spherical interpolation (slerp) instead of a line")
    p.add_argument("--n-points", type=int, default=200, help="shared data points (default 200)")
    p.add_argument("--range", nargs=2, type=float, default=(-2.0, 2.0), metavar=("LO", "HI"),
                   help="uniform range of every variable (default -2 2; e.g. 0.1 4 for log or sqrt)")
    p.add_argument("--seed", type=int, default=0, help="seed of the shared points (default 0)")
    p.add_argument("--plot", help="PNG of the decoded curves (one-variable formulas only; needs matplotlib)")
    p.add_argument("--output", help="write the table and summary as JSON")


def _add_probe(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probe", help="function-family probe of the latent space (exp/trig/log × 2-D/5-D)",
                       description="Embed generated problems of six classes (exp, trig, log families × 2 or 5 "
                                   "inputs) with the prior branch (data only) and score logistic-regression and "
                                   "k-NN probes on held-out splits, against an untrained model of the same "
                                   "shape and summary statistics of the data.")
    p.add_argument("--checkpoint", help="model checkpoint directory (default: the shipped model)")
    p.add_argument("--n-per-class", type=int, default=100, help="problems per class (default 100)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="train/test split seeds (default 0 1 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated problems (default 0)")
    p.add_argument("--plot", help="PNG of t-SNE maps coloured by class and by mean y (needs matplotlib)")
    p.add_argument("--output", help="write the accuracies as JSON")


def _add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmark sweeps (Feynman, Strogatz, PMLB) and their report",
                       description="Run SRBench-style sweeps with gensr and peers side by side, or report them.")
    actions = p.add_subparsers(dest="bench_command", required=True)
    r = actions.add_parser("run", help="run (or resume) a sweep into a run directory",
                           description="Fit every (suite, problem, noise, seed, method); each finished fit is "
                                       "appended to OUT/results.csv and a rerun skips it. Settings: the defaults, "
                                       "then --config FILE, then the options given here.")
    r.add_argument("--data-dir", required=True, help="benchdata folder (feynman/, strogatz/, pmlb_blackbox/, "
                                                      "lists/) or, with --suites pmlb, any folder of .tsv.gz")
    r.add_argument("--out", required=True, help="run directory (results.csv, config.json, env.json)")
    r.add_argument("--config", help="JSON file with BenchConfig keys (see benchmarks/configs/)")
    r.add_argument("--suites", nargs="+", help="feynman strogatz blackbox pmlb (default feynman)")
    r.add_argument("--methods", nargs="+", help="gensr pyoperon gplearn (default gensr)")
    r.add_argument("--protocol", choices=["gensr", "srbench"], help="default gensr (one run, seed 14423)")
    r.add_argument("--noise", type=float, nargs="+", help="noise levels γ (default 0)")
    r.add_argument("--seeds", type=int, nargs="+", help="trial seeds (default: the protocol's)")
    r.add_argument("--n-seeds", type=int, help="SRBench trials when --seeds is not given (default 10)")
    r.add_argument("--time-limit", type=float, help="seconds per fit for every method (default 60)")
    r.add_argument("--max-train", type=int, help="training-row cap (0: none; default: the protocol's)")
    r.add_argument("--feynman-rows", type=int, help="rows sampled per Feynman equation (default 100000)")
    r.add_argument("--problems", nargs="+", help="only these problem names")
    r.add_argument("--subset", type=int, help="a random subset of this many problems per suite")
    r.add_argument("--workers", type=int, help="parallel fits, one per core (default 1)")
    r.add_argument("--threads", type=int, help="threads per fit (default 1)")
    r.add_argument("--checkpoint", help="gensr model directory (default: the shipped model); the same as "
                                        "the override 'options={\"gensr\": {\"checkpoint\": DIR}}'")
    where = r.add_mutually_exclusive_group()
    where.add_argument("--dask", choices=["local"], help="run on a dask LocalCluster of --workers processes")
    where.add_argument("--scheduler", help="run on a dask cluster, e.g. tcp://host:8786")
    r.add_argument("--retry-errors", action="store_true", help="rerun fits that failed instead of skipping them")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("overrides", nargs="*", help="BenchConfig overrides after the options, e.g. hard_limit_s=200 "
                                                "or 'options={\"gensr\": {\"max_generations\": 3}}'")
    rep = actions.add_parser("report", help="markdown tables (with published numbers) and plots of results",
                             description="Aggregate results CSVs per (protocol, suite, noise, method), print "
                                         "markdown tables with the published reference numbers, and optionally "
                                         "write them into a markdown file and draw PNG plots.")
    rep.add_argument("results", nargs="+", help="results.csv files (or run directories)")
    rep.add_argument("--write-into", help="markdown file whose <!-- bench:begin/end --> section is replaced")
    rep.add_argument("--plots", help="folder for the PNG plots")


def build_parser() -> argparse.ArgumentParser:
    from gensr._version import __version__

    parser = argparse.ArgumentParser(prog="gensr", description="Symbolic regression in a generative equation "
                                     "space (GenSR).")
    parser.add_argument("--version", action="version", version=f"gensr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_generate(sub)
    _add_train(sub)
    _add_fit(sub)
    _add_interpolate(sub)
    _add_probe(sub)
    _add_bench(sub)
    return parser


def _cmd_generate(args: argparse.Namespace) -> int:
    from gensr._config import apply_overrides, from_dict, load_json
    from gensr.corpus import write_corpus
    from gensr.generator import GeneratorConfig

    if args.n <= 0:
        raise ValueError("--n must be positive")
    cfg = from_dict(GeneratorConfig, load_json(args.config)) if args.config else GeneratorConfig()
    cfg = apply_overrides(cfg, args.overrides)
    out = write_corpus(args.out, args.n, seed=args.seed, config=cfg, workers=args.workers,
                       shard_size=args.shard_size, progress=not args.quiet)
    print(f"wrote {args.n} pairs to {out}")
    if args.show:
        _show_corpus(out, args.show)
    return 0


def _show_corpus(path: Path, k: int) -> None:
    from gensr.corpus import load_corpus
    from gensr.grammar import Expression
    from gensr.vocab import VOCAB

    data = load_corpus(path)
    for i in range(min(k, len(data["tokens"]))):
        expr = Expression.from_prefix(VOCAB.decode(data["tokens"][i]))
        d, n = int(data["n_vars"][i]), int(data["n_points"][i])
        y = data["y"][i, :n]
        print(f"[{i}] {d} vars, {n} points, y in [{y.min():.3g}, {y.max():.3g}]:  y = {expr}")


def _cmd_train(args: argparse.Namespace) -> int:
    from gensr._config import load_json
    from gensr.train import resolve_config, train

    preset = args.preset
    if preset is None:
        preset = str(load_json(args.config).get("preset", "default")) if args.config else "default"
    cfg = resolve_config(preset, args.config, args.overrides)
    metrics = train(cfg, args.out, resume=args.resume, quiet=args.quiet, argv=["gensr", *sys.argv[1:]])
    print(f"run written to {args.out}")
    for key in sorted(metrics):
        print(f"  {key}: {metrics[key]:.4f}")
    return 0


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


def _startup_seconds() -> float:
    """What this process spent before ``main()``: the interpreter's start-up and imports.

    The CPU time used before this module was imported (the interpreter's own start; the CPU of commands a
    shell ran before exec-ing ``gensr`` belongs to other processes) plus the wall time since the import.
    """
    return _STARTUP_CPU + (time.monotonic() - _IMPORTED_AT)


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
    features = args.features or [c for c in table.columns if c != args.target]
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


def _cmd_fit(args: argparse.Namespace) -> int:
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
    left = max(budget - spent, 0.05)
    if left < budget / 2:
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
    if args.output:  # the result first: a failing plot must not lose it
        payload = _front_payload(args, model, features)
        if test is not None:
            payload["test_r2"] = r2
            payload["test_rows"] = len(test[1])
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


def _cmd_interpolate(args: argparse.Namespace) -> int:
    import json

    from gensr.checkpoint import load_model
    from gensr.formula import parse
    from gensr.latent import interpolate, plot_interpolation

    a, b = parse(args.a), parse(args.b)  # bad formulas fail before the model is loaded
    used = sorted(set(a.variables) | set(b.variables))
    if args.plot and len(used) > 1:
        raise ValueError(f"--plot draws curves of one variable; A and B use {len(used)}")
    model = load_model(args.checkpoint)
    result = interpolate(model, a, b, steps=args.steps, spherical=args.spherical, n_points=args.n_points,
                         rng=args.seed, x_range=tuple(args.range))
    print(result.format())
    if args.plot:
        print(f"wrote {plot_interpolation(result, args.plot)}")
    if args.output:
        Path(args.output).write_text(json.dumps(result.to_dict(), indent=2))
        print(f"wrote {args.output}")
    return 0


def _cmd_probe(args: argparse.Namespace) -> int:
    import json

    from gensr.checkpoint import load_model
    from gensr.latent import generator_config_from_checkpoint, plot_tsne, probe

    model = load_model(args.checkpoint)
    result = probe(model, n_per_class=args.n_per_class, seeds=tuple(args.seeds), rng=args.seed,
                   generator_config=generator_config_from_checkpoint(args.checkpoint))
    print(result.format())
    if args.plot:
        print(f"wrote {plot_tsne(result, args.plot)}")
    if args.output:
        Path(args.output).write_text(json.dumps(result.to_dict(), indent=2))
        print(f"wrote {args.output}")
    return 0


def _bench_config(args: argparse.Namespace) -> object:
    import dataclasses

    from gensr._config import apply_overrides, from_dict, load_json
    from gensr.bench.runner import BenchConfig

    config = from_dict(BenchConfig, load_json(args.config), where=args.config) if args.config else BenchConfig()
    # every BenchConfig field that has a command-line option and was given overrides the file
    given = {f.name: getattr(args, f.name, None) for f in dataclasses.fields(BenchConfig)}
    given = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items() if v is not None}
    if args.checkpoint is not None:  # gensr's model is one of its per-method options
        options = dict(config.options or {})
        options["gensr"] = {**options.get("gensr", {}), "checkpoint": args.checkpoint}
        given["options"] = options
    return apply_overrides(dataclasses.replace(config, **given), args.overrides)


def _cmd_bench(args: argparse.Namespace) -> int:
    if args.bench_command == "run":
        from gensr.bench.runner import run

        config = _bench_config(args)
        path = run(config, args.data_dir, args.out, dask=args.dask or args.scheduler,
                   retry_errors=args.retry_errors, progress=not args.quiet)
        print(f"results in {path}")
        return 0
    from gensr.bench.report import report

    paths = [Path(p) / "results.csv" if Path(p).is_dir() else Path(p) for p in args.results]
    print(report(paths, benchmarks_md=args.write_into, plot_dir=args.plots))
    return 0


_COMMANDS = {"generate": _cmd_generate, "train": _cmd_train, "fit": _cmd_fit,
             "interpolate": _cmd_interpolate, "probe": _cmd_probe,
             "bench": _cmd_bench}


def _one_line_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                      file: object = None, line: str | None = None) -> None:
    print(f"gensr: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gensr`` console script; returns the process exit code."""
    started = time.monotonic()
    if argv is None:  # gensr runs as the program: its start-up counts against --max-time
        started -= _startup_seconds()
    parser = build_parser()
    args = parser.parse_args(argv)
    args.started = started
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning  # restored on exit: a CLI prints one line per warning
            return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("gensr: interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, FileExistsError, OSError) as exc:
        print(f"gensr {args.command}: error: {exc}", file=sys.stderr)
        return 2
