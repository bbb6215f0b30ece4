"""LEE-style latent refinement: re-encoding candidates and gradient steps on z through ``g_eval``.

Implements our reading of LEE (``docs/method.md`` §6; no LEE code is public) on top of the GenSR CVAE:

* **discrete re-encoding** (:func:`reencode`): a candidate equation ê and the data D go through the
  posterior branch, z = mean of q(z | ê, D). The encoder sees both the candidate and the data, so it can act
  as a learned optimiser that moves z towards the equation the data need;
* **continuous steps** (:func:`geval_path`): Adam on z (the model's weights are left
  alone) minimising the mean squared error between ``g_eval(z, x_i)`` and the standardised y_i, i.e. moving
  z towards latents whose *predicted function* fits the data.

Both are free functions over plain arrays (latents as float64 ``(k, latent_dim)`` numpy arrays, data as raw
``X`` (n, d), ``y`` (n,)), composable with each other and with :func:`gensr.search.search`, which calls them
every ``SearchConfig.reencode_every`` generations. Both are no-ops when disabled
(``steps=0``, no expressions) and the gradient steps are a no-op for a model built without ``g_eval``.

:func:`gensr.codec.pack_data` turns raw data sets into the padded tensors the model reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from gensr._utils import model_device, subsample_rows
from gensr.codec import encode_tokens, pack_data
from gensr.deadline import Deadline
from gensr.grammar import Expression
from gensr.layers import scale_features

__all__ = ["GEvalPath", "geval_loss", "geval_path", "reencode"]


def _rows(n: int, max_points: int, rng: np.random.Generator | int | None) -> np.ndarray:
    """All rows if there are at most ``max_points``, else a sorted random subset drawn from ``rng``."""
    return subsample_rows(n, max_points, np.random.default_rng(rng))


@torch.no_grad()
def reencode(
    model: torch.nn.Module,
    exprs: Sequence[Expression],
    X: np.ndarray,
    y: np.ndarray,
    *,
    max_points: int = 200,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Posterior means z = E q(z | expression, data) of candidate expressions (LEE's discrete re-encoding).

    Only the skeleton reaches the encoder (constants are ``C`` tokens); the data carry the rest.

    Parameters
    ----------
    model : CVAE
    exprs : sequence of Expression
        Candidates, each at most ``model.cfg.max_len - 2`` prefix tokens (else ``ValueError``).
    X, y : array-like
        Raw data (n, d) and (n,); at most ``max_points`` rows are used (a random subset from ``rng``).

    Returns
    -------
    np.ndarray, shape (len(exprs), latent_dim), float64
    """
    if len(exprs) == 0:
        return np.zeros((0, model.cfg.latent_dim))
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    device = model_device(model)
    rows = _rows(len(y), max_points, rng)
    Xt, yt, var_mask, point_mask = pack_data([(X[rows], y[rows])], device)
    k = len(exprs)
    tokens = encode_tokens(exprs, model.cfg.max_len, device)
    mu, _ = model.encode_posterior(
        tokens, Xt.expand(k, -1, -1), yt.expand(k, -1), var_mask.expand(k, -1), point_mask.expand(k, -1)
    )
    return mu.double().cpu().numpy()


@dataclass(frozen=True)
class GEvalPath:
    """Trajectory of :func:`geval_path`.

    Attributes
    ----------
    z : np.ndarray, shape (k, latent_dim)
        The final latents (the last entry of ``path``).
    path : np.ndarray, shape (s + 1, k, latent_dim)
        The start and the latent after each of the s steps taken (s < ``steps`` after a time-out).
    losses : np.ndarray, shape (s + 1, k)
        g_eval MSE on the standardised y at each entry of ``path``.
    """

    z: np.ndarray
    path: np.ndarray
    losses: np.ndarray


