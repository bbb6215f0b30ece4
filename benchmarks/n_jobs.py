"""``n_jobs=2`` against ``n_jobs=1`` on Feynman-40 at 30 s, in one run (the islands of gensr.search.islands).

Both arms run through ``gensr bench`` (each fit in a fresh child process, as a command-line user's would, so
island 1's worker process starts, imports torch and loads the model inside the budget), interleaved per
problem: ``gensr`` (n_jobs 1) and ``gensr.bench.methods:fit_gensr`` with ``n_jobs=2``. Run it alone on an
otherwise idle 2-core machine. It prints and writes ``summary.md`` in ``--out``:

- R² > 0.999 and symbolic rates of both arms;
- the median time to the answer (``answer_time``: when the chosen equation was first found) over the fits
  that ran to the budget (stopped by ``max_time`` in the n_jobs=1 arm), and its ratio; and over all fits;
- the median wall time per fit.

Example::

    python benchmarks/n_jobs.py --data-dir ../shared/benchdata --out benchmarks/results/n_jobs
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

TWO = "gensr.bench.methods:fit_gensr"


def summary(results: pd.DataFrame) -> str:
    arms = {"n_jobs=1": results[results.method == "gensr"].set_index("dataset"),
            "n_jobs=2": results[results.method == TWO].set_index("dataset")}
    common = arms["n_jobs=1"].index.intersection(arms["n_jobs=2"].index)
    one, two = (arms[k].loc[common] for k in ("n_jobs=1", "n_jobs=2"))
    budget = common[one["stop"].fillna("").str.contains("max_time").to_numpy()]
    lines = [f"{len(common)} problems; {len(budget)} ran to the budget with n_jobs=1.", "",
             "| | R² > 0.999 | symbolic | median answer time, budget-bound fits | median answer time, all |"
             " median wall |", "|---|---|---|---|---|---|"]
    for name, arm in (("n_jobs=1", one), ("n_jobs=2", two)):
        lines.append(f"| {name} | {arm.solved_0999.mean():.1%} | {arm.symbolic.mean():.1%} | "
                     f"{arm.loc[budget, 'answer_time'].median():.1f} s | {arm.answer_time.median():.2f} s | "
                     f"{arm.wall_time.median():.1f} s |")
    ratio = one.loc[budget, "answer_time"].median() / two.loc[budget, "answer_time"].median()
    paired = (one.loc[budget, "answer_time"] / two.loc[budget, "answer_time"]).median()
    lines += ["", f"Budget-bound fits: median answer time {ratio:.2f}x shorter with n_jobs=2 (median of the "
              f"per-problem ratios {paired:.2f}x); target >= 1.6x.",
              f"Gained at R² > 0.999: {sorted(set(common[two.solved_0999.to_numpy() & ~one.solved_0999.to_numpy()]))}",
              f"Lost at R² > 0.999: {sorted(set(common[one.solved_0999.to_numpy() & ~two.solved_0999.to_numpy()]))}"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--subset", type=int, default=40)
    parser.add_argument("--max-train", type=int, default=10000)
    parser.add_argument("--summary-only", action="store_true", help="summarise an existing --out")
    args = parser.parse_args()
    out = Path(args.out)
    if not args.summary_only:
        from gensr.bench.runner import BenchConfig, run

        config = BenchConfig(suites=("feynman",), methods=("gensr", TWO), time_limit=args.time_limit,
                             subset=args.subset, max_train=args.max_train, options={TWO: {"n_jobs": 2}},
                             symbolic_timeout=20.0)
        run(config, args.data_dir, out)
    text = summary(pd.read_csv(out / "results.csv"))
    (out / "summary.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
