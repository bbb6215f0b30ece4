"""The stage-2 prior (issue: the map finds what the moves cannot): a structure encoder trained against the
frozen decoder and posterior."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gensr.checkpoint import load_model
from gensr.codec import collate
from gensr.generator import problem_rng, sample_problem
from gensr.model import CVAE


def _stage2_config(tiny_checkpoint, steps: int):
    from gensr.train import resolve_config

    return resolve_config("tiny", overrides=[
        "model.prior_encoder_layers=1", "model.prior_encoder_width=32", f"train.init_from={tiny_checkpoint}",
        "train.stage=2", f"train.max_steps={steps}", f"train.eval_every={steps}", f"train.save_every={steps}",
        "train.warmup_steps=1"])


def test_stage2_training_leaves_the_frozen_parts_bit_identical(tiny_checkpoint, tmp_path):
    from gensr.train import train

    torch.set_num_threads(1)
    train(_stage2_config(tiny_checkpoint, 4), tmp_path, quiet=True, argv=["test"])
    before = load_model(tiny_checkpoint).state_dict()
    after = load_model(tmp_path / "checkpoint").state_dict()
    new = {k for k in after if k.startswith("structure_prior.")}
    assert new and set(after) - new == set(before)
    for k, v in before.items():  # every weight and the posterior's batch-norm statistics
        assert torch.equal(v, after[k]), k
    start = CVAE(load_model(tmp_path / "checkpoint").cfg)
    assert any(not torch.equal(after[k], start.state_dict()[k]) for k in new)  # the new branch did train


def test_decoder_lr_trains_the_decoder_and_nothing_else(tiny_checkpoint, tmp_path):
    """``train.decoder_lr`` > 0: the decoder's own parts move too; the posterior, the data encoder and the shared
    token embedding stay bit-identical, and the schedule gives the decoder that share of the rate."""
    from gensr.train import DECODER, _optimizer, train

    torch.set_num_threads(1)
    cfg = _stage2_config(tiny_checkpoint, 4)
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, decoder_lr=0.5))
    train(cfg, tmp_path, quiet=True, argv=["test"])
    before = load_model(tiny_checkpoint).state_dict()
    after = load_model(tmp_path / "checkpoint").state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and all(k.startswith(DECODER) for k in moved), sorted(moved)
    assert torch.equal(before["wte.weight"], after["wte.weight"])
    scales = {g["lr_scale"] for g in _optimizer(load_model(tmp_path / "checkpoint"), cfg.train).param_groups}
    assert scales == {0.5, 1.0}


@pytest.mark.parametrize("slopes", [False, True])
def test_structure_features_ignore_the_scale_of_y(slopes):
    """y × 1e6 (or × 1e-6) leaves the prior mean unchanged: y's scale is a free constant of every law."""
    from gensr.cvae_config import CVAE_PRESETS

    torch.manual_seed(0)
    model = CVAE(dataclasses.replace(CVAE_PRESETS["tiny"], vocab_size=40, prior_encoder_layers=2,
                                     prior_encoder_width=32, prior_encoder_slopes=slopes)).eval()
    rng = np.random.default_rng(0)
    X = torch.tensor(rng.uniform(0.5, 3, size=(3, 200, 2)))
    y = torch.sin(X[..., 0]) * X[..., 1] ** 2
    mask = torch.zeros(3, 2, dtype=torch.bool) | True
    def change(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a - b).norm() / a.norm())

    with torch.no_grad():
        mu, _ = model.encode_prior(X, y, mask)
        for scale in (1e6, 1e-6):
            assert change(mu, model.encode_prior(X, y * scale, mask)[0]) < 1e-4, scale
        # the inputs' scale is information (sin x is not sin 10x): it moves the prior
        assert change(mu, model.encode_prior(X * 10, y, mask)[0]) > 1e-2


def test_stage2_prior_overfits_a_fixed_batch(tiny_checkpoint):
    """Capacity: on 8 fixed problems the structure prior learns the frozen posterior (KL down by 90 %) and
    its mean decodes as well as the posterior mean."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    frozen = load_model(tiny_checkpoint)
    model = CVAE(dataclasses.replace(frozen.cfg, prior_encoder_layers=2, prior_encoder_width=32))
    state = model.state_dict()
    state.update(frozen.state_dict())
    model.load_state_dict(state)
    model.eval()
    model.structure_prior.train()
    problems = [sample_problem(problem_rng(5, i), _generator(tiny_checkpoint)) for i in range(8)]
    b = collate(problems, model.cfg.max_len)
    opt = torch.optim.Adam(model.structure_prior.parameters(), lr=3e-3)
    losses = []
    for _ in range(300):
        _, terms = model(b["tokens"], b["X"], b["y"], b["var_mask"], b["point_mask"], stage=2)
        opt.zero_grad()
        terms["loss"].backward()
        opt.step()
        losses.append((terms["kl_prior"].item(), terms["recon_prior"].item()))
    with torch.no_grad():  # the CE the frozen decoder gives at the posterior mean: what the prior can reach
        mu_q, _ = model.encode_posterior(b["tokens"], b["X"], b["y"], b["var_mask"], b["point_mask"])
        tokens = model._trim(b["tokens"])
        logits = model.logits(mu_q, tokens[:, :-1])
        ce_q = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1),
                                                 ignore_index=0).item()
    (kl0, _), (kl1, ce1) = losses[0], losses[-1]
    assert kl1 < 0.1 * kl0 and ce1 < ce_q + 0.01, (losses[0], losses[-1], ce_q)


def _generator(checkpoint):
    from gensr.latent import generator_config_from_checkpoint

    return generator_config_from_checkpoint(checkpoint)


def test_gpu_training_command_dry_runs_on_the_cpu(tmp_path):
    """The GPU script has never run on a GPU here; its command, with two tiny steps on the CPU, must."""
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "train_stage2_gpu.py"
    proc = subprocess.run([sys.executable, str(script), "--dry-run", "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    model = load_model(tmp_path / "run" / "checkpoint")
    assert model.structure_prior is not None and model.cfg.prior_encoder_layers == 3
