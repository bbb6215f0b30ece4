"""``gensr interpolate`` and ``gensr probe``: looks into the trained latent space."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any


def add_interpolate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("interpolate", help="decode the latent path between two equations",
                       description="Encode formulas A and B with the posterior branch on shared points, decode "
                                   "along the line (or slerp) between their latents, and report per step the "
                                   "decoded equation, its validity and its normalised RMSE to A and B (every "
                                   "constant of a decoded skeleton set to 1; nothing is fitted).")
    p.add_argument("a", help='formula A, e.g. "x0*sin(x1)" (variables x0…x9; constants allowed)')
    p.add_argument("b", help='formula B, e.g. "x0*exp(x1)"')
    p.add_argument("--checkpoint", help="model checkpoint directory (default: the shipped model)")
    p.add_argument("--steps", type=int, default=9, help="decoded points, endpoints included (default 9)")
    p.add_argument("--spherical", action="store_true", help="spherical interpolation (slerp) instead of a line")
    p.add_argument("--n-points", type=int, default=200, help="shared data points (default 200)")
    p.add_argument("--range", nargs=2, type=float, default=(-2.0, 2.0), metavar=("LO", "HI"),
                   help="uniform range of every variable (default -2 2; e.g. 0.1 4 for log or sqrt)")
    p.add_argument("--seed", type=int, default=0, help="seed of the shared points (default 0)")
    p.add_argument("--plot", help="PNG of the decoded curves (one-variable formulas only; needs matplotlib)")
    p.add_argument("--output", help="write the table and summary as JSON")


def add_probe(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probe", help="function-family probe of the latent space (exp/trig/log × 2-D/5-D)",
                       description="Embed generated problems of six classes (exp, trig, log families × 2 or 5 "
                                   "inputs) with the prior branch (data only) and score logistic-regression and "
                                   "k-NN probes on held-out splits, against an untrained model of the same "
                                   "shape and summary statistics of the data.")
    p.add_argument("--checkpoint", help="model checkpoint directory (default: the shipped model)")
    p.add_argument("--n-per-class", type=int, default=100, help="problems per class (default 100)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="train/test split seeds (default 0 1 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated problems (default 0)")
    p.add_argument("--plot", help="PNG of t-SNE maps coloured by class and by mean y (needs matplotlib)")
    p.add_argument("--output", help="write the accuracies as JSON")


def _report(result: Any, args: argparse.Namespace, plot: Callable[[Any, str], Any]) -> int:
    """Print ``result``, then draw it (``--plot``) and write its JSON (``--output``) when asked."""
    import json

    print(result.format())
    if args.plot:
        print(f"wrote {plot(result, args.plot)}")
    if args.output:
        Path(args.output).write_text(json.dumps(result.to_dict(), indent=2))
        print(f"wrote {args.output}")
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    from gensr.checkpoint import load_model
    from gensr.formula import parse
    from gensr.latent import interpolate, plot_interpolation

    a, b = parse(args.a), parse(args.b)  # bad formulas fail before the model is loaded
    used = sorted(set(a.variables) | set(b.variables))
    if args.plot and len(used) > 1:
        raise ValueError(f"--plot draws curves of one variable; A and B use {len(used)}")
    model = load_model(args.checkpoint)
    result = interpolate(model, a, b, steps=args.steps, spherical=args.spherical, n_points=args.n_points,
                         rng=args.seed, x_range=tuple(args.range))
    return _report(result, args, plot_interpolation)


def cmd_probe(args: argparse.Namespace) -> int:
    from gensr.checkpoint import load_model
    from gensr.latent import generator_config_from_checkpoint, plot_tsne, probe

    model = load_model(args.checkpoint)
    result = probe(model, n_per_class=args.n_per_class, seeds=tuple(args.seeds), rng=args.seed,
                   generator_config=generator_config_from_checkpoint(args.checkpoint))
    return _report(result, args, plot_tsne)
