"""The CVAE's building blocks: scale-robust features, attention blocks, the encoders, the decoder block, g_eval.

Scale robustness
----------------
The data arrive at the user's scale (anything from 1e-20 to 1e20, constant columns, zeros). Each column
(every x_j and y) is summarised by statistics over its real rows only (``point_mask``), computed after
dividing the column by its largest magnitude so that nothing overflows in float32. Each value is then
described by three bounded numbers:

* its standardised value ``(v - mean) / std`` clipped to ``[-10, 10]`` (0 for a constant column),
* ``sign(v)``,
* ``log10(|v| + 1e-30) / 10`` clipped to ``[-3, 3]``;

and each column by six: ``log10(std) / 10``, ``log10(|mean|) / 10``, ``sign(mean)``, ``log10(max |v|) / 10``,
a "constant column" flag and a "column present" flag. Per-value features feed a per-point MLP; the column
statistics are embedded once per example and added to every point. Unused columns (``var_mask`` False) are
all zeros. The same features (x columns only) feed ``g_eval``, whose target is the standardised y.

References: nanoGPT's ``model.py`` for the layout; Set Transformer (Lee et al. 2019; SAB, ISAB, PMA) for
the data encoder, as in NeSymReS.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:
    from gensr.cvae_config import CVAEConfig

N_VALUE_FEATURES, N_COLUMN_STATS = 3, 6


# ----------------------------------------------------------------------------------------------------------
# scale-robust features


def scale_features(values: Tensor, row_mask: Tensor, col_mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Scale-robust per-value features and per-column statistics.

    Parameters
    ----------
    values : Tensor, shape (B, N, C)
        Raw values, one column per variable (and y).
    row_mask : Tensor of bool, shape (B, N)
        True for real rows; only these enter the statistics.
    col_mask : Tensor of bool, shape (B, C)
        True for real columns; the features of the others are zero.

    Returns
    -------
    per_value : Tensor, shape (B, N, C, 3)
        Clipped standardised value, sign, scaled log-magnitude.
    stats : Tensor, shape (B, C, 6)
        log10 std, log10 |mean|, sign(mean), log10 max|v| (each / 10), constant flag, present flag.
    standardised : Tensor, shape (B, N, C)
        ``(v - mean) / std`` clipped to [-10, 10]; 0 for constant columns and masked entries.
    """
    w = (row_mask[:, :, None] & col_mask[:, None, :]).to(values.dtype)  # (B, N, C)
    v = torch.nan_to_num(values, nan=0.0, posinf=1e30, neginf=-1e30) * w
    n = w.sum(1, keepdim=True).clamp_min(1.0)  # (B, 1, C)
    # divide by the largest magnitude first: squares of 1e20 would overflow float32
    scale = v.abs().amax(1, keepdim=True).clamp_min(1e-30)  # (B, 1, C)
    u = v / scale  # in [-1, 1]
    # centre on one real row first, so that a small spread around a large offset survives float32 sums
    first = row_mask.to(torch.uint8).argmax(1)[:, None, None].expand(-1, 1, u.shape[2])  # (B, 1, C)
    d = (u - u.gather(1, first)) * w
    mean_d = d.sum(1, keepdim=True) / n
    centred = (d - mean_d) * w
    mean_u = u.gather(1, first) + mean_d
    std_u = (centred.square().sum(1, keepdim=True) / n).sqrt()
    constant = std_u < 1e-7  # relative spread below float32 resolution
    standardised = (centred / std_u.clamp_min(1e-7)).clamp(-10.0, 10.0)
    standardised = torch.where(constant, torch.zeros_like(standardised), standardised)

    def log10(t: Tensor) -> Tensor:  # log10 of a magnitude, bounded to [-3, 3] after / 10
        return t.clamp_min(1e-30).log10().clamp(-30.0, 30.0) / 10.0

    log_scale = scale.log10()
    log_std = (log_scale + std_u.clamp_min(1e-30).log10()).clamp(-30.0, 30.0) / 10.0
    log_mean = (log_scale + mean_u.abs().clamp_min(1e-30).log10()).clamp(-30.0, 30.0) / 10.0
    present = col_mask[:, None, :].to(values.dtype)
    stats = torch.stack(
        [log_std, log_mean, mean_u.sign(), log10(scale), constant.to(values.dtype), present], dim=-1
    )  # (B, 1, C, 6)
    stats = (stats * present[..., None]).squeeze(1)  # (B, C, 6)
    per_value = torch.stack([standardised, v.sign(), log10(v.abs())], dim=-1) * w[..., None]  # (B, N, C, 3)
    return per_value, stats, standardised


