"""How close is the training distribution to the formulas users bring? Generator configs against Feynman.

Statistics per source, over canonical skeletons (:meth:`gensr.grammar.Expression.canonical`): number of
variables (median and share with at most 4), canonical prefix length, the share of equations using
squares, cubes and roots, constants per equation and the share with an outer additive constant, and the
share with an integer leaf. The Feynman formulas are only *measured* here, never used for training.

Example::

    python benchmarks/generator_stats.py --data-dir ../shared/benchdata --config old=old.json \\
        --config new=configs/default_model.json --out benchmarks/results/generator_stats
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from gensr.grammar import CONST, INT_TOKENS, Expression


def stats(exprs: list[Expression], n_vars: list[int]) -> dict[str, float]:
    canon = [e.canonical() for e in exprs]
    pre = [c.prefix for c in canon]
    return {
        "n": len(exprs),
        "median_vars": float(np.median(n_vars)),
        "share_vars_le_4": float(np.mean(np.asarray(n_vars) <= 4)),
        "share_vars_6_10": float(np.mean(np.asarray(n_vars) >= 6)),
        "mean_length": float(np.mean([len(p) for p in pre])),
        "share_pow2_pow3_sqrt": float(np.mean([any(t in ("pow2", "pow3", "sqrt") for t in p) for p in pre])),
        "mean_constants": float(np.mean([p.count(CONST) for p in pre])),
        "share_outer_add_C": float(np.mean([p[:2] == ("add", CONST) for p in pre])),
        "share_integer_leaf": float(np.mean([any(t in INT_TOKENS for t in p) for p in pre])),
    }


def feynman(data_dir: str) -> dict[str, float]:
    from gensr.bench.suites import list_problems, load_problem
    from gensr.formula import parse

    exprs, dims = [], []
    for name in list_problems("feynman", data_dir):
        p = load_problem("feynman", name, data_dir, feynman_rows=10)
        try:
            e = parse(p.truth)
        except ValueError:
            continue
        exprs.append(e.skeleton)
        dims.append(p.X.shape[1])
    return stats(exprs, dims)


def generated(config_file: str, n: int) -> dict[str, float]:
    from gensr.generator import iter_problems
    from gensr.train import resolve_config

    gen = resolve_config(config_file=config_file).generator
    probs = list(iter_problems(n, 777, gen))
    return stats([p.expr.skeleton for p in probs], [p.n_vars for p in probs])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--config", action="append", default=[], metavar="NAME=FILE")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    rows = {"feynman": feynman(args.data_dir)}
    for item in args.config:
        name, path = item.split("=", 1)
        rows[name] = generated(path, args.n)
    keys = list(rows["feynman"])
    print("| statistic | " + " | ".join(rows) + " |\n|---|" + "---|" * len(rows))
    for k in keys:
        print(f"| {k} | " + " | ".join(f"{r[k]:.3g}" for r in rows.values()) + " |")
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "stats.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
