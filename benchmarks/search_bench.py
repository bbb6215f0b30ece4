"""Search throughput, time split and the LEE refinement ablation, through the public estimator.

Problems: a few hand-written physics-style formulas plus held-out problems from the checkpoint's own
generator (seed different from training). Each problem gets 200 rows, fitted on 75% and scored on the
held-out 25%. Every variant runs the same problems with the same budget and seed.

Variants (``--variants``):

* ``full``: the default search (LEE re-encoding, g_eval steps and symbolic edits on);
* ``no-reencode``: ``lee.enabled=False``;
* ``no-geval``: ``lee.geval_steps=0``;
* ``no-lee``: both off;
* ``no-edit``: ``edits.enabled=False`` (no local symbolic edits);
* ``no-powerlaw``: ``power_law.enabled=false``;
* ``no-enumerate``: ``enumerate.enabled=false``;
* ``no-screen``: ``fit.screen_rows=0`` (every candidate gets the full numpy constant fit).

Writes ``results.csv`` (one row per problem and variant) and prints a summary table: candidates scored
per second, the time split, test R², share with R² > 0.999, exact skeleton recovery, median complexity.

Example::

    python benchmarks/search_bench.py --max-time 15 --n-generated 10 --out runs/search-bench
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gensr import GenSRRegressor, parse
from gensr._config import from_dict
from gensr.checkpoint import read_checkpoint_config
from gensr.generator import GeneratorConfig, iter_problems
from gensr.search import SearchConfig

FORMULAS = {  # name: (formula, sampling range of every variable)
    "x0*x1/x2": ("x0*x1/x2", (1.0, 5.0)),
    "gaussian": ("exp(-x0**2/2)/sqrt(2*pi)", (-3.0, 3.0)),
    "x0*sin(x1)": ("x0*sin(x1)", (-3.0, 3.0)),
    "hypot": ("sqrt(x0**2 + x1**2)", (0.5, 4.0)),
    "x0/(1+x1)": ("x0/(1 + x1)", (0.5, 4.0)),
    "newton": ("x0*x1/x2**2", (1.0, 5.0)),
}

VARIANTS = {
    "full": {},
    "no-reencode": {"lee.enabled": False},
    "no-geval": {"lee.geval_steps": 0},
    "no-lee": {"lee.enabled": False},
    "no-edit": {"edits.enabled": False},
    "no-powerlaw": {"power_law.enabled": False},
    "no-enumerate": {"enumerate.enabled": False},
    "no-screen": {"fit.screen_rows": 0},
}


def problems(checkpoint: str | None, n_generated: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for name, (text, (lo, hi)) in FORMULAS.items():
        expr = parse(text)
        X = rng.uniform(lo, hi, size=(200, max(expr.variables) + 1))
        out.append({"name": name, "truth": expr, "X": X, "y": expr.evaluate(X)})
    _, meta = read_checkpoint_config(checkpoint)
    gen = from_dict(GeneratorConfig, meta["generator"])
    gen = dataclasses.replace(gen.with_dims(gen.min_vars, 3), min_points=200, max_points=200)
    for i, p in enumerate(iter_problems(n_generated, seed, gen)):
        out.append({"name": f"generated-{i}", "truth": p.expr, "X": p.X, "y": p.y})
    return out


def symbolic_match(model: GenSRRegressor, truth, n_vars: int) -> bool:
    """Same canonical skeleton, or SRBench's rule: found − true or found / true simplifies to a constant."""
    import sympy

    if model.expression_.key == truth.key:
        return True
    found, true = model.sympy(), truth.to_sympy([f"x{i}" for i in range(n_vars)])
    return bool(sympy.simplify(found - true).is_constant() or sympy.simplify(found / true).is_constant())


def run_one(problem: dict, variant: str, args: argparse.Namespace) -> dict:
    X, y = problem["X"], problem["y"]
    idx = np.random.default_rng(args.seed).permutation(len(y))
    cut = int(0.75 * len(y))
    tr, te = idx[:cut], idx[cut:]
    config = SearchConfig().replace(**VARIANTS[variant])
    model = GenSRRegressor(checkpoint=args.checkpoint, max_time=args.max_time, random_state=args.seed,
                           verbose=0, search_config=config)
    start = time.perf_counter()
    model.fit(X[tr], y[tr])
    wall = time.perf_counter() - start
    pred = model.predict(X[te])
    ok = np.isfinite(pred)
    ss = float(np.sum((y[te] - y[te].mean()) ** 2))
    r2 = 1.0 - float(np.sum((y[te][ok] - pred[ok]) ** 2)) / ss if ok.all() and ss > 0 else 0.0
    res = model.search_result_
    chosen = model.expression_
    return {"problem": problem["name"], "variant": variant, "wall_s": wall, "r2_test": max(r2, 0.0),
            "skeleton_recovered": symbolic_match(model, problem["truth"], X.shape[1]),
            "complexity": chosen.complexity,
            "equation": model.equations_.iloc[model.best_index_]["equation"],
            "stage": model.equations_.iloc[model.best_index_]["stage"], "candidates": res.n_fitted,
            "evaluations": res.evaluations, "generations": res.generations,
            "stop": ",".join(sorted(res.stop)), **{f"t_{k}": v for k, v in res.timings.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None, help="model checkpoint (default: the shipped model)")
    ap.add_argument("--max-time", type=float, default=15.0, help="seconds per problem and variant")
    ap.add_argument("--n-generated", type=int, default=10, help="held-out generated problems (1-3 vars)")
    ap.add_argument("--variants", nargs="+", default=["full", "no-lee"], choices=list(VARIANTS))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default="runs/search-bench")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    probs = problems(args.checkpoint, args.n_generated, args.seed + 1000)
    for p in probs:
        for variant in args.variants:
            row = run_one(p, variant, args)
            rows.append(row)
            print(f"{row['problem']:14s} {variant:12s} R2={row['r2_test']:.4f} rec={row['skeleton_recovered']!s:5s}"
                  f" t={row['wall_s']:.1f}s  {row['equation']}", flush=True)
            pd.DataFrame(rows).to_csv(out / "results.csv", index=False)
    df = pd.DataFrame(rows)
    summary = df.groupby("variant").agg(
        problems=("problem", "count"), mean_r2=("r2_test", "mean"),
        r2_gt_0999=("r2_test", lambda s: float(np.mean(s > 0.999))),
        recovered=("skeleton_recovered", "mean"), median_complexity=("complexity", "median"),
        median_wall_s=("wall_s", "median"),
        candidates_per_s=("candidates", lambda s: float(s.sum() / df.loc[s.index, "wall_s"].sum())),
        latents_per_s=("evaluations", lambda s: float(s.sum() / df.loc[s.index, "wall_s"].sum())),
    )
    split = df.groupby("variant")[[c for c in df.columns if c.startswith("t_") and c != "t_total"]].sum()
    split = split.div(split.sum(axis=1), axis=0).round(3)
    print(summary.to_string())
    print("time split (share of total):")
    print(split.to_string())
    (out / "summary.json").write_text(json.dumps({"summary": json.loads(summary.to_json()),
                                                   "time_split": json.loads(split.to_json()),
                                                   "args": vars(args)}, indent=2, default=str))


if __name__ == "__main__":
    main()
