"""Does the fit stop at the noise once it has found the law? Ten single-term textbook laws at γ = 0.01.

Ten laws of the kind a textbook prints (our own, not benchmark formulas), on U(1, 5) inputs, 500 rows,
Gaussian noise of std γ·RMS(y); one fit each at ``--max-time`` seconds on one core. Prints each fit's wall
time, stop reasons, chosen equation and whether it is the law (SRBench's symbolic rule), and the median wall::

    taskset -c 1 python benchmarks/noise_stop.py --max-time 20 --out benchmarks/results/noise_stop

Run it with ``PYTHONPATH=<another checkout>/src`` to compare two versions on the same laws.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

LAWS = [  # (text over x0…x3, number of inputs)
    ("x0*x1/x2", 3),
    ("x0*x1**2/2", 2),
    ("2*pi*sqrt(x0/x1)", 2),
    ("x0*x1/(4*pi*x2*x3**2)", 4),
    ("x0*exp(-x1*x2/x3)", 4),
    ("x0*x1*cos(x2)", 3),
    ("x0/(x1*x2*x3)", 4),
    ("x0**(3/2)*x1", 2),
    ("x0*x1*x2/(4*pi*x3)", 4),
    ("sqrt(x0*x1/x2)", 3),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-time", type=float, default=20.0)
    ap.add_argument("--noise", type=float, default=0.01)
    ap.add_argument("--rows", type=int, default=500)
    ap.add_argument("--out", default="runs/noise-stop")
    args = ap.parse_args()
    import sympy
    import torch

    from gensr import GenSRRegressor
    from gensr.bench.metrics import symbolic_solution

    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (text, d) in enumerate(LAWS):
        rng = np.random.default_rng(i)
        X = rng.uniform(1, 5, size=(args.rows, d))
        symbols = sympy.symbols(f"x0:{d}")
        truth = sympy.sympify(text, locals={f"x{j}": s for j, s in enumerate(symbols)})
        f = sympy.lambdify(symbols, truth, "numpy")(*X.T)
        y = f + rng.normal(0, args.noise * np.sqrt(np.mean(f**2)), len(f))
        start = time.perf_counter()
        est = GenSRRegressor(max_time=args.max_time, random_state=0, verbose=0).fit(X, y)
        wall = time.perf_counter() - start
        solved, _ = symbolic_solution(est.sympy(), truth)
        row = {"law": text, "wall": round(wall, 2), "stop": sorted(est.search_result_.stop),
               "chosen": str(est.equations_["equation"].iloc[est.best_index_]), "symbolic": bool(solved),
               "r2": float(est.equations_["r2"].iloc[est.best_index_])}
        rows.append(row)
        print(json.dumps(row), flush=True)
    walls = [r["wall"] for r in rows]
    summary = {"median_wall": float(np.median(walls)), "symbolic": sum(r["symbolic"] for r in rows),
               "laws": len(rows), "max_time": args.max_time, "noise": args.noise}
    print(json.dumps(summary))
    (out / "results.json").write_text(json.dumps({"rows": rows, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
