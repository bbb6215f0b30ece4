"""The shipped default model: present in the package, within budget, loads offline, decodes (STYLE.md §3)."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gensr.checkpoint import default_checkpoint, load_model
from gensr.codec import arity_tensor
from gensr.grammar import Expression
from gensr.vocab import VOCAB


def test_files_present_and_within_budget():
    d = default_checkpoint()
    weights, config = d / "model.safetensors", d / "config.json"
    assert weights.is_file() and config.is_file()
    assert weights.stat().st_size + config.stat().st_size <= 25 * 1024 * 1024
    meta = json.loads(config.read_text())
    assert meta["vocab_signature"] == VOCAB.signature()
    assert meta["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    config = meta["command"].split("--config ")[1].split()[0]  # the run's config is in the repository
    assert (Path(__file__).resolve().parents[1] / config).is_file(), meta["command"]


def test_loads_offline_and_decodes_a_batch():
    model = load_model(None)
    rng = np.random.default_rng(0)
    X = torch.tensor(rng.uniform(1, 5, size=(4, 100, 10)), dtype=torch.float32)
    y = X[:, :, 0] * X[:, :, 1]
    var_mask = torch.zeros(4, 10, dtype=torch.bool)
    var_mask[:, :2] = True
    mu, _ = model.encode_prior(X, y, var_mask)
    decoded = model.decode(mu, arity=arity_tensor())
    assert len(decoded) == 4
    for ids in decoded:
        Expression.from_prefix(VOCAB.decode(ids))  # a complete expression


def _recovered(formula: str, X: np.ndarray, seed: int = 0) -> tuple[bool, str]:
    import sympy

    from gensr import GenSRRegressor, parse

    truth = parse(formula)
    y = truth.evaluate(X)
    model = GenSRRegressor(max_time=30, random_state=seed, verbose=0).fit(X, y)
    names = [f"x{i}" for i in range(X.shape[1])]
    found = model.sympy()
    diff = sympy.simplify(found - truth.to_sympy(names))
    return diff == 0, str(found)


GAUSSIAN_MISSED = ("measured: the shipped CPU-trained model does not find exp(-x0**2/2)/sqrt(2*pi) within 30 s "
                   "(it finds R² ≈ 1 approximations); strict, so the day it is found this test fails and the "
                   "marker must go (BENCHMARKS.md §5, MODEL.md)")


@pytest.mark.parametrize(("formula", "low", "high", "d"), [
    ("x0*x1/x2", 1.0, 5.0, 3),
    pytest.param("exp(-x0**2/2)/sqrt(2*pi)", -3.0, 3.0, 1,
                 marks=[pytest.mark.slow, pytest.mark.xfail(reason=GAUSSIAN_MISSED, strict=True)]),
])
def test_default_model_recovers_exactly(formula, low, high, d):
    X = np.random.default_rng(1).uniform(low, high, size=(300, d))
    ok, found = _recovered(formula, X)
    assert ok, f"found {found} for {formula}"
