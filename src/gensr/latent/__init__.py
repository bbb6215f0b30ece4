"""Latent-space diagnostics: interpolation between equations and function-family probes (docs/method.md §1).

GenSR claims a latent space that is globally *symbolically continuous* (every point decodes, similar
structures lie close) and locally *numerically smooth*; its secondary summary shows a t-SNE over three
function families × two input dimensions, and probe scores of 0.849 (GenSR), 0.723 (SNIP) and 0.661 (E2E)
are quoted for it (unverified; no script is released). This module measures both claims for our model.

The package is three rooms:

- :mod:`gensr.latent.interpolation`: :func:`interpolate` and :func:`interpolation_stats` (the protocol is
  in its docstring);
- :mod:`gensr.latent.probe`: :func:`probe`, the function-family probe of the prior branch;
- :mod:`gensr.latent.plots`: :func:`plot_interpolation` and :func:`plot_tsne`.

Their public names are re-exported here.
"""

from gensr.latent._common import generator_config_from_checkpoint
from gensr.latent.interpolation import InterpolationResult, InterpolationStep, interpolate, interpolation_stats
from gensr.latent.plots import plot_interpolation, plot_tsne
from gensr.latent.probe import (
    EMBEDDINGS,
    EXCLUDED_UNARY,
    FAMILIES,
    FAMILY_MARKERS,
    PROBE_CLASSES,
    PROBE_DIMS,
    PROBES,
    ProbeResult,
    ProbeScore,
    function_family,
    prior_embeddings,
    probe,
    sample_family_problem,
    summary_features,
)

__all__ = [
    "EMBEDDINGS",
    "EXCLUDED_UNARY",
    "FAMILIES",
    "FAMILY_MARKERS",
    "PROBES",
    "PROBE_CLASSES",
    "PROBE_DIMS",
    "InterpolationResult",
    "InterpolationStep",
    "ProbeResult",
    "ProbeScore",
    "function_family",
    "generator_config_from_checkpoint",
    "interpolate",
    "interpolation_stats",
    "plot_interpolation",
    "plot_tsne",
    "prior_embeddings",
    "probe",
    "sample_family_problem",
    "summary_features",
]
