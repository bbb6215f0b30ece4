"""``gensr generate`` and ``gensr train``: a corpus of (equation, data) pairs, and the CVAE trained on them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="write a sharded corpus of (equation, data) pairs",
                       description="Generate random equations with sampled data points (E2E-style; see the "
                                   "gensr.generator docstring) "
                                   "and write them as .npz shards plus config.json.")
    p.add_argument("--n", type=int, required=True, help="number of (equation, data) pairs")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--seed", type=int, default=0, help="corpus seed (same seed, same corpus, any --workers)")
    p.add_argument("--workers", type=int, default=1, help="parallel processes")
    p.add_argument("--shard-size", type=int, default=10_000, help="pairs per shard file")
    p.add_argument("--config", help="JSON file with GeneratorConfig keys")
    p.add_argument("--show", type=int, default=0, help="print the first K equations of the corpus")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", help="GeneratorConfig overrides like max_vars=3")


def add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the CVAE",
                       description="Train the dual-branch CVAE on generated data. Settings: a preset, then "
                                   "--config FILE, then overrides like train.lr=3e-4 or model.d_model=128.")
    p.add_argument("--config", help="JSON file with model/generator/train sections (see configs/)")
    p.add_argument("--preset", choices=["tiny", "default"], default=None,
                   help="starting point before --config (default: the file's 'preset' key, else 'default')")
    p.add_argument("--out", default="runs/train", help="run directory")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its state.pt")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.max_steps=100")


def cmd_generate(args: argparse.Namespace) -> int:
    from gensr._config import apply_overrides, from_dict, load_json
    from gensr.corpus import write_corpus
    from gensr.generator import GeneratorConfig

    if args.n <= 0:
        raise ValueError("--n must be positive")
    cfg = from_dict(GeneratorConfig, load_json(args.config)) if args.config else GeneratorConfig()
    cfg = apply_overrides(cfg, args.overrides)
    out = write_corpus(args.out, args.n, seed=args.seed, config=cfg, workers=args.workers,
                       shard_size=args.shard_size, progress=not args.quiet)
    print(f"wrote {args.n} pairs to {out}")
    if args.show:
        _show_corpus(out, args.show)
    return 0


def _show_corpus(path: Path, k: int) -> None:
    from gensr.corpus import load_corpus
    from gensr.grammar import Expression
    from gensr.vocab import VOCAB

    data = load_corpus(path)
    for i in range(min(k, len(data["tokens"]))):
        expr = Expression.from_prefix(VOCAB.decode(data["tokens"][i]))
        d, n = int(data["n_vars"][i]), int(data["n_points"][i])
        y = data["y"][i, :n]
        print(f"[{i}] {d} vars, {n} points, y in [{y.min():.3g}, {y.max():.3g}]:  y = {expr}")


def cmd_train(args: argparse.Namespace) -> int:
    from gensr._config import load_json
    from gensr.train import resolve_config, train

    preset = args.preset
    if preset is None:
        preset = str(load_json(args.config).get("preset", "default")) if args.config else "default"
    cfg = resolve_config(preset, args.config, args.overrides)
    metrics = train(cfg, args.out, resume=args.resume, quiet=args.quiet, argv=["gensr", *sys.argv[1:]])
    print(f"run written to {args.out}")
    for key in sorted(metrics):
        print(f"  {key}: {metrics[key]:.4f}")
    return 0
