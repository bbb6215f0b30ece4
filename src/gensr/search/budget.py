"""``Deadline``: the one wall-clock budget of a search, handed to every stage (the constant fitter included).

A deadline starts from a given ``t0`` (``time.perf_counter()`` at the user's call, so time spent before the
search began, such as importing torch and loading the model, is already counted) and records how the time
was split between named sections. Sections must not nest.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

__all__ = ["TIMING_KEYS", "Deadline"]

TIMING_KEYS = ("encode", "decode", "fit", "refine", "bookkeeping")


class Deadline:
    """Time left until ``t0 + max_time``, and seconds spent per section.

    Examples
    --------
    >>> d = Deadline(time.perf_counter(), 5.0)
    >>> d.expired(), 0 < d.remaining() <= 5.0
    (False, True)
    >>> with d.section("fit"):
    ...     pass
    >>> sorted(d.finish())[:2]
    ['bookkeeping', 'decode']
    """

    def __init__(self, t0: float, max_time: float):
        self.t0, self.deadline = t0, t0 + max_time
        self.timings = dict.fromkeys(TIMING_KEYS, 0.0)

    def remaining(self) -> float:
        return self.deadline - time.perf_counter()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def sub(self, share: float) -> float:
        """An absolute ``perf_counter`` time: ``share`` of what is left from now, for a move's own cap."""
        now = time.perf_counter()
        return now + max(0.0, self.deadline - now) * share

    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] += time.perf_counter() - start

    def finish(self) -> dict[str, float]:
        """Seconds per section; ``bookkeeping`` takes the rest, and ``total`` is the elapsed time."""
        total = self.elapsed()
        out = dict(self.timings)
        out["bookkeeping"] = max(0.0, total - sum(v for k, v in out.items() if k != "bookkeeping"))
        out["total"] = total
        return out
