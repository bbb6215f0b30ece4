"""The two laws of the lost-laws issue, at three seeds: is each found exactly at 30 s on one core?

Our own problems of the two classes (not the issue's): a Hill ratio of order 2, y = x²/(K² + x²), with x
near 0 (``hill``: x ∈ [0.1, 5], K ∈ [0.5, 3]) and through 0 (``hill_wide``: x ∈ [0, 10], K ∈ [1, 4]); a
Nernst-type law y = a − b·log(c)/d with c in [1, 10] (``nernst``) and over four decades (``nernst_decades``).
Seed s draws the data with ``default_rng(100 + s)`` and fits with ``random_state=s``. "Exact": the fitted
formula's largest error on 2,000 fresh rows is below 1e-6 of max |y|. One JSON line per fit.

Example (``PYTHONPATH=<another tree>/src`` measures another commit)::

    taskset -c 0 python benchmarks/lost_laws.py --max-time 30
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd


def hill(rng, n, wide=False):
    x = rng.uniform(0, 10, n) if wide else rng.uniform(0.1, 5, n)
    K = rng.uniform(1, 4, n) if wide else rng.uniform(0.5, 3, n)
    return pd.DataFrame({"x": x, "K": K}), x**2 / (K**2 + x**2)


def nernst(rng, n, decades=False):
    a, b, d = (rng.uniform(1, 5, n) for _ in range(3))
    c = 10 ** rng.uniform(-2, 2, n) if decades else rng.uniform(1, 10, n)
    return pd.DataFrame({"a": a, "b": b, "c": c, "d": d}), a - b * np.log(c) / d


LAWS = {"hill": lambda r, n: hill(r, n), "hill_wide": lambda r, n: hill(r, n, True),
        "nernst": lambda r, n: nernst(r, n), "nernst_decades": lambda r, n: nernst(r, n, True)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-time", type=float, default=30.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--laws", nargs="+", default=list(LAWS), choices=list(LAWS))
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from gensr import GenSRRegressor

    for law in args.laws:
        for seed in args.seeds:
            X, y = LAWS[law](np.random.default_rng(100 + seed), 500)
            start = time.perf_counter()
            model = GenSRRegressor(max_time=args.max_time, random_state=seed, verbose=0).fit(X, y)
            wall = time.perf_counter() - start
            Xt, yt = LAWS[law](np.random.default_rng(999), 2000)
            err = float(np.max(np.abs(model.predict(Xt) - yt)) / np.max(np.abs(yt)))
            print(json.dumps({"law": law, "seed": seed, "exact": err < 1e-6, "max_rel_error": err,
                              "wall_s": round(wall, 1), "equation": str(model.sympy())}), flush=True)


if __name__ == "__main__":
    main()
