"""Which equation of the front should ``GenSRRegressor`` return? Selection rules on black-box data.

One fit per dataset (the GenSR protocol: 75/25 split with seed 14423, ``--max-time`` seconds, raw data),
then every rule of :data:`gensr.pareto.RULES` picks from the same front, and the pick is scored on the
held-out rows. Rules compared: PySR's ``best`` (largest log-loss drop per node among members within 1.5×
the lowest loss), ``balanced`` (largest R² − 0.001·complexity), ``accuracy`` (lowest loss), ``noise`` (the
simplest within the fit's noise floor, ``noise_floor_`` ± ``noise_floor_se_``) and ``simplest`` (simplest with
R² ≥ 0.99, else the most accurate)::

    taskset -c 1 python benchmarks/selection_rules.py --data-dir ../shared/benchdata --n 20 --max-time 15 \\
        --out benchmarks/results/selection_rules
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--n", type=int, default=20, help="black-box datasets (a fixed random subset of the 57)")
    ap.add_argument("--max-time", type=float, default=15.0)
    ap.add_argument("--max-train", type=int, default=10_000)
    ap.add_argument("--out", default="runs/selection-rules")
    args = ap.parse_args()
    import torch

    from gensr import GenSRRegressor
    from gensr._utils import r2_score as r2
    from gensr.bench.suites import list_problems, load_problem
    from gensr.pareto import RULES, select_model

    torch.set_num_threads(1)
    names = list_problems("blackbox", args.data_dir)
    pick = sorted(np.random.default_rng(0).choice(len(names), min(args.n, len(names)), replace=False))
    rows = []
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for i in pick:
        p = load_problem("blackbox", names[i], args.data_dir)
        idx = np.random.default_rng(14423).permutation(len(p.y))
        cut = int(0.75 * len(p.y))
        tr, te = idx[:cut][: args.max_train], idx[cut:]
        try:
            est = GenSRRegressor(max_time=args.max_time, random_state=14423, verbose=0).fit(p.X[tr], p.y[tr])
        except ValueError as exc:  # e.g. a constant target after the split
            print(f"{p.name}: skipped ({exc})")
            continue
        t = est.equations_
        for rule in RULES:
            k = select_model(t["complexity"].to_numpy(), t["loss"].to_numpy(), t["r2"].to_numpy(), rule=rule,
                             noise=(est.noise_floor_, est.noise_floor_se_, len(tr)))
            rows.append({"dataset": p.name, "rule": rule, "complexity": int(t.iloc[k]["complexity"]),
                         "r2_train": float(t.iloc[k]["r2"]), "r2_test": r2(p.y[te], est.predict(p.X[te], index=k))})
        line = {r["rule"]: round(r["r2_test"], 3) for r in rows[-len(RULES):]}
        print(f"{p.name:40s} {line}", flush=True)
        pd.DataFrame(rows).to_csv(out / "results.csv", index=False)
    df = pd.DataFrame(rows)
    df["r2_test_clipped"] = df["r2_test"].clip(lower=0)
    summary = df.groupby("rule").agg(mean_r2_test=("r2_test_clipped", "mean"),
                                     median_r2_test=("r2_test_clipped", "median"),
                                     median_complexity=("complexity", "median"), datasets=("dataset", "count"))
    print(summary.to_string())
    (out / "summary.json").write_text(json.dumps(json.loads(summary.reset_index().to_json(orient="records")),
                                                 indent=2))


if __name__ == "__main__":
    main()
