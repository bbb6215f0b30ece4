"""The search loop and its result: moves at the start, then CMA-ES generations with periodic moves.

Order of one call, all under one :class:`~gensr.deadline.Deadline`:

1. the moves that run at the start, in registry order (:data:`gensr.search.moves.MOVES`): seeds and
   baselines, power laws, sparse terms, map-guided enumeration, coarse localisation, a round of edits, a LEE
   round;
2. CMA-ES generations (:class:`~gensr.search.moves.LatentCMA`); after every generation, each periodic move
   whose ``every`` divides the generation count, then re-centring and IPOP restarts;
3. stop on ``max_time``, ``max_generations``, ``target_r2``, a plateau of the front, the noise floor, the
   callback, a user interrupt or a CMA-ES reason that cannot restart.

A keyboard interrupt ends the search cleanly: the result holds everything found so far, with stop reason
``interrupted``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from gensr._utils import model_device
from gensr._validation import check_weights
from gensr.deadline import Deadline
from gensr.formula import parse
from gensr.grammar import MAX_FEATURES, Expression
from gensr.loss import Loss
from gensr.noise import NoiseFloor
from gensr.pareto import pareto_front, select_model
from gensr.search.config import SearchConfig
from gensr.search.moves import LatentCMA, Move, build_moves
from gensr.search.pool import Candidate
from gensr.search.state import SearchState

NOISE_STOP_R2 = 0.95  # the noise stop looks at a best formula's residuals once its R² passes this (each look
# costs a neighbour search, ~30 ms at 1,000 rows): below it, a formula is far from any law at γ ≤ 0.2

__all__ = ["SearchResult", "search"]


@dataclass(frozen=True)
class SearchResult:
    """Everything :func:`search` found.

    Attributes
    ----------
    candidates : tuple of Candidate
        Every fitted skeleton, one entry per distinct canonical key, in the order found.
    best : int or None
        Index of the highest score (first among ties); None if nothing was fitted in time.
    front : np.ndarray of int
        Indices on the complexity–loss Pareto front (:func:`gensr.pareto.pareto_front`; the loss is the MSE
        unless ``search(loss=...)`` chose another), simplest first.
    evaluations : int
        Latents decoded (each decoded greedily and at every temperature).
    n_fitted : int
        Distinct skeletons fitted (= ``len(candidates)``).
    n_full_fits : int
        Skeletons with constants that passed the screen and got the full fit.
    n_invalid : int
        Decodes that did not parse into an expression.
    generations : int
        CMA-ES generations over all restarts.
    restarts : int
        IPOP restarts made.
    stop : dict of str to float
        The reasons that ended the search with their thresholds: ``max_time``, ``max_generations``,
        ``target_r2``, ``plateau`` (latents decoded without a front improvement), ``noise_floor`` (the best
        formula is at the data's noise floor, its residuals look like noise), ``callback``, ``interrupted``,
        ``island`` (``n_jobs``: another island found the law, :mod:`gensr.search.islands`), ``no_latent`` (the
        map is off or decoded nothing valid, so no CMA-ES ran)
        or the CMA-ES reasons (``tolfun``, ``tolx``, ...).
    timings : dict of str to float
        Seconds in ``encode`` (prior branch), ``decode``, ``fit`` (constants), ``refine`` (LEE re-encoding
        and g_eval steps), ``bookkeeping`` (all else) and ``total`` (the wall time from the budget's start;
        the five parts sum to it).
    history : tuple of dict
        One row per generation (generation 0 = after the start moves): ``generation``, ``best_score``,
        ``best_r2``, ``sigma`` (NaN before CMA-ES), ``evaluations``, ``n_fitted``, ``elapsed``.
    config : SearchConfig
    feature_names : tuple of str or None
    noise_floor : NoiseFloor or None
        The data's estimated irreducible MSE (:func:`gensr.noise.noise_floor`) and its standard error.
    map_columns : tuple of int
        The columns the map (the model) reads: all of them when there are at most ``model.cfg.max_vars``,
        else the most informative by mutual information. Every other move works on all columns.
    """

    candidates: tuple[Candidate, ...]
    best: int | None
    front: np.ndarray
    evaluations: int
    n_fitted: int
    n_invalid: int
    generations: int
    restarts: int
    stop: dict[str, float]
    timings: dict[str, float]
    history: tuple[dict[str, float], ...]
    config: SearchConfig = field(default_factory=SearchConfig)
    feature_names: tuple[str, ...] | None = None
    n_full_fits: int = 0
    noise_floor: NoiseFloor | None = None
    map_columns: tuple[int, ...] = ()

    @property
    def best_candidate(self) -> Candidate | None:
        return None if self.best is None else self.candidates[self.best]

    @property
    def front_candidates(self) -> list[Candidate]:
        return [self.candidates[i] for i in self.front]

    def table(self) -> Any:
        """Every fitted candidate as a pandas DataFrame, in the order found (``equations_`` is its Pareto front).

        Columns: ``complexity``, ``mse``, ``loss`` (the search's loss), ``r2``, ``score``, ``stage``,
        ``evaluation`` (latents decoded when it was found), ``found_at`` (seconds from the start of the budget),
        ``screened`` (only the screening fit ran), ``equation`` (text over ``feature_names``) and
        ``expression``. Values are on the data the search saw (the estimator's selected features, rescaled
        only for extreme scales).
        """
        import pandas as pd

        names = list(self.feature_names) if self.feature_names is not None else None
        return pd.DataFrame([{"complexity": c.complexity, "mse": c.mse, "loss": c.fit_loss, "r2": c.r2,
                              "score": c.score, "stage": c.stage, "evaluation": c.evaluation,
                              "found_at": c.found_at, "screened": c.screened,
                              "equation": c.expression.to_infix(names, precision=6), "expression": c.expression}
                             for c in self.candidates],
                            columns=["complexity", "mse", "loss", "r2", "score", "stage", "evaluation", "found_at",
                                     "screened", "equation", "expression"])

    def select(self, rule: str = "best") -> int:
        """Index chosen by :func:`gensr.pareto.select_model` (``"accuracy"``, ``"best"``, ``"simplest"``) on the
        search's loss."""
        c = [x.complexity for x in self.candidates]
        return select_model(c, [x.fit_loss for x in self.candidates], [x.r2 for x in self.candidates], rule=rule)


# --------------------------------------------------------------------------------------------------
# input checks


def check_data(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Float64 X (n, d) and y (n,), with one-line errors for shapes, sizes and non-finite values."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_rows, n_features), got shape {X.shape}; use X.reshape(-1, 1) for one "
                         "feature")
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (n_rows,), got shape {y.shape}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    if X.shape[0] < 2:
        raise ValueError(f"need at least 2 rows, got {X.shape[0]}")
    if not 1 <= X.shape[1] <= MAX_FEATURES:
        raise ValueError(f"X has {X.shape[1]} features; the search takes 1 to {MAX_FEATURES}: select the most "
                         "relevant features first (GenSRRegressor does, by mutual information)")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ValueError("X and y must be finite (no NaN or inf): drop or impute those rows first")
    return X, y


def check_seeds(exprs: Sequence[Expression | str | tuple[Expression | str, str]] | None,
                names: Sequence[str] | None, d: int) -> list[tuple[Expression, str]]:
    """The seed equations as (expression, stage) pairs; a bare equation's stage is ``"seed"``."""
    out = []
    for e in exprs or ():
        e, stage = e if isinstance(e, tuple) else (e, "seed")
        expr = parse(e, names) if isinstance(e, str) else e
        if not isinstance(expr, Expression):
            raise TypeError(f"extra_expressions must hold Expression objects or strings, got {type(e).__name__}")
        if any(v >= d for v in expr.variables):
            raise ValueError(f"seed equation {expr} uses x{max(expr.variables)} but the data have {d} features")
        out.append((expr, stage))
    return out


# --------------------------------------------------------------------------------------------------
# the loop


class _Driver:
    def __init__(self, state: SearchState, moves: list[Move], bar: Any, callback: Callable[..., Any] | None,
                 names: tuple[str, ...] | None):
        self.state, self.moves, self.bar, self.callback, self.names = state, moves, bar, callback, names
        self.stop: dict[str, float] = {}
        self.history: list[dict[str, float]] = []
        self._floor_checked: dict[int | None, float | None] = {}
        self._at_floor: list[float] | None = None  # [MSE threshold, evaluation of the last gain, simplest there]

    def global_stop(self) -> dict[str, float]:
        s, bc, out = self.state, self.state.cfg.budget, {}
        if s.deadline.expired():
            out["max_time"] = s.deadline.seconds
        if s.generations >= bc.generations:
            out["max_generations"] = float(bc.generations)
        best = s.best_candidate()
        if best is not None and (best.r2 >= bc.target_r2 or (bc.target_r2 <= 1 and s.pool.exact_complexity
                                                             <= best.complexity + bc.exact_slack)):
            out["target_r2"] = bc.target_r2
        if bc.plateau and s.evaluations - s.pool.last_gain >= bc.plateau:
            out["plateau"] = float(bc.plateau)
        if bc.noise_stop and s.pool.loss.is_mse and best is not None and self.patience_spent(best):
            out["noise_floor"] = s.noise.mse
        return out

    def patience_spent(self, best: Candidate) -> bool:
        """Once a formula is at the noise floor (:meth:`at_noise_floor`), whether ``budget.noise_patience``
        latents have been decoded since the simplest formula at that floor last got simpler."""
        s, patience = self.state, self.state.cfg.budget.noise_patience
        if self._at_floor is None:
            threshold = self.at_noise_floor(best)
            if threshold is None:
                return False
            self._at_floor = [threshold, float(s.evaluations), math.inf]
        threshold, _, simplest = self._at_floor
        now = min((c.complexity for c in s.pool.candidates if c.mse <= threshold), default=math.inf)
        if now < simplest:
            self._at_floor[1:] = [float(s.evaluations), now]
        return s.evaluations - self._at_floor[1] >= patience

    def at_noise_floor(self, best: Candidate) -> float | None:
        """The MSE a formula at the noise floor may have, when the best formula's residuals are
        indistinguishable from noise (else None): their own floor (:func:`gensr.noise.noise_floor` on the
        residuals) is resolved and their mean square is within its error, and a random forest cannot predict
        them better (:func:`gensr.noise.checked_floor`). The floor on y is not needed: its curvature bias (a
        law with 1/x² or exp(−x·y)) left it unresolved on laws the search had found, and the fit ran to a
        plateau instead. Tried when the floor on y is reached or the best R² is above
        :data:`NOISE_STOP_R2`, once per best formula."""
        s = self.state
        if s.pool.best in self._floor_checked:
            return self._floor_checked[s.pool.best]
        threshold = None
        if s.noise.reached(best.mse) or best.r2 >= NOISE_STOP_R2:
            with s.deadline.section("bookkeeping"), np.errstate(all="ignore"):
                resid = s.y - best.expression.evaluate(s.X)
                rest = s.noise_model.estimate(s.X, resid, s.weights) if np.all(np.isfinite(resid)) else None
                mse = float(np.average(resid**2, weights=s.weights))
                ok = rest is not None and rest.resolved() and mse <= rest.ceiling()
                if ok and not s.noise.reached(best.mse):  # the residuals alone decide: a forest checks them
                    ok = s.noise_model.check(s.X, resid, rest, s.weights).resolved()
                if ok and rest is not None:
                    threshold = rest.ceiling()
        self._floor_checked[s.pool.best] = threshold
        return threshold

    def should_stop(self) -> bool:
        reasons = self.global_stop()
        self.stop.update(reasons)
        return bool(reasons)

    def log(self, sigma: float) -> bool:
        """Append a history row, update the progress bar; True if the callback asks to stop."""
        s = self.state
        best = s.best_candidate()
        row = {"generation": s.generations, "best_score": best.score if best else -math.inf,
               "best_r2": best.r2 if best else -math.inf, "sigma": sigma, "evaluations": s.evaluations,
               "n_fitted": len(s.pool), "elapsed": s.deadline.elapsed()}
        self.history.append(row)
        self.bar.n = min(round(row["elapsed"], 1), self.bar.total)  # seconds against the budget
        if best is not None:
            text = best.expression.to_infix(self.names, precision=4)[:50]
            self.bar.set_postfix_str(f"R²={best.r2:.6f} {text}", refresh=False)
        self.bar.refresh()
        if self.callback is not None and self.callback({**row, "best": best}):
            self.stop["callback"] = 1.0
            return True
        return False

    def run(self) -> None:
        s = self.state
        shape = None  # the CMA-ES search shape, offered by the localisation
        for move in self.moves:
            if move.at_start and (move.always or not self.global_stop()):
                offer = move.run(s)
                if offer is not None and offer.stds is not None:
                    shape = offer.stds
        if self.log(math.nan) or self.should_stop():
            return
        if s.best_z is None or shape is None:
            if s.deadline.expired():  # nothing decoded in time
                self.stop["max_time"] = s.deadline.seconds
            else:  # the map is off, or nothing it decoded parsed: no latent for CMA-ES to start from
                self.stop["no_latent"] = 1.0
            return
        cma = LatentCMA(s, shape)
        periodic = [m for m in self.moves if m.every]
        while not self.should_stop():
            if not cma.generation(s):
                continue  # the deadline cut the generation
            if self.log(cma.sigma):
                return
            offers = [move.run(s) for move in periodic
                      if s.generations % move.every == 0 and not s.deadline.expired()]
            if self.should_stop():  # our reasons first: CMA-ES's own maxiter mirrors max_generations
                return
            reasons = cma.after_moves(s, [o for o in offers if o is not None])
            if reasons:
                self.stop.update(reasons)
                return

    def result(self, feature_names: tuple[str, ...] | None) -> SearchResult:
        s = self.state
        pool = s.pool
        with s.deadline.section("bookkeeping"):
            comp = np.array([c.complexity for c in pool.candidates], dtype=float)
            loss = np.array([c.fit_loss for c in pool.candidates], dtype=float)
            front = pareto_front(comp, loss) if pool.candidates else np.zeros(0, dtype=np.int64)
        return SearchResult(
            candidates=tuple(pool.candidates), best=pool.best, front=front, evaluations=s.evaluations,
            n_fitted=len(pool), n_invalid=s.n_invalid, generations=s.generations, restarts=s.restarts,
            stop=dict(self.stop), timings=s.deadline.finish(), history=tuple(self.history), config=s.cfg,
            feature_names=feature_names, n_full_fits=pool.n_full_fits, noise_floor=s.noise,
            map_columns=tuple(int(j) for j in s.map_columns),
        )


def search(
    model: torch.nn.Module,
    X: Any,
    y: Any,
    config: SearchConfig | None = None,
    *,
    rng: np.random.Generator | int | None = None,
    feature_names: Sequence[str] | None = None,
    extra_expressions: Sequence[Expression | str | tuple[Expression | str, str]] | None = None,
    progress: bool = False,
    callback: Callable[[dict[str, Any]], bool | None] | None = None,
    deadline: Deadline | None = None,
    sample_weight: Any = None,
    loss: Loss | None = None,
) -> SearchResult:
    """Search the latent space of ``model`` for equations y ≈ f(X) (docs/method.md §5, with LEE refinement).

    Parameters
    ----------
    model : CVAE
        A trained model (e.g. :func:`gensr.checkpoint.load_model`); it is put in eval mode for the call and
        never moved (with ``config.device`` set, a copy runs there).
    X : array-like, shape (n, d)
        Raw inputs, 1 <= d <= 100, n >= 2, finite. The model reads raw values (it standardises internally) of
        at most ``model.cfg.max_vars`` columns (``SearchResult.map_columns``); every other move, the constant
        fits and the scores use all of them.
    y : array-like, shape (n,)
        Raw targets, finite.
    config : SearchConfig, optional
        Default: ``SearchConfig()``.
    rng : numpy Generator, int or None
        Source of all randomness (row subsets, y-noise, prior samples, CMA-ES, the torch generator of
        temperature sampling, the fitting rows and starts). The same seed gives the same equations as long
        as the time budget does not bind (bound the run by ``budget.max_generations`` to compare runs).
    feature_names : sequence of str, optional
        Names of the d columns, used to parse string seed equations and in the progress bar.
    extra_expressions : sequence of Expression or str, or of (equation, stage) pairs, optional
        Seed equations (skeletons like ``"C*sin(C*x0) + C"`` or formulas with constants, used as the
        first start of their fit). They are scored before anything else and their posterior latents join
        the initial population. Their stage is ``"seed"`` unless a pair names another (the estimator's
        search on dimensionless groups hands its equations over as ``"units"``).
    progress : bool
        Show a tqdm bar: seconds against the budget, best R² and equation.
    callback : callable, optional
        ``callback(info)`` after the start moves and after each generation, with ``info`` a history row plus
        ``"best"`` (the best :class:`Candidate` or None); returning True stops the search.
    deadline : Deadline, optional
        The wall-clock budget of the call (default: ``budget.max_time`` from now, deterministic if
        ``budget.deterministic``); the estimator passes one that started at its own call, so imports and
        model loading count. Every stage, down to the constant fitters, checks this one object.
    sample_weight : array-like of shape (n,), optional
        Non-negative row weights: constants are fitted by weighted least squares, and every candidate's MSE
        and R² (hence its score, the front and the selection) are weighted. Rows of weight 0 are not encoded.
    loss : gensr.loss.Loss, optional
        The loss the constants minimise and the front, the screen and the plateau read (default: MSE). A
        robust loss is reached by reweighted least squares (``fit.irls_steps``), and the noise stop, which
        compares MSEs with the noise floor, is off with any loss but MSE.

    Returns
    -------
    SearchResult

    Raises
    ------
    ValueError
        Shape mismatch, fewer than 2 rows, d > 100 (select features first), non-finite values, a seed
        equation using a variable the data lack.
    """
    config = SearchConfig() if config is None else config
    X, y = check_data(X, y)
    names = None if feature_names is None else tuple(str(n) for n in feature_names)
    if names is not None and len(names) != X.shape[1]:
        raise ValueError(f"{len(names)} feature names for {X.shape[1]} features")
    seeds = check_seeds(extra_expressions, names, X.shape[1])
    weights = check_weights(sample_weight, len(y))
    if config.device is not None and torch.device(config.device) != model_device(model):
        import copy

        model = copy.deepcopy(model).to(config.device)  # the caller's model stays where it is
    was_training = model.training
    model.eval()
    if deadline is None:
        deadline = Deadline(config.budget.max_time, deterministic=config.budget.deterministic)
    bar = tqdm(total=round(deadline.seconds, 1), disable=not progress, desc="gensr", unit="s", leave=False,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s {postfix}")
    try:
        state = SearchState(model, X, y, config, np.random.default_rng(rng), deadline, weights, seeds,
                            loss)
        driver = _Driver(state, build_moves(config), bar, callback, names)
        try:
            driver.run()
        except KeyboardInterrupt:
            driver.stop["interrupted"] = 1.0
        return driver.result(names)
    finally:
        bar.close()
        model.train(was_training)
