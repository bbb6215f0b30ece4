"""Validation metrics, decode latency and training curves of a trained checkpoint (for MODEL.md).

Evaluates on problems drawn from the checkpoint's own generator config with a held-out seed (never the
training seed), and writes into ``--out``:

* ``metrics.json``: skeleton recovery from the prior mean (overall and by number of variables), top-k beam
  recovery, posterior reconstruction, valid-decode rates (prior samples, interpolation lines), token
  accuracy, KL, g_eval MSE, parameter count, decode latency for 200 latents;
* ``training_curves.png`` and a copy of the run's ``log.csv`` / ``val_log.csv`` if ``--run`` is given.

Example::

    python benchmarks/evaluate_model.py --checkpoint src/gensr/pretrained/default --run runs/default \\
        --out src/gensr/pretrained/default/card --n 1000
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from gensr.checkpoint import load_model, read_checkpoint_config
from gensr.codec import arity_tensor
from gensr.generator import config_from_dict
from gensr.train import evaluate, make_problems


def decode_latency(model, n: int = 200, repeats: int = 3, seed: int = 0) -> dict[str, float]:
    """Seconds to greedily decode ``n`` prior-like latents z ~ N(0, I), best of ``repeats``."""
    z = torch.randn(n, model.cfg.latent_dim, generator=torch.Generator().manual_seed(seed))
    arity = arity_tensor()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = model.decode(z, arity=arity)
        times.append(time.perf_counter() - start)
    return {"decode_200_greedy_s": min(times), "decode_200_mean_len": float(np.mean([len(o) for o in out]))}


def plot_curves(run: Path, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    log = pd.read_csv(run / "log.csv")
    val = pd.read_csv(run / "val_log.csv") if (run / "val_log.csv").exists() else None
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for key in ("loss", "recon_post", "recon_prior", "kl_prior", "geval_mse"):
        if key not in log or not (log[key] > 0).any():
            continue  # a term switched off in this run
        axes[0].plot(log["step"], log[key].rolling(8, min_periods=1).mean(), label=key)
    axes[0].set_yscale("log")
    axes[0].set_title("training losses (rolling mean)")
    axes[1].plot(log["step"], log["kl"], label="KL(q||p) (nats)")
    axes[1].plot(log["step"], log["token_acc"] * 10, label="token accuracy ×10")
    axes[1].set_title("KL and token accuracy")
    if val is not None:
        for key in ("val_recovery_prior", "val_recovery_post", "val_valid_prior_sample", "val_valid_interp",
                    "val_recovery_prior_1_3"):
            if key in val:
                axes[2].plot(val["step"], val[key], marker="o", label=key[4:])
        axes[2].set_ylim(0, 1.02)
        axes[2].set_title("validation (held-out generated problems)")
    for ax in axes:
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "training_curves.png", dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None, help="checkpoint directory (default: the shipped model)")
    ap.add_argument("--run", help="run directory with log.csv / val_log.csv for the curves")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--n", type=int, default=1000, help="held-out problems")
    ap.add_argument("--seed", type=int, default=20_261_122, help="held-out problem seed")
    ap.add_argument("--beam", type=int, default=10, help="beam size for top-k recovery")
    args = ap.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    directory, meta = read_checkpoint_config(args.checkpoint)
    if meta.get("train", {}).get("seed") == args.seed:
        raise SystemExit("--seed equals the training seed: pick a held-out seed")
    model = load_model(directory)
    gen = config_from_dict(meta["generator"])
    problems = make_problems(args.seed, 0, args.n, gen)
    start = time.perf_counter()
    metrics = evaluate(model, problems, beam_size=args.beam, n_interp_pairs=100, seed=args.seed)
    metrics["eval_seconds"] = time.perf_counter() - start
    metrics.update(decode_latency(model))
    metrics.update({"n_problems": args.n, "seed": args.seed, "parameters": model.num_parameters(),
                    "step": meta.get("step"), "torch_threads": torch.get_num_threads()})
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    if args.run:
        run = Path(args.run)
        for name in ("log.csv", "val_log.csv"):
            if (run / name).exists():
                shutil.copy(run / name, out / name)
        plot_curves(run, out)
    for key, value in metrics.items():
        print(f"{key:32s} {value}")


if __name__ == "__main__":
    main()
