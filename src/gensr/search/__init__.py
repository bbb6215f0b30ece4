"""GenSR's fine search: moves that feed one candidate pool, driven by latent CMA-ES (docs/method.md §5).

:func:`search` takes a trained :class:`gensr.model.CVAE` and a user's data and returns every equation it
scored, in a :class:`SearchResult`. The package, one module per concern:

- :mod:`~gensr.search.config`: :class:`SearchConfig`, one nested frozen dataclass (one section per move);
- :mod:`~gensr.search.pool`: candidates, the skeleton cache, the fitting screen and scoring;
- :mod:`~gensr.search.state`: the data, the model and the latents → candidates pipeline;
- :mod:`~gensr.search.moves`: the moves (seeds, power laws, map-guided enumeration, coarse localisation,
  symbolic edits, LEE re-encoding and g_eval steps) and the latent CMA-ES engine;
- :mod:`~gensr.search.driver`: the loop, the stop rules and :class:`SearchResult`.

The candidate pipeline of the latent moves: latents (B, L) → ``model.decode`` (greedy, plus sampling at each
of ``localise.temperatures``; grammar-constrained, no variable beyond the data's d) → :class:`Expression`
(invalid parses are counted, never fitted) → the canonical skeleton key → a cache, so a skeleton is fitted
once → screened and fitted constants (:mod:`gensr.search.pool`) → score = R² − parsimony·complexity. A
latent's fitness is the best score among its decodes; CMA-ES minimises −fitness. Unlike the released GenSR,
where a cross-generation repeat scores 0, a repeated skeleton keeps its cached score instead of scoring 0.

Where we depart from the released code: one time budget covers everything (GenSR's clock starts after the
initial population); every fitted candidate is kept, and the result carries the complexity–MSE
Pareto front instead of one equation; the model reads raw X (it standardises internally); constants are
fitted by Levenberg–Marquardt with exact gradients, after a cheap screen on a row subset; moves outside the
map (power laws, edits) feed the same pool, and LEE re-encoding brings what they find into the latent search.
"""

from typing import Any

from gensr.search.config import SearchConfig

__all__ = ["STAGES", "Candidate", "SearchConfig", "SearchResult", "search"]

_LAZY = {"search": "driver", "SearchResult": "driver", "STAGES": "moves", "Candidate": "pool"}


def __getattr__(name: str) -> Any:
    # torch-backed parts load on first use, so that reading a SearchConfig (argument checks, the CLI's
    # bad-input errors) never pays for importing torch
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"gensr.search.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'gensr.search' has no attribute {name!r}")
