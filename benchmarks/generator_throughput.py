"""Throughput of the training-data generator: valid (equation, data) pairs per second per core.

Single-process rows time :func:`gensr.generator.iter_problems` for the default config (E2E affine constants)
and for ``constants="none"`` (GenSR as released), with a fixed number of points per problem. "CPU" columns
divide by this process's CPU time, so they stay meaningful on a shared machine; "wall" by elapsed time.
With ``--workers > 1`` it also times :func:`gensr.corpus.write_corpus` (uncompressed, to a temporary
directory) with that many processes.

Example::

    python benchmarks/generator_throughput.py --n 5000 --points 200 --workers 2
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time

import numpy as np

from gensr.corpus import write_corpus
from gensr.generator import GeneratorConfig, iter_problems


def _single_process(n: int, seed: int, config: GeneratorConfig) -> dict[str, float]:
    list(iter_problems(min(50, n), seed + 1, config))  # warm caches (tables, imports)
    wall, cpu = time.perf_counter(), time.process_time()
    probs = list(iter_problems(n, seed, config))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    lengths = np.array([len(p.prefix) for p in probs])
    return {
        "wall": n / wall,
        "cpu": n / cpu,
        "mean_len": float(lengths.mean()),
        "max_len": float(lengths.max()),
        "with_const": float(np.mean([p.constants.size > 0 for p in probs])),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=3000, help="problems per measurement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="also time write_corpus with this many processes")
    parser.add_argument("--points", type=int, default=200, help="points per problem (fixed)")
    args = parser.parse_args(argv)

    base = GeneratorConfig(min_points=args.points, max_points=args.points)
    rows = [("affine (default)", base), ("none (GenSR)", dataclasses.replace(base, constants="none"))]
    print(f"{'constants':<18} {'pairs/s/core (CPU)':>19} {'pairs/s (wall)':>15} {'mean len':>9} "
          f"{'max len':>8} {'with C':>7}")
    for name, cfg in rows:
        r = _single_process(args.n, args.seed, cfg)
        print(f"{name:<18} {r['cpu']:>19.0f} {r['wall']:>15.0f} {r['mean_len']:>9.1f} {r['max_len']:>8.0f} "
              f"{r['with_const']:>7.2f}")
    if args.workers > 1:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            write_corpus(tmp, args.n * args.workers, seed=args.seed, config=base, workers=args.workers,
                         shard_size=args.n, progress=False, compress=False)
            wall = time.perf_counter() - start
        total = args.n * args.workers
        print(f"write_corpus, {args.workers} workers: {total / wall:.0f} pairs/s total, "
              f"{total / wall / args.workers:.0f} pairs/s/worker (wall, includes process start and disk)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
