"""``SearchConfig``: every setting of :func:`gensr.search.search`, in one nested frozen dataclass.

One section per concern and per move (a move's section carries its name, :mod:`gensr.search.moves`, and
has ``enabled``; a periodic move's section also has ``every``); each field's comment says why its default
was chosen. This is the one source of defaults: the estimator's and the CLI's arguments default to
``None`` and fill in from here, and ``gensr fit`` takes dotted overrides such as ``search.fit.fitter=torch``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from gensr._config import replace
from gensr.cmaes import CMAESConfig

__all__ = ["BudgetConfig", "EditConfig", "EnumerateConfig", "FitConfig", "LEEConfig",
           "LocaliseConfig", "PowerLawConfig", "SearchConfig"]


def _need(ok: bool, msg: str) -> None:
    if not ok:
        raise ValueError(msg)


def _integers(cfg: Any, names: tuple[str, ...], low: int, where: str) -> None:
    for name in names:
        v = getattr(cfg, name)
        _need(isinstance(v, int) and not isinstance(v, bool) and v >= low,
              f"{where}.{name} must be an integer >= {low}, got {v!r}")


@dataclass(frozen=True)
class BudgetConfig:
    """When the search stops."""

    max_time: float = 60.0  # wall-clock s for EVERYTHING the search does (the estimator counts from its own call)
    max_generations: int | None = None  # CMA-ES generations over all restarts (GenSR: 120 of 81); None: 200, where
    # time usually binds first, or 40 when deterministic (measured: 40 generations of a hard 4-input problem with
    # 1,000 rows take about 20 s on one laptop core, so the count binds well within the default max_time)
    target_r2: float = 0.999999  # stop once the best-score candidate's training R² reaches this: exact fits of
    # noise-free data reach it, noisy data never do (GenSR's 0.95/0.99 stop on approximations); > 1: never
    exact_slack: int = 5  # also stop once a formula exact to float precision (R² >= 1 - 1e-10) is at most this many
    # nodes more complex than the best-score one (parsimony can rank a shorter approximation above a longer law);
    # off when target_r2 > 1
    plateau: int = 800  # stop after this many latents decoded without a gain (a new best score, or a front member
    # 1 % more accurate than every simpler one): counted, not timed, so the stop does not depend on machine speed.
    # 800 is about 10 s of a fit on 10,000 rows with one core (a 30 s fit decodes 500-2,700); 0: never
    noise_model: str = "local_linear"  # the noise floor's estimator (gensr.noise.NOISE_MODELS)
    noise_stop: bool = True  # stop once the best formula is at the data's noise floor (gensr.noise) and its
    # residuals look like noise: more search could only fit the noise
    noise_patience: int = 200  # ...after this many more latents decoded without a simpler formula reaching the
    # floor: the first formula at the floor is often an approximation with terms the noise hides, and the law is
    # a few generations away (0: stop at once; on noisy Feynman-40 that lost 5 laws of 21)
    units_share: float = 0.4  # with units (GenSRRegressor X_units/y_units): the share of the budget for the search
    # over dimensionless groups, which runs first; the search on the raw columns starts from its equations
    deterministic: bool = False  # True: every stage is bounded by counts (max_generations, beams, fit iterations),
    # never by a share of the clock, so a seed gives the same front on any machine; max_time is only a ceiling

    def __post_init__(self) -> None:
        _need(self.max_time > 0, f"budget.max_time must be > 0, got {self.max_time!r}")
        if self.max_generations is not None:
            _integers(self, ("max_generations",), 1, "budget")
        _integers(self, ("plateau", "exact_slack", "noise_patience"), 0, "budget")
        _need(0 < self.units_share < 1, f"budget.units_share must be in (0, 1), got {self.units_share!r}")
        from gensr.noise import NOISE_MODELS

        _need(self.noise_model in NOISE_MODELS,
              f"budget.noise_model must be one of {sorted(NOISE_MODELS)}, got {self.noise_model!r}")

    @property
    def generations(self) -> int:
        """The generation cap in force: ``max_generations``, or its default for the mode."""
        if self.max_generations is not None:
            return self.max_generations
        return 40 if self.deterministic else 200


@dataclass(frozen=True)
class LocaliseConfig:
    """Coarse localisation by the prior branch (docs/method.md §5.2)."""

    enabled: bool = True  # the start and search shape of the latent CMA-ES: off, the search has no map
    max_points: int = 200  # rows per encoded subset, as in GenSR and in training
    n_subsets: int = 4  # random row subsets prior-encoded (subset 0 = all rows if n <= max_points); >= 1
    n_ynoise: int = 16  # y-noise re-encodings with s_i = 0.01(i/5 + 1)·std(y) (GenSR: 40)
    n_prior_samples: int = 32  # z ~ N(μ, σ²) of the encodings, decoded for the initial population (GenSR: 40)
    temperatures: tuple[float, ...] = (0.5,)  # every latent is also sampled at these (GenSR: 2 samples at 0.1,
    # nearly greedy; the skeleton cache makes a more diverse second decode cheap)

    def __post_init__(self) -> None:
        _integers(self, ("max_points", "n_subsets"), 1, "localise")
        _integers(self, ("n_ynoise", "n_prior_samples"), 0, "localise")
        _need(all(t > 0 for t in self.temperatures), f"localise.temperatures must be > 0, got {self.temperatures}")


@dataclass(frozen=True)
class FitConfig:
    """Constant fitting and the screen in front of it (docs/method.md §5.5).

    ``fitter`` chooses the one fitter every candidate goes through, whatever the number of rows: ``"numpy"``
    (:func:`gensr.screen.screen_constants`: numpy forward passes, one-call finite-difference Jacobians,
    Levenberg–Marquardt) or ``"torch"`` (:func:`gensr.constants.fit_constants`: exact Jacobians, ``method``;
    kept for GenSR's BFGS and as an independent check of the numpy fitter). Only the numpy fitter solves the
    linear constants by least squares (``linear_solve``): the torch fitter runs LM or BFGS over every constant,
    so on sums of several terms it needs more starts and can end on other fronts.
    """

    fitter: Literal["numpy", "torch"] = "numpy"  # numpy: 14x the throughput of torch (measured before linear_solve)
    linear_solve: bool = True  # numpy fitter: solve the linear constants (offset, term multipliers) by least
    # squares inside LM (variable projection); False: LM over every constant
    rows: int = 1024  # rows used for the full fit (GenSR: the first 1,024); R² always uses all rows
    starts: int = 3  # starts for skeletons whose constants sit inside sin/exp/log/pow…: frequencies and
    # exponents need several; affine and rational constants get one (the decoded or unit start converges)
    adaptive_starts: bool = True  # False: ``starts`` for every skeleton with constants (the old behaviour)
    method: Literal["lm", "bfgs"] = "lm"  # fitter="torch": LM with exact Jacobians; "bfgs" as GenSR
    max_iter: int = 100  # per start: LM evaluations or BFGS iterations
    irls_steps: int = 4  # robust losses (GenSRRegressor(loss="mae"/"huber"/callable)): reweighted least-squares
    # steps after a full fit; each refits from the last constants, stopping when the loss no longer falls
    screen_rows: int = 64  # numpy fitter: fit on this many rows first, refit fully only candidates that could
    # join the front (measured: most decodes are far from it); 0, or fewer than 2x this many rows: fit fully
    screen_max_iter: int = 40  # LM evaluations per start on the screen: a start that has not converged by then
    # is rarely near the front (full fits keep max_iter)
    screen_slack: float = 4.0  # a screened candidate is refitted if its MSE is within this factor of the best
    # MSE at its complexity or below (the full fit rarely gains more than that)

    def __post_init__(self) -> None:
        _integers(self, ("rows", "starts", "max_iter", "screen_max_iter"), 1, "fit")
        _integers(self, ("screen_rows", "irls_steps"), 0, "fit")
        _need(self.method in ("lm", "bfgs"), f"fit.method must be 'lm' or 'bfgs', got {self.method!r}")
        _need(self.fitter in ("numpy", "torch"), f"fit.fitter must be 'numpy' or 'torch', got {self.fitter!r}")
        _need(self.screen_slack >= 1, f"fit.screen_slack must be >= 1, got {self.screen_slack!r}")


@dataclass(frozen=True)
class LEEConfig:
    """LEE refinement (:mod:`gensr.refine`): re-encoding and g_eval steps."""

    enabled: bool = True  # re-encoding brings what the other moves find into the latent search
    every: int = 5  # a refinement round every k generations (and once before CMA-ES); 0: only once
    n_reencode: int = 4  # best not-yet-re-encoded candidates re-encoded per round (posterior branch)
    geval_steps: int = 10  # Adam steps on z through g_eval per round; 0 = off (also off without g_eval)
    geval_lr: float = 0.05  # Adam step in latent units: ~0.5 over 10 steps, about one prior σ

    def __post_init__(self) -> None:
        _integers(self, ("every", "n_reencode", "geval_steps"), 0, "lee")
        _need(self.geval_lr > 0, f"lee.geval_lr must be > 0, got {self.geval_lr!r}")


@dataclass(frozen=True)
class EditConfig:
    """Local symbolic edits of the best candidates (:mod:`gensr.edits`)."""

    enabled: bool = True  # single edits repair near-misses of every other move
    every: int = 2  # an edit round every k generations (and once before CMA-ES); 0: only once
    n_parents: int = 3  # best candidates edited per round
    n_edits: int = 12  # random single edits per parent and round; the skeleton cache dedupes repeats

    def __post_init__(self) -> None:
        _integers(self, ("every", "n_parents", "n_edits"), 0, "edits")


@dataclass(frozen=True)
class LocalSearchConfig:
    """Hill climbing over whole expressions (HROCH's and RILS-ROLS's core, inside the pool and the deadline):
    from the best candidate not yet climbed, score every single edit (:func:`gensr.edits.all_neighbours`, the
    pool refitting every constant) and step to the best neighbour while it raises the score."""

    enabled: bool = True  # makes near misses exact: one wrong operator, variable or missing term
    every: int = 4  # a round every k generations (and once before CMA-ES); 0: only once
    steps: int = 3  # improving steps per round at most
    max_neighbours: int = 300  # neighbours scored per step: a random subset of a larger neighbourhood

    def __post_init__(self) -> None:
        _integers(self, ("every", "steps"), 0, "local")
        _integers(self, ("max_neighbours",), 1, "local")


@dataclass(frozen=True)
class TermEditConfig:
    """Term edits of the best candidates: add the library term (or front subexpression) that best explains
    a formula's residual, or drop one of its additive terms, so sums grow and shrink term by term."""

    enabled: bool = False  # off by default: on Strogatz at γ = 0.01 it grew a formula with a pole (shearflow1)
    # and lost lv1 and shearflow2, mean R² 0.990 -> 0.912 in one run (BENCHMARKS.md §13)
    every: int = 3  # a round every k generations (and once before CMA-ES, after the terms move); 0: only once
    n_parents: int = 3  # best candidates edited per round
    n_grow: int = 3  # terms added per parent: those most correlated with its residual
    rows: int = 400  # rows on which the residuals are ranked (a random subset); the pool fits on all rows

    def __post_init__(self) -> None:
        _integers(self, ("every", "n_parents", "n_grow"), 0, "term_edits")
        _integers(self, ("rows",), 2, "term_edits")


@dataclass(frozen=True)
class PowerLawConfig:
    """Power laws from a log-log least-squares fit: C·∏ x_i^a_i with snapped exponents."""

    enabled: bool = True  # cheap (one lstsq per transform) and finds textbook monomials at once
    max_denominator: int = 3  # exponents snap to fractions p/q with q <= this (½, ⅓, integers)
    max_abs_exponent: int = 4  # larger snapped exponents are dropped: the grammar writes them as long products


@dataclass(frozen=True)
class EnumerateConfig:
    """Map-guided enumeration: the decoder's most likely short skeletons under the prior latent, fitted first."""

    enabled: bool = True  # short laws are common and cheap to fit; the map orders them
    max_nodes: int = 7  # prefix nodes per skeleton
    beam: int = 64  # skeletons ranked per prior mean (beam search = the top of the decoder's ranking)
    share: float = 0.1  # at most this share of the budget

    def __post_init__(self) -> None:
        _integers(self, ("max_nodes", "beam"), 1, "enumerate")
        _need(0 < self.share <= 1, f"enumerate.share must be in (0, 1], got {self.share!r}")


@dataclass(frozen=True)
class TermsConfig:
    """The sparse-terms move (:mod:`gensr.search.terms`): laws with several terms by sparse regression."""

    enabled: bool = True  # sums of products, polynomials and roots of sums come from here, not from the map
    max_terms: int = 6  # terms per regression (sizes 1 … max_terms, stopped by the BIC)
    library_size: int = 3000  # library columns at most (one input's terms, then pairs and triples by relevance)
    rows: int = 400  # rows of the regressions (a fixed random subset); the pool fits on all rows
    every: int = 10  # rerun after every k-th CMA-ES generation with the front's subexpressions (0: only once)
    share: float = 0.15  # each run stops its regressions after this share of the budget
    rational: bool = True  # also y = P/Q ⇔ y = P − y·(Q − 1), Q's constant 1, over products of positive integer
    # powers (and the same for y/M with a common factor M); measured: no change on Feynman-40 or Strogatz γ = 0.01

    def __post_init__(self) -> None:
        _integers(self, ("max_terms", "library_size", "rows"), 1, "terms")
        _integers(self, ("every",), 0, "terms")
        _need(0 < self.share <= 1, f"terms.share must be in (0, 1], got {self.share!r}")


@dataclass(frozen=True)
class SearchConfig:
    """Settings of :func:`gensr.search.search`, one section per concern and per move.

    Examples
    --------
    >>> cfg = SearchConfig(budget=BudgetConfig(max_time=10.0))
    >>> cfg.replace(**{"fit.screen_rows": 0, "budget.max_generations": 5}).fit.screen_rows
    0
    """

    budget: BudgetConfig = field(default_factory=BudgetConfig)
    cma: CMAESConfig = field(default_factory=CMAESConfig)  # the latent CMA-ES and its IPOP restarts (the
    # optimiser's own config: one set of defaults for fmin and the search; max_iter None = budget.max_generations)
    localise: LocaliseConfig = field(default_factory=LocaliseConfig)
    fit: FitConfig = field(default_factory=FitConfig)
    lee: LEEConfig = field(default_factory=LEEConfig)
    edits: EditConfig = field(default_factory=EditConfig)
    power_law: PowerLawConfig = field(default_factory=PowerLawConfig)
    enumerate: EnumerateConfig = field(default_factory=EnumerateConfig)
    terms: TermsConfig = field(default_factory=TermsConfig)
    term_edits: TermEditConfig = field(default_factory=TermEditConfig)
    local: LocalSearchConfig = field(default_factory=LocalSearchConfig)
    parsimony: float = 0.0025  # w in score = R² − w·complexity: GenSR's 1/400 per prefix node
    device: str | None = None  # None: the model's own device; else a copy of the model runs there
    operators: tuple[str, ...] | None = None  # the operator tokens a formula may hold (gensr.language; the
    # estimator's unary_operators / binary_operators); None: the whole table
    maxsize: int | None = None  # the largest complexity a formula may have (PySR's maxsize); None: no limit

    def __post_init__(self) -> None:
        from gensr.grammar import OPERATORS

        _need(self.parsimony >= 0, f"parsimony must be >= 0, got {self.parsimony!r}")
        if self.operators is not None:
            unknown = sorted(set(self.operators) - set(OPERATORS))
            _need(not unknown, f"operators {unknown} are not in gensr's table {list(OPERATORS)}")
        if self.maxsize is not None:
            _integers(self, ("maxsize",), 1, "search")

    def replace(self, **changes: Any) -> SearchConfig:
        """A copy with ``"section.field"`` (or top-level ``"field"``) keys changed, coerced and checked
        (:func:`gensr._config.replace`: an unknown key suggests the closest ones)."""
        return replace(self, changes)
