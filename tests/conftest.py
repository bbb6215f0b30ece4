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


@pytest.fixture(scope="session")
def bench_data_dir(tmp_path_factory):
    """A miniature benchdata folder: two Feynman formulas, one Strogatz file, a two-set black-box list."""
    import numpy as np
    import pandas as pd

    root = tmp_path_factory.mktemp("benchdata")
    (root / "feynman").mkdir()
    pd.DataFrame({"dataset": ["feynman_I_12_1", "feynman_I_14_3", "feynman_not_in_pmlb"],
                  "in_pmlb": [True, True, False],
                  "formula_sympy": ["mu*Nn", "m*g*z", "x"],
                  "variables": ["mu:[1,5]; Nn:[1,5]", "m:[1,5]; g:[1,5]; z:[1,5]", "x:[1,2]"]}
                 ).to_csv(root / "feynman" / "feynman_equations_clean.csv", index=False)
    rng = np.random.default_rng(0)
    (root / "strogatz" / "pmlb_format").mkdir(parents=True)
    x, y = rng.uniform(0.5, 3, 80), rng.uniform(0.5, 3, 80)
    pd.DataFrame({"target": 3 * x - 2 * x * y - x**2, "x": x, "y": y}).to_csv(
        root / "strogatz" / "pmlb_format" / "strogatz_lv1.tsv.gz", sep="\t", index=False)
    pd.DataFrame({"dataset": ["strogatz_lv1"], "formula_sympy": ["3*x - 2*x*y - x**2"],
                  "file_pmlb_format": ["strogatz/pmlb_format/strogatz_lv1.tsv.gz"]}
                 ).to_csv(root / "strogatz" / "strogatz_equations.csv", index=False)
    (root / "lists").mkdir()
    (root / "lists" / "gensr_e2e_blackbox_57.txt").write_text("bb_a\nbb_b\n")
    for name in ("bb_a", "bb_b"):
        (root / "pmlb_blackbox" / name).mkdir(parents=True)
        a, b = rng.normal(size=60), rng.normal(size=60)
        pd.DataFrame({"a": a, "b": b, "target": a + 0.5 * b + 0.1 * rng.normal(size=60)}).to_csv(
            root / "pmlb_blackbox" / name / f"{name}.tsv.gz", sep="\t", index=False)
    return root