def _geval_inputs(model: torch.nn.Module, k: int, X: np.ndarray, y: np.ndarray, max_points: int,
                  rng: np.random.Generator | int | None) -> tuple[torch.Tensor, ...]:
    """Model inputs repeated for k latents and the standardised target (k, N), as in ``CVAE.forward``."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    rows = _rows(len(y), max_points, rng)
    Xt, yt, var_mask, point_mask = pack_data([(X[rows], y[rows])], model_device(model))
    _, _, y_std = scale_features(yt[:, :, None], point_mask, var_mask.new_ones(1, 1))
    return (Xt.expand(k, -1, -1), var_mask.expand(k, -1), point_mask.expand(k, -1), y_std[..., 0].expand(k, -1))


def _per_latent_mse(model: torch.nn.Module, z: torch.Tensor, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    Xt, var_mask, point_mask, target = inputs
    pred = model.g_eval(z, Xt, var_mask, point_mask)  # (k, N)
    return ((pred - target).square() * point_mask).sum(1) / point_mask.sum(1)  # (k,)


def geval_loss(
    model: torch.nn.Module,
    z: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    *,
    max_points: int = 200,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """g_eval's MSE on the standardised y for each latent of ``z`` (k, latent_dim) → (k,)."""
    if model.geval is None:
        raise RuntimeError("this model has no g_eval head (built with use_geval=False)")
    z = np.atleast_2d(np.asarray(z, dtype=np.float64))
    inputs = _geval_inputs(model, len(z), X, y, max_points, rng)
    with torch.no_grad():
        zt = torch.as_tensor(z, dtype=torch.float32, device=model_device(model))
        return _per_latent_mse(model, zt, inputs).double().cpu().numpy()


def geval_path(
    model: torch.nn.Module,
    z0: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    *,
    steps: int = 10,
    lr: float = 0.05,
    max_points: int = 200,
    rng: np.random.Generator | int | None = None,
    deadline: Deadline | None = None,
) -> GEvalPath:
    """Adam steps on latents minimising g_eval's misfit to the data (LEE's continuous refinement).

    Each latent z_j (rows of ``z0``) minimises its own loss
    ``mean_i (g_eval(z_j, x_i) - ỹ_i)²`` with ỹ the standardised y (as in training); the rows do not
    interact. Only z moves: gradients are taken with respect to z alone, the weights are untouched.

    Parameters
    ----------
    model : CVAE
    z0 : array-like, shape (k, latent_dim) or (latent_dim,)
    X, y : array-like
        Raw data; at most ``max_points`` rows (a random subset from ``rng``).
    steps : int
        Adam steps; 0 (or a model without ``g_eval``) returns ``z0`` unchanged with an empty loss record.
    lr : float
        Adam learning rate, in latent units per step (roughly the largest move of a coordinate).
    deadline : Deadline, optional
        The wall-clock budget (:class:`gensr.deadline.Deadline`), checked between steps (the path is then
        shorter).
    """
    z0 = np.atleast_2d(np.asarray(z0, dtype=np.float64))
    if steps < 0 or lr <= 0:
        raise ValueError(f"need steps >= 0 and lr > 0, got steps={steps}, lr={lr}")
    if steps == 0 or model.geval is None or len(z0) == 0:
        return GEvalPath(z0.copy(), z0[None].copy(), np.zeros((0, len(z0))))
    inputs = _geval_inputs(model, len(z0), X, y, max_points, rng)
    z = torch.tensor(z0, dtype=torch.float32, device=model_device(model), requires_grad=True)
    # Adam written out (Kingma & Ba 2015, default betas): torch.optim's first use costs ~1.5 s of imports
    m, v, (b1, b2, eps) = torch.zeros_like(z), torch.zeros_like(z), (0.9, 0.999, 1e-8)
    path, losses = [z.detach().clone()], []
    for step in range(steps + 1):
        with torch.enable_grad():
            per = _per_latent_mse(model, z, inputs)  # (k,)
        losses.append(per.detach())
        if step == steps or (deadline is not None and deadline.expired()):
            break
        (g,) = torch.autograd.grad(per.sum(), z)  # rows are independent: d(sum)/dz_j = d(loss_j)/dz_j
        m.mul_(b1).add_(g, alpha=1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        m_hat, v_hat = m / (1 - b1 ** (step + 1)), v / (1 - b2 ** (step + 1))
        with torch.no_grad():
            z -= lr * m_hat / (v_hat.sqrt() + eps)
        path.append(z.detach().clone())
    path_np = torch.stack(path).double().cpu().numpy()
    return GEvalPath(path_np[-1].copy(), path_np, torch.stack(losses).double().cpu().numpy())
