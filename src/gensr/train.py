"""Training the CVAE: configs, presets, the data stream, the loop, validation metrics (docs/method.md §3–4).

``gensr train --config FILE [--preset tiny|default] [--resume]`` calls :func:`train`. A run directory holds
the resolved ``config.json``, ``argv.txt``, ``env.json``, ``log.csv`` (every metric, one row per logged
step), ``val_log.csv``, ``checkpoint/`` (the latest model: safetensors + JSON, see :mod:`gensr.checkpoint`),
``best/`` (the model of the best validation prior recovery so far, same format) and ``state.pt`` (optimizer
and counters for ``--resume``; loaded with ``weights_only=True`` and never shipped).

Data come streaming from the generator, or from a corpus written by ``gensr generate`` (``train.corpus``).
Streaming batch ``b`` is made of problems ``b*B … b*B+B-1`` of the generator seeded by ``(seed, index)``,
so the data are the same for any number of data workers and a resumed run continues with the batches it
has not seen. Under ``torchrun`` each rank takes every ``world_size``-th batch.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import logging
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gensr._config import apply_overrides, from_dict, load_json, to_dict
from gensr._utils import environment, git_sha, model_device, resolve_device
from gensr.checkpoint import CheckpointError, load_model, save_checkpoint
from gensr.codec import arity_tensor, collate, decoded_expression, is_valid_decode, token_mask_for
from gensr.generator import GeneratorConfig, problem_rng, sample_problem
from gensr.grammar import MAX_VARS
from gensr.model import CVAE, CVAE_PRESETS, CVAEConfig
from gensr.vocab import VOCAB

log = logging.getLogger(__name__)

__all__ = ["PRESETS", "RunConfig", "TrainConfig", "clip_gradients", "evaluate", "get_beta", "get_lr", "train"]


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and bookkeeping for :func:`train`."""

    seed: int = 0  # seeds the data stream (problem i uses (seed, i)) and torch
    batch_size: int = 64  # equations per optimiser step (per process under DDP)
    max_steps: int = 20_000  # optimiser steps
    time_limit: float = 0.0  # seconds; > 0 stops cleanly (checkpoint + state) when reached, for chained runs
    lr: float = 1e-3  # peak AdamW learning rate; small transformers tolerate GenSR's 1e-3
    min_lr: float = 1e-4  # cosine decay floor
    warmup_steps: int = 500  # linear warm-up from 0 (GenSR: 10k at batch 128 for a 168M model)
    weight_decay: float = 0.01  # AdamW decay on matrices only
    grad_clip: float = 1.0  # L2 norm clip of every parameter but the prior head's (GenSR 0.5)
    prior_grad_clip: float = 1.0  # separate L2 clip of the prior head: its KL spikes must not shrink the rest
    beta_max: float = 0.5  # final KL weight; <1 keeps reconstructions sharp, free bits guard collapse
    beta_warmup_steps: int = 4_000  # linear KL annealing 0 → beta_max
    eval_every: int = 1_000  # steps between validations
    eval_size: int = 256  # held-out problems for validation (generated with eval_seed)
    eval_seed: int = 1_000_003  # a different seed from training: the validation set is never trained on
    log_every: int = 50  # steps between rows of log.csv
    save_every: int = 1_000  # steps between checkpoints (also at the end and on time_limit)
    data_workers: int = 1  # generator processes feeding the loop (0: generate in the main process)
    corpus: str = ""  # a `gensr generate` directory: train on it (reshuffled every epoch) instead of streaming
    device: str = "cpu"  # "cpu", "cuda" or "auto"; CPU is the default
    bf16: bool = True  # bf16 autocast when on CUDA; CPU always trains in fp32
    threads: int = 0  # torch intra-op threads (0: torch's default)
    init_from: str = ""  # a checkpoint directory ("default": the shipped model) whose weights start a new run
    stage: int = 1  # 2: train the stage-2 prior against init_from's frozen posterior (CVAE.stage2_losses)
    decoder_lr: float = 0.0  # stage 2: the decoder's rate as a share of lr (0: frozen; train.DECODER: its parts)


