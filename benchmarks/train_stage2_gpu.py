"""Train the stage-2 prior (``configs/stage2_prior.json``) on one CUDA GPU in at most 8 minutes.

The same design as the CPU pilot: the shipped decoder and posterior frozen, a 3-block structure encoder at
width 128 fitted to them on 200-point problems; only the throughput settings differ (batch 256, bf16,
generator workers). Use it only when a GPU is lent for this work; ``--dry-run`` runs the same command on the
CPU for two tiny steps (the test suite does, since the path cannot be tried elsewhere).

Example::

    python benchmarks/train_stage2_gpu.py --out runs/stage2_gpu          # then, on this machine:
    python benchmarks/prior_probes.py --checkpoints default runs/stage2_gpu/checkpoint
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "stage2_prior.json"
GPU = ["train.device=cuda", "train.bf16=true", "train.batch_size=256", "train.lr=2e-3", "train.max_steps=6000",
       "train.time_limit=420", "train.eval_every=1000", "train.save_every=1000", "train.threads=4"]
DRY = ["train.device=cpu", "train.batch_size=4", "train.max_steps=2", "train.warmup_steps=1", "train.eval_every=2",
       "train.eval_size=4", "train.save_every=2", "train.log_every=1", "train.data_workers=0", "train.threads=1"]


def command(out: str, dry_run: bool) -> list[str]:
    workers = [] if dry_run else [f"train.data_workers={max(1, min(12, (os.cpu_count() or 2) - 2))}"]
    return [sys.executable, "-m", "gensr", "train", "--config", str(CONFIG), "--out", out,
            *(DRY if dry_run else GPU + workers)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--dry-run", action="store_true", help="two tiny steps on the CPU")
    args = ap.parse_args()
    if not args.dry_run:
        import torch

        if not torch.cuda.is_available():
            sys.exit("train_stage2_gpu.py: no CUDA device here; use --dry-run to try the command on the CPU")
    sys.exit(subprocess.run(command(args.out, args.dry_run)).returncode)


if __name__ == "__main__":
    main()
