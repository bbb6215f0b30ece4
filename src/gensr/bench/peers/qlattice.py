"""QLattice (Abzu's ``feyn``; ``pip install feyn``), the 2022 SRBench competition's synthetic-track winner,
behind the :class:`FitOutcome` contract. feyn's community licence covers academic, personal and
non-commercial use only, so it is not in any gensr extra: install it yourself if that licence fits.

Settings (:data:`QLATTICE_SETTINGS`): its SRBench entry (``experiment/methods/qlattice/regressor.py``):
regression, 200 epochs, ``max_complexity`` 10, criterion ``wide_parsimony``; one thread here. That entry
cuts ``auto_run`` with ``SIGALRM`` at its time limit and keeps the models fitted so far. The adapter runs the
same epochs through feyn's public steps (priors from the data, then per epoch: sample, fit, prune, update)
and stops before an epoch that would pass ``time_limit`` (estimated from the last epoch), after 200 epochs.
``random_state`` is the seed. The model is the first of ``get_diverse_models`` (the best by the criterion),
as ``sympify(signif=17)``; complexity is the node count of that sympy tree; evaluations are the models
sampled.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from gensr.bench.outcome import FitOutcome
from gensr.bench.peers._common import convert, jsonable, steps_within, training_arrays

QLATTICE_SETTINGS: dict[str, Any] = {"kind": "regression", "n_epochs": 200, "max_complexity": 10,
                                     "criterion": "wide_parsimony", "threads": 1}
_INSTALL = "install it with `pip install feyn` (community licence: non-commercial use; see its EULA)"


class _ModelPredictor:
    """``X -> float64 predictions`` of a feyn model (it reads a DataFrame with the fit's column names)."""

    def __init__(self, model: Any, n_features: int) -> None:
        self.model, self.n_features = model, n_features

    def __call__(self, X: np.ndarray) -> np.ndarray:
        import pandas as pd

        frame = pd.DataFrame(np.asarray(X, dtype=np.float64), columns=[f"x{i}" for i in range(self.n_features)])
        with np.errstate(all="ignore"):
            return np.asarray(self.model.predict(frame), dtype=np.float64).reshape(-1)


def fit_qlattice(X: np.ndarray, y: np.ndarray, *, time_limit: float, seed: int, threads: int = 1,
                 max_epochs: int | None = None) -> FitOutcome:
    """Fit the QLattice (:data:`QLATTICE_SETTINGS`), adding epochs while they fit in ``time_limit``.

    ``max_epochs`` (default: the settings' 200) bounds the work for tests; ``threads`` is recorded, one is used.
    """
    start = time.perf_counter()
    logging.getLogger("feyn").setLevel(logging.WARNING)  # its licence banner and per-epoch progress
    try:
        import feyn
    except ImportError as exc:
        raise ImportError(f"fit_qlattice needs feyn; {_INSTALL}") from exc
    import pandas as pd

    X, y = training_arrays(X, y)
    settings = dict(QLATTICE_SETTINGS)
    epochs_max = settings["n_epochs"] if max_epochs is None else int(max_epochs)
    names = [f"x{i}" for i in range(X.shape[1])]
    data = pd.DataFrame(X, columns=names).assign(y=y)
    ql = feyn.QLattice(random_seed=int(seed))
    ql.update_priors(feyn.tools.estimate_priors(data, "y"))
    models: list[Any] = []
    sampled = 0

    def epoch(_: int) -> bool:
        nonlocal models, sampled
        new = ql.sample_models(names, "y", settings["kind"], max_complexity=settings["max_complexity"])
        sampled += len(new)
        models = feyn.prune_models(feyn.fit_models(models + new, data=data, criterion=settings["criterion"],
                                                   threads=settings["threads"]))
        ql.update(models)
        return False  # the QLattice has no stopping criterion of its own

    epochs, last_s, stop = steps_within(epoch, max_steps=epochs_max, time_limit=time_limit, start=start,
                                        cap="n_epochs")
    best = feyn.get_diverse_models(models)[0]
    info: dict[str, Any] = {"generations": epochs, "stop": stop, "last_epoch_s": round(last_s, 4),
                            "fit_s": round(time.perf_counter() - start, 3), "threads_requested": int(threads),
                            "settings": jsonable({**settings, "n_epochs": epochs_max, "random_seed": int(seed)})}
    predict = _ModelPredictor(best, X.shape[1])
    from gensr.bench.metrics import node_count

    model = convert(lambda: best.sympify(signif=17), predict(X), X, info)
    return FitOutcome(predict=predict, model=model, complexity=node_count(model) if model is not None else 0,
                      evaluations=sampled, info=info)
