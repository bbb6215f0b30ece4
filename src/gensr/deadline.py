"""``Deadline``: the one wall-clock budget of a fit, passed as one object from the estimator down to the
constant fitters and the g_eval steps.

A deadline ends ``max_time`` seconds after ``t0`` (``time.perf_counter()`` at the user's call, so time spent
before the search began, such as importing torch and loading the model, is already counted). It never turns
into a float of seconds or an absolute time on the way down: a stage that needs a smaller cap derives a
deadline from it (:meth:`Deadline.share`, :meth:`Deadline.reserve`, :meth:`Deadline.at_least`), and the
derived one shares the parent's section timings and its record of whether the clock cut a stage short.

**Deterministic mode** (``deterministic=True``): every stage is bounded by counts (generations, beam sizes,
fit iterations), so a seed gives the same result on a fast or a slow machine. The deadline is then only a
ceiling: :meth:`share` caps nothing, and :attr:`bound` says whether the ceiling cut anything (the estimator
then warns that the result is no longer deterministic).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator

__all__ = ["TIMING_KEYS", "Deadline"]

TIMING_KEYS = ("encode", "decode", "fit", "refine", "bookkeeping")


class _Shared:
    """What a deadline and the ones derived from it share: seconds per section, and whether the clock cut."""

    def __init__(self) -> None:
        self.timings = dict.fromkeys(TIMING_KEYS, 0.0)
        self.bound = False


class Deadline:
    """Time left until ``t0 + max_time``, and seconds spent per section.

    Examples
    --------
    >>> d = Deadline(5.0)
    >>> d.expired(), 0 < d.remaining() <= 5.0
    (False, True)
    >>> with d.section("fit"):
    ...     pass
    >>> sorted(d.finish())[:2]
    ['bookkeeping', 'decode']
    >>> Deadline().expired(), Deadline(5.0, deterministic=True).share(0.1).remaining() > 4
    (False, True)
    """

    def __init__(self, max_time: float = math.inf, *, t0: float | None = None, deterministic: bool = False,
                 _shared: _Shared | None = None, _end: float | None = None):
        self.t0 = time.perf_counter() if t0 is None else t0
        self.end = self.t0 + max_time if _end is None else _end
        self.deterministic = deterministic
        self._shared = _Shared() if _shared is None else _shared

    def _derived(self, end: float) -> Deadline:
        return Deadline(t0=self.t0, deterministic=self.deterministic, _shared=self._shared, _end=end)

    # ---- the clock ----------------------------------------------------------------------------------
    def remaining(self) -> float:
        return self.end - time.perf_counter()

    def expired(self) -> bool:
        """True once the deadline has passed (and then :attr:`bound` is set: the clock cut a stage)."""
        if self.remaining() > 0:
            return False
        self._shared.bound = True
        return True

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    @property
    def seconds(self) -> float:
        """The budget: seconds from ``t0`` to the end (what a stop at this deadline reports as ``max_time``)."""
        return self.end - self.t0

    @property
    def bound(self) -> bool:
        """Whether any check of this deadline (or of one derived from it) found it expired."""
        return self._shared.bound

    # ---- derived deadlines --------------------------------------------------------------------------
    def share(self, fraction: float) -> Deadline:
        """A cap for one move: ``fraction`` of what is left from now (in deterministic mode, no extra cap)."""
        if self.deterministic:
            return self
        now = time.perf_counter()
        return self._derived(now + max(0.0, self.end - now) * fraction)

    def reserve(self, seconds: float) -> Deadline:
        """This deadline ended ``seconds`` earlier: the search's part, keeping the rest for what follows."""
        return self._derived(self.end - seconds)

    def at_least(self, seconds: float) -> Deadline:
        """This deadline, but never less than ``seconds`` from now (fits that must run even when late)."""
        return self._derived(max(self.end, time.perf_counter() + seconds))

    # ---- accounting ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[None]:
        """Add the time spent in the block to section ``name`` (sections must not nest)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self._shared.timings[name] += time.perf_counter() - start

    def finish(self) -> dict[str, float]:
        """Seconds per section; ``bookkeeping`` takes the rest, and ``total`` is the elapsed time."""
        total = self.elapsed()
        out = dict(self._shared.timings)
        out["bookkeeping"] = max(0.0, total - sum(v for k, v in out.items() if k != "bookkeeping"))
        out["total"] = total
        return out