# ----------------------------------------------------------------------------------------------------------
# building blocks


class MLP(nn.Module):
    """Two-layer GELU feed-forward network."""

    def __init__(self, d_in: int, d_hidden: int, d_out: int, dropout: float = 0.0):
        super().__init__()
        self.fc = nn.Linear(d_in, d_hidden)
        self.proj = nn.Linear(d_hidden, d_out)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.proj(F.gelu(self.fc(x))))


class Attention(nn.Module):
    """Multi-head attention: queries from ``x``, keys and values from ``ctx`` (``x`` itself by default).

    ``cache`` (self-attention, one new query at a time) holds preallocated key/value buffers of shape
    (B, nh, T_max, hs); ``kv`` passes precomputed keys/values (the decoder's fixed memory).
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout
        self.q = nn.Linear(d_model, d_model)
        self.kv = nn.Linear(d_model, 2 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def split_heads(self, t: Tensor) -> Tensor:  # (B, T, D) -> (B, nh, T, hs)
        B, T, D = t.shape
        return t.view(B, T, self.n_heads, D // self.n_heads).transpose(1, 2)

    def project_kv(self, ctx: Tensor) -> tuple[Tensor, Tensor]:
        k, v = self.kv(ctx).chunk(2, dim=-1)
        return self.split_heads(k), self.split_heads(v)  # each (B, nh, Tk, hs)

    def forward(
        self,
        x: Tensor,
        ctx: Tensor | None = None,
        *,
        key_mask: Tensor | None = None,
        causal: bool = False,
        kv: tuple[Tensor, Tensor] | None = None,
        cache: dict[str, Tensor] | None = None,
        pos: int = 0,
    ) -> Tensor:
        B, T, D = x.shape
        q = self.split_heads(self.q(x))  # (B, nh, T, hs)
        if kv is not None:
            k, v = kv
        else:
            k, v = self.project_kv(x if ctx is None else ctx)
        if cache is not None:  # incremental self-attention: append this step, attend to all steps so far
            assert T == 1, "the KV cache decodes one position at a time"
            cache["k"][:, :, pos : pos + 1] = k
            cache["v"][:, :, pos : pos + 1] = v
            k, v = cache["k"][:, :, : pos + 1], cache["v"][:, :, : pos + 1]
            causal = False  # the single query may see every cached key
        mask = None if key_mask is None else key_mask[:, None, None, :]  # (B, 1, 1, Tk), True = attend
        p = self.dropout if self.training else 0.0
        if T == 1 and mask is None and p == 0.0:
            # one query (incremental decoding, pooling seeds): plain matmuls beat the CPU flash kernel
            att = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)  # (B, nh, 1, Tk)
            y = att.softmax(dim=-1) @ v  # (B, nh, 1, hs)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, is_causal=causal)
        y = y.transpose(1, 2).reshape(B, T, D)  # (B, T, D)
        return self.proj(y)


class Block(nn.Module):
    """Pre-LN transformer encoder block (self-attention + MLP); the Set Transformer's SAB."""

    def __init__(self, cfg: CVAEConfig):
        super().__init__()
        d = cfg.d_model
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = Attention(d, cfg.n_heads, cfg.dropout)
        self.mlp = MLP(d, cfg.ffn_mult * d, d, cfg.dropout)

    def forward(self, x: Tensor, key_mask: Tensor | None = None) -> Tensor:
        x = x + self.attn(self.ln1(x), key_mask=key_mask)
        return x + self.mlp(self.ln2(x))


