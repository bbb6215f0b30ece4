"""How many exact laws did SRBench's symbolic check miss only because of how they were printed?

Re-reads a sweep's ``results.csv``, applies :func:`gensr.front.readable` (the canonicalisation pass the
estimator now runs on every front member) to each gensr formula, on the same training rows the fit saw, and
reruns SRBench's symbolic check (:func:`gensr.bench.metrics.symbolic_solution`) on the result. No fit is
rerun: the formulas are the ones the sweep returned.

    python benchmarks/readable_recheck.py benchmarks/results/sweep30_feynman --data-dir ../shared/benchdata

Prints the problems whose check changes, and the totals, as markdown.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import sympy

from gensr._config import from_dict
from gensr.bench.metrics import SYMBOLIC_MIN_R2, symbolic_solution
from gensr.bench.parsing import parse_model
from gensr.bench.runner import BenchConfig, split
from gensr.bench.suites import load_problem
from gensr.front import readable


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="a sweep's run directory (results.csv and config.json)")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--method", default="gensr")
    args = ap.parse_args()
    run = Path(args.run)
    stored = json.loads((run / "config.json").read_text())["config"]
    known = {f.name for f in dataclasses.fields(BenchConfig)}
    cfg = from_dict(BenchConfig, {k: v for k, v in stored.items() if k in known})  # older runs: extra keys
    df = pd.read_csv(run / "results.csv")
    df = df[(df["method"] == args.method) & df["truth"].notna() & df["model"].notna()]
    before = after = checked = 0
    changes = []
    for _, r in df.iterrows():
        if not r["r2_test"] > SYMBOLIC_MIN_R2:
            continue
        checked += 1
        problem = load_problem(r["suite"], r["dataset"], args.data_dir, feynman_rows=cfg.feynman_rows)
        X_tr, _, y_tr, _ = split(problem, cfg, float(r["noise"]), int(r["seed"]))
        names = [f"x{j}" for j in range(X_tr.shape[1])]
        model = parse_model(str(r["model"]), {n: sympy.Symbol(n, real=True) for n in names})
        truth = parse_model(str(r["truth"]))
        new = readable(model, X_tr, y_tr, names)
        was = bool(r["symbolic"]) if str(r["symbolic"]) in ("True", "False") else False
        now, _ = symbolic_solution(new, truth, seconds=cfg.symbolic_timeout)
        before, after = before + was, after + now
        if was != now:
            changes.append((r["dataset"], str(r["model"])[:70], str(new)[:70], was, now))
    print("| problem | printed by the sweep | readable form | symbolic before | after |")
    print("|---|---|---|---|---|")
    for c in changes:
        print("| " + " | ".join(str(v).replace("|", "\\|") for v in c) + " |")
    n = len(df)
    print(f"\n{args.method}: {before} → {after} symbolic of {n} problems ({checked} with test R² > "
          f"{SYMBOLIC_MIN_R2}); {np.sum([c[4] and not c[3] for c in changes])} gained, "
          f"{np.sum([c[3] and not c[4] for c in changes])} lost")


if __name__ == "__main__":
    main()
