"""LEE refinement (gensr.refine): posterior re-encoding and gradient steps on z through g_eval."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from gensr.checkpoint import load_model
from gensr.codec import pack_data
from gensr.deadline import Deadline
from gensr.formula import parse
from gensr.grammar import Expression
from gensr.layers import scale_features
from gensr.model import CVAE, CVAE_PRESETS
from gensr.refine import GEvalPath, geval_loss, geval_path, reencode
from gensr.vocab import VOCAB


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (150, 2))  # <= max_points: every call sees the same rows
    return X, 2.5 * np.sin(1.3 * X[:, 0]) - 0.7 * X[:, 1]


@pytest.fixture
def two_function_model(tiny_checkpoint, data):
    """A fresh tiny model whose g_eval learnt two functions of the data: ỹ at z_plus and −ỹ at z_minus.

    (The 20-step model's g_eval barely depends on z, so its descent has nothing to follow.)
    Returns (model, z_plus, z_minus) with the latents as float64 arrays of shape (1, latent_dim).
    """
    X, y = data
    m = load_model(tiny_checkpoint)
    z = torch.randn(2, m.cfg.latent_dim, generator=torch.Generator().manual_seed(0))
    Xt, yt, var_mask, point_mask = pack_data([(X, y)])
    _, _, y_std = scale_features(yt[:, :, None], point_mask, var_mask.new_ones(1, 1))
    target = torch.cat([y_std[..., 0], -y_std[..., 0]])  # (2, N)
    opt = torch.optim.Adam(m.geval.parameters(), lr=1e-2)
    for _ in range(150):
        pred = m.g_eval(z, Xt.expand(2, -1, -1), var_mask.expand(2, -1), point_mask.expand(2, -1))
        loss = (pred - target).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.zero_grad(set_to_none=True)
    zz = z.double().numpy()
    return m, zz[:1], zz[1:]


def test_reencode_shape_finite_and_deterministic(model, data):
    X, y = data
    exprs = [parse("C*sin(C*x0) + C"), parse("x0 + x1"), parse("C*x1**2")]
    z = reencode(model, exprs, X, y, rng=0)
    assert z.shape == (3, model.cfg.latent_dim) and z.dtype == np.float64
    assert np.all(np.isfinite(z))
    np.testing.assert_array_equal(z, reencode(model, exprs, X, y, rng=0))
    assert not np.allclose(z[0], z[1])  # the equation matters, not only the data
    assert reencode(model, [], X, y).shape == (0, model.cfg.latent_dim)


def test_reencode_rejects_too_long_expressions(model, data):
    X, y = data

    def balanced(depth: int) -> list[str]:  # a full binary tree: shallow but long
        return ["x0"] if depth == 0 else ["add", *balanced(depth - 1), *balanced(depth - 1)]

    tokens = balanced(int(np.ceil(np.log2(model.cfg.max_len))))
    assert len(tokens) + 2 > model.cfg.max_len
    with pytest.raises(ValueError, match="cannot re-encode"):
        reencode(model, [Expression.from_prefix(tokens)], X, y)


def test_geval_path_reduces_the_misfit(two_function_model, data):
    X, y = data
    model, z_plus, z_minus = two_function_model
    start = np.vstack([z_minus, z_minus + 0.1])
    assert np.all(geval_loss(model, z_plus, X, y) < 0.2 * geval_loss(model, start, X, y))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    res = geval_path(model, start, X, y, steps=30, lr=0.02)
    assert isinstance(res, GEvalPath)
    assert res.path.shape == (31, 2, model.cfg.latent_dim) and res.losses.shape == (31, 2)
    np.testing.assert_array_equal(res.z, res.path[-1])
    np.testing.assert_allclose(res.path[0], start, rtol=1e-6)
    # small steps: the loss of each latent never goes up (float32 slack) and ends far lower
    assert np.all(np.diff(res.losses, axis=0) <= 1e-5 * res.losses[:-1])
    assert np.all(res.losses[-1] < 0.6 * res.losses[0])
    np.testing.assert_allclose(geval_loss(model, start, X, y), res.losses[0], rtol=1e-5)
    np.testing.assert_allclose(geval_loss(model, res.z, X, y), res.losses[-1], rtol=1e-5)
    for k, v in model.state_dict().items():  # only z moved
        assert torch.equal(v, before[k]), k


def test_geval_noops(model, data):
    X, y = data
    z0 = np.zeros((2, model.cfg.latent_dim))
    off = geval_path(model, z0, X, y, steps=0)
    np.testing.assert_array_equal(off.z, z0)
    assert off.losses.shape == (0, 2)
    timed_out = geval_path(model, z0, X, y, steps=50, deadline=Deadline(0.0))
    assert timed_out.path.shape[0] == 1 and timed_out.losses.shape == (1, 2)
    cfg = dataclasses.replace(CVAE_PRESETS["tiny"], vocab_size=VOCAB.size, use_geval=False)
    headless = CVAE(cfg).eval()
    np.testing.assert_array_equal(geval_path(headless, z0[:, : cfg.latent_dim], X, y, steps=5).z,
                                  z0[:, : cfg.latent_dim])
    with pytest.raises(RuntimeError, match="g_eval"):
        geval_loss(headless, z0, X, y)
    with pytest.raises(ValueError):
        geval_path(model, z0, X, y, steps=-1)