class CrossBlock(nn.Module):
    """Queries attend to a context, then an MLP: the Set Transformer's MAB (pre-LN)."""

    def __init__(self, cfg: CVAEConfig):
        super().__init__()
        d = cfg.d_model
        self.ln_q, self.ln_ctx, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = Attention(d, cfg.n_heads, cfg.dropout)
        self.mlp = MLP(d, cfg.ffn_mult * d, d, cfg.dropout)

    def forward(self, q: Tensor, ctx: Tensor, key_mask: Tensor | None = None) -> Tensor:
        q = q + self.attn(self.ln_q(q), self.ln_ctx(ctx), key_mask=key_mask)
        return q + self.mlp(self.ln2(q))


class InducedBlock(nn.Module):
    """ISAB: m learned inducing points summarise the set, then every element reads the summary."""

    def __init__(self, cfg: CVAEConfig):
        super().__init__()
        self.inducing = nn.Parameter(torch.randn(1, cfg.n_inducing, cfg.d_model) * 0.02)
        self.summarise, self.broadcast = CrossBlock(cfg), CrossBlock(cfg)

    def forward(self, x: Tensor, key_mask: Tensor | None = None) -> Tensor:
        h = self.summarise(self.inducing.expand(x.shape[0], -1, -1), x, key_mask)  # (B, m, D)
        return self.broadcast(x, h)  # (B, N, D)


class AttentionPool(nn.Module):
    """Pooling by multihead attention (PMA) with one learned seed: a set or sequence -> one vector."""

    def __init__(self, cfg: CVAEConfig):
        super().__init__()
        self.seed = nn.Parameter(torch.randn(1, 1, cfg.d_model) * 0.02)
        self.block = CrossBlock(cfg)
        self.ln = nn.LayerNorm(cfg.d_model)

    def forward(self, x: Tensor, key_mask: Tensor | None = None) -> Tensor:
        pooled = self.block(self.seed.expand(x.shape[0], -1, -1), x, key_mask)  # (B, 1, D)
        return self.ln(pooled[:, 0])  # (B, D)


class PointEmbed(nn.Module):
    """Per-point MLP over the scale-robust features of its columns, plus an embedding of the column stats."""

    def __init__(self, n_cols: int, d_out: int, d_hidden: int, n_value_features: int = N_VALUE_FEATURES):
        super().__init__()
        self.values = nn.Linear(n_cols * n_value_features, d_hidden)
        self.stats = nn.Linear(n_cols * N_COLUMN_STATS, d_hidden)
        self.out = nn.Linear(d_hidden, d_out)

    def forward(self, per_value: Tensor, stats: Tensor) -> Tensor:
        B, N = per_value.shape[:2]
        h = self.values(per_value.reshape(B, N, -1)) + self.stats(stats.reshape(B, 1, -1))  # (B, N, H)
        return self.out(F.gelu(h))  # (B, N, d_out)


class DataEncoder(nn.Module):
    """(X, y) -> h_data: point embeddings, a row-order-invariant set encoder, attention pooling."""

    def __init__(self, cfg: CVAEConfig):
        super().__init__()
        self.embed = PointEmbed(cfg.max_vars + 1, cfg.d_model, cfg.d_model)
        block = InducedBlock if cfg.n_inducing > 0 else Block
        self.blocks = nn.ModuleList([block(cfg) for _ in range(cfg.n_data_layers)])
        self.pool = AttentionPool(cfg)

    def forward(self, X: Tensor, y: Tensor, var_mask: Tensor, point_mask: Tensor) -> Tensor:
        B = X.shape[0]
        cols = torch.cat([X, y[:, :, None]], dim=2)  # (B, N, Dmax + 1): y is the last column
        col_mask = torch.cat([var_mask, var_mask.new_ones(B, 1)], dim=1)  # (B, Dmax + 1)
        per_value, stats, _ = scale_features(cols, point_mask, col_mask)
        h = self.embed(per_value, stats)  # (B, N, D)
        for block in self.blocks:
            h = block(h, point_mask)
        return self.pool(h, point_mask)  # (B, D)


