"""Toy benchmark methods, loaded by import path ("toy_methods:broken") in the fit's child process."""

import time


def broken(X, y, *, time_limit, seed, threads=1):
    raise RuntimeError("boom")


def sleepy(X, y, *, time_limit, seed, threads=1):
    time.sleep(600)
