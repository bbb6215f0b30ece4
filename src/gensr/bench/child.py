"""One benchmark fit in a child process, so that the per-fit hard limit holds in every executor.

The runner pickles a request to the child's standard input (``python -m gensr.bench.child``); the child
fits the method, predicts the row sets it was given and pickles back the predictions, the formula (sympy),
its complexity, the evaluations, ``info`` and the fit's own wall time. A child still running at the hard
limit is killed, and the fit becomes an error row: this works the same in the in-process loop, a process
pool and on dask workers (where ``SIGALRM`` cannot reach the fit), and a killed fit never takes its worker
down with it. Anything the method prints goes to standard error.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from typing import Any

import numpy as np

__all__ = ["FitFailed", "HardTimeLimit", "request_fit"]


class FitFailed(RuntimeError):
    """The method raised in the child; the message is its ``Type: message``."""


class HardTimeLimit(FitFailed):
    """A fit ran past the hard per-fit limit and was killed."""


def request_fit(method: str, X: np.ndarray, y: np.ndarray, predict_on: list[np.ndarray], *, time_limit: float,
                seed: int, threads: int, options: dict[str, Any], hard_limit: float) -> dict[str, Any]:
    """Fit ``method`` on (X, y) in a child process; returns its result dict (see the module docstring).

    Raises :class:`HardTimeLimit` past ``hard_limit`` seconds and :class:`FitFailed` with the method's own
    error message when the fit failed.
    """
    request = {"method": method, "X": X, "y": y, "predict_on": predict_on, "time_limit": time_limit, "seed": seed,
               "threads": threads, "options": options}
    env = {**os.environ, **{v: str(threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}
    try:
        proc = subprocess.run([sys.executable, "-m", "gensr.bench.child"], input=pickle.dumps(request),
                              capture_output=True, timeout=hard_limit, env=env)
    except subprocess.TimeoutExpired:
        raise HardTimeLimit(f"killed at the hard per-fit limit of {hard_limit:g} s") from None
    if proc.returncode != 0 or not proc.stdout:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        raise FitFailed(f"the fit's process failed: {tail[0]}")
    result = pickle.loads(proc.stdout)
    if "error" in result:
        raise FitFailed(result["error"])
    return result


def _main() -> None:
    out = os.fdopen(os.dup(1), "wb")  # the result goes to the real stdout; prints of the method to stderr
    os.dup2(2, 1)
    request = pickle.load(sys.stdin.buffer)
    result: dict[str, Any]
    try:
        import torch

        torch.set_num_threads(int(request["threads"]))
        from gensr.bench.methods import fit_method

        start = time.perf_counter()
        fit = fit_method(request["method"], request["X"], request["y"], time_limit=request["time_limit"],
                         seed=request["seed"], threads=request["threads"], **request["options"])
        wall = time.perf_counter() - start
        with np.errstate(all="ignore"):
            predictions = [np.asarray(fit.predict(X), dtype=np.float64) for X in request["predict_on"]]
        result = {"predictions": predictions, "model": fit.model, "complexity": fit.complexity,
                  "evaluations": fit.evaluations, "info": fit.info, "wall_time": wall}
    except Exception as exc:  # the method's failure is reported, not a crash of the child
        result = {"error": f"{type(exc).__name__}: {exc}".replace("\n", " ")[:500]}
    out.write(pickle.dumps(result))
    out.close()


if __name__ == "__main__":
    _main()