def structure_features(cols: Tensor, row_mask: Tensor, col_mask: Tensor, slopes: bool = False
                       ) -> tuple[Tensor, Tensor]:
    """Features of the stage-2 prior encoder: unchanged when y (the last column) is multiplied by a constant.

    Per value (4): the standardised value, ``sign(v)``, ``log10|v|`` centred on its column's mean over the real
    rows and clipped to [-10, 10] (at full weight: a power law or an exponential shows as a line in it), and
    the value's rank within its column mapped to [-1, 1]; with ``slopes`` a fifth, for each input column: the
    finite difference of the standardised y over the standardised input between the point and its next
    neighbour in that input's order, ``asinh``-squashed (0 for y's own column). Per column (6): as
    :func:`scale_features`, except that y's log-std and log-mean are taken relative to its largest magnitude
    and its log-max is 0, since y's scale is a free constant of every law. Returns ``per_value``
    (B, N, C, 4 or 5) and ``stats`` (B, C, 6).
    """
    per_value, stats, standardised = scale_features(cols, row_mask, col_mask)
    w = (row_mask[:, :, None] & col_mask[:, None, :]).to(cols.dtype)  # (B, N, C)
    n = w.sum(1, keepdim=True).clamp_min(1.0)
    logmag = per_value[..., 2] * 10.0  # log10 |v| on the real entries, 0 elsewhere
    centred = ((logmag - (logmag * w).sum(1, keepdim=True) / n) * w).clamp(-10.0, 10.0)
    keyed = torch.where(w > 0, torch.nan_to_num(cols, nan=0.0), torch.full_like(cols, torch.inf))
    rank = keyed.argsort(1).argsort(1).to(cols.dtype)  # real rows first, in order of value
    quantile = (2.0 * rank / (n - 1.0).clamp_min(1.0) - 1.0) * w
    features = [standardised * w, per_value[..., 1], centred, quantile]
    if slopes:
        order = keyed.argsort(1)
        xs = standardised.gather(1, order)
        ys = standardised[:, :, -1:].expand_as(standardised).gather(1, order)
        slope = torch.asinh((ys[:, 1:] - ys[:, :-1]) / (xs[:, 1:] - xs[:, :-1]).clamp_min(1e-3))
        slope = torch.cat([slope, slope[:, -1:]], dim=1)  # the last point takes its left neighbour's
        slope = torch.zeros_like(slope).scatter(1, order, slope) * w
        slope[:, :, -1] = 0.0
        features.append(slope.clamp(-10.0, 10.0))
    values = torch.stack(features, dim=-1)
    y_stats = stats[:, -1]
    y_stats = torch.stack([y_stats[:, 0] - y_stats[:, 3], y_stats[:, 1] - y_stats[:, 3], y_stats[:, 2],
                           torch.zeros_like(y_stats[:, 3]), y_stats[:, 4], y_stats[:, 5]], dim=-1)
    return values, torch.cat([stats[:, :-1], y_stats[:, None]], dim=1)


