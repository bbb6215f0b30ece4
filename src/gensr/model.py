"""The GenSR conditional VAE over equations, plus LEE's evaluation head (its blocks are in :mod:`gensr.layers`).

Implements ``docs/method.md`` §4 (the dual-branch CVAE) and §4.1 (its loss), and the ``g_eval`` head of
§6 (LEE, our reading). The model only sees token ids: it knows nothing about operators. Equations are
LongTensor rows ``[BOS, t1 .. tn, EOS, PAD ...]`` with ``PAD_ID = 0, BOS_ID = 1, EOS_ID = 2``.

Architecture (smaller than the released GenSR, see ``CVAE_PRESETS``)::

    X (B, N, Dmax), y (B, N) ─ scale_features ─ PointEmbed ─ set encoder (SAB or ISAB) ─ AttentionPool ─ h_data
    tokens (B, T) ─ embeddings + positions ─ bidirectional transformer ─ AttentionPool ─ h_eq
    prior      p(z | data)     = N(mu_p, diag exp(logvar_p)) = MLP(h_data)
    posterior  q(z | eq, data) = N(mu_q, diag exp(logvar_q)) = MLP([h_eq, h_data])
    decoder    p(tokens | z)   : causal transformer, cross-attending to ``n_memory`` tokens projected from z
    g_eval     (z, x_i)        -> standardised y_i (LEE's evaluation decoder; differentiable in z)

Where we depart from the released GenSR: separate encoders for the data and the equation (GenSR shares one
encoder and concatenates the two sequences); z is projected directly to a few memory tokens instead of
GenSR's 200-sample "fusion" into a 200 x 512 memory; pre-LayerNorm blocks; free bits on the KL.

The building blocks (feature scaling, attention, the encoders, the decoder block, ``g_eval``) are in
:mod:`gensr.layers`; this module holds the configuration and the model that joins them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gensr.cvae_config import CVAE_PRESETS, CVAEConfig
from gensr.layers import (
    MLP,
    DataEncoder,
    DecoderBlock,
    EquationEncoder,
    GEval,
    StructureEncoder,
    gauss_kl,
    scale_features,
)
from gensr.vocab import BOS_ID, EOS_ID, PAD_ID

__all__ = ["CVAE", "CVAE_PRESETS", "CVAEConfig"]

LOGVAR_MIN, LOGVAR_MAX = -10.0, 4.0  # sigma in [0.007, 7.4]: keeps exp() and the KL finite
MU_BN_EPS = 1e-12  # BatchNorm's default eps 1e-5 let the encoders shrink raw mu_q below sqrt(eps) and collapse
#   anyway (measured: raw variance 1e-8, normalised spread 0.025 after 2,500 steps); with a tiny eps the
#   normalisation is exactly scale-invariant, so no gradient can shrink the spread


# ----------------------------------------------------------------------------------------------------------
# the model


class CVAE(nn.Module):
    """Dual-branch conditional VAE over prefix equations (docs/method.md §4) with LEE's ``g_eval`` head.

    Parameters
    ----------
    cfg : CVAEConfig
        Hyperparameters; ``CVAE_PRESETS["tiny"]`` and ``CVAE_PRESETS["default"]`` are the named sizes.

    Examples
    --------
    >>> import dataclasses, torch
    >>> model = CVAE(dataclasses.replace(CVAE_PRESETS["tiny"], vocab_size=20))
    >>> X, y = torch.randn(2, 50, 10), torch.randn(2, 50)
    >>> var_mask = torch.zeros(2, 10, dtype=torch.bool); var_mask[:, :2] = True
    >>> mu, logvar = model.encode_prior(X, y, var_mask)
    >>> len(model.decode(mu, method="greedy"))
    2
    """

    def __init__(self, cfg: CVAEConfig):
        super().__init__()
        self.cfg = cfg
        d, L = cfg.d_model, cfg.latent_dim
        self.wte = nn.Embedding(cfg.vocab_size, d)  # tied: encoder input, decoder input and output
        self.data_encoder = DataEncoder(cfg)
        self.eq_encoder = EquationEncoder(cfg)
        self.prior_head = MLP(d, d, 2 * L)
        self.structure_prior = StructureEncoder(cfg) if cfg.prior_encoder_layers > 0 else None
        self.posterior_head = MLP(2 * d, d, 2 * L)
        # fixed-scale batch norm of mu_q (no learned affine): running statistics at evaluation
        self.mu_norm = (nn.BatchNorm1d(L, affine=False, momentum=0.1, eps=MU_BN_EPS) if cfg.posterior_mu_bn > 0
                        else None)
        # decoder: z -> n_memory memory tokens, and z -> an offset added to every input embedding
        self.z_to_memory = nn.Linear(L, cfg.n_memory * d)
        self.ln_memory = nn.LayerNorm(d)
        self.z_to_embed = nn.Linear(L, d)
        self.dec_wpe = nn.Embedding(cfg.max_len, d)
        self.dec_blocks = nn.ModuleList([DecoderBlock(cfg) for _ in range(cfg.n_dec_layers)])
        self.ln_f = nn.LayerNorm(d)
        self.geval = GEval(cfg) if cfg.use_geval else None
        self.bow_head = nn.Linear(L, cfg.vocab_size) if cfg.bow_weight > 0 else None
        self.apply(self._init_weights)
        # z's additive path into the decoder starts closed: a random projection of a not-yet-informative z is
        # noise on every input embedding, and the gradient then shrinks z's spread (the collapse of defect 1)
        nn.init.zeros_(self.z_to_embed.weight)
        if self.structure_prior is not None:  # a correction of the stage-1 prior that starts at 0
            nn.init.zeros_(self.structure_prior.head.proj.weight)
        with torch.no_grad():  # log-variance half of the posterior head's output (see posterior_logvar_init)
            self.posterior_head.proj.bias[L:] = cfg.posterior_logvar_init


    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_parameters(self) -> int:
        """Number of parameters (the tied embedding counted once)."""
        return sum(p.numel() for p in self.parameters())

    # -------------------------------------------------------------------------------- inputs and encoders

    def _prepare(
        self, X: Tensor, y: Tensor, var_mask: Tensor, point_mask: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Cast, pad X to ``max_vars`` columns and default the masks."""
        dtype = self.wte.weight.dtype
        B, N, D = X.shape
        if D > self.cfg.max_vars:
            raise ValueError(f"X has {D} columns, the model takes at most max_vars={self.cfg.max_vars}")
        var_mask = var_mask.to(device=X.device, dtype=torch.bool)
        if D < self.cfg.max_vars:
            X = F.pad(X, (0, self.cfg.max_vars - D))
        if var_mask.shape[1] < self.cfg.max_vars:
            var_mask = F.pad(var_mask, (0, self.cfg.max_vars - var_mask.shape[1]), value=False)
        if point_mask is None:
            point_mask = torch.ones(B, N, dtype=torch.bool, device=X.device)
        point_mask = point_mask.to(torch.bool)
        # an example without any real row would give NaN attention; treat all its rows as real instead
        point_mask = point_mask | ~point_mask.any(1, keepdim=True)
        return X.to(dtype), y.to(dtype), var_mask, point_mask

    @staticmethod
    def _split(stats: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = stats.chunk(2, dim=-1)
        return mu, logvar.clamp(LOGVAR_MIN, LOGVAR_MAX)

    def _trim(self, tokens: Tensor) -> Tensor:
        """Drop all-PAD trailing columns (a batch padded to max_len usually has many)."""
        if tokens.shape[1] > self.cfg.max_len:
            raise ValueError(f"tokens have {tokens.shape[1]} positions, max_len={self.cfg.max_len}")
        length = int((tokens != PAD_ID).sum(1).max().clamp_min(2))
        return tokens[:, :length]

    def encode_prior(
        self, X: Tensor, y: Tensor, var_mask: Tensor, point_mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Prior branch p(z | data).

        Parameters
        ----------
        X : Tensor, shape (B, N, D) with D <= max_vars
            Raw inputs; columns beyond D are treated as absent.
        y : Tensor, shape (B, N)
            Raw targets.
        var_mask : Tensor of bool, shape (B, D) or (B, max_vars)
            True for real input columns.
        point_mask : Tensor of bool, shape (B, N), optional
            True for real rows (default: all).

        Returns
        -------
        mu, logvar : Tensor, shape (B, latent_dim)
        """
        X, y, var_mask, point_mask = self._prepare(X, y, var_mask, point_mask)
        if self.structure_prior is not None:  # stage 2: its own encoder
            return self._split(self._structure_stats(X, y, var_mask, point_mask)[0])
        h_data = self.data_encoder(X, y, var_mask, point_mask)  # (B, D)
        return self._split(self.prior_head(h_data))

    def encode_posterior(
        self, tokens: Tensor, X: Tensor, y: Tensor, var_mask: Tensor, point_mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Posterior branch q(z | equation, data); ``tokens`` (B, T) are ``[BOS .. EOS PAD ..]`` rows.

        Returns ``(mu, logvar)``, each (B, latent_dim); see :meth:`encode_prior` for the data arguments.
        """
        X, y, var_mask, point_mask = self._prepare(X, y, var_mask, point_mask)
        return self._posterior(self._trim(tokens), self.data_encoder(X, y, var_mask, point_mask))

    def _posterior(self, tokens: Tensor, h_data: Tensor) -> tuple[Tensor, Tensor]:
        h_eq = self.eq_encoder(self.wte(tokens), tokens != PAD_ID)  # (B, D)
        mu, logvar = self._split(self.posterior_head(torch.cat([h_eq, h_data], dim=-1)))
        if self.mu_norm is not None and (mu.shape[0] > 1 or not self.training):
            mu = self.mu_norm(mu) * self.cfg.posterior_mu_bn
        return mu, logvar

    @staticmethod
    def reparameterize(mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """A sample ``mu + exp(logvar / 2) * eps`` with ``eps ~ N(0, I)`` drawn from ``generator``."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def g_eval(self, z: Tensor, X: Tensor, var_mask: Tensor, point_mask: Tensor | None = None) -> Tensor:
        """LEE's evaluation head: predicted **standardised** y at each point, differentiable in ``z``.

        Parameters
        ----------
        z : Tensor, shape (B, latent_dim)
        X : Tensor, shape (B, N, D)
            Raw inputs (the column statistics come from the rows in ``point_mask``).
        var_mask : Tensor of bool, shape (B, D) or (B, max_vars)
        point_mask : Tensor of bool, shape (B, N), optional

        Returns
        -------
        Tensor, shape (B, N)
            Predictions of ``(y - mean(y)) / std(y)``; map back with y's own mean and std.
        """
        if self.geval is None:
            raise RuntimeError("this model was built with use_geval=False")
        X, _, var_mask, point_mask = self._prepare(X, X[..., 0], var_mask, point_mask)
        per_value, stats, _ = scale_features(X, point_mask, var_mask)
        return self.geval(z.to(X.dtype), per_value, stats)

    # ---------------------------------------------------------------------------------------------- decoder

    def _memory_kv(self, z: Tensor) -> list[tuple[Tensor, Tensor]]:
        memory = self.z_to_memory(z).view(z.shape[0], self.cfg.n_memory, self.cfg.d_model)  # (B, M, D)
        memory = self.ln_memory(memory)
        return [block.cross_attn.project_kv(memory) for block in self.dec_blocks]  # each (B, nh, M, hs)

    def logits(self, z: Tensor, tokens: Tensor) -> Tensor:
        """Teacher-forced next-token logits (B, T, V) for input tokens (B, T) (``[BOS, t1, ...]``) given z."""
        memory_kv = self._memory_kv(z)
        pos = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.wte(tokens) + self.dec_wpe(pos) + self.z_to_embed(z)[:, None, :]  # (B, T, D)
        for block, kv in zip(self.dec_blocks, memory_kv):
            x = block(x, kv)
        return self.ln_f(x) @ self.wte.weight.t()  # (B, T, V)

    def _start(self, z: Tensor, n_positions: int) -> dict:
        """Decoding state: memory keys/values, z's embedding offset and empty self-attention caches."""
        B, cfg = z.shape[0], self.cfg
        hs = cfg.d_model // cfg.n_heads
        shape = (B, cfg.n_heads, n_positions, hs)
        caches = [
            {"k": z.new_empty(shape), "v": z.new_empty(shape)} for _ in range(cfg.n_dec_layers)
        ]  # filled position by position; unwritten positions are never read
        return {"memory_kv": self._memory_kv(z), "z_embed": self.z_to_embed(z), "caches": caches}

    def _step(self, state: dict, token: Tensor, pos: int) -> Tensor:
        """Logits (B, V) for the next token after feeding ``token`` (B,) at position ``pos``."""
        x = self.wte(token)[:, None, :] + self.dec_wpe.weight[pos] + state["z_embed"][:, None, :]  # (B, 1, D)
        for block, kv, cache in zip(self.dec_blocks, state["memory_kv"], state["caches"]):
            x = block(x, kv, cache=cache, pos=pos)
        return (self.ln_f(x) @ self.wte.weight.t())[:, 0]  # (B, V)

    @staticmethod
    def _reorder(state: dict, idx: Tensor) -> None:
        """Beam search: make row i of the state a copy of row ``idx[i]``."""
        state["memory_kv"] = [(k[idx], v[idx]) for k, v in state["memory_kv"]]
        state["z_embed"] = state["z_embed"][idx]
        for cache in state["caches"]:
            cache["k"], cache["v"] = cache["k"][idx], cache["v"][idx]

    def _allowed(
        self, n_out: int, max_out: int, open_slots: Tensor | None, arity: Tensor | None, token_mask: Tensor
    ) -> Tensor:
        """Bool (R, V): which tokens may come next, after ``n_out`` of at most ``max_out`` tokens.

        Unconstrained: any allowed non-special token, or EOS; only EOS at the length limit. Constrained by
        ``arity``: while slots are open, expression tokens whose slots can still be filled by leaves in
        the remaining budget (``open + arity - 1 <= remaining - 1``); EOS, and only EOS, once none are.
        """
        R, V = token_mask.shape
        eos = torch.zeros(V, dtype=torch.bool, device=token_mask.device)
        eos[EOS_ID] = True
        if arity is None:
            if n_out >= max_out:
                return eos.expand(R, V)
            return token_mask | eos
        remaining = max_out - n_out
        fits = (arity >= 0)[None, :] & (open_slots[:, None] + arity[None, :] <= remaining)  # (R, V)
        done = (open_slots == 0)[:, None]
        return torch.where(done, eos.expand(R, V), fits & token_mask)

    @staticmethod
    def _slot_change(arity: Tensor, token: Tensor) -> Tensor:
        """Open-slot change for emitted tokens: arity - 1 for expression tokens, 0 for EOS/PAD."""
        a = arity[token]
        return torch.where(a >= 0, a - 1, torch.zeros_like(a))

    @torch.no_grad()
    def decode(
        self,
        z: Tensor,
        *,
        method: str = "greedy",
        temperature: float = 1.0,
        beam_size: int = 10,
        max_len: int | None = None,
        arity: Tensor | None = None,
        token_mask: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> list[list[int]] | list[list[tuple[list[int], float]]]:
        """Decode latents into prefix token sequences, batched over all latents, with a KV cache.

        Parameters
        ----------
        z : Tensor, shape (B, latent_dim)
        method : {"greedy", "sample", "beam"}
        temperature : float
            Logits are divided by it ("sample"; ``<= 0`` means greedy). Greedy and beam ignore it.
        beam_size : int
            Beams per latent for "beam".
        max_len : int, optional
            Most expression tokens per output, BOS/EOS excluded; default and cap ``cfg.max_len - 2``.
        arity : LongTensor, shape (vocab_size,), optional
            Arity of each token (0 leaf, 1 unary, 2 binary; -1 for PAD/BOS/EOS and other non-expression
            tokens). If given, decoding is grammar-constrained and every output is a complete prefix
            expression of at most ``max_len`` tokens.
        token_mask : Tensor of bool, shape (vocab_size,) or (B, vocab_size), optional
            Allowed expression tokens (e.g. only the variables the data have). EOS is always allowed.
        generator : torch.Generator, optional
            Source of randomness for "sample" (on z's device).

        Returns
        -------
        list
            "greedy"/"sample": B token-id lists (no BOS/EOS). "beam": B lists of ``(token_ids, logprob)``,
            best first, at most ``beam_size`` long; logprob is the sum over tokens (EOS included) under the
            constrained, renormalised next-token distributions.

        Notes
        -----
        Call ``model.eval()`` first when ``dropout > 0``. Rows decode in lock-step and the loop stops
        once every row has emitted EOS.
        """
        if method not in ("greedy", "sample", "beam"):
            raise ValueError(f"method must be 'greedy', 'sample' or 'beam', got {method!r}")
        B, V, device = z.shape[0], self.cfg.vocab_size, z.device
        z = z.to(self.wte.weight.dtype)
        cap = self.cfg.max_len - 2
        max_out = cap if max_len is None else max(1, min(int(max_len), cap))
        allowed_tok = torch.ones(B, V, dtype=torch.bool, device=device)
        if token_mask is not None:
            allowed_tok = allowed_tok & token_mask.to(device=device, dtype=torch.bool).expand(B, V)
        allowed_tok[:, [PAD_ID, BOS_ID, EOS_ID]] = False  # specials are never emitted mid-expression
        if arity is not None:
            arity = arity.to(device=device, dtype=torch.long).clone()
            if arity.shape != (V,):
                raise ValueError(f"arity must have shape ({V},), got {tuple(arity.shape)}")
            arity[[PAD_ID, BOS_ID, EOS_ID]] = -1
            if not ((arity == 0)[None, :] & allowed_tok).any(1).all():
                raise ValueError("every row of token_mask must allow at least one leaf (arity 0) token")
        if method == "beam":
            return self._beam(z, beam_size, max_out, arity, allowed_tok)
        greedy = method == "greedy" or temperature <= 0

        state = self._start(z, max_out + 1)
        token = torch.full((B,), BOS_ID, dtype=torch.long, device=device)
        open_slots = torch.ones(B, dtype=torch.long, device=device) if arity is not None else None
        finished = torch.zeros(B, dtype=torch.bool, device=device)
        out = torch.full((B, max_out + 1), PAD_ID, dtype=torch.long, device=device)
        for t in range(max_out + 1):
            logits = self._step(state, token, t)  # (B, V)
            logits = logits.masked_fill(~self._allowed(t, max_out, open_slots, arity, allowed_tok), -math.inf)
            if greedy:
                token = logits.argmax(-1)
            else:
                probs = F.softmax(logits / temperature, dim=-1)
                token = torch.multinomial(probs, 1, generator=generator)[:, 0]
            token = token.masked_fill(finished, PAD_ID)
            out[:, t] = token
            if open_slots is not None:
                open_slots = open_slots + self._slot_change(arity, token)
            finished = finished | (token == EOS_ID)
            if finished.all():
                break
        return [[tok for tok in row if tok not in (EOS_ID, PAD_ID)] for row in out.tolist()]

    def _beam(
        self, z: Tensor, K: int, max_out: int, arity: Tensor | None, allowed_tok: Tensor
    ) -> list[list[tuple[list[int], float]]]:
        """Beam search over all latents at once: rows are (latent, beam) pairs, B * K of them."""
        B, V, device = z.shape[0], self.cfg.vocab_size, z.device
        state = self._start(z.repeat_interleave(K, 0), max_out + 1)
        allowed_tok = allowed_tok.repeat_interleave(K, 0)  # (B*K, V)
        scores = torch.full((B, K), -math.inf, device=device)
        scores[:, 0] = 0.0  # the K beams start identical: keep one
        token = torch.full((B * K,), BOS_ID, dtype=torch.long, device=device)
        open_slots = torch.ones(B * K, dtype=torch.long, device=device) if arity is not None else None
        finished = torch.zeros(B * K, dtype=torch.bool, device=device)
        out = torch.full((B * K, max_out + 1), PAD_ID, dtype=torch.long, device=device)
        pad_only = torch.full((V,), -math.inf, device=device)
        pad_only[PAD_ID] = 0.0
        for t in range(max_out + 1):
            logits = self._step(state, token, t).float()  # (B*K, V)
            logits = logits.masked_fill(~self._allowed(t, max_out, open_slots, arity, allowed_tok), -math.inf)
            logp = torch.where(finished[:, None], pad_only, F.log_softmax(logits, dim=-1))  # (B*K, V)
            cand = (scores.view(-1, 1) + logp).view(B, K * V)
            scores, idx = cand.topk(K, dim=1)  # (B, K), sorted
            rows = (torch.arange(B, device=device)[:, None] * K + idx // V).view(-1)  # (B*K,) source rows
            token = (idx % V).view(-1)
            self._reorder(state, rows)
            allowed_tok, out, finished = allowed_tok[rows], out[rows], finished[rows]
            out[:, t] = token
            if open_slots is not None:
                open_slots = open_slots[rows] + self._slot_change(arity, token)
            finished = finished | (token == EOS_ID)
            if finished.all():
                break
        results: list[list[tuple[list[int], float]]] = []
        for row_scores, row_out in zip(scores.tolist(), out.view(B, K, -1).tolist()):
            beams = [
                ([tok for tok in seq if tok not in (EOS_ID, PAD_ID)], s)
                for seq, s in zip(row_out, row_scores)
                if math.isfinite(s)
            ]
            results.append(sorted(beams, key=lambda item: -item[1]))
        return results

    # ------------------------------------------------------------------------------------------------- loss

    def forward(
        self,
        tokens: Tensor,
        X: Tensor,
        y: Tensor,
        var_mask: Tensor,
        point_mask: Tensor | None = None,
        beta: float = 1.0,
        stage: int = 1,
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Both branches, the decoder on posterior (and prior) samples, g_eval, and the loss terms.

        ``stage=2`` trains only the stage-2 prior branch (:meth:`stage2_losses`).

        Returns
        -------
        outputs : dict
            ``mu_q, logvar_q, mu_p, logvar_p, z_post`` (B, latent_dim); ``logits_post`` (B, T-1, V), where
            T is the batch's longest sequence; ``geval`` (B, N) when ``use_geval``.
        losses : dict
            See :meth:`loss`.
        """
        cfg = self.cfg
        X, y, var_mask, point_mask = self._prepare(X, y, var_mask, point_mask)
        tokens = self._trim(tokens)
        if stage == 2:
            return self.stage2_losses(tokens, X, y, var_mask, point_mask)
        h_data = self.data_encoder(X, y, var_mask, point_mask)  # (B, D)
        # same value, gradient scaled by prior_grad_scale on the way back into the shared data encoder
        gs = cfg.prior_grad_scale
        mu_p, logvar_p = self._split(self.prior_head(h_data * gs + h_data.detach() * (1.0 - gs)))
        mu_q, logvar_q = self._posterior(tokens, h_data)
        z_post = self.reparameterize(mu_q, logvar_q)

        inp, tgt = tokens[:, :-1], tokens[:, 1:]  # teacher forcing
        if self.training and cfg.word_dropout > 0:  # keep BOS; hide other inputs so the decoder needs z
            drop = torch.rand(inp.shape, device=inp.device) < cfg.word_dropout
            drop[:, 0] = False
            inp = inp.masked_fill(drop, PAD_ID)
        use_prior = cfg.prior_recon_weight > 0
        if use_prior:  # one decoder pass over [posterior; prior] samples
            z_prior = self.reparameterize(mu_p, logvar_p)
            logits = self.logits(torch.cat([z_post, z_prior]), torch.cat([inp, inp]))
            logits_post, logits_prior = logits.chunk(2, dim=0)
        else:
            logits_post = self.logits(z_post, inp)  # (B, T-1, V)

        def ce(lg: Tensor) -> Tensor:  # mean over non-PAD target tokens
            return F.cross_entropy(lg.reshape(-1, lg.shape[-1]), tgt.reshape(-1), ignore_index=PAD_ID)

        zero = logits_post.new_zeros(())
        kl_dims = gauss_kl(mu_q, logvar_q, mu_p, logvar_p)  # (B, L)
        # The two branches get separate KL terms. The posterior is pulled towards a frozen prior, with free
        # bits; the prior is fitted to a frozen posterior at full weight, so it keeps learning in dimensions
        # below the free-bits floor, where the clamped term has no gradient.
        kl_fb = gauss_kl(mu_q, logvar_q, mu_p.detach(), logvar_p.detach()).mean(0).clamp_min(cfg.free_bits).sum()
        kl_prior = gauss_kl(mu_q.detach(), logvar_q.detach(), mu_p, logvar_p).sum(1).mean()
        not_pad = tgt != PAD_ID
        # The CE is a mean per target token while a KL is a sum per sequence: put both on the per-token
        # scale by dividing the KLs by the batch's mean target length (EOS included). The loss is then the
        # per-sequence ELBO over the mean length, and beta = 1 is the true ELBO (beta per sequence).
        mean_len = not_pad.sum(1).float().mean().clamp_min(1.0).detach()
        losses = {
            "recon_post": ce(logits_post),
            "recon_prior": ce(logits_prior) if use_prior else zero,
            "kl": kl_dims.sum(1).mean(),
            "kl_fb": kl_fb,
            "kl_prior": kl_prior,
            "bow": zero,
            "geval_mse": zero,
            "token_acc": (logits_post.argmax(-1) == tgt)[not_pad].float().mean().detach(),
        }
        outputs = {
            "mu_q": mu_q,
            "logvar_q": logvar_q,
            "mu_p": mu_p,
            "logvar_p": logvar_p,
            "z_post": z_post,
            "logits_post": logits_post,
        }
        if self.geval is not None:
            per_value, stats, _ = scale_features(X, point_mask, var_mask)
            _, _, y_std = scale_features(y[:, :, None], point_mask, var_mask.new_ones(X.shape[0], 1))
            pred = self.geval(z_post, per_value, stats)  # (B, N)
            losses["geval_mse"] = (pred - y_std[..., 0]).square()[point_mask].mean()
            outputs["geval"] = pred
        if self.bow_head is not None:  # which tokens occur in the equation, predicted from z alone
            present = torch.zeros(tokens.shape[0], cfg.vocab_size, device=tokens.device)
            present.scatter_(1, tgt, 1.0)
            present[:, : EOS_ID + 1] = 0.0
            losses["bow"] = F.binary_cross_entropy_with_logits(self.bow_head(z_post)[:, EOS_ID + 1 :],
                                                               present[:, EOS_ID + 1 :])
        losses["loss"] = (
            losses["recon_post"]
            + cfg.prior_recon_weight * losses["recon_prior"]
            + beta * kl_fb / mean_len
            + cfg.prior_fit_weight * kl_prior / mean_len
            + cfg.bow_weight * losses["bow"]
            + cfg.geval_weight * losses["geval_mse"]
        )
        return outputs, losses

    def _structure_stats(self, X: Tensor, y: Tensor, var_mask: Tensor, point_mask: Tensor) -> tuple[Tensor, Tensor]:
        """Stage 2's (mu, logvar) before clamping, and the structure encoder's output: the stage-1 prior read
        on :meth:`y_over_rms` plus the structure encoder's correction (0 at the start)."""
        base = self.prior_head(self.data_encoder(X, self.y_over_rms(y, point_mask), var_mask, point_mask))
        h = self.structure_prior.features(X, y, var_mask, point_mask)
        return base + self.structure_prior.head(h), h

    @staticmethod
    def y_over_rms(y: Tensor, point_mask: Tensor) -> Tensor:  # y's scale removed: what stage 2's base prior reads
        w = point_mask.to(y.dtype)
        rms = ((y.square() * w).sum(1, keepdim=True) / w.sum(1, keepdim=True).clamp_min(1.0)).sqrt()
        return y / rms.clamp_min(1e-30)

    def stage2_losses(self, tokens: Tensor, X: Tensor, y: Tensor, var_mask: Tensor,
                      point_mask: Tensor) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Stage 2 (docs/method.md §4.2): fit the structure prior to the frozen posterior and decoder.

        The posterior (its data encoder and batch-norm statistics included) runs without gradient. The loss:
        the decoder's CE of the equation at the prior **mean** (where the search starts), ``prior_fit_weight``
        × KL(q || p) per target token, and ``prior_token_weight`` × a bag-of-tokens BCE (``bow``: which tokens
        the equation holds, from the structure encoder's output). The trainer freezes all but
        ``structure_prior`` (and the decoder, at ``train.decoder_lr`` > 0). Returns ``(outputs, losses)`` keyed
        as :meth:`loss` (``recon_prior`` and ``token_acc`` at the prior mean; the posterior terms 0).
        """
        if self.structure_prior is None:
            raise RuntimeError("stage 2 needs a model with prior_encoder_layers > 0")
        with torch.no_grad():
            mu_q, logvar_q = self._posterior(tokens, self.data_encoder(X, y, var_mask, point_mask))
        stats, h = self._structure_stats(X, y, var_mask, point_mask)
        mu_p, logvar_p = self._split(stats)
        inp, tgt = tokens[:, :-1], tokens[:, 1:]
        logits = self.logits(mu_p, inp)
        not_pad = tgt != PAD_ID
        mean_len = not_pad.sum(1).float().mean().clamp_min(1.0)
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=PAD_ID)
        kl = gauss_kl(mu_q, logvar_q, mu_p, logvar_p).sum(1).mean()
        zero = ce.new_zeros(())
        present = torch.zeros(tokens.shape[0], self.cfg.vocab_size, device=tokens.device).scatter_(1, tgt, 1.0)
        bow = F.binary_cross_entropy_with_logits(self.structure_prior.tokens(h)[:, EOS_ID + 1:],
                                                 present[:, EOS_ID + 1:])
        losses = {"recon_post": zero, "recon_prior": ce, "kl": kl.detach(), "kl_fb": zero, "kl_prior": kl,
                  "bow": bow, "geval_mse": zero,
                  "token_acc": (logits.argmax(-1) == tgt)[not_pad].float().mean().detach(),
                  "loss": self.cfg.prior_recon_weight * ce + self.cfg.prior_fit_weight * kl / mean_len
                  + self.cfg.prior_token_weight * bow}
        return {"mu_q": mu_q, "logvar_q": logvar_q, "mu_p": mu_p, "logvar_p": logvar_p}, losses

    def loss(self, tokens: Tensor, X: Tensor, y: Tensor, var_mask: Tensor, point_mask: Tensor | None = None, *,
             beta: float) -> dict[str, Tensor]:
        """Training loss terms for a batch.

        Parameters
        ----------
        tokens : LongTensor, shape (B, T)
            ``[BOS, t1 .. tn, EOS, PAD ...]`` rows, T <= max_len.
        X, y, var_mask, point_mask
            As in :meth:`encode_prior`.
        beta : float
            KL weight (annealed by the trainer).

        Returns
        -------
        dict of scalar Tensors
            ``recon_post`` (token-mean CE from a posterior sample), ``recon_prior`` (from a prior sample;
            0 when ``prior_recon_weight`` is 0), ``kl`` (raw KL(q || p), summed over dims, batch mean),
            ``kl_fb`` (free-bits KL(q || sg(p)), which regularises the posterior), ``kl_prior``
            (KL(sg(q) || p), which fits the prior branch), ``bow`` (bag-of-tokens BCE from z; 0 when
            ``bow_weight`` is 0), ``geval_mse`` (0 without g_eval), ``token_acc`` (posterior,
            teacher-forced, non-PAD; detached) and ``loss`` = recon_post + prior_recon_weight * recon_prior
            + (beta * kl_fb + prior_fit_weight * kl_prior) / mean_len + bow_weight * bow
            + geval_weight * geval_mse, where ``mean_len`` is the batch's mean number of target tokens: the
            CE terms are per token and the KLs per sequence, so dividing the KLs puts beta on the per-sequence
            scale (beta = 1 is the ELBO). ``kl``, ``kl_fb`` and ``kl_prior`` are reported per sequence.
        """
        return self.forward(tokens, X, y, var_mask, point_mask, beta)[1]
