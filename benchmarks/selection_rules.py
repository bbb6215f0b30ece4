"""Which equation of the front should ``GenSRRegressor`` return? Selection rules on the same fronts.

One fit per problem, then every rule of :data:`gensr.pareto.RULES` picks from the same front, and the pick is
scored on held-out rows. Rules: PySR's ``best``, ``balanced`` (largest R² − 0.001·complexity), ``mdl`` (the
shortest description: residuals, constants, nodes), ``accuracy``, ``simplest`` (simplest with R² ≥ 0.99),
``noise`` (the default: the simplest within the noise floor, refined on the best formula's residuals, else
``validation``) and ``noise_before`` (the rule before issue 30: the floor estimated on y only, else ``balanced``).
``validation`` (issue 32, :mod:`gensr.validation`) refits every front member's constants on 4 of 5 folds of
the training rows and picks the simplest whose mean held-out MSE is within one standard error of the lowest;
``noise`` uses it where the floor is unresolved, and ``noise_mdl`` is ``noise`` as before that (``mdl`` there).

Suites (``--suite``):

- ``blackbox``: ``--n`` of the 57 black-box sets (a fixed random draw), the GenSR protocol's 75/25 split;
- ``strogatz``: the 14 Strogatz sets, 75/25 split, noise ``--noise`` (γ·RMS(y)) on the training target;
- ``term``: y = sin(x0)·x1 + x2³ on U(1, 5)³, 500 rows, noise ``--noise``, ``--n`` draws; counts the picks
  that keep both terms (every input in the formula), scored on 500 fresh noise-free rows.

Commands (one core each)::

    taskset -c 1 python benchmarks/selection_rules.py --suite blackbox --data-dir ../shared/benchdata --n 15 \\
        --max-time 15 --out benchmarks/results/selection_mdl_blackbox
    taskset -c 1 python benchmarks/selection_rules.py --suite strogatz --data-dir ../shared/benchdata \\
        --noise 0.01 --max-time 20 --out benchmarks/results/selection_mdl_strogatz
    taskset -c 1 python benchmarks/selection_rules.py --suite term --noise 0.01 --n 20 --max-time 20 \\
        --out benchmarks/results/selection_mdl_term
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd


def _problems(args: argparse.Namespace) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """(name, X_train, y_train, X_test, y_test) for each problem of the suite."""
    if args.suite == "term":
        for i in range(args.n):
            rng = np.random.default_rng(1000 + i)
            X = rng.uniform(1, 5, size=(1000, 3))
            f = np.sin(X[:, 0]) * X[:, 1] + X[:, 2] ** 3
            y = f[:500] + rng.normal(0, args.noise * np.sqrt(np.mean(f[:500] ** 2)), 500)
            yield f"term_{i}", X[:500], y, X[500:], f[500:]
        return
    from gensr.bench.suites import list_problems, load_problem

    names = list_problems(args.suite, args.data_dir)
    if args.suite == "blackbox":
        names = [names[i] for i in sorted(np.random.default_rng(0).choice(len(names), min(args.n, len(names)),
                                                                           replace=False))]
    for name in names:
        p = load_problem(args.suite, name, args.data_dir)
        idx = np.random.default_rng(14423).permutation(len(p.y))
        cut = int(0.75 * len(p.y))
        tr, te = idx[:cut][: args.max_train], idx[cut:]
        y = p.y[tr]
        if args.noise:
            y = y + np.random.default_rng(0).normal(0, args.noise * np.sqrt(np.mean(y**2)), len(y))
        yield p.name, p.X[tr], y, p.X[te], p.y[te]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", choices=["blackbox", "strogatz", "term"], default="blackbox")
    ap.add_argument("--data-dir", help="the benchmark data (blackbox, strogatz)")
    ap.add_argument("--n", type=int, default=20, help="black-box datasets, or draws of the term law")
    ap.add_argument("--noise", type=float, default=0.0, help="γ: noise std as a share of RMS(y) (training rows)")
    ap.add_argument("--max-time", type=float, default=15.0)
    ap.add_argument("--max-train", type=int, default=10_000)
    ap.add_argument("--out", default="runs/selection-rules")
    args = ap.parse_args()
    if args.suite != "term" and not args.data_dir:
        ap.error(f"--suite {args.suite} needs --data-dir")
    import torch

    from gensr import GenSRRegressor
    from gensr._utils import r2_score as r2
    from gensr.pareto import RULES, select_model
    from gensr.validation import validator

    torch.set_num_threads(1)
    rows = []
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, X_tr, y_tr, X_te, y_te in _problems(args):
        try:
            est = GenSRRegressor(max_time=args.max_time, random_state=14423, verbose=0).fit(X_tr, y_tr)
        except ValueError as exc:  # e.g. a constant target after the split
            print(f"{name}: skipped ({exc})")
            continue
        t = est.equations_
        c, loss, r2_train = t["complexity"].to_numpy(), t["loss"].to_numpy(), t["r2"].to_numpy()
        k = np.array([e.n_constants for e in t["expression"]])
        before = est.search_result_.noise_floor  # the floor on y alone, as the rule read it before issue 30
        validate = validator(list(t["expression"]), X_tr[:, est.selected_features_], y_tr)
        floor = (est.noise_floor_, est.noise_floor_se_, len(y_tr))
        picks = {rule: select_model(c, loss, r2_train, rule=rule, n_constants=k, n_rows=len(y_tr), noise=floor,
                                    validation=validate) for rule in RULES}
        picks["noise_mdl"] = select_model(c, loss, r2_train, rule="noise", n_constants=k, n_rows=len(y_tr),
                                          noise=floor)
        picks["noise_before"] = select_model(c, loss, r2_train, rule="noise",
                                             noise=(before.mse, before.se, len(y_tr)) if before else None)
        for rule, i in picks.items():
            rows.append({"dataset": name, "rule": rule, "complexity": int(c[i]), "r2_train": float(r2_train[i]),
                         "r2_test": r2(y_te, est.predict(X_te, index=i)),
                         "all_inputs": set(t["expression"].iloc[i].variables) == set(range(X_tr.shape[1])),
                         "equation": t["equation"].iloc[i]})
        line = {r["rule"]: round(r["r2_test"], 3) for r in rows[-len(picks):]}
        print(f"{name:40s} {line}", flush=True)
        pd.DataFrame(rows).to_csv(out / "results.csv", index=False)
    df = pd.DataFrame(rows)
    df["r2_test_clipped"] = df["r2_test"].clip(lower=0)
    df["r2_test_999"] = df["r2_test"] > 0.999
    summary = df.groupby("rule").agg(mean_r2_test=("r2_test_clipped", "mean"),
                                     median_r2_test=("r2_test_clipped", "median"),
                                     r2_test_above_0999=("r2_test_999", "mean"),
                                     median_complexity=("complexity", "median"),
                                     all_inputs=("all_inputs", "sum"), problems=("dataset", "count"))
    print(summary.to_string())
    (out / "summary.json").write_text(json.dumps(json.loads(summary.reset_index().to_json(orient="records")),
                                                 indent=2))
    (out / "command.txt").write_text(" ".join(["python", "benchmarks/selection_rules.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
