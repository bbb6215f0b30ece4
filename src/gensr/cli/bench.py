"""``gensr bench run`` and ``gensr bench report``: benchmark sweeps and their tables."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_bench(sub: argparse._SubParsersAction) -> None:
    from gensr.bench.methods import METHODS

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
    r.add_argument("--methods", nargs="+",
                   help=f"default gensr; registered: {' '.join(METHODS)} (gensr.bench.methods)")
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


def cmd_bench(args: argparse.Namespace) -> int:
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
