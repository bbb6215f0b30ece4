"""Toy benchmark methods, loaded by import path ("toy_methods:broken") in the fit's child process."""

import time


def broken(X, y, *, time_limit, seed, threads=1):
    raise RuntimeError("boom")


def sleepy(X, y, *, time_limit, seed, threads=1):
    time.sleep(600)


def mean(X, y, *, time_limit, seed, threads=1, offset=0.0):
    """The training mean (plus ``offset``, a registered default option): a constant model of size 1."""
    import numpy as np
    import sympy

    from gensr.bench.outcome import FitOutcome

    c = float(np.mean(y)) + offset
    return FitOutcome(predict=lambda X: np.full(len(X), c), model=sympy.Float(c), complexity=1, evaluations=1,
                      info={"offset": offset})
