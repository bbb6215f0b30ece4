"""Operon (``pyoperon``) and gplearn behind the :class:`FitOutcome` contract.

Both adapters use SRBench v2.0's settings for the ground-truth ("sym data") runs, scaled to a wall-clock
limit: the evaluation/generation budgets stay as SRBench set them, and the time limit stops the search unless
a budget or the method's own stopping rule does so first (Operon can use up 500,000 evaluations in seconds on
a few hundred rows). Sources (cavalab/srbench): ``experiment/methods/OperonRegressor.py``, ``gplearn.py`` and
their ground-truth overrides ``experiment/methods/tuned/{OperonRegressor,gplearn}.py`` with the tuned values
in ``tuned/params/_operonregressor.py`` and ``tuned/params/_gplearn.py``.

Operon (:data:`OPERON_SETTINGS`): population and pool 500, ``max_length`` 50, ``max_depth`` 10, balanced tree
creator (``btc``), tournament selection of size 5 for both parents, ``basic`` offspring generator,
``keep-best`` reinsertion, crossover probability 1.0 (internal-node probability 0.9), mutation probability
0.25 over six equally weighted mutation operators (onepoint, changevar, changefunc, insertsubtree,
replacesubtree, removesubtree: operon's default then, as a later dump of SRBench's tuned parameters lists it
in the mattsheng/Scalable_SR fork; pyoperon 0.6's default adds multipoint and discretepoint), objective R²
with linear scaling, 5 Levenberg–Marquardt iterations of local search per individual (SRBench's
``local_iterations=5``, called ``optimizer_iterations`` in pyoperon 0.6), symbols
``add,mul,aq,exp,log,sin,tanh,constant,variable`` (the ground-truth override), 500,000 evaluations and 100,000
generations ("just large enough"). Scaled to the limit: SRBench's 8 h ``time_limit`` becomes ``max_time =
floor(time_limit)`` (Operon's own clock, whole seconds; less any time the call has already spent, e.g.
importing scikit-learn on a first call, and at least 1; rounded down so that the call stays within the limit)
and ``n_threads = threads``. Operon can also end earlier on its own convergence threshold (``epsilon`` =
1e-5). SRBench's ground-truth file doubles the evaluations to 1,000,000; we keep the tuned 500,000 so that
both peers get the same 500,000-evaluation budget as gplearn's 1000 × 500 below.

gplearn (:data:`GPLEARN_SETTINGS`): population 1000, up to :data:`GPLEARN_MAX_GENERATIONS` = 500
generations, functions ``add, sub, mul, div, log, sqrt, sin, cos`` (the ground-truth override), tournament
size 20, ``init_depth`` (2, 6) half and half, mean absolute error, parsimony 0.001, p_crossover 0.9,
p_subtree/p_hoist/p_point mutation 0.01 each, p_point_replace 0.05, ``max_samples`` 1.0, stopping criterion
0.0. SRBench's ground-truth file multiplies population and generations by √2; we keep the tuned 1000 and
500. gplearn has no clock, so the adapter fits with ``warm_start=True`` one generation at a time and stops
when the next generation (estimated from the last one) would pass ``time_limit``, after 500 generations, or
when gplearn's stopping criterion fires. ``low_memory=True`` (SRBench left it False) only drops the
ancestry bookkeeping of old generations, whose pruning grows quadratically with the generation count; the
search is unchanged. ``n_jobs = threads``.

Scaling: SRBench standardises X and y for black-box problems only; on ground-truth data the adapters fit the
raw data, as here. Operon adds its own scale and intercept terms (linear scaling); they are part of the
returned tree, so they are in ``model``, ``predict`` and ``complexity``.

Complexity (``FitOutcome.complexity``) is each method's own node count of the returned tree: for Operon
``Tree.AdjustedLength`` (equal to ``stats_["model_complexity"]``), which counts every weighted variable
``w·x`` as 3 nodes, ``aq`` as 1 node and includes the scale/intercept nodes (SRBench's ``complexity``
comment says "scaling nodes not counted"; in pyoperon 0.6 they are part of ``model_``, so of the formula,
and are counted here); for gplearn
``_Program.length_``, the length of its prefix program, which equals SRBench's count of the program string
split at ``(`` and ``,``.

Evaluations: Operon's ``stats_["evaluation_count"]`` (fitness evaluations; the residual and Jacobian
evaluations of its local search are logged in ``info``); gplearn's population size × generations run.

Models: Operon's ``get_model_string`` with the variables named ``x0 …``; gplearn's program printed at full
precision (its ``str`` rounds constants to 3 decimals). Both are parsed by :mod:`gensr.bench.parsing`
(``sympy.parse_expr`` with an explicit name table), so names such as ``E``, ``I``, ``S`` or ``N`` can never
mean sympy objects. gplearn's protected ``div``, ``log``, ``sqrt`` and ``inv`` become the plain functions, as
SRBench does; where their argument is a number, the protected value is used, which is exact. A model that
cannot be converted is ``None`` with the reason in ``info["model_error"]``; ``info["model_agreement"]`` is the
fraction of training rows on which the formula reproduces the method's own predictions (rtol 1e-4), so a
formula that differs from what was scored (say gplearn's protected ``sqrt`` of a negative argument) is
visible.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from gensr.bench.outcome import FitOutcome
from gensr.bench.parsing import gplearn_to_sympy, operon_to_sympy
from gensr.bench.peers._common import Predictor, convert, jsonable, steps_within, training_arrays, whole_seconds_left

# SRBench v2.0 tuned Operon settings (tuned/params/_operonregressor.py) with the ground-truth symbol set
# (tuned/OperonRegressor.py); n_threads, max_time and random_state are set per call.
OPERON_SETTINGS: dict[str, Any] = {
    "allowed_symbols": "add,mul,aq,exp,log,sin,tanh,constant,variable",
    "population_size": 500,
    "pool_size": 500,
    "max_length": 50,
    "max_depth": 10,
    "initialization_method": "btc",
    "irregularity_bias": 0.0,
    "female_selector": "tournament",
    "male_selector": "tournament",
    "tournament_size": 5,
    "offspring_generator": "basic",
    "reinserter": "keep-best",
    "crossover_probability": 1.0,
    "crossover_internal_probability": 0.9,
    "mutation_probability": 0.25,
    "mutation": {"onepoint": 1.0, "changevar": 1.0, "changefunc": 1.0, "insertsubtree": 1.0,
                 "replacesubtree": 1.0, "removesubtree": 1.0},
    "objectives": ["r2"],
    "optimizer_iterations": 5,  # SRBench's local_iterations (Levenberg–Marquardt steps per individual)
    "brood_size": 10,  # unused by the basic generator; listed as SRBench lists it
    "comparison_factor": 0,
    "max_selection_pressure": 100,
    "max_evaluations": 500_000,
    "generations": 100_000,  # "just large enough since we have an evaluation budget"
}
OPERON_PRECISION = 20  # decimals printed by get_model_string; constants are float32, so this is exact enough

# SRBench v2.0 tuned gplearn settings (tuned/params/_gplearn.py) with the ground-truth function set
# (tuned/gplearn.py); generations, warm_start, n_jobs and random_state are set by the adapter.
GPLEARN_SETTINGS: dict[str, Any] = {
    "population_size": 1000,
    "function_set": ("add", "sub", "mul", "div", "log", "sqrt", "sin", "cos"),
    "tournament_size": 20,
    "init_depth": (2, 6),
    "init_method": "half and half",
    "metric": "mean absolute error",
    "parsimony_coefficient": 0.001,
    "p_crossover": 0.9,
    "p_subtree_mutation": 0.01,
    "p_hoist_mutation": 0.01,
    "p_point_mutation": 0.01,
    "p_point_replace": 0.05,
    "max_samples": 1.0,
    "stopping_criteria": 0.0,
    "low_memory": True,  # SRBench: False; only drops ancestry records, see the module docstring
    "verbose": 0,
}
GPLEARN_MAX_GENERATIONS = 500

_EXTRA = "install the benchmark peers with `pip install 'gensr[peers]'`"


def gplearn_program_string(program: Any) -> str:
    """A gplearn ``_Program`` as its usual prefix string, but with constants at full precision (``repr``).

    gplearn's own ``str`` prints constants with 3 decimals, which would make the formula differ from the
    predictions that were scored.
    """
    parts: list[str] = []
    pending = [0]  # arguments still open per function on the stack (the root's slot is never closed)
    nodes = program.program
    for i, node in enumerate(nodes):
        if hasattr(node, "arity"):  # a gplearn _Function
            pending.append(node.arity)
            parts.append(f"{node.name}(")
            continue
        parts.append(f"X{node}" if isinstance(node, (int, np.integer)) else repr(float(node)))
        pending[-1] -= 1
        while len(pending) > 1 and pending[-1] == 0:
            pending.pop()
            pending[-1] -= 1
            parts.append(")")
        if i != len(nodes) - 1:
            parts.append(", ")
    return "".join(parts)


# --------------------------------------------------------------------------- adapters


def fit_pyoperon(X: np.ndarray, y: np.ndarray, *, time_limit: float, seed: int, threads: int = 1) -> FitOutcome:
    """Fit Operon with SRBench v2.0's settings within ``time_limit`` seconds (Operon's own clock).

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Training inputs, raw scale.
    y : ndarray of shape (n,)
        Training targets.
    time_limit : float
        Seconds for the whole call; Operon gets ``max_time = floor(time_limit - time spent so far)``, at least 1.
    seed : int
        Operon's ``random_state``.
    threads : int, default=1
        Operon's ``n_threads``.

    Returns
    -------
    FitOutcome
        Predictions of Operon's best tree (linear scaling included), the tree as sympy, its
        ``AdjustedLength``, Operon's fitness-evaluation count, and ``info`` with the generations run, the
        local-search evaluation counts and the settings.

    Raises
    ------
    ImportError
        If pyoperon is not installed.
    """
    start = time.perf_counter()
    try:
        from pyoperon.sklearn import SymbolicRegressor
    except ImportError as exc:
        raise ImportError(f"fit_pyoperon needs pyoperon; {_EXTRA}") from exc

    X, y = training_arrays(X, y)
    # Operon's clock starts in fit; the time already spent here (importing scikit-learn on a first call) counts
    max_time = whole_seconds_left(time_limit, start)
    params = {**OPERON_SETTINGS, "max_time": max_time, "n_threads": int(threads), "random_state": int(seed)}
    est = SymbolicRegressor(**params)
    est.fit(X, y)
    fit_s = time.perf_counter() - start

    stats = dict(getattr(est, "stats_", None) or getattr(est, "_stats", None) or {})
    info: dict[str, Any] = {
        "generations": int(stats.get("generations", -1)),
        "residual_evaluations": int(stats.get("residual_evaluations", -1)),
        "jacobian_evaluations": int(stats.get("jacobian_evaluations", -1)),
        "model_length": int(stats.get("model_length", est.model_.Length)),
        "fit_s": round(fit_s, 3),
        "settings": jsonable(params),
    }
    predict = Predictor(est)
    names = [f"x{i}" for i in range(X.shape[1])]

    def to_sympy() -> Any:
        with warnings.catch_warnings():  # "Model contains no variables" for constant models
            warnings.simplefilter("ignore", UserWarning)
            text = est.get_model_string(est.model_, OPERON_PRECISION, names)
        return operon_to_sympy(text, X.shape[1])

    model = convert(to_sympy, predict(X), X, info)
    evaluations = stats.get("evaluation_count")
    return FitOutcome(predict=predict, model=model, complexity=int(est.model_.AdjustedLength),
                      evaluations=int(evaluations) if evaluations is not None else None, info=info)


def fit_gplearn(X: np.ndarray, y: np.ndarray, *, time_limit: float, seed: int, threads: int = 1,
                max_generations: int = GPLEARN_MAX_GENERATIONS) -> FitOutcome:
    """Fit gplearn with SRBench v2.0's settings, adding generations while they fit in ``time_limit``.

    gplearn has no clock: the adapter refits with ``warm_start=True`` one generation at a time and stops
    when the elapsed time plus the duration of the last generation would pass ``time_limit``, after
    :data:`GPLEARN_MAX_GENERATIONS` generations, or when gplearn's own stopping criterion fires. The first
    generation always runs.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Training inputs, raw scale.
    y : ndarray of shape (n,)
        Training targets.
    time_limit : float
        Seconds for the whole call (import and model conversion included).
    seed : int
        gplearn's ``random_state``.
    threads : int, default=1
        gplearn's ``n_jobs``.
    max_generations : int, default=GPLEARN_MAX_GENERATIONS
        Generation cap (tests bound the work by it rather than by the clock).

    Returns
    -------
    FitOutcome
        Predictions of gplearn's best program, the program as sympy, its node count (``length_``),
        population × generations as evaluations, and ``info`` with the generations, the stop reason and
        the settings.

    Raises
    ------
    ImportError
        If gplearn is not installed.
    """
    start = time.perf_counter()
    try:
        from gplearn.genetic import SymbolicRegressor
    except ImportError as exc:
        raise ImportError(f"fit_gplearn needs gplearn; {_EXTRA}") from exc

    X, y = training_arrays(X, y)
    settings = dict(GPLEARN_SETTINGS)
    est = SymbolicRegressor(**settings, generations=1, warm_start=True, n_jobs=int(threads),
                            random_state=int(seed))

    def generation(i: int) -> bool:
        est.set_params(generations=i + 1)
        est.fit(X, y)
        # mean absolute error: lower is better, and gplearn stops at or below the criterion
        return bool(est.run_details_["best_fitness"][-1] <= settings["stopping_criteria"])

    _, last_s, stop = steps_within(generation, max_steps=max_generations, time_limit=time_limit, start=start,
                                   cap="max_generations")
    generations = len(est._programs)
    program = est._program
    info: dict[str, Any] = {
        "generations": int(generations),
        "stop": stop,
        "last_generation_s": round(last_s, 4),
        "best_fitness": float(est.run_details_["best_fitness"][-1]),
        "fit_s": round(time.perf_counter() - start, 3),
        "settings": jsonable({**settings, "max_generations": int(max_generations), "n_jobs": int(threads),
                               "random_state": int(seed)}),
    }
    predict = Predictor(est)
    model = convert(lambda: gplearn_to_sympy(gplearn_program_string(program), X.shape[1]), predict(X), X, info)
    return FitOutcome(predict=predict, model=model, complexity=int(program.length_),
                      evaluations=int(settings["population_size"]) * int(generations), info=info)
