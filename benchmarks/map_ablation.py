"""Does the map pay off? The full ``GenSRRegressor`` with different checkpoints, same problems, same budget.

Arms (``--model NAME=CHECKPOINT``, any number): typically the new default model, the untrained network of
the same architecture (``gensr train … train.max_steps=1 train.lr=0``) and the old shipped model.
``--search NAME='{"lee.enabled": false}'`` changes that arm's search settings (``SearchConfig.replace``
keys), so the same checkpoint can run as several arms: the move ablation. Problems:

* ``--n-generated`` held-out problems from the generator of ``configs/default_model.json`` (seed 20261201;
  training used seed 0), 1 to 3 variables, 400 rows;
* ``--n-nested`` problems of the nested suite (:func:`nested`: only :mod:`gensr.structures` shapes, seed
  20261207, never used in training), 1 to 3 variables, 400 rows;
* ``--feynman-subset`` problems of the Feynman table drawn as ``gensr bench run --subset`` draws them
  (subset seed 0), ``--feynman-rows`` rows sampled from SRBench's ranges, γ = 0.

Every fit: GenSR protocol split (75/25, seed 14423), ``max_time`` per fit, one thread, the estimator seeded
with ``--seed`` (14423 unless given). Reported per arm:
R² > 0.999 on the test rows, SRBench's symbolic rule, median complexity, and which move first found the
chosen equation's skeleton (``equations_["stage"]``): the map (prior, y-noise, samples, CMA-ES, LEE,
enumeration) or not (seeds and baselines, power laws, symbolic edits). Rows are appended as they finish and
a rerun skips finished (arm, problem) pairs; ``--shard i/k`` splits the work across processes::

    taskset -c 1 python benchmarks/map_ablation.py --data-dir ../shared/benchdata --shard 0/2 \\
        --model new=runs/default/checkpoint --model untrained=runs/untrained/checkpoint \\
        --model old=runs/old/checkpoint --out benchmarks/results/map_ablation
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

MAP_STAGES = {"prior", "ynoise", "sample", "cma", "reencode", "geval", "enumerate"}
FIELDS = ["model", "problem", "suite", "n_vars", "r2_test", "solved_0999", "symbolic", "complexity", "stage",
          "wall_s", "n_fitted", "equation", "truth"]


def generated(n: int) -> list[dict]:
    import dataclasses

    from gensr.generator import iter_problems
    from gensr.train import resolve_config

    gen = resolve_config(config_file="configs/default_model.json").generator
    gen = dataclasses.replace(gen.with_dims(1, 3), dim_weights=(), min_points=400, max_points=400,
                              noise_gamma=0.0)
    out = []
    for i, p in enumerate(iter_problems(n, 20261201, gen)):
        truth = p.expr.to_sympy([f"x{j}" for j in range(p.n_vars)])
        out.append({"suite": "generated", "name": f"generated-{i}", "X": p.X, "y": p.y, "truth": str(truth)})
    return out


NESTED_SEED = 20261207  # never a training seed (training streams use 0, 1, 2 and 11)


def nested(n: int) -> list[dict]:
    """The nested suite: ``n`` problems drawn only from :mod:`gensr.structures` (functions of products, ratios
    and affine combinations, their sums, products and reciprocals), 1 to 3 physical-range inputs, 400 rows."""
    from gensr.generator import GeneratorConfig, iter_problems

    gen = GeneratorConfig(min_vars=1, max_vars=3, structure_prob=1.0, require_all_inputs=True, min_points=400,
                          max_points=400, input_families=(("physical", 1.0),))
    out = []
    for i, p in enumerate(iter_problems(n, NESTED_SEED, gen)):
        truth = p.expr.to_sympy([f"x{j}" for j in range(p.n_vars)])
        out.append({"suite": "nested", "name": f"nested-{i}", "X": p.X, "y": p.y, "truth": str(truth)})
    return out


def feynman(n: int, data_dir: str, rows: int) -> list[dict]:
    from gensr.bench.suites import list_problems, load_problem

    names = list_problems("feynman", data_dir)
    pick = sorted(np.random.default_rng(0).choice(len(names), n, replace=False)) if n < len(names) else range(
        len(names))
    out = []
    for i in pick:
        p = load_problem("feynman", names[i], data_dir, feynman_rows=rows)
        out.append({"suite": "feynman", "name": p.name, "X": p.X, "y": p.y, "truth": p.truth})
    return out


def fit_one(arm: str, checkpoint: str, prob: dict, max_time: float, search: dict | None = None,
            seed: int = 14423) -> dict:
    from gensr import GenSRRegressor
    from gensr._utils import r2_score as r2
    from gensr.bench.metrics import symbolic_solution
    from gensr.bench.parsing import parse_model
    from gensr.search import SearchConfig

    X, y = prob["X"], prob["y"]
    idx = np.random.default_rng(14423).permutation(len(y))
    cut = int(0.75 * len(y))
    tr, te = idx[:cut], idx[cut:]
    config = SearchConfig().replace(**search) if search else None
    est = GenSRRegressor(checkpoint=checkpoint, max_time=max_time, random_state=seed, verbose=0,
                         search_config=config)
    start = time.perf_counter()
    est.fit(X[tr], y[tr])
    wall = time.perf_counter() - start
    r2_test = r2(y[te], est.predict(X[te]))
    solved, _ = symbolic_solution(est.sympy(), parse_model(prob["truth"]), seconds=20) if r2_test > 0.5 else (
        False, "")
    row = est.equations_.iloc[est.best_index_]
    return {"model": arm, "problem": prob["name"], "suite": prob["suite"], "n_vars": X.shape[1],
            "r2_test": r2_test, "solved_0999": r2_test > 0.999, "symbolic": bool(solved),
            "complexity": int(row["complexity"]), "stage": row["stage"], "wall_s": round(wall, 2),
            "n_fitted": est.search_result_.n_fitted, "equation": row["equation"], "truth": prob["truth"]}


def summarise(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    df["from_map"] = df["stage"].isin(MAP_STAGES)
    return df.groupby(["suite", "model"]).agg(
        problems=("problem", "count"), r2_gt_0999=("solved_0999", "mean"), symbolic=("symbolic", "mean"),
        median_complexity=("complexity", "median"), won_by_map=("from_map", "mean"),
        mean_r2=("r2_test", lambda s: float(np.clip(s, 0, 1).mean())), max_wall_s=("wall_s", "max"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", required=True, metavar="NAME=CHECKPOINT")
    ap.add_argument("--search", action="append", default=[], metavar="NAME=JSON",
                    help="search settings of arm NAME, e.g. NAME='{\"lee.enabled\": false}'")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--n-generated", type=int, default=30)
    ap.add_argument("--n-nested", type=int, default=0, help="problems of the nested suite (issue: the map)")
    ap.add_argument("--feynman-subset", type=int, default=40)
    ap.add_argument("--feynman-rows", type=int, default=10_000)
    ap.add_argument("--max-time", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=14423,
                    help="the estimator's random_state (the problems and their split stay fixed)")
    ap.add_argument("--shard", default="0/1", help="i/k: this process takes every k-th task from the i-th")
    ap.add_argument("--out", default="runs/map-ablation")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    arms = dict(m.split("=", 1) for m in args.model)
    searches = {name: json.loads(text) for name, text in (s.split("=", 1) for s in args.search)}
    if unknown := set(searches) - set(arms):
        ap.error(f"--search names arms that no --model defines: {sorted(unknown)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.csv"
    done = set()
    if path.exists():
        done = {(r["model"], r["problem"]) for r in csv.DictReader(path.open())}
    probs = (generated(args.n_generated) + nested(args.n_nested)
             + feynman(args.feynman_subset, args.data_dir, args.feynman_rows))
    tasks = [(a, p) for p in probs for a in arms]  # arms interleaved per problem: equal conditions
    i, k = (int(v) for v in args.shard.split("/"))
    for n, (arm, prob) in enumerate(tasks):
        if n % k != i or (arm, prob["name"]) in done:
            continue
        row = fit_one(arm, arms[arm], prob, args.max_time, searches.get(arm), args.seed)
        new = not path.exists()
        with path.open("a", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=FIELDS)
            if new:
                w.writeheader()
            w.writerow(row)
        print(f"{arm:10s} {prob['name']:22s} R2={row['r2_test']:.5f} sym={row['symbolic']!s:5s} "
              f"c={row['complexity']:3d} {row['stage']:9s} t={row['wall_s']:.1f}s {row['equation']}", flush=True)
    summary = summarise(path)
    print(summary.to_string())
    (out / "summary.json").write_text(json.dumps(json.loads(summary.reset_index().to_json(orient="records")),
                                                 indent=2))


if __name__ == "__main__":
    main()
