"""Shared fixtures: a tiny trained checkpoint (trained once per session by the package's own trainer)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A tiny model trained for a few steps with ``gensr.train.train``; returns the run directory."""
    from gensr.train import resolve_config, train

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("tiny-run")
    cfg = resolve_config("tiny", overrides=["train.max_steps=20", "train.eval_every=20", "train.save_every=10"])
    train(cfg, out, quiet=True, argv=["test"])
    return out


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_run):
    return tiny_run / "checkpoint"


@pytest.fixture(scope="module")
def model(tiny_checkpoint):
    """The tiny trained model, loaded once per test module (test_model.py overrides it with an untrained one)."""
    from gensr.checkpoint import load_model

    torch.set_num_threads(1)
    return load_model(tiny_checkpoint)


def pytest_configure(config):
    # Property tests draw the same examples on every run, so CI is reproducible; run with
    # HYPOTHESIS_PROFILE=explore locally to explore further.
    import os

    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, deadline=None)
    settings.register_profile("explore", deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