@dataclass(frozen=True)
class RunConfig:
    """Everything a training run needs: model, data generator and optimisation."""

    model: CVAEConfig = field(default_factory=CVAEConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def _tiny() -> RunConfig:
    gen = GeneratorConfig(max_vars=3, max_points=32, min_points=16)
    return RunConfig(
        model=dataclasses.replace(CVAE_PRESETS["tiny"], vocab_size=VOCAB.size, max_len=gen.max_len + 2),
        generator=gen,
        train=TrainConfig(batch_size=16, max_steps=40, warmup_steps=5, beta_warmup_steps=20, eval_every=20,
                          eval_size=16, log_every=5, save_every=40, data_workers=0),
    )


def _default() -> RunConfig:
    gen = GeneratorConfig()
    model = dataclasses.replace(CVAE_PRESETS["default"], vocab_size=VOCAB.size, max_len=gen.max_len + 2)
    return RunConfig(model=model, generator=gen, train=TrainConfig())


PRESETS = {"tiny": _tiny, "default": _default}


def resolve_config(preset: str = "default", config_file: str | Path | None = None,
                   overrides: Sequence[str] = ()) -> RunConfig:
    """Preset, then the JSON file's keys on top, then ``section.key=value`` overrides."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    cfg = PRESETS[preset]()
    if config_file is not None:
        data = load_json(config_file)
        data.pop("preset", None)
        merged = to_dict(cfg)
        for section, values in data.items():
            if section not in merged or not isinstance(values, dict):
                raise ValueError(f"{config_file}: unknown section {section!r}; expected model, generator, train")
            merged[section].update(values)
        cfg = from_dict(RunConfig, merged)
    cfg = apply_overrides(cfg, overrides)
    if cfg.model.vocab_size != VOCAB.size:
        raise ValueError(f"model.vocab_size={cfg.model.vocab_size} but the grammar has {VOCAB.size} tokens")
    if cfg.model.max_len < cfg.generator.max_len + 2:
        raise ValueError(f"model.max_len={cfg.model.max_len} < generator.max_len + 2 (BOS/EOS)")
    return cfg


# --------------------------------------------------------------------------------------------------
# schedules


def get_lr(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to ``lr``, then cosine decay to ``min_lr`` at ``max_steps``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1.0 + math.cos(math.pi * progress))


def get_beta(step: int, cfg: TrainConfig) -> float:
    """KL annealing: β grows linearly from 0 to ``beta_max`` over ``beta_warmup_steps``."""
    return cfg.beta_max * (1.0 if cfg.beta_warmup_steps <= 0 else min(1.0, step / cfg.beta_warmup_steps))


# --------------------------------------------------------------------------------------------------
# data


def make_problems(seed: int, start: int, count: int, gen: GeneratorConfig) -> list[Any]:
    return [sample_problem(problem_rng(seed, i), gen) for i in range(start, start + count)]


class GeneratedBatches(torch.utils.data.IterableDataset):
    """Endless batches from the generator; batch ``b`` depends only on ``(seed, b)``."""

    def __init__(self, gen: GeneratorConfig, seed: int, batch_size: int, max_len: int, start_batch: int,
                 rank: int = 0, world: int = 1):
        self.gen, self.seed, self.batch_size, self.max_len = gen, seed, batch_size, max_len
        self.start_batch, self.rank, self.world = start_batch, rank, world

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = torch.utils.data.get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        b = self.start_batch + wid
        while True:
            index = b * self.world + self.rank
            yield collate(make_problems(self.seed, index * self.batch_size, self.batch_size, self.gen),
                          self.max_len)
            b += nw


class CorpusBatches(torch.utils.data.IterableDataset):
    """Endless batches from a corpus written by ``gensr generate``, reshuffled every epoch.

    Batch ``b`` is fixed by ``(seed, b)`` (epoch ``e`` uses the permutation drawn from ``(seed, e)``), so a
    resumed run continues where it stopped, for any number of workers; under DDP each rank takes every
    ``world``-th batch.
    """

    def __init__(self, corpus: str | Path, seed: int, batch_size: int, max_len: int, start_batch: int,
                 rank: int = 0, world: int = 1):
        from gensr.corpus import load_corpus

        self.data = load_corpus(corpus)
        n = len(self.data["tokens"])
        if n < batch_size:
            raise ValueError(f"{corpus}: corpus has {n} pairs, fewer than one batch of {batch_size}")
        width = int((self.data["tokens"] != 0).sum(1).max())
        if width > max_len:
            raise ValueError(f"{corpus}: equations of {width} tokens exceed model.max_len={max_len}")
        self.seed, self.batch_size, self.start_batch, self.rank, self.world = (
            seed, batch_size, start_batch, rank, world)

    def batch(self, index: int) -> dict[str, torch.Tensor]:
        d, B = self.data, self.batch_size
        per_epoch = len(d["tokens"]) // B
        epoch, k = divmod(index, per_epoch)
        rows = np.random.default_rng([self.seed, epoch]).permutation(len(d["tokens"]))[k * B : (k + 1) * B]
        tokens = torch.from_numpy(d["tokens"][rows].astype(np.int64))
        tokens = tokens[:, : int((tokens != 0).sum(1).max())]
        N = int(d["n_points"][rows].max())
        point_mask = torch.arange(N)[None, :] < torch.from_numpy(d["n_points"][rows].astype(np.int64))[:, None]
        var_mask = torch.arange(MAX_VARS)[None, :] < torch.from_numpy(d["n_vars"][rows].astype(np.int64))[:, None]
        return {"tokens": tokens, "X": torch.from_numpy(d["X"][rows, :N]), "y": torch.from_numpy(d["y"][rows, :N]),
                "var_mask": var_mask, "point_mask": point_mask}

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = torch.utils.data.get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        b = self.start_batch + wid
        while True:
            yield self.batch(b * self.world + self.rank)
            b += nw


# --------------------------------------------------------------------------------------------------
# validation


@torch.no_grad()
def evaluate(model: CVAE, problems: Sequence[Any], *, batch_size: int = 128, beam_size: int = 0,
             n_interp_pairs: int = 32, seed: int = 0) -> dict[str, float]:
    """Validation metrics on held-out problems.

    Returns token accuracy, the loss terms (β = 1; a stage-2 model's are stage 2's), skeleton recovery from
    the prior mean (overall, and by number of variables 1-3 / 4-6 / 7-10), posterior reconstruction (decode
    the posterior mean), the valid-decode rate of z ~ p(z|data), the valid-decode rate at 5 interior points
    of straight lines between posterior means of random pairs, and, if ``beam_size`` > 0, top-``beam_size``
    recovery.
    """
    model.eval()
    device = model_device(model)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    arity = arity_tensor(device)
    sums: dict[str, float] = {}
    hits_prior, hits_post, hits_beam, valid_sample = [], [], [], []
    post_mus: list[torch.Tensor] = []
    for s in range(0, len(problems), batch_size):
        chunk = problems[s : s + batch_size]
        batch = {k: v.to(device) for k, v in collate(chunk, model.cfg.max_len).items()}
        terms = model(batch["tokens"], batch["X"], batch["y"], batch["var_mask"], batch["point_mask"], beta=1.0,
                      stage=1 if model.structure_prior is None else 2)[1]
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(chunk)
        mask = token_mask_for([p.n_vars for p in chunk], device)
        mu_p, logvar_p = model.encode_prior(batch["X"], batch["y"], batch["var_mask"], batch["point_mask"])
        mu_q, _ = model.encode_posterior(batch["tokens"], batch["X"], batch["y"], batch["var_mask"],
                                         batch["point_mask"])
        post_mus.append(mu_q.cpu())
        truth = [p.expr.key for p in chunk]
        for ids, key in zip(model.decode(mu_p, arity=arity, token_mask=mask), truth):
            e = decoded_expression(ids)
            hits_prior.append(e is not None and e.key == key)
        for ids, key in zip(model.decode(mu_q, arity=arity, token_mask=mask), truth):
            e = decoded_expression(ids)
            hits_post.append(e is not None and e.key == key)
        z = mu_p + torch.randn(mu_p.shape, generator=gen).to(device) * (0.5 * logvar_p).exp()
        for ids, p in zip(model.decode(z, arity=arity, token_mask=mask), chunk):
            valid_sample.append(is_valid_decode(decoded_expression(ids), p.X))
        if beam_size:
            for beams, key in zip(model.decode(mu_p, method="beam", beam_size=beam_size, arity=arity,
                                               token_mask=mask), truth):
                keys = {e.key for e in (decoded_expression(ids) for ids, _ in beams) if e is not None}
                hits_beam.append(key in keys)
    n = len(problems)
    out = {f"val_{k}": v / n for k, v in sums.items()}
    out["val_recovery_prior"] = float(np.mean(hits_prior))
    out["val_recovery_post"] = float(np.mean(hits_post))
    out["val_valid_prior_sample"] = float(np.mean(valid_sample))
    nv = np.array([p.n_vars for p in problems])
    for lo, hi in ((1, 3), (4, 6), (7, 10)):
        sel = (nv >= lo) & (nv <= hi)
        out[f"val_recovery_prior_{lo}_{hi}"] = float(np.mean(np.asarray(hits_prior)[sel])) if sel.any() else math.nan
    if beam_size:
        out[f"val_recovery_beam{beam_size}"] = float(np.mean(hits_beam))
        sel = nv <= 3
        out[f"val_recovery_beam{beam_size}_1_3"] = float(np.mean(np.asarray(hits_beam)[sel])) if sel.any() else math.nan
    out["val_valid_interp"] = _interpolation_validity(model, problems, torch.cat(post_mus), n_interp_pairs, seed)
    return out


def _interpolation_validity(model: CVAE, problems: Sequence[Any], mus: torch.Tensor, n_pairs: int,
                            seed: int) -> float:
    """Share of valid decodes at 5 interior points of lines between two problems' posterior means.

    Pairs share the input dimension so both endpoints are defined on the same data; validity is judged
    on the first problem's rows.
    """
    rng = np.random.default_rng(seed)
    by_dim: dict[int, list[int]] = {}
    for i, p in enumerate(problems):
        by_dim.setdefault(p.n_vars, []).append(i)
    pools = [idx for idx in by_dim.values() if len(idx) >= 2]
    if not pools:
        return math.nan
    device = model_device(model)
    ts = torch.linspace(0, 1, 7)[1:-1]
    zs, owners = [], []
    for _ in range(n_pairs):
        pool = pools[rng.integers(len(pools))]
        a, b = rng.choice(pool, size=2, replace=False)
        zs.append(mus[a][None] * (1 - ts[:, None]) + mus[b][None] * ts[:, None])
        owners += [int(a)] * len(ts)
    z = torch.cat(zs).to(device)
    mask = token_mask_for([problems[i].n_vars for i in owners], device)
    decoded = model.decode(z, arity=arity_tensor(device), token_mask=mask)
    return float(np.mean([is_valid_decode(decoded_expression(ids), problems[i].X)
                          for ids, i in zip(decoded, owners)]))


# --------------------------------------------------------------------------------------------------
# the loop


def clip_gradients(model: CVAE, tc: TrainConfig) -> tuple[float, float]:
    """Clip the prior head's gradient (``prior_grad_clip``) apart from everything else's (``grad_clip``).

    The prior-fit KL has gradient spikes; under one global clip they shrank the whole step, reconstruction
    included, 5-37x (measured on a fixed batch). Returns the two norms before clipping.
    """
    prior = list((model.structure_prior or model.prior_head).parameters())
    ids = {id(p) for p in prior}
    rest = [p for p in model.parameters() if id(p) not in ids]
    norm = torch.nn.utils.clip_grad_norm_(rest, tc.grad_clip)
    prior_norm = torch.nn.utils.clip_grad_norm_(prior, tc.prior_grad_clip)
    return float(norm), float(prior_norm)


_LOG_FIELDS = ["step", "elapsed_s", "samples", "samples_per_s", "lr", "beta", "loss", "recon_post", "recon_prior",
               "kl", "kl_fb", "kl_prior", "bow", "geval_mse", "token_acc", "grad_norm", "prior_grad_norm"]


@dataclass
class _Progress:
    """Where a run stands; saved in ``state.pt`` so that ``--resume`` continues from it."""

    step: int = 0
    samples: int = 0
    elapsed_before: float = 0.0  # seconds trained by earlier sessions of this run
    best: float = -math.inf  # best validation prior recovery so far (the best/ checkpoint's)


def _setup_distributed(tc: TrainConfig) -> tuple[torch.device, int, int]:
    """(device, rank, world size); under ``torchrun`` joins the process group (nccl on CUDA, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = resolve_device(tc.device)
    if world > 1:
        import torch.distributed as dist

        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if tc.threads > 0:
        torch.set_num_threads(tc.threads)
    return device, rank, world


# the decoder's own parameters (the token embedding is not: the posterior shares it, so it stays frozen)
DECODER = ("dec_blocks.", "dec_wpe.", "z_to_memory.", "ln_memory.", "z_to_embed.", "ln_f.")


def _optimizer(model: CVAE, tc: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters (stage 2: the structure prior's, and the decoder's at ``decoder_lr``
    × the rate when that is > 0), weight decay on matrices only; each group's ``lr_scale`` scales the schedule."""
    if tc.stage == 2 and (model.structure_prior is None or not tc.init_from):
        raise ValueError("train.stage=2 needs model.prior_encoder_layers > 0 and train.init_from")
    groups: dict[tuple[bool, float], list] = {}
    for name, p in model.named_parameters():
        decoder = tc.stage == 2 and name.startswith(DECODER)
        if tc.stage == 2:
            p.requires_grad_(name.startswith("structure_prior.") or (decoder and tc.decoder_lr > 0))
        if p.requires_grad:  # sorted below: matrices first, as in older runs
            groups.setdefault((p.dim() < 2, tc.decoder_lr if decoder else 1.0), []).append(p)
    return torch.optim.AdamW([{"params": ps, "weight_decay": 0.0 if vector else tc.weight_decay, "lr_scale": scale}
                              for (vector, scale), ps in sorted(groups.items())], lr=tc.lr, betas=(0.9, 0.98))


def _warm_start(model: CVAE, source: str) -> None:
    """Copy a checkpoint's weights into ``model`` (a new run: fresh optimiser, schedule and counters).

    The loss weights may differ from the checkpoint's; the architecture may not (a one-line error says so),
    except that a stage-1 checkpoint may start a model with a new structure prior.
    """
    src = load_model(None if source == "default" else source, verify=True)
    state = src.state_dict()
    if model.structure_prior is not None and src.structure_prior is None:
        state.update({k: v for k, v in model.state_dict().items() if k.startswith("structure_prior.")})
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"train.init_from={source}: its architecture differs from model's "
                              f"({str(exc).splitlines()[0]})") from None
    log.info("warm start from %s", source)


def _open_run_dir(out: Path, cfg: RunConfig, *, resume: bool, is_main: bool, model: CVAE,
                  opt: torch.optim.Optimizer, device: torch.device, sha: str,
                  argv: Sequence[str] | None) -> _Progress:
    """Restore ``state.pt`` when resuming (else refuse a used directory) and write the run's records."""
    state_path = out / "state.pt"
    progress = _Progress()
    if resume:
        if not state_path.is_file():
            raise FileNotFoundError(f"{state_path}: nothing to resume (no state.pt in the run directory)")
        state = torch.load(state_path, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        progress = _Progress(int(state["step"]), int(state["samples"]), float(state["elapsed"]),
                             float(state["best"]))
    elif is_main and state_path.exists():
        raise FileExistsError(f"{out}: run directory already holds a run; pass --resume or choose another --out")
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(to_dict(cfg), indent=2))
        (out / "argv.txt").write_text(" ".join(argv if argv is not None else sys.argv) + "\n")
        (out / "env.json").write_text(json.dumps(environment(device, sha), indent=2))
    return progress


def _loader(cfg: RunConfig, start_batch: int, rank: int, world: int) -> torch.utils.data.DataLoader:
    """Batches from the corpus (``train.corpus``) or generated on the fly, continuing at ``start_batch``."""
    tc = cfg.train
    if tc.corpus:
        data: torch.utils.data.IterableDataset = CorpusBatches(tc.corpus, tc.seed, tc.batch_size, cfg.model.max_len,
                                                               start_batch=start_batch, rank=rank, world=world)
    else:
        data = GeneratedBatches(cfg.generator, tc.seed, tc.batch_size, cfg.model.max_len, start_batch=start_batch,
                                rank=rank, world=world)
    return torch.utils.data.DataLoader(data, batch_size=None, num_workers=tc.data_workers, persistent_workers=False,
                                       prefetch_factor=4 if tc.data_workers else None)


class _Checkpointer:
    """Writes ``checkpoint/`` (the latest model), ``best/`` (the best validation prior recovery) and ``state.pt``."""

    def __init__(self, out: Path, cfg: RunConfig, model: CVAE, opt: torch.optim.Optimizer, sha: str,
                 argv: Sequence[str] | None, is_main: bool) -> None:
        self.out, self.cfg, self.model, self.opt, self.sha, self.is_main = out, cfg, model, opt, sha, is_main
        self.command = " ".join(argv or sys.argv)
        self.start = time.perf_counter()

    def _meta(self, progress: _Progress, metrics: dict[str, float]) -> dict[str, Any]:
        return {"generator": to_dict(self.cfg.generator), "train": to_dict(self.cfg.train), "step": progress.step,
                "samples": progress.samples, "git_sha": self.sha, "command": self.command, "seed": self.cfg.train.seed,
                "metrics": metrics}

    def latest(self, progress: _Progress, metrics: dict[str, float]) -> None:
        if not self.is_main:
            return
        save_checkpoint(self.out / "checkpoint", self.model, self._meta(progress, metrics))
        torch.save({"model": self.model.state_dict(), "optimizer": self.opt.state_dict(), "step": progress.step,
                    "samples": progress.samples, "best": progress.best,
                    "elapsed": progress.elapsed_before + time.perf_counter() - self.start}, self.out / "state.pt")

    def validated(self, progress: _Progress, metrics: dict[str, float]) -> None:
        """After a validation: a new best prior recovery (ties go to the later step) replaces ``best/``."""
        score = metrics["val_recovery_prior"]
        if self.is_main and not math.isnan(score) and score >= progress.best:
            progress.best = score
            save_checkpoint(self.out / "best", self.model, self._meta(progress, metrics))


class _TrainLog:
    """``log.csv``: one row per ``log_every`` steps (rank 0 only), with the window's throughput."""

    def __init__(self, path: Path, enabled: bool) -> None:
        new = not path.exists()
        self._file = open(path, "a", newline="") if enabled else None
        self._writer = csv.DictWriter(self._file, fieldnames=_LOG_FIELDS, extrasaction="ignore") if self._file else None
        if self._writer is not None and new:
            self._writer.writeheader()
        self._t, self._n = time.perf_counter(), 0

    def count(self, n: int) -> None:
        self._n += n

    def write(self, row: dict[str, Any]) -> dict[str, Any]:
        now = time.perf_counter()
        row = {**row, "samples_per_s": round(self._n / max(now - self._t, 1e-9), 1)}
        self._t, self._n = now, 0
        if self._writer is not None and self._file is not None:
            self._writer.writerow(row)
            self._file.flush()
        return row

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _step(model: CVAE, ddp_model: torch.nn.Module, opt: torch.optim.Optimizer, batch: dict[str, torch.Tensor],
          step: int, tc: TrainConfig, device: torch.device, autocast: Any) -> dict[str, float]:
    """One optimiser step; returns the log row's values (lr, beta, gradient norms, every loss term)."""
    model.train(tc.stage == 1)
    if tc.stage == 2:  # the frozen parts stay in evaluation mode (the posterior's batch norm included)
        model.structure_prior.train()
    lr = get_lr(step, tc)
    for group in opt.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)  # a run saved before the scales: 1
    beta = get_beta(step, tc)
    batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    with autocast:
        _, terms = ddp_model(batch["tokens"], batch["X"], batch["y"], batch["var_mask"], batch["point_mask"],
                             beta=beta, stage=tc.stage)
    opt.zero_grad(set_to_none=True)
    terms["loss"].backward()
    grad_norm, prior_grad_norm = clip_gradients(model, tc)
    opt.step()
    return {"lr": lr, "beta": beta, "grad_norm": grad_norm, "prior_grad_norm": prior_grad_norm,
            **{k: float(v.detach()) for k, v in terms.items()}}


def train(cfg: RunConfig, out_dir: str | Path, *, resume: bool = False, quiet: bool = False,
          argv: Sequence[str] | None = None) -> dict[str, float]:
    """Train a CVAE into ``out_dir``; returns the last validation metrics.

    Works unchanged under ``torchrun`` (DDP: gloo on CPU, nccl on CUDA); rank 0 validates, logs and saves
    ``checkpoint/`` (latest), ``best/`` (best validation prior recovery) and ``state.pt``.
    """
    from tqdm.auto import tqdm

    tc = cfg.train
    device, rank, world = _setup_distributed(tc)
    is_main = rank == 0
    out = Path(out_dir)
    torch.manual_seed(tc.seed)
    model = CVAE(cfg.model).to(device)
    opt = _optimizer(model, tc)
    sha = git_sha() if is_main else "unknown"  # one subprocess per run, not one per checkpoint
    if tc.init_from and not resume:
        _warm_start(model, tc.init_from)
    progress = _open_run_dir(out, cfg, resume=resume, is_main=is_main, model=model, opt=opt, device=device,
                             sha=sha, argv=argv)
    ddp_model: torch.nn.Module = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        ddp_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    val_problems = make_problems(tc.eval_seed, 0, tc.eval_size, cfg.generator) if is_main else []
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" and tc.bf16
                else contextlib.nullcontext())
    saver = _Checkpointer(out, cfg, model, opt, sha, argv, is_main)
    train_log = _TrainLog(out / "log.csv", is_main)
    val_fields: list[str] = []
    metrics: dict[str, float] = {}
    bar = tqdm(total=tc.max_steps, initial=progress.step, disable=quiet or not is_main, desc="train", unit="step")
    try:
        for batch in _loader(cfg, progress.step, rank, world):
            if progress.step >= tc.max_steps:
                break
            values = _step(model, ddp_model, opt, batch, progress.step, tc, device, autocast)
            progress.step += 1
            progress.samples += tc.batch_size * world
            train_log.count(tc.batch_size * world)
            bar.update(1)
            last = progress.step == tc.max_steps
            if is_main and (progress.step % tc.log_every == 0 or last):
                row = train_log.write({"step": progress.step, "samples": progress.samples, **values,
                                       "elapsed_s": round(progress.elapsed_before + time.perf_counter()
                                                          - saver.start, 2)})
                bar.set_postfix(loss=f"{row['loss']:.3f}", acc=f"{row['token_acc']:.3f}", kl=f"{row['kl']:.2f}")
            if is_main and (progress.step % tc.eval_every == 0 or last):
                metrics = {**evaluate(model, val_problems, seed=tc.eval_seed), "step": progress.step}
                _append_val(out / "val_log.csv", metrics, val_fields)
                saver.validated(progress, metrics)
                if not quiet:
                    bar.write(f"step {progress.step}: " + ", ".join(
                        f"{k[4:]}={v:.3f}" for k, v in metrics.items() if k.startswith("val_") and not math.isnan(v)))
            if progress.step % tc.save_every == 0 or last:
                saver.latest(progress, metrics)
            if tc.time_limit > 0 and time.perf_counter() - saver.start >= tc.time_limit:
                log.info("time limit reached at step %d", progress.step)
                break
    finally:
        bar.close()
        train_log.close()
    if progress.step % tc.save_every != 0:
        saver.latest(progress, metrics)
    if world > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
    return metrics


def _append_val(path: Path, metrics: dict[str, float], fields: list[str]) -> None:
    """Validation rows go to ``val_log.csv`` (their columns differ from the per-step training log)."""
    new = not path.exists()
    if not fields:
        fields.extend(["step", *sorted(k for k in metrics if k != "step")])
    with open(path, "a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerow(metrics)
