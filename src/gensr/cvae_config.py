"""The CVAE's hyperparameters (:class:`CVAEConfig`) and its named sizes.

Kept apart from :mod:`gensr.model` so that the building blocks (:mod:`gensr.layers`) and the model both
read the config without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from gensr.vocab import EOS_ID

__all__ = ["CVAE_PRESETS", "CVAEConfig"]


@dataclass(frozen=True)
class CVAEConfig:
    """Hyperparameters of :class:`CVAE`. Build a variant with ``dataclasses.replace``."""

    vocab_size: int = 64  # set from the grammar's vocabulary; ids 0/1/2 are PAD/BOS/EOS
    max_len: int = 64  # token positions incl. BOS and EOS; training equations average ~16-20 tokens
    max_vars: int = 10  # Dmax input columns, as in GenSR/E2E
    d_model: int = 128  # width everywhere; 192 halves CPU throughput (the default must train ~1M samples/2 h)
    n_heads: int = 4  # head size 32
    n_data_layers: int = 1  # set-encoder blocks over the points; costly (N ~ 128-200 rows vs ~20 tokens)
    n_inducing: int = 0  # >0: ISAB with this many inducing points (O(N m) attention); 0: full SAB
    n_eq_layers: int = 2  # equation-encoder blocks; prefix sequences are short, 2 suffices
    n_dec_layers: int = 4  # decoder depth; GenSR uses 16 at width 512, far beyond a CPU budget
    ffn_mult: int = 4  # FFN hidden = ffn_mult * d_model, the usual transformer ratio
    latent_dim: int = 32  # z size; small enough for CMA-ES to search (GenSR: 512)
    n_memory: int = 4  # memory tokens z is projected to for cross-attention (GenSR: 200)
    dropout: float = 0.0  # GenSR trains with dropout 0; data are generated on the fly, no overfitting
    use_geval: bool = True  # LEE evaluation head g_eval(z, x) -> standardised y
    geval_hidden: int = 128  # width of the g_eval MLP
    free_bits: float = 0.1  # nats per latent dim (per sequence) not penalised by the KL, against collapse
    posterior_logvar_init: float = -6.0  # q's log-variance bias at init: sigma_q ~ 0.05, so z starts as signal;
    #   at 0 (sigma 1) z is noise ~4x the token embeddings and the encoders learn to make it constant
    posterior_mu_bn: float = 0.0  # > 0: batch-normalise mu_q to this fixed spread (BN-VAE, Zhu et al. 2020);
    #   without it the encoders make mu_q constant before the decoder learns to read z (measured: the
    #   across-batch spread falls 0.02 -> 1e-4 in 200 fixed-batch steps at any sigma_q); 0 = off (old models)
    prior_grad_scale: float = 0.1  # gradient of the prior-fit KL into the shared data encoder is scaled by
    #   this; unscaled it is ~100x the reconstruction's there (measured) and drowns it
    prior_recon_weight: float = 1.0  # GenSR's extra CE from a prior sample; 0 disables (and saves a pass)
    geval_weight: float = 0.5  # weight of g_eval's MSE (about 1 at init, like the CE terms' scale)
    word_dropout: float = 0.0  # share of decoder input tokens replaced by PAD in training: forces use of z
    bow_weight: float = 0.0  # weight of a bag-of-tokens loss predicted from z: makes z carry the content
    prior_fit_weight: float = 1.0  # weight of KL(sg(q) || p), which trains the prior branch to match q
    prior_encoder_layers: int = 0  # > 0: a stage-2 structure encoder (layers.StructureEncoder) with this many
    #   set-attention blocks adds its correction to the stage-1 prior (docs/method.md §4.2); 0: stage 1 only
    prior_encoder_width: int = 128  # the stage-2 prior encoder's width (its own; d_model stays the decoder's)
    prior_encoder_slopes: bool = False  # stage 2: add each input's finite-difference slope of y as a feature
    prior_token_weight: float = 0.0  # stage 2: weight of the auxiliary bag-of-tokens BCE on the structure encoder

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        if self.vocab_size <= EOS_ID + 1:
            raise ValueError(f"vocab_size={self.vocab_size} leaves no token besides PAD/BOS/EOS")
        if self.max_len < 3:
            raise ValueError(f"max_len={self.max_len} leaves no room for BOS, a token and EOS")
        if self.prior_encoder_layers and self.prior_encoder_width % self.n_heads:
            raise ValueError(f"prior_encoder_width={self.prior_encoder_width} is not divisible by n_heads")
        if min(self.max_vars, self.latent_dim, self.n_memory, self.ffn_mult, self.geval_hidden) < 1:
            raise ValueError("max_vars, latent_dim, n_memory, ffn_mult and geval_hidden must be >= 1")


CVAE_PRESETS: dict[str, CVAEConfig] = {
    # a test model: ~69 k parameters, ~900 samples/s fwd+bwd on one CPU thread; trains a fixed batch in seconds
    "tiny": CVAEConfig(
        posterior_mu_bn=1.0,
        d_model=32,
        n_heads=2,
        n_data_layers=1,
        n_eq_layers=1,
        n_dec_layers=1,
        ffn_mult=2,
        latent_dim=8,
        n_memory=2,
        geval_hidden=32,
    ),
    # the shipped size: ~2.3 M parameters (vocab 48-64). Measured fwd+bwd+AdamW at batch 64, N=128 points,
    # ~20 tokens: ~88 samples/s on 1 thread, ~160 on 2 (~1.1 M samples in 2 h); full SAB at d_model 192
    # managed ~50 on 1 thread. Greedy decoding of 200 latents: ~0.25 s for 20 tokens, ~0.85 s for 62 (1 thread).
    "default": CVAEConfig(posterior_mu_bn=1.0),
}
