"""Candidate throughput of the search's pool: distinct skeletons fitted per second, and the quality kept.

Every variant scores the same skeletons on the same data, interleaved problem by problem in one process:
for each problem (a few textbook-style formulas and held-out generated problems, 1,000 rows each), 300
skeletons drawn from the training generator over the problem's variables plus the true skeleton. Variants:

* ``before``: every skeleton with constants gets the full fit (1,024 rows, 3 starts): the search before
  the screen (``fit.fitter=torch``, ``fit.adaptive_starts=false``);
* ``no-linear``: the pool before variable projection (``fit.linear_solve=false``): LM over every constant;
* ``screen``: the default pool (a 64-row screen, a full fit only for candidates that could join the front,
  one start unless a constant sits inside a nonlinear function, the linear constants solved by least
  squares inside LM).

``--variants A B`` picks the two to compare (default ``before screen``); the summary gives B/A.

Quality: the true skeleton's R², the best score, and the Pareto front's MSE at each complexity up to the
truth's. A second measurement, ``multi_term``: generated problems whose true skeleton has two or more linear
constants (several terms) and nonlinear ones too (400 draws, 4 variables, 400 points, the generator's noise);
each variant fits the true skeleton from the unit start, and the share reaching R² > 0.999 is reported. Run
pinned to one core while the other is busy, and quote ratios::

    taskset -c 1 python benchmarks/fit_throughput.py --out benchmarks/results/fit_throughput
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gensr.deadline import Deadline
from gensr.formula import parse
from gensr.generator import GeneratorConfig, iter_problems, sample_expression
from gensr.search import SearchConfig
from gensr.search.pool import Pool, linear_constants

FORMULAS = {  # name: (formula, range of every variable); textbook-style forms, none from a benchmark table
    "x0*x1/x2": ("x0*x1/x2", (1.0, 5.0)),
    "2.5*sin(1.3*x0)-0.7": ("2.5*sin(1.3*x0) - 0.7", (-3.0, 3.0)),
    "3*x0/(2+x0)": ("3*x0/(2 + x0)", (0.5, 5.0)),
    "sqrt(x0^2+x1^2)": ("sqrt(x0**2 + x1**2)", (0.5, 4.0)),
    "x0*exp(-x1)": ("x0*exp(-x1)", (0.1, 3.0)),
    # several terms (sums of products, a polynomial, a ratio of sums, a saturation plus a line)
    "1.5*x0*x1-2*x1*x2+0.5": ("1.5*x0*x1 - 2*x1*x2 + 0.5", (1.0, 3.0)),
    "x0^3-2*x0^2*x1+x1": ("x0**3 - 2*x0**2*x1 + x1", (-2.0, 2.0)),
    "(x0+2*x1)/(1+x2)": ("(x0 + 2*x1)/(1 + x2)", (0.5, 3.0)),
    "2.5*exp(-0.7*x0)+1.2*x1": ("2.5*exp(-0.7*x0) + 1.2*x1", (0.0, 3.0)),
}
VARIANTS = {"before": {"fit.fitter": "torch", "fit.adaptive_starts": False},
            "no-linear": {"fit.linear_solve": False}, "screen": {}}


def problems(n_generated: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for name, (text, (lo, hi)) in FORMULAS.items():
        truth = parse(text)
        X = rng.uniform(lo, hi, size=(1000, max(truth.variables) + 1))
        out.append({"name": name, "truth": truth, "X": X, "y": truth.evaluate(X)})
    gen = GeneratorConfig(max_vars=3, min_points=1000, max_points=1000, constant_prob=0.3)
    for i, p in enumerate(iter_problems(n_generated, seed, gen)):
        out.append({"name": f"generated-{i}", "truth": p.expr, "X": p.X, "y": p.y})
    return out


def skeletons(problem: dict, n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    d = problem["X"].shape[1]
    gen = GeneratorConfig(min_vars=d, max_vars=d, constant_prob=0.3, max_len=30)
    exprs = [sample_expression(rng, gen, n_vars=d).skeleton for _ in range(n)]
    return [*exprs, problem["truth"].skeleton]


def run(problem: dict, exprs: list, variant: str) -> dict:
    cfg = SearchConfig().replace(**VARIANTS[variant])
    pool = Pool(problem["X"], problem["y"], cfg, Deadline(), fit_seed=0)
    start = time.perf_counter()
    for e in exprs:
        pool.score(e, "seed", 0)
    wall = time.perf_counter() - start
    truth = pool.lookup(problem["truth"])
    best = pool.candidates[pool.best]
    front = {}
    for c in pool.candidates:
        if np.isfinite(c.mse) and c.complexity <= truth.complexity:
            front[c.complexity] = min(front.get(c.complexity, np.inf), c.mse)
    return {"problem": problem["name"], "variant": variant, "skeletons": len(pool), "wall_s": wall,
            "per_s": len(pool) / wall, "full_fits": pool.n_full_fits, "truth_r2": truth.r2,
            "best_score": best.score, "best_r2": best.r2,
            "front_mse": json.dumps({int(k): float(v) for k, v in sorted(front.items())})}


def multi_term(variants: tuple[str, str], seed: int = 11, draws: int = 400) -> dict:
    """Share of several-term true skeletons (with nonlinear constants too) fitted to R² > 0.999 from the unit
    start, and the seconds spent, per variant."""
    gen = GeneratorConfig(max_vars=4, min_points=400, max_points=400, constant_prob=0.6)
    r2 = {v: [] for v in variants}
    seconds = dict.fromkeys(variants, 0.0)
    for p in iter_problems(draws, seed, gen):
        canon = p.expr.canonical()
        lin = linear_constants(canon.root)
        if len(lin) < 2 or len(lin) == canon.n_constants:
            continue
        for v in variants:
            pool = Pool(p.X, p.y, SearchConfig().replace(**VARIANTS[v]), Deadline(), 0)
            start = time.perf_counter()
            pool.score(p.expr.skeleton, "seed", 0)
            seconds[v] += time.perf_counter() - start
            r2[v].append(pool.candidates[-1].r2)
    return {"problems": len(r2[variants[0]]),
            "share_r2_0999": {v: float(np.mean(np.array(r2[v]) > 0.999)) for v in variants},
            "seconds": seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-skeletons", type=int, default=300)
    ap.add_argument("--n-generated", type=int, default=5)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--out", default="runs/fit-throughput")
    ap.add_argument("--variants", nargs=2, default=["before", "screen"], choices=list(VARIANTS),
                    help="the two variants to run and compare (the second against the first)")
    args = ap.parse_args()
    old, new = args.variants
    import torch

    torch.set_num_threads(1)
    rows = []
    for i, prob in enumerate(problems(args.n_generated, args.seed)):
        exprs = skeletons(prob, args.n_skeletons, args.seed + i)
        for variant in (old, new):
            rows.append(run(prob, exprs, variant))
            r = rows[-1]
            print(f"{r['problem']:22s} {variant:7s} {r['per_s']:7.1f} skeletons/s  truth R²={r['truth_r2']:.6f} "
                  f"best={r['best_score']:.6f}", flush=True)
    df = pd.DataFrame(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "results.csv", index=False)
    wide = df.pivot(index="problem", columns="variant", values="per_s")
    ratio = (wide[new] / wide[old]).median()
    best = df.pivot(index="problem", columns="variant", values="best_score")
    summary = {"compared": f"{new} against {old}",
               "median_per_s": df.groupby("variant")["per_s"].median().to_dict(), "median_speedup": float(ratio),
               "share_same_best_score": float(((best[new] - best[old]).abs() < 1e-9).mean()),
               "share_best_score_not_worse": float((best[new] >= best[old] - 1e-9).mean()),
               "truth_exact": df[df["truth_r2"] > 1 - 1e-9].groupby("variant")["problem"].count().to_dict(),
               "truth_r2_min": df.groupby("variant")["truth_r2"].min().to_dict(),
               "multi_term": multi_term((old, new)), "args": vars(args)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
