"""``GenSRRegressor``: the scikit-learn estimator over the latent search.

``fit`` resolves the hyperparameters into a :class:`gensr.search.SearchConfig` without touching ``self``,
validates the data (at most 100 features go to the search; more are ranked by mutual information), loads
the checkpoint through a module-level cache (never stored on the estimator, so pickling never pickles the
network), runs :func:`gensr.search.search`, and exposes the accuracy–complexity Pareto front, made readable by
:mod:`gensr.front`, as ``equations_``.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data

from gensr import _fit_inputs as given
from gensr._utils import rank_features
from gensr._validation import check_rows, check_weights, finite_rows
from gensr.deadline import Deadline
from gensr.front import extreme_scales, front_table, notes
from gensr.grammar import MAX_FEATURES, Expression
from gensr.language import Language
from gensr.noise import NoiseFloor
from gensr.validation import validator
from gensr.views import FrontReadout

log = logging.getLogger(__name__)

__all__ = ["GenSRRegressor"]

class GenSRRegressor(RegressorMixin, FrontReadout, BaseEstimator):
    """Symbolic regression by search in a generative equation space (GenSR + LEE refinement).

    Parameters
    ----------
    checkpoint : str or Path, default=None
        Model checkpoint directory; ``None`` uses the default model shipped with the package.
    max_time : float, default=None
        Wall-clock budget in seconds for the whole fit, from the call of ``fit`` (imports, model loading,
        validation, search, constant snapping); ``None``: ``search_config.budget.max_time`` (60 s by default).
    max_generations : int, default=None
        Maximum CMA-ES generations; ``None``: ``search_config.budget.max_generations`` (200, or 40 with
        ``deterministic=True``).
    population_size : int, default=None
        CMA-ES population per generation (``None``: the search's default).
    sigma0 : float, default=None
        Initial CMA-ES step size, relative to the prior's standard deviations (``None``: the search's default).
    parsimony : float, default=None
        Complexity penalty ``w`` in the search score ``R² − w·complexity`` (``None``: the search's default).
    model_selection : {"noise", "validation", "mdl", "balanced", "best", "accuracy", "simplest"}, default="noise"
        How ``expression_`` is chosen from the Pareto front (:func:`gensr.pareto.select_model`): "noise" (the
        simplest equation statistically indistinguishable from the best given the noise floor ``noise_floor_``;
        "validation" where the floor is unresolved, as on real data with few rows; BENCHMARKS.md §14, §19),
        "validation" (the simplest whose 5-fold held-out loss on the training rows is within one standard
        error of the lowest, :mod:`gensr.validation`), "mdl" (the shortest description: n/2·log MSE +
        k/2·log n for k constants + 3 nats per node), "balanced" (the largest R² − 0.001·complexity), "best"
        (PySR's: the largest drop of log-loss per node within 1.5× the lowest loss; it underfits noisy data),
        "accuracy" (the lowest loss), "simplest" (the simplest with R² ≥ ``r2_threshold``). The first four
        take the simplest equation exact to float precision when there is one.
    r2_threshold : float, default=0.99
        R² floor for ``model_selection="simplest"``.
    snap_constants : bool, default=True
        Replace fitted constants by simple forms (integers, small fractions, multiples of π) when that
        costs no accuracy, so 0.15915… prints as 1/(2π).
    nan_policy : {"raise", "drop"}, default="raise"
        What to do with rows holding NaN or infinite values.
    device : str, default=None
        Torch device for the network; ``None``: ``search_config.device``, else the CPU.
    random_state : int, RandomState or None, default=None
        Seeds numpy, torch and the search: the same seed gives the same equations when the search is
        bounded by counts rather than by ``max_time`` (``deterministic=True`` guarantees it).
    deterministic : bool, default=None
        True: every stage is bounded by counts (``max_generations``, beam sizes, fit iterations), never by
        the clock, so the same ``random_state`` gives the same front on a fast or a slow machine. The fit
        runs until ``max_generations`` (default 40 in this mode: about 20 s on a hard 4-input problem with
        1,000 rows on one laptop core) or an exact fit; ``max_time`` stays a ceiling, and if it cuts the
        search a warning says the result is no longer deterministic. ``None``:
        ``search_config.budget.deterministic`` (False).
    verbose : int, default=1
        0 is silent; 1 shows a progress bar (seconds against ``max_time``) and a one-line summary.
    warm_start : bool, default=False
        When True, a second ``fit`` on the same features starts from the previous front: its equations are
        scored first and their posterior latents join the initial population.
    callback : callable, default=None
        ``callback(info)`` after the start moves and after every CMA-ES generation; ``info`` holds
        ``generation``, ``elapsed``, ``evaluations``, ``n_fitted``, ``best_r2``, ``best_score`` and ``best``
        (the best candidate). Returning True stops the search.
    search_config : gensr.search.SearchConfig, default=None
        Advanced search settings (the one source of defaults); the parameters above override its fields
        only when they are not ``None``.
    seeds : list of str, default=None
        Formulas to start from, over the feature names (``"C*a*b/c + C"``; ``C`` is a constant to fit, other
        numbers are starting values). They are fitted and scored first, join the front if they earn it (their
        ``stage`` is ``"seed"``), and their latents join the initial search population.
    X_units : list of str, or dict of column name to str, default=None
        Physical units of the columns, as pint reads them (``"kg"``, ``"m/s"``, ``"kg*m**2/s**2"``; ``""`` or
        ``"1"`` for dimensionless; ``None`` for unknown), as in PySR. ``fit(X_units=...)`` overrides it for
        one fit. With the units of every column and of ``y`` the fit first searches y/y_ref = F(π_1 … π_k)
        over the k < n dimensionless groups of Buckingham's Π theorem (:mod:`gensr.units`), with
        ``search_config.budget.units_share`` of the budget, then the usual search on the raw columns
        starting from what it found (stage ``"units"``): one front, so units never make a fit worse. The
        front gets a ``consistent`` column, and the choice prefers a consistent equation among near-equal ones.
    y_units : str, default=None
        Physical unit of the target (see ``X_units``).
    loss : {"mse", "mae", "huber", "relative"} or callable, default="mse"
        What the constants minimise and the front, the selection and the ``loss`` column read (PySR's
        ``elementwise_loss``): the squared error, the absolute error, Huber's loss (squared within
        ``huber_delta``, linear beyond: robust to outliers), the squared error relative to |y| (for targets
        spanning decades; y ≠ 0 on every row), or ``f(y, y_pred) -> per-row loss`` on numpy arrays.
        Constants keep their least-squares core: "relative" is least squares with weights 1/y², the others
        iteratively reweighted least squares (:mod:`gensr.loss`). R² stays the plain (weighted) R². Only
        "mse" reads the noise floor: with another loss, ``model_selection="noise"`` is "validation" on that loss.
    huber_delta : float, default=1.0
        Huber's threshold in y's units (``loss="huber"``).
    unary_operators, binary_operators : list of str, default=None
        The operators a formula may hold (PySR's parameters; ``None``: all of gensr's table), by gensr's
        names or PySR's spellings (``"+"``, ``"-"``, ``"*"``, ``"/"``, ``"^"``, ``"sin"``, ``"exp"``,
        ``"square"`` …). The shorthands of an allowed binary operator come with it, as in PySR where x² is
        x·x: negation with ``"-"``, 1/x with ``"/"``, squares and cubes with ``"*"`` (√ only when named). The
        decoder masks the other tokens, the moves build from these, and no front member holds another
        (:mod:`gensr.language`). An unknown name is a ValueError that lists the table.
    maxsize : int, default=None
        The largest complexity (prefix nodes) of a formula on the front (PySR's ``maxsize``); None: no limit.
    n_jobs : int, default=None
        Searches (islands) that run at once on one deadline and one front (PySR's ``procs``/populations;
        :mod:`gensr.search.islands`): each is a whole search with its own seed, the odd ones with the classical
        moves (terms, edits) run more often, so that the islands complement each other; the first runs in this
        process (with the progress bar and ``callback``), the others through joblib, on its process pool
        or on a Dask cluster under ``with joblib.parallel_backend("dask"):``. None: 1 (or the active
        joblib backend's count); -1: every core. ``max_time`` stays the whole wait (a worker process that
        starts late has less of it), and with ``deterministic=True`` a seed and ``n_jobs`` give the same
        front. With units, the first search over the Π groups runs as one island. Measured in BENCHMARKS.md
        §17.

    Attributes
    ----------
    equations_ : pandas.DataFrame
        The Pareto front, simplest first: ``complexity``, ``loss`` (MSE), ``r2``, ``score``, ``equation``
        (text with feature names), ``sympy_format``, ``expression`` (:class:`gensr.Expression` over the
        selected features), ``stage`` (the search move that first found the skeleton, see
        :data:`gensr.search.STAGES`), ``found_at`` (seconds into the fit when it was first found) and
        ``extrapolates`` (finite when each column in turn moves 5 % of its range beyond the data's,
        :func:`gensr.front.extrapolates`; the choice avoids an inexact equation that is not).
    best_index_ : int
        Row of ``equations_`` chosen by ``model_selection``.
    expression_ : Expression
        The chosen equation (variables ``x<i>`` index ``selected_features_``).
    constants_ : ndarray
        Its fitted constants.
    selected_features_ : ndarray
        Indices of the input columns the search saw: all of them unless there were more than 100. Every move
        works on all of these; the map (the model) reads the 10 most informative
        (``search_result_.map_columns``).
    search_result_ : gensr.search.SearchResult
        Everything the search recorded: timings, history, stop reasons and **every** fitted candidate
        (``search_result_.candidates``; ``search_result_.table()`` as a DataFrame). ``equations_`` is built
        from their accuracy–complexity Pareto front.
    n_iter_ : int
        CMA-ES generations run.
    units_ : gensr.units.Units or None
        The units the fit used (None without units).
    pi_groups_ : list of str or None
        The dimensionless groups searched first, over the column names (None when no reduction ran), with
        ``y_reference_`` the factor y_ref.
    noise_floor_ : float
        The data's estimated irreducible MSE (:func:`gensr.noise.noise_floor`: local linear residuals of
        near neighbours, extrapolated to zero distance), in y's units squared: a formula that is the law has
        about this training loss. About 0 for noise-free data.
    noise_floor_se_ : float
        The standard error of ``noise_floor_``; infinite when the floor is unresolved (a random forest's
        out-of-bag error beat it, :func:`gensr.noise.checked_floor`, or a formula beat it,
        :meth:`gensr.noise.NoiseFloor.bounded_by`: ``noise_floor_`` is then an upper bound), and then neither
        the noise stop nor ``model_selection="noise"`` uses it. After the search the floor is re-estimated
        on the residuals of the most accurate equation (:func:`gensr.noise.residual_floor`), so on exact data
        with the law found it is round-off.
    notes_ : list of str
        One-line warnings to read beside the chosen equation (printed with ``verbose``): it sits well above
        a resolved noise floor, or ``max_time`` stopped the search before an exact law or the floor (with
        the time the search had).
    n_features_in_, feature_names_in_ :
        As in scikit-learn.
    estimators_, target_names_ : list
        Only after a fit with several targets (a 2-D y): one fitted clone per target column, and the columns'
        names (a DataFrame's, else ``y0``, ``y1`` …). The attributes above are then lists, one entry per
        target, and ``predict`` returns one column per target.

    Examples
    --------
    >>> import numpy as np
    >>> from gensr import GenSRRegressor
    >>> X = np.random.default_rng(0).uniform(1, 5, size=(200, 3))
    >>> y = X[:, 0] * X[:, 1] / X[:, 2]
    >>> model = GenSRRegressor(max_time=30, random_state=0, verbose=0).fit(X, y)  # doctest: +SKIP
    >>> model.sympy()  # doctest: +SKIP
    x0*x1/x2
    """

    def __init__(self, *, checkpoint: str | Path | None = None, max_time: float | None = None,
                 max_generations: int | None = None,
                 population_size: int | None = None, sigma0: float | None = None, parsimony: float | None = None,
                 model_selection: str = "noise", r2_threshold: float = 0.99, snap_constants: bool = True,
                 nan_policy: str = "raise", device: str | None = None, random_state: Any = None, verbose: int = 1,
                 warm_start: bool = False, callback: Any = None, search_config: Any = None, seeds: Any = None,
                 deterministic: bool | None = None, X_units: Any = None, y_units: str | None = None,
                 loss: Any = "mse", huber_delta: float = 1.0, unary_operators: Any = None,
                 binary_operators: Any = None, maxsize: int | None = None, n_jobs: int | None = None):
        self.checkpoint = checkpoint
        self.max_time = max_time
        self.max_generations = max_generations
        self.population_size = population_size
        self.sigma0 = sigma0
        self.parsimony = parsimony
        self.model_selection = model_selection
        self.r2_threshold = r2_threshold
        self.snap_constants = snap_constants
        self.nan_policy = nan_policy
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.callback = callback
        self.search_config = search_config
        self.seeds = seeds
        self.deterministic = deterministic
        self.X_units = X_units
        self.y_units = y_units
        self.loss = loss
        self.huber_delta = huber_delta
        self.unary_operators = unary_operators
        self.binary_operators = binary_operators
        self.maxsize = maxsize
        self.n_jobs = n_jobs

    def __new__(cls, *args: Any, **kwargs: Any) -> GenSRRegressor:
        """Checks the keywords before ``__init__`` (which only stores them, as scikit-learn asks): PySR's
        names get a one-line TypeError naming gensr's setting, other unknown names the closest parameter."""
        unknown = {k: v for k, v in kwargs.items() if k not in cls._get_param_names()}
        if unknown:
            raise TypeError(given.unknown_keywords(unknown, cls._get_param_names()))
        return super().__new__(cls)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.allow_nan = self.nan_policy == "drop"
        tags.regressor_tags.poor_score = True
        return tags

    # ---- fit ------------------------------------------------------------------------------------
    def _resolve(self) -> Any:
        """The effective SearchConfig; validates the hyperparameters without modifying ``self``."""
        from gensr.pareto import RULES
        from gensr.search import SearchConfig

        if self.model_selection not in RULES:
            raise ValueError(f"model_selection={self.model_selection!r}; choose from {list(RULES)}")
        if self.nan_policy not in ("raise", "drop"):
            raise ValueError(f"nan_policy={self.nan_policy!r}; choose 'raise' or 'drop'")
        if self.max_time is not None and not (isinstance(self.max_time, (int, float)) and self.max_time > 0):
            raise ValueError(f"max_time must be a positive number of seconds, got {self.max_time!r}")
        base = self.search_config if self.search_config is not None else SearchConfig()
        if not isinstance(base, SearchConfig):
            raise TypeError(f"search_config must be a gensr.search.SearchConfig, got {type(base).__name__}")
        changes: dict[str, Any] = {}
        for name, key, cast in (("max_time", "budget.max_time", float),
                                ("max_generations", "budget.max_generations", int),
                                ("population_size", "cma.popsize", int), ("sigma0", "cma.sigma0", float),
                                ("parsimony", "parsimony", float), ("device", "device", str),
                                ("deterministic", "budget.deterministic", bool), ("maxsize", "maxsize", int)):
            if getattr(self, name) is not None:
                changes[key] = cast(getattr(self, name))
        if self.unary_operators is not None or self.binary_operators is not None:
            from gensr.language import allowed_operators

            changes["operators"] = tuple(sorted(allowed_operators(self.unary_operators, self.binary_operators)))
        return base.replace(**changes)

    def _validated(self, X: Any, y: Any, sample_weight: Any = None) -> tuple[np.ndarray, np.ndarray, Any]:
        """Checked float64 X and y, and the sample weights of their rows (None: unweighted), scaled to mean 1.

        NaN rows may be dropped (``nan_policy="drop"``); their weights go with them."""
        given.check_frame(X)
        if y is None:  # sklearn's own message: this estimator requires y
            validate_data(self, X, y, y_numeric=True)
        y_arr = given.target(y)
        flat = y_arr.ravel() if y_arr.ndim == 2 and y_arr.shape[1] == 1 else y_arr
        finite_y = np.isfinite(flat) if flat.ndim == 1 else np.ones(len(flat), dtype=bool)
        rows = np.arange(len(flat))
        if self.nan_policy == "drop" and not finite_y.all() and given.n_rows(X) == len(flat):
            X = X.iloc[finite_y] if hasattr(X, "iloc") else np.asarray(X)[finite_y]  # y's NaN rows first
            y_arr, rows, finite_y = y_arr[finite_y], rows[finite_y], finite_y[finite_y]
            flat = y_arr.ravel() if y_arr.ndim == 2 and y_arr.shape[1] == 1 else y_arr
        # sklearn rejects a NaN in y outright; ours is checked below, with the column names
        y_safe = np.where(finite_y, flat, 0.0).reshape(y_arr.shape) if flat.ndim == 1 else y_arr
        X, y_safe = validate_data(self, X, y_safe, y_numeric=True, dtype=np.float64, ensure_all_finite=False,
                                  ensure_min_samples=1)
        y = np.where(finite_y, np.asarray(y_safe, dtype=np.float64), np.nan)
        names = [str(n) for n in getattr(self, "feature_names_in_", [f"x{i}" for i in range(X.shape[1])])]
        keep = finite_rows(X, y, names, self.nan_policy)
        if not keep.all():
            log.info("dropping %d rows with NaN or inf", int((~keep).sum()))
            X, y, rows = X[keep], y[keep], rows[keep]
        check_rows(y)
        weights = check_weights(sample_weight, len(flat), min_nonzero=1)  # one per input row, then the rows kept
        return X, y, (None if weights is None else check_weights(weights[rows], len(y)))

    def fit(self, X: Any, y: Any, sample_weight: Any = None, X_units: Any = None,
            y_units: str | None = None) -> GenSRRegressor:
        """Search for equations explaining ``y`` from ``X``; returns ``self``.

        ``max_time`` counts from this call. Bad input fails here before torch is imported. Ctrl-C during
        the search keeps what was found: the fit returns with the front so far (and a warning).

        A 2-D ``y`` of k > 1 columns fits each column in turn (``estimators_``), each with an even share of
        what is left of ``max_time``; ``y_units`` may then be one unit per target.

        ``sample_weight`` (n,) non-negative row weights: constants are fitted by weighted least squares, and
        the losses, R² and the choice among the front are weighted (rows of weight 0 are ignored).

        ``X_units`` / ``y_units`` override the parameters of the same names for this fit (units of the
        columns and of the target; an unknown unit, a wrong count or a unit for a column that does not exist
        is a ValueError before anything runs).
        """
        start = time.perf_counter()
        if given.n_targets(y) > 1:
            return self._fit_targets(X, y, sample_weight, X_units, y_units, start)
        for name in ("estimators_", "target_names_"):  # a former fit's several targets
            self.__dict__.pop(name, None)
        from gensr.loss import make_loss

        config = self._resolve()
        loss = make_loss(self.loss, huber_delta=self.huber_delta)
        deadline = Deadline(config.budget.max_time, t0=start, deterministic=config.budget.deterministic)
        previous = self._warm_seeds()
        X, y, weights = self._validated(X, y, sample_weight)
        names = [str(n) for n in getattr(self, "feature_names_in_", [f"x{i}" for i in range(X.shape[1])])]
        units = given.units(self.X_units if X_units is None else X_units, self.y_units if y_units is None else y_units,
                       names)
        from gensr.search import search

        if loss.kind == "relative" and np.any(y == 0):
            raise ValueError(f"loss='relative' divides by y, and y is 0 on {int(np.sum(y == 0))} rows")
        x_scale, y_scale = extreme_scales(X), float(extreme_scales(y[:, None])[0])
        loss = loss.scaled(y_scale)
        X, y = X / x_scale, y / y_scale  # extreme scales are fitted near 1 and mapped back in the front
        rng = np.random.default_rng(check_random_state(self.random_state).randint(0, 2**31 - 1))
        selected = np.arange(X.shape[1])
        if X.shape[1] > MAX_FEATURES:
            selected = np.sort(rank_features(X, y, rng)[:MAX_FEATURES])
            msg = (f"{X.shape[1]} features exceed the search's {MAX_FEATURES}; using the {MAX_FEATURES} most "
                   "informative by mutual information")
            warnings.warn(msg, UserWarning, stacklevel=2)
        if previous and not np.array_equal(previous[0], selected):
            previous = None  # another feature set: the old front does not apply
        user_seeds = given.user_seeds(self.seeds, names, selected)  # bad formulas fail before the model loads
        from gensr.checkpoint import load_cached

        model = load_cached(self.checkpoint, config.device or "cpu")
        sub_names = [names[i] for i in selected]
        # max_time covers the whole fit: the search's clock starts at this call (imports, validation and
        # loading count), and a small share is kept back for building the front (constant snapping), of which
        # 30 % for the held-out refits of the selection (gensr.validation: measured 0.01-0.02 s a formula)
        total = config.budget.max_time
        keep = total - max(total - max(0.05 * total, 0.6), 0.05)  # the deadline is the budget from here on
        search_deadline = deadline.reserve(keep)
        seeds = given.baselines(len(selected)) + user_seeds + (list(previous[1]) if previous else [])
        self.units_ = None if units is None else units.subset(selected)
        self.pi_groups_ = self.y_reference_ = None
        stopped = False  # Ctrl-C during the search on the Π groups: its equations are scored, nothing more runs
        if self.units_ is not None and self.units_.complete:
            found, stopped = self._reduced_search(model, X[:, selected], y, config, search_deadline, rng, weights,
                                                  loss)
            seeds += found
        kwargs = {"feature_names": sub_names, "extra_expressions": seeds, "sample_weight": weights, "loss": loss,
                  "deadline": search_deadline.reserve(math.inf) if stopped else search_deadline,
                  "progress": self.verbose > 0, "callback": self.callback}
        n_islands = self._n_islands()
        if n_islands > 1:  # islands on one deadline and one front (gensr.search.islands)
            from gensr.search.islands import parallel_search

            result = parallel_search(model, self.checkpoint, X[:, selected], y, config, n_islands=n_islands,
                                     rng=rng, **kwargs)
        else:
            result = search(model, X[:, selected], y, config, rng=rng, **kwargs)
        if stopped:
            result.stop["interrupted"] = 1.0
        self.selected_features_ = selected
        self.search_result_ = result
        self.n_iter_ = result.generations
        nf = result.noise_floor
        if nf is not None and len(result.front) and not deadline.expired():  # on the best formula's residuals
            from gensr.noise import NOISE_MODELS

            best = min((result.candidates[i] for i in result.front), key=lambda c: c.fit_loss)
            with np.errstate(all="ignore"):
                nf = NOISE_MODELS[config.budget.noise_model]().residual(
                    X[:, selected], y - best.expression.evaluate(X[:, selected]), nf, weights)
        self.equations_ = front_table(result, X[:, selected], y, sub_names, snap=self.snap_constants,
                                      deadline=deadline.reserve(0.3 * keep),
                                      scales=(x_scale[selected], y_scale), weights=weights,
                                      noise=nf, loss=loss, language=Language.of(config.operators, config.maxsize))
        if self.units_ is not None:
            from gensr.units import dimension_check

            self.equations_["consistent"] = [dimension_check(e, self.units_) for e in self.equations_["expression"]]
        with np.errstate(over="ignore", under="ignore"):
            unit = np.float64(y_scale) ** 2  # the floor in the user's units, if float64 holds it
        if nf is not None and len(self.equations_) and np.isfinite(unit) and unit > 0:  # the printed formulas
            nf = nf.bounded_by(float(self.equations_["loss"].min()) / float(unit), len(y))  # bound the noise
        ok = nf is not None and np.isfinite(unit)
        self.noise_floor_ = float(nf.mse * unit) if ok else float("nan")
        self.noise_floor_se_ = (math.inf if math.isinf(nf.se) else float(nf.se * unit)) if ok else float("nan")
        self._noise = (self.noise_floor_, self.noise_floor_se_, len(y))  # NaN (no floor): "noise" validates
        if not loss.is_mse:
            self._noise = (float("nan"), math.inf, len(y))  # the floor is an MSE: "noise" validates the loss
        self._power = loss.power
        # with another loss, the rules that read R² ("balanced", "simplest", exactness) read the loss's own:
        # 1 − loss / (the best constant's loss), in the user's units as the loss column
        self._loss0 = None if loss.is_mse else loss.baseline(y, weights)
        self.best_index_ = self._select(self.equations_, validator(  # held-out losses, computed if a rule asks
            list(self.equations_["expression"]), X[:, selected] * x_scale[selected], y * y_scale,
            loss=loss.scaled(1.0), weights=weights, deadline=deadline))
        row = self.equations_.iloc[self.best_index_]
        self.expression_ = row["expression"]
        self.constants_ = self.expression_.constants
        if "interrupted" in result.stop:
            warnings.warn("search interrupted: returning the equations found so far", UserWarning, stacklevel=2)
        elif config.budget.deterministic and deadline.bound:
            warnings.warn(f"max_time={total:g} s cut the deterministic search short, so the result is no longer "
                          "deterministic; raise max_time or lower max_generations", UserWarning, stacklevel=2)
        reported = NoiseFloor(self.noise_floor_, self.noise_floor_se_, len(y))  # in y's units
        unresolved = NoiseFloor(math.nan, math.inf, len(y))  # another loss: the MSE floor says nothing of it
        self.notes_ = notes(row, result, reported if loss.is_mse else unresolved, len(y), total)
        if self.verbose > 0:
            import sys

            stop = ", ".join(sorted(result.stop)) or "done"
            sys.stderr.write(f"gensr: {time.perf_counter() - start:.1f} s, {result.n_fitted} skeletons fitted, "
                             f"stopped by {stop}; {reported.describe()}; chosen: "
                             f"{row['equation']} (R² {row['r2']:.6g})\n")
            for note in self.notes_:
                sys.stderr.write(f"gensr: {note}\n")
        return self

    def _n_islands(self) -> int:
        """How many searches ``n_jobs`` asks for (joblib's reading: None is 1, or the active backend's)."""
        from joblib import effective_n_jobs

        if self.n_jobs is not None and not (isinstance(self.n_jobs, int) and not isinstance(self.n_jobs, bool)
                                            and self.n_jobs != 0):
            raise ValueError(f"n_jobs must be a non-zero integer or None, got {self.n_jobs!r}")
        return max(1, int(effective_n_jobs(self.n_jobs)))

    def _fit_targets(self, X: Any, y: Any, sample_weight: Any, X_units: Any, y_units: Any,
                     start: float) -> GenSRRegressor:
        """A 2-D y: one fit per column (``estimators_``, clones of this estimator), in turn, each with an even
        share of what is left of ``max_time``; ``equations_`` and the other results become lists."""
        from sklearn.base import clone

        total = self._resolve().budget.max_time
        given.check_frame(X)
        Y = given.target(y)
        k = Y.shape[1]
        if given.n_rows(X) != len(Y):
            raise ValueError(f"X has {given.n_rows(X)} rows and y has {len(Y)}")
        validate_data(self, X, dtype=np.float64, ensure_all_finite=False)  # n_features_in_, feature_names_in_
        names = [str(c) for c in getattr(y, "columns", [f"y{j}" for j in range(k)])]
        if isinstance(y_units, (list, tuple)) and len(y_units) != k:
            raise ValueError(f"y_units has {len(y_units)} units for {k} targets")
        units = self.y_units if y_units is None else y_units
        previous = getattr(self, "estimators_", None)
        warm = self.warm_start and previous is not None and len(previous) == k
        each: list[GenSRRegressor] = []
        for j in range(k):
            left = max((total - (time.perf_counter() - start)) / (k - j), 0.05)
            if each and "interrupted" in each[-1].search_result_.stop:
                left = 0.05  # Ctrl-C: the other targets get their baselines, and the fit returns
            sub = previous[j] if warm else clone(self)
            sub.set_params(max_time=left)
            if self.verbose > 0:
                import sys

                sys.stderr.write(f"gensr: target {names[j]} ({j + 1} of {k})\n")
            unit = units[j] if isinstance(units, (list, tuple)) else units
            each.append(sub.fit(X, Y[:, j], sample_weight=sample_weight, X_units=X_units, y_units=unit))
        self.estimators_, self.target_names_ = each, names
        for name in ("equations_", "best_index_", "expression_", "constants_", "selected_features_",
                     "search_result_", "n_iter_", "units_", "pi_groups_", "y_reference_", "noise_floor_",
                     "noise_floor_se_", "notes_"):
            setattr(self, name, [getattr(e, name) for e in each])
        return self

    def _warm_seeds(self) -> tuple[np.ndarray, list[Expression]] | None:
        """With ``warm_start``, the previous fit's features and front: they seed the next search."""
        if not self.warm_start or not hasattr(self, "equations_") or isinstance(self.equations_, list):
            return None
        return self.selected_features_, list(self.equations_["expression"])

    def _reduced_search(self, model: Any, X: np.ndarray, y: np.ndarray, config: Any, deadline: Deadline,
                        rng: np.random.Generator, weights: Any,
                        loss: Any) -> tuple[list[tuple[Expression, str]], bool]:
        """Search y/y_ref = F(π) over the Π groups of ``units_`` with a share of the budget; F's front,
        mapped back to the columns, seeds the main search (stage ``"units"``). The loss is the fit's where it
        means the same on y/y_ref (MSE, relative, absolute), else the absolute error (Huber's threshold and
        a callable are in y's units). Also says whether Ctrl-C stopped it."""
        from gensr.grammar import CONST, Node
        from gensr.loss import make_loss
        from gensr.search import search
        from gensr.units import pi_basis

        basis = pi_basis(self.units_, deadline.share(config.budget.units_share))
        if basis is None:
            warnings.warn("the target's units cannot be formed from the inputs' units (a dimensional constant the "
                          "data lack?); searching without the Π reduction", UserWarning, stacklevel=3)
            return [], False
        if basis.k == X.shape[1] and not any(basis.reference):
            return [], False  # nothing to reduce (all dimensionless): the search runs as without units
        basis = basis.oriented(X)
        self.pi_groups_ = basis.group_text()
        self.y_reference_ = basis.reference_text()
        X_pi, y_pi = basis.transform(X, y)
        if not (np.isfinite(X_pi).all() and np.isfinite(y_pi).all()):
            log.info("the Π groups are not finite on every row (a fractional power of a negative column?)")
            return [], False
        if basis.k == 0:  # y = C·y_ref: nothing left to search
            return [(basis.lift(Expression(Node(CONST))), "units")], False
        share = config.budget.units_share
        changes = {"budget.max_generations": max(1, round(config.budget.generations * share))} \
            if config.budget.deterministic else {}
        result = search(model, X_pi, y_pi, config.replace(**changes), rng=rng, feature_names=self.pi_groups_,
                        extra_expressions=given.baselines(basis.k), deadline=deadline.share(share),
                        sample_weight=weights,
                        loss=loss if loss.kind in ("mse", "relative", "mae") else make_loss("mae"))
        log.info("units: %d groups %s, y_ref %s; %.1f s, stopped by %s", basis.k, self.pi_groups_,
                 self.y_reference_, result.timings.get("total", float("nan")), sorted(result.stop))
        return [(basis.lift(result.candidates[i].expression), "units") for i in result.front], \
            "interrupted" in result.stop

    def _select(self, table: Any, validation: Any = None) -> int:
        """The row chosen by ``model_selection`` (with a ``loss`` other than MSE, its R² is the loss's own,
        1 − loss / the best constant's loss). A choice that is not exact (R² < 1 − 1e-9) and fails just
        beyond the data's range (``extrapolates`` False) gives way to the rule's choice among the rows that
        extrapolate; then, with units, the simplest dimensionally consistent row within 1e-4 of its R²
        replaces an inconsistent choice."""
        from gensr.pareto import select_model

        loss, noise = table["loss"].to_numpy(float), getattr(self, "_noise", None)
        n_rows = noise[2] if noise is not None else None
        r2 = table["r2"].to_numpy(float)
        loss0 = getattr(self, "_loss0", None)
        if loss0 is not None and loss0 > 0:
            r2 = 1.0 - loss / loss0
        if not np.all(np.isfinite(loss)) or np.any((loss == 0) & (r2 < 1 - 1e-10)):
            # y beyond 1e154 or below 1e-154: its MSE overflows or underflows float64; 1 − R² ranks the same
            loss, noise = 1.0 - r2, None
        n_constants = np.array([e.n_constants for e in table["expression"]]) if "expression" in table else None

        def choose(rows: np.ndarray) -> int:
            return int(rows[select_model(table["complexity"].to_numpy()[rows], loss[rows],
                                         r2[rows], rule=self.model_selection,
                                         r2_floor=self.r2_threshold, noise=noise,
                                         n_constants=None if n_constants is None else n_constants[rows],
                                         n_rows=n_rows, power=getattr(self, "_power", 2.0),
                                         validation=validation and (lambda idx: validation(rows[idx])))])

        i = choose(np.arange(len(table)))
        safe = np.flatnonzero(table["extrapolates"].to_numpy(bool)) if "extrapolates" in table else np.zeros(0, int)
        if len(safe) and i not in safe and r2[i] < 1 - 1e-9:
            i = choose(safe)
        if "consistent" in table and not table["consistent"].iloc[i]:
            near = np.flatnonzero(table["consistent"].to_numpy(bool) & (table["r2"].to_numpy() >= table["r2"].iloc[i]
                                                                        - 1e-4))
            if len(near):
                i = int(near[0])  # the front is ordered simplest first
        return i

    # ---- use (the rest is FrontReadout's) ---------------------------------------------------------
    def predict(self, X: Any, index: int | None = None) -> np.ndarray:
        """Predictions of the chosen equation, or of row ``index`` of ``equations_``; with several targets,
        one column per target."""
        if (each := self._per_target()) is not None:
            return np.column_stack([e.predict(X, index) for e in each])
        row = self._row(index)
        given.check_frame(X)
        X = validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite=self.nan_policy == "raise")
        return row["expression"].evaluate(X[:, self.selected_features_])


# the class's signature is its parameters' (``__new__`` takes any keyword only to name the wrong ones)
GenSRRegressor.__signature__ = inspect.signature(GenSRRegressor.__init__).replace(  # type: ignore[attr-defined]
    parameters=list(inspect.signature(GenSRRegressor.__init__).parameters.values())[1:])