class StructureEncoder(nn.Module):
    """The stage-2 prior branch's own encoder: (X, y) -> a correction of the stage-1 prior's (mu, logvar).

    :func:`structure_features` per point, ``prior_encoder_layers`` full set-attention blocks at width
    ``prior_encoder_width``, attention pooling and an MLP head whose output layer starts at zero (the
    model adds it to the frozen stage-1 prior, :meth:`gensr.model.CVAE.encode_prior`), and a linear
    bag-of-tokens head used only in training. Trained against the frozen decoder and posterior (``gensr
    train`` with ``train.stage=2``).
    """

    def __init__(self, cfg: CVAEConfig):
        super().__init__()
        sub = dataclasses.replace(cfg, d_model=cfg.prior_encoder_width, n_inducing=0)
        width = sub.d_model
        self.slopes = cfg.prior_encoder_slopes
        self.embed = PointEmbed(cfg.max_vars + 1, width, width, n_value_features=5 if self.slopes else 4)
        self.blocks = nn.ModuleList([Block(sub) for _ in range(cfg.prior_encoder_layers)])
        self.pool = AttentionPool(sub)
        self.head = MLP(width, width, 2 * cfg.latent_dim)  # its output layer is zeroed by CVAE's init
        self.tokens = nn.Linear(width, cfg.vocab_size)  # auxiliary: which tokens the equation holds

    def features(self, X: Tensor, y: Tensor, var_mask: Tensor, point_mask: Tensor) -> Tensor:
        """The pooled encoder output (B, width) that the head reads: what the probes test."""
        B = X.shape[0]
        cols = torch.cat([X, y[:, :, None]], dim=2)  # y is the last column
        col_mask = torch.cat([var_mask, var_mask.new_ones(B, 1)], dim=1)
        h = self.embed(*structure_features(cols, point_mask, col_mask, self.slopes))  # (B, N, W)
        for block in self.blocks:
            h = block(h, point_mask)
        return self.pool(h, point_mask)  # (B, W)


class EquationEncoder(nn.Module):
    """Token ids -> h_eq: bidirectional transformer with learned positions, attention pooling."""

    def __init__(self, cfg: CVAEConfig):
        super().__init__()
        self.wpe = nn.Embedding(cfg.max_len, cfg.d_model)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_eq_layers)])
        self.pool = AttentionPool(cfg)

    def forward(self, tok_emb: Tensor, key_mask: Tensor) -> Tensor:
        pos = torch.arange(tok_emb.shape[1], device=tok_emb.device)
        h = tok_emb + self.wpe(pos)  # (B, T, D)
        for block in self.blocks:
            h = block(h, key_mask)
        return self.pool(h, key_mask)  # (B, D)


class DecoderBlock(nn.Module):
    """Pre-LN decoder block: causal self-attention (KV-cached), cross-attention to the z memory, MLP."""

    def __init__(self, cfg: CVAEConfig):
        super().__init__()
        d = cfg.d_model
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.self_attn = Attention(d, cfg.n_heads, cfg.dropout)
        self.cross_attn = Attention(d, cfg.n_heads, cfg.dropout)
        self.mlp = MLP(d, cfg.ffn_mult * d, d, cfg.dropout)

    def forward(
        self, x: Tensor, memory_kv: tuple[Tensor, Tensor], cache: dict[str, Tensor] | None = None, pos: int = 0
    ) -> Tensor:
        x = x + self.self_attn(self.ln1(x), causal=True, cache=cache, pos=pos)
        x = x + self.cross_attn(self.ln2(x), kv=memory_kv)
        return x + self.mlp(self.ln3(x))


def gauss_kl(mu_q: Tensor, logvar_q: Tensor, mu_p: Tensor, logvar_p: Tensor) -> Tensor:
    """Per-dimension KL(N(mu_q, e^logvar_q) || N(mu_p, e^logvar_p)), shape (B, L)."""
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p).square()) / logvar_p.exp() - 1.0)


class GEval(nn.Module):
    """LEE's evaluation decoder g_eval(z, x) -> standardised y at x."""

    def __init__(self, cfg: CVAEConfig):
        super().__init__()
        h = cfg.geval_hidden
        self.embed = PointEmbed(cfg.max_vars, h, h)
        self.z = nn.Linear(cfg.latent_dim, h)
        self.mlp = nn.Sequential(nn.GELU(), nn.Linear(h, h), nn.GELU(), nn.Linear(h, h), nn.GELU(), nn.Linear(h, 1))

    def forward(self, z: Tensor, per_value: Tensor, stats: Tensor) -> Tensor:
        h = self.embed(per_value, stats) + self.z(z)[:, None, :]  # (B, N, H)
        return self.mlp(h).squeeze(-1)  # (B, N)


