"""Latent-space report for BENCHMARKS.md: interpolation statistics and function-family probes (GENSR_METHOD.md §8.8).

Computes, for one checkpoint, with :mod:`gensr.latent`:

* interpolation statistics over ``--pairs`` random pairs of generated equations of equal input dimension
  (straight line and slerp): valid-decode rate, share of monotonic distance profiles, Spearman ρ of the
  distances with t, distinct skeletons per path, endpoint reconstruction;
* the six-class probe (exp / trig / log × 2-D / 5-D, ``--n-per-class`` each) with logistic-regression and
  k-NN probes on the prior mean, on an untrained model of the same shape and on summary statistics;
* a t-SNE map of the three embeddings (``tsne.png``) and one example path (``example.txt``).

Problems come from the checkpoint's own generator config and a seed unrelated to the training stream.
Writes ``latent_report.json``, ``latent_report.md``, ``tsne.png`` and ``example.txt`` into ``--out`` and
prints the markdown. The GenSR / SNIP / E2E probe scores are the ones quoted in a secondary summary of the
paper (published, unverified; the probe behind them is not known).

Example::

    python benchmarks/latent_report.py --checkpoint src/gensr/pretrained/default --pairs 100 \\
        --n-per-class 100 --out runs/latent_report
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from gensr.checkpoint import load_model, read_checkpoint_config
from gensr.latent import (
    EMBEDDINGS,
    generator_config_from_checkpoint,
    interpolate,
    interpolation_stats,
    plot_tsne,
    probe,
)

PUBLISHED = (("GenSR (paper)", 0.849), ("SNIP (paper)", 0.723), ("E2E (paper)", 0.661))
LABELS = {"gensr": "ours: prior mean μ", "untrained": "ours, untrained (same shape, seed 0)",
          "summary": "summary statistics of (X, y)"}
EXAMPLE = ("x0*sin(x1)", "x0*exp(x1)")


def _f(v: float) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def markdown(meta: dict, interp: dict[str, dict], result, args: argparse.Namespace) -> str:
    name = args.checkpoint or "shipped default"
    lines = [f"### Latent space (`{name}`, step {meta.get('step', '?')})", "",
             f"Function-family probe: 6 classes (exp / trig / log × 2-D / 5-D), {result.n_per_class} problems per "
             f"class from the checkpoint's generator, held-out {result.test_size:.0%}, split seeds "
             f"{', '.join(map(str, result.seeds))}; mean ± std over seeds; chance 0.167 (6-way), 0.333 (family).",
             "", "| embedding | logistic, 6-way | 5-NN, 6-way | logistic, family | 5-NN, family | source |",
             "|---|---|---|---|---|---|"]
    for emb in EMBEDDINGS:
        lr, kn = result.score(emb, "logistic"), result.score(emb, "knn")
        lines.append(f"| {LABELS[emb]} | {lr.accuracy:.3f} ± {lr.accuracy_std:.3f} | "
                     f"{kn.accuracy:.3f} ± {kn.accuracy_std:.3f} | {lr.family_accuracy:.3f} ± "
                     f"{lr.family_accuracy_std:.3f} | {kn.family_accuracy:.3f} ± {kn.family_accuracy_std:.3f} "
                     f"| measured |")
    for label, value in PUBLISHED:
        lines.append(f"| {label} | {value:.3f} (probe unknown) | | | | published, unverified |")
    lines += ["", f"Interpolation between posterior means of {int(interp['line']['n_pairs'])} random pairs of "
                  f"generated equations with equal input dimension, {int(interp['line']['steps'])} steps "
                  "(endpoints included); distance = RMSE / std(y) of the decoded skeleton with every constant "
                  "= 1; monotonic = distance to A non-decreasing and to B non-increasing and both changing.", "",
              "| path | valid decodes | monotonic (both) | A non-decr. | B non-incr. | ρ(t, d_A) | ρ(t, d_B) "
              "| distinct skeletons | A at t=0 | B at t=1 |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for path, s in interp.items():
        lines.append(f"| {path} | {_f(s['valid_rate'])} | {_f(s['monotonic'])} | {_f(s['monotonic_a'])} | "
                     f"{_f(s['monotonic_b'])} | {_f(s['spearman_a'])} | {_f(s['spearman_b'])} | "
                     f"{s['n_distinct']:.2f} | {_f(s['endpoint_a'])} | {_f(s['endpoint_b'])} |")
    lines += ["", f"Command: `python benchmarks/latent_report.py --checkpoint {name} --pairs {args.pairs} "
                  f"--n-per-class {args.n_per_class} --seed {args.seed} --out {args.out}`"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None, help="checkpoint directory (default: the shipped model)")
    ap.add_argument("--pairs", type=int, default=100, help="random equation pairs for interpolation (default 100)")
    ap.add_argument("--n-per-class", type=int, default=100, help="probe problems per class (default 100)")
    ap.add_argument("--steps", type=int, default=9, help="points per interpolation path (default 9)")
    ap.add_argument("--probe-seeds", type=int, nargs="+", default=[0, 1, 2], help="probe split seeds")
    ap.add_argument("--seed", type=int, default=20_261_122, help="seed of the generated problems")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--out", required=True, help="output directory")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _, meta = read_checkpoint_config(args.checkpoint)
    model = load_model(args.checkpoint)
    gen = generator_config_from_checkpoint(args.checkpoint)
    timings: dict[str, float] = {}

    start = time.perf_counter()
    interp = {label: interpolation_stats(model, args.pairs, rng=args.seed, generator_config=gen, steps=args.steps,
                                         spherical=spherical)
              for label, spherical in (("line", False), ("slerp", True))}
    timings["interpolation_s"] = time.perf_counter() - start

    start = time.perf_counter()
    result = probe(model, n_per_class=args.n_per_class, seeds=tuple(args.probe_seeds), rng=args.seed,
                   generator_config=gen)
    timings["probe_s"] = time.perf_counter() - start

    start = time.perf_counter()
    plot_tsne(result, out / "tsne.png")
    timings["tsne_s"] = time.perf_counter() - start

    example = interpolate(model, *EXAMPLE, steps=args.steps)
    (out / "example.txt").write_text(example.format() + "\n")

    report = markdown(meta, interp, result, args)
    (out / "latent_report.md").write_text(report + "\n")
    payload = {"checkpoint": args.checkpoint, "step": meta.get("step"), "seed": args.seed,
               "interpolation": interp, "probe": result.to_dict(), "example": example.to_dict(),
               "published_unverified": dict(PUBLISHED), "timings": timings, "torch_threads": args.threads}
    (out / "latent_report.json").write_text(json.dumps(payload, indent=2, default=str))
    print(report)
    print(f"\nwrote {out / 'latent_report.md'}, latent_report.json, tsne.png, example.txt "
          f"({', '.join(f'{k} {v:.1f}' for k, v in timings.items())})")


if __name__ == "__main__":
    main()
