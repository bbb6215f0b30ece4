"""The shared helpers: the one R², row subsets, devices and the run environment."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sklearn.metrics
import torch

from gensr._utils import environment, model_device, r2_score, resolve_device, subsample_rows


def test_r2_score_matches_sklearn():
    rng = np.random.default_rng(0)
    y, pred = rng.normal(size=30), rng.normal(size=30)
    assert r2_score(y, pred) == pytest.approx(sklearn.metrics.r2_score(y, pred), rel=1e-12)
    assert r2_score(np.ones(5), np.ones(5)) == 1.0
    assert r2_score(np.ones(5), np.zeros(5)) == 0.0
    assert r2_score(y, np.full(30, np.nan)) == -math.inf
    assert r2_score(y, np.ones(2)) == -math.inf  # the wrong shape is no fit


def test_subsample_rows_is_sorted_without_replacement():
    rows = subsample_rows(100, 10, np.random.default_rng(0))
    assert len(set(rows)) == 10 and np.all(np.diff(rows) > 0)
    assert np.array_equal(subsample_rows(5, 10, np.random.default_rng(0)), np.arange(5))


def test_devices_and_environment():
    assert model_device(torch.nn.Linear(2, 1)) == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    env = environment(torch.device("cpu"), sha="abc")
    assert env["git_sha"] == "abc" and env["versions"]["numpy"] == np.__version__ and env["cpus"] >= 1
