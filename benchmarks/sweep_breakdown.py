"""What the report's tables leave out of a sweep: slowest fits against the budget, and rates by input count.

    python benchmarks/sweep_breakdown.py benchmarks/results/sweep30_feynman [more run dirs …]

Prints markdown: per (suite, noise, method) the median and slowest wall time as a multiple of the time
limit, the fits past 1.05 × the limit, failed fits and sympy checks that hit their time limit; the median
wall time, the median time to the answer (when the chosen equation first appeared) and how often each stop
reason fired (results that record them); then, per
number of input variables, each method's R² > 0.999 and symbolic rates. The main tables come from
``gensr bench report``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from gensr.bench.aggregate import load_results


def _pct(s: pd.Series) -> str:
    return f"{100 * s.astype(bool).mean():.0f} %"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="run directories or results.csv files")
    args = ap.parse_args()
    df = load_results([Path(p) / "results.csv" if Path(p).is_dir() else Path(p) for p in args.runs])
    print("| suite | γ | method | fits | median wall / limit | slowest wall / limit | fits > 1.05 × limit "
          "| failed fits | sympy checks timed out |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (suite, noise, method), g in df.groupby(["suite", "noise", "method"]):
        ratio = g["wall_time"] / g["time_limit"]
        failed = int(g["r2_test"].isna().sum())
        timed_out = int(g["error"].fillna("").str.contains("gave up").sum())
        print(f"| {suite} | {noise:g} | {method} | {len(g)} | {ratio.median():.2f} | {ratio.max():.3f} | "
              f"{int((ratio > 1.05).sum())} | {failed} | {timed_out} |")
    if "stop" in df:
        print()
        print("| suite | γ | method | median wall s | median time to the answer s | stop reasons (fits) |")
        print("|---|---|---|---|---|---|")
        for (suite, noise, method), g in df.groupby(["suite", "noise", "method"]):
            reasons = g["stop"].fillna("").astype(str).str.split(",").explode()
            counts = reasons[reasons != ""].value_counts()
            text = ", ".join(f"{k} {v}" for k, v in counts.items()) or "–"
            answer = pd.to_numeric(g.get("answer_time"), errors="coerce").median()
            print(f"| {suite} | {noise:g} | {method} | {g['wall_time'].median():.1f} | "
                  f"{'–' if pd.isna(answer) else f'{answer:.1f}'} | {text} |")
    truth = df[df["symbolic"].notna()]
    if len(truth):
        print()
        methods = sorted(truth["method"].unique())
        print("| suite | γ | inputs | problems | " + " | ".join(f"{m} R² > 0.999 | {m} symbolic" for m in methods)
              + " |")
        print("|---|---|---|---|" + "---|---|" * len(methods))
        for (suite, noise, d), g in truth.groupby(["suite", "noise", "n_features"]):
            cells = []
            for m in methods:
                gm = g[g["method"] == m]
                cells += [_pct(gm["solved_0999"]), _pct(gm["symbolic"].fillna(False))] if len(gm) else ["–", "–"]
            print(f"| {suite} | {noise:g} | {int(d)} | {g['dataset'].nunique()} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
