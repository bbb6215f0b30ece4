"""Training throughput: (equation, data) pairs per second of ``gensr train`` under a few set-ups, side by side.

Each variant runs the package's own trainer (:func:`gensr.train.train`) from ``configs/default_model.json``
plus its overrides for ``--steps`` optimiser steps (validation off), and reports the median of the logged
``samples_per_s`` after the first window (warm-up). Variants run one after another in this process, so run
it pinned to one core (``taskset -c 1``) unless a variant asks for two threads.

Example::

    taskset -c 1 python benchmarks/train_throughput.py --steps 60 --out runs/throughput
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
from pathlib import Path

VARIANTS = {
    # the model trained before this change: d 128, 4 decoder layers, 2 ISAB blocks, a generator process
    "old size, 1 thread + data process": ["model.d_model=128", "model.n_dec_layers=4", "model.n_data_layers=2",
                                         "train.data_workers=1"],
    "old size, 1 thread, in-process data": ["model.d_model=128", "model.n_dec_layers=4", "model.n_data_layers=2"],
    "new size (d 96, 3 dec, 1 data block), 1 thread": [],
    "new size, batch 128, 1 thread": ["train.batch_size=128"],
    "new size, 2 threads": ["train.threads=2"],
}


def run_variant(overrides: list[str], steps: int, out: Path) -> float:
    from gensr.train import resolve_config, train

    cfg = resolve_config(config_file="configs/default_model.json", overrides=[
        f"train.max_steps={steps}", "train.log_every=10", f"train.eval_every={10 * steps}",
        f"train.save_every={10 * steps}", "train.time_limit=0", "train.eval_size=8", *overrides])
    train(cfg, out, quiet=True, argv=["train_throughput"])
    with open(out / "log.csv") as fh:
        rates = [float(r["samples_per_s"]) for r in csv.DictReader(fh)][1:]
    return statistics.median(rates)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    ap.add_argument("--out", default="", help="write results.json here")
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, overrides) in enumerate(VARIANTS.items()):
            if args.only and name not in args.only:
                continue
            results[name] = run_variant(overrides, args.steps, Path(tmp) / str(i))
            print(f"{name:55s} {results[name]:8.1f} pairs/s", flush=True)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
