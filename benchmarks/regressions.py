"""The regression guard: which laws did a commit lose? Run it at the end of every change to the search, the
selection or the printing, and commit its report beside the BENCHMARKS figures.

It fits a fixed set of problems with ``GenSRRegressor`` at two commits (or at one commit against a results
file from an earlier run) and lists every problem that was exact, or reached R² > 0.999 on held-out rows,
before and is not now, with both formulas; then the gains. The set: the laws in :data:`OWN` (ours, written
for this guard: saturation and Hill ratios, log laws, rationals without a constant denominator term,
polynomials, exponential and oscillating laws, power laws; none is a benchmark formula) and every third
Feynman problem (40). Each is sampled once by this script (500 training and 500 held-out rows, fixed seeds)
and the same arrays go to both commits.

Every commit runs in its own ``git worktree`` through a small worker that uses only the estimator's stable
API (``GenSRRegressor(max_time, random_state).fit(X, y)`` and ``sympy()``), so any commit since the
estimator existed can be measured. "Exact" is SRBench's symbolic rule (:func:`gensr.bench.metrics.
symbolic_solution`, tried where R² > 0.999 on the held-out rows), judged here by the current code for both
sides. A rerun with the same ``--out`` fits only the problems missing from its results (and judges again).
One core, 20 s a fit: under 20 minutes a commit (most fits stop early at an exact law; bb39848 took 17).

Examples::

    python benchmarks/regressions.py --data-dir ../shared/benchdata --base bb39848 --head . \\
        --out benchmarks/results/regressions_bb39848_main
    python benchmarks/regressions.py --data-dir ../shared/benchdata \\
        --base-results benchmarks/results/regressions_bb39848_main/head.jsonl --head . --out runs/guard

``--head .`` is the working tree as it is (uncommitted changes included).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SEED, ROWS, TIME_LIMIT = 0, 500, 20.0
R2_GOOD = 0.999

# (name, truth over x0..x{d-1}, ranges of the inputs (low, high); "log" draws log-uniformly)
OWN: list[tuple[str, str, list[tuple[float, float, str]]]] = [
    ("hill2", "x0**2/(x1**2 + x0**2)", [(0.1, 5, ""), (0.5, 3, "")]),
    ("hill2_wide", "x0**2/(x1**2 + x0**2)", [(0, 10, ""), (1, 4, "")]),
    ("hill3", "x0**3/(x1**3 + x0**3)", [(0.2, 4, ""), (0.5, 2, "")]),
    ("michaelis", "x2*x0/(x1 + x0)", [(0.1, 10, ""), (0.5, 5, ""), (1, 3, "")]),
    ("nernst", "x0 - x1*log(x2)/x3", [(1, 5, ""), (1, 5, ""), (1, 10, ""), (1, 5, "")]),
    ("nernst_decades", "x0 - x1*log(x2)/x3", [(1, 5, ""), (1, 5, ""), (0.01, 100, "log"), (1, 5, "")]),
    ("decibel", "10*log(x0/x1)/log(10)", [(0.001, 10, "log"), (0.1, 1, "")]),
    ("weighted_mean", "(x0*x2 + x1*x3)/(x0 + x1)", [(1, 5, "")] * 4),
    ("parallel3", "1/(1/x0 + 1/x1 + 1/x2)", [(1, 10, "")] * 3),
    ("poly4", "x0**4 - 3*x0**2 + 2", [(-2, 2, "")]),
    ("poly5", "x0**5 - 2*x0**3 + x0", [(-1.5, 1.5, "")]),
    ("cubic2", "x0**3 + x0*x1**2 - x1", [(-2, 2, ""), (-2, 2, "")]),
    ("decay", "x0*exp(-x1*x2)", [(1, 5, ""), (0.1, 1, ""), (0, 5, "")]),
    ("arrhenius", "x0*exp(-x1/x2)", [(1, 10, ""), (1, 5, ""), (1, 10, "")]),
    ("gauss", "exp(-(x0 - x1)**2/2)", [(-3, 3, ""), (-1, 1, "")]),
    ("damped", "exp(-x0/2)*cos(3*x0)", [(0, 6, "")]),
    ("logistic", "1/(1 + exp(-x0 + x1))", [(-5, 5, ""), (-2, 2, "")]),
    ("sat_exp", "x0*(1 - exp(-x1/x2))", [(1, 5, ""), (0, 5, ""), (0.5, 2, "")]),
    ("pendulum", "2*pi*sqrt(x0/x1)", [(0.1, 2, ""), (1, 20, "")]),
    ("kepler", "x0**1.5/sqrt(x1)", [(0.5, 5, ""), (1, 10, "")]),
    ("norm4", "sqrt(x0**4 + x1**4)/x0", [(1, 3, ""), (1, 3, "")]),
    ("wave", "x0*sin(x1*x2 - x3)", [(1, 3, ""), (1, 3, ""), (0, 2, ""), (0, 1, "")]),
    ("trig_poly", "sin(x0**2 + x0)", [(-1.5, 1.5, "")]),
    ("planck_like", "x0**3/(exp(x0/x1) - 1)", [(0.5, 5, ""), (1, 4, "")]),
    ("gravity", "x0*x1/(x2**2 + x3**2)", [(1, 5, ""), (1, 5, ""), (1, 3, ""), (1, 3, "")]),
    ("lens", "x0*x1/(x0 + x1)", [(1, 10, ""), (1, 10, "")]),
]


def own_problems() -> list[dict]:
    import sympy

    out = []
    for k, (name, truth, ranges) in enumerate(OWN):
        symbols = sympy.symbols([f"x{j}" for j in range(len(ranges))])
        f = sympy.lambdify(symbols, sympy.sympify(truth), "numpy")
        sets = []
        for part in (0, 1):
            rng = np.random.default_rng([SEED, k, part])
            X = np.column_stack([np.exp(rng.uniform(np.log(lo), np.log(hi), ROWS)) if kind == "log"
                                 else rng.uniform(lo, hi, ROWS) for lo, hi, kind in ranges])
            sets += [X, np.asarray(f(*X.T), dtype=float)]
        out.append({"name": name, "truth": truth, "arrays": sets})
    return out


def feynman_problems(data_dir: str) -> list[dict]:
    from gensr.bench.data import feynman_names, load_feynman

    out = []
    for name in feynman_names(Path(data_dir))[::3]:
        p = load_feynman(name, Path(data_dir), 2 * ROWS)
        out.append({"name": name, "truth": p.truth,
                    "arrays": [p.X[:ROWS], p.y[:ROWS], p.X[ROWS:], p.y[ROWS:]]})
    return out


WORKER = r'''
import json, sys, time
start = time.perf_counter()
import numpy as np
from gensr import GenSRRegressor
problems, seed, limit, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
done = set()
try:
    done = {json.loads(line)["name"] for line in open(out)}
except FileNotFoundError:
    pass
for line in open(problems + "/index.txt"):
    name = line.strip()
    if not name or name in done:
        continue
    d = np.load(problems + "/" + name + ".npz")
    t = time.perf_counter()
    row = {"name": name}
    try:
        est = GenSRRegressor(max_time=limit, random_state=seed, verbose=0).fit(d["X"], d["y"])
        p = est.predict(d["Xt"])
        r2 = 1.0 - float(np.mean((p - d["yt"]) ** 2) / np.var(d["yt"]))
        row.update(equation=str(est.sympy()), r2=r2 if np.isfinite(r2) else None)
    except Exception as exc:
        row.update(equation=None, r2=None, error=type(exc).__name__ + ": " + str(exc)[:200])
    row["wall"] = round(time.perf_counter() - t, 2)
    with open(out, "a") as fh:
        fh.write(json.dumps(row) + "\n")
'''


def run_commit(rev: str, problems_dir: Path, out: Path, time_limit: float, repo: Path) -> Path:
    """Fit every problem at ``rev`` ("." = the working tree); results go to ``out`` as JSON lines."""
    worker = problems_dir / "worker.py"
    worker.write_text(WORKER)
    with tempfile.TemporaryDirectory() as tmp:
        if rev == ".":
            src = repo / "src"
        else:
            subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", "-f", tmp + "/tree", rev],
                           check=True, capture_output=True)
            src = Path(tmp) / "tree" / "src"
        try:
            env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
            subprocess.run([sys.executable, str(worker), str(problems_dir), str(SEED), str(time_limit), str(out)],
                           check=True, env=env)
        finally:
            if rev != ".":
                subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", tmp + "/tree"],
                               check=False, capture_output=True)
    return out


def judge(rows: dict[str, dict], truths: dict[str, str]) -> dict[str, dict]:
    """Per problem: exact (SRBench's symbolic rule), good (R² > 0.999 on the held-out rows), the formula."""
    import sympy

    from gensr.bench.metrics import symbolic_solution

    out = {}
    for name, truth in truths.items():
        row = rows.get(name, {})
        eq, r2 = row.get("equation"), row.get("r2")
        exact = False
        if eq is not None and r2 is not None and r2 > R2_GOOD:  # an exact law fits the held-out rows
            try:
                exact = symbolic_solution(sympy.sympify(eq), sympy.sympify(truth), seconds=10)[0]
            except (sympy.SympifyError, TypeError, ValueError):
                exact = False
        out[name] = {"exact": bool(exact), "good": r2 is not None and r2 > R2_GOOD, "equation": eq, "r2": r2,
                     "wall": row.get("wall")}
    return out


def report(base: dict[str, dict], head: dict[str, dict], base_name: str, head_name: str,
           time_limit: float = TIME_LIMIT) -> str:
    def state(r: dict) -> str:
        return "exact" if r["exact"] else f"R² {r['r2']:.4f}" if r["r2"] is not None else "failed"

    base = {n: base[n] for n in head}
    def worse(a: dict, b: dict) -> bool:  # b lost what a had
        return (a["exact"] and not b["exact"]) or (a["good"] and not b["good"])

    lost = [n for n in base if worse(base[n], head[n])]
    gained = [n for n in base if worse(head[n], base[n])]
    n = len(base)
    lines = [f"# Regression guard: `{base_name}` → `{head_name}`", "",
             f"{n} problems ({min(n, len(OWN))} own laws, {max(n - len(OWN), 0)} Feynman), {time_limit:g} s a fit "
             f"on one core, seed {SEED}.", "",
             "| | exact | R² > 0.999 | median wall (s) |", "|---|---|---|---|"]
    for label, r in ((base_name, base), (head_name, head)):
        lines.append(f"| `{label}` | {sum(v['exact'] for v in r.values())} | {sum(v['good'] for v in r.values())} | "
                     f"{np.median([v['wall'] for v in r.values() if v['wall'] is not None]):.1f} |")
    for title, names in (("Lost", lost), ("Gained", gained)):
        lines += ["", f"## {title} ({len(names)})", ""]
        if names:
            lines += [f"| problem | `{base_name}` | `{head_name}` |", "|---|---|---|"]
            lines += [f"| {m} | {state(base[m])}: `{base[m]['equation']}` | {state(head[m])}: `{head[m]['equation']}` |"
                      for m in names]
        else:
            lines.append("none")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True, help="the benchmark data (Feynman)")
    ap.add_argument("--base", help="the earlier commit")
    ap.add_argument("--base-results", help="instead of --base: a head.jsonl of an earlier run")
    ap.add_argument("--head", default=".", help="the later commit ('.' = the working tree)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--time-limit", type=float, default=TIME_LIMIT)
    ap.add_argument("--subset", type=int, default=0, help="only the first N problems (a smoke test)")
    args = ap.parse_args()
    if bool(args.base) == bool(args.base_results):
        ap.error("give exactly one of --base and --base-results")
    repo = Path(subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                               check=True).stdout.strip())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    problems_dir = Path(tempfile.mkdtemp(prefix="gensr-guard-"))
    problems = own_problems() + feynman_problems(args.data_dir)
    if args.subset:
        problems = problems[: args.subset]
    for p in problems:
        X, y, Xt, yt = p["arrays"]
        np.savez(problems_dir / f"{p['name']}.npz", X=X, y=y, Xt=Xt, yt=yt)
    (problems_dir / "index.txt").write_text("\n".join(p["name"] for p in problems) + "\n")
    truths = {p["name"]: p["truth"] for p in problems}

    def load(path: Path) -> dict[str, dict]:
        return {r["name"]: r for r in map(json.loads, path.read_text().splitlines())}

    t = time.perf_counter()
    if args.base:
        run_commit(args.base, problems_dir, out / "base.jsonl", args.time_limit, repo)
        base_rows, base_name = load(out / "base.jsonl"), args.base
    else:
        base = Path(args.base_results)
        base_rows, base_name = load(base), f"{base.parent.name}/{base.name}"
    run_commit(args.head, problems_dir, out / "head.jsonl", args.time_limit, repo)
    head_name = args.head if args.head != "." else subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip() + "+"
    shutil.rmtree(problems_dir)
    text = report(judge(base_rows, truths), judge(load(out / "head.jsonl"), truths), base_name, head_name,
                  args.time_limit)
    (out / "report.md").write_text(text)
    print(text)
    print(f"({time.perf_counter() - t:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
