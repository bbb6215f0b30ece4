"""Per-problem metrics: R², SRBench's symbolic-solution rule and both complexity definitions.

The symbolic rule follows SRBench v2.0's ``assess_symbolic_model.py`` (``docs/protocols.md``
§3): floats are rounded (|c| < 1e-4 → 0, others to 3 decimals), the model is simplified with
``ratio=1``, and a model is a solution when ``true − model`` is 0 or a constant, or ``model / true`` is a
constant. It is checked only when the test R² exceeds 0.5. Simplification can take very long on large
models, so it runs under a wall-clock limit (:func:`time_limit`); a model that hits it counts as not solved
and the reason is reported.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

SYMBOLIC_MIN_R2 = 0.5  # SRBench checks the symbolic rule only above this test R²
MAX_SIMPLIFY_NODES = 400  # larger models are not simplified (counted as not solved; SRBench would try for 1 h)



class SymbolicTimeout(Exception):
    """Raised inside :func:`time_limit` when the wrapped sympy work runs past its deadline."""


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`SymbolicTimeout` after ``seconds`` (Unix main thread only; elsewhere no limit).

    Uses ``SIGALRM`` with the previous handler and timer restored on exit, so it nests inside a caller's
    own alarm only by replacing it for the duration. It bounds the sympy checks only; the per-fit hard
    limit is a killed child process (:mod:`gensr.bench.child`), which works under every executor.
    """
    usable = (seconds is not None and seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        raise SymbolicTimeout(f"gave up after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def plain(expr: Any) -> Any:
    """``expr`` with every symbol replaced by an assumption-free Symbol of the same name."""
    import sympy

    return expr.xreplace({s: sympy.Symbol(s.name) for s in expr.free_symbols})


def round_floats(expr: Any) -> Any:
    """SRBench's rounding: floats with |c| < 1e-4 become 0, the others are rounded to 3 decimals."""
    import sympy

    return expr.xreplace({f: (sympy.Integer(0) if abs(f) < 1e-4 else sympy.Float(round(float(f), 3)))
                          for f in expr.atoms(sympy.Float)})


def node_count(expr: Any) -> int:
    """Nodes of the sympy tree (``preorder_traversal``), as SRBench's ``complexity``."""
    import sympy

    return sum(1 for _ in sympy.preorder_traversal(expr))


def simplified_complexity(model: Any, *, seconds: float | None = 30.0) -> float:
    """SRBench's simplified complexity: nodes after rounding floats and ``simplify(ratio=1)``; NaN if too big."""
    import sympy

    expr = round_floats(plain(model))
    if node_count(expr) > MAX_SIMPLIFY_NODES:
        return float(node_count(expr))
    try:
        with time_limit(seconds):
            expr = sympy.simplify(expr, ratio=1)
    except SymbolicTimeout:
        pass  # the unsimplified count is the honest fallback
    return float(node_count(expr))


def symbolic_solution(model: Any, truth: Any, *, seconds: float | None = 60.0) -> tuple[bool, str]:
    """SRBench's rule: ``truth − model`` simplifies to 0 or a constant, or ``model / truth`` is a constant.

    Returns ``(solved, note)``; the note says why a check could not be completed (too large, timed out).
    """
    import sympy

    if model is None:
        return False, "no model"
    model, truth = round_floats(plain(model)), round_floats(plain(truth))
    if node_count(model) > MAX_SIMPLIFY_NODES:
        return False, f"model has more than {MAX_SIMPLIFY_NODES} nodes; not simplified"
    try:
        with time_limit(seconds):
            model = sympy.simplify(model, ratio=1)
            if str(model) in ("0", "nan", "zoo") or model.has(sympy.zoo, sympy.nan):
                return False, ""
            diff = round_floats(truth - model)
            frac = round_floats(model / truth)
            if not diff.is_constant() or frac.is_constant():
                diff = round_floats(sympy.simplify(diff, ratio=1))
            solved = str(diff) == "0" or diff.is_constant() or frac.is_constant()
            return bool(solved), ""
    except SymbolicTimeout as exc:
        return False, f"symbolic check {exc}"
    except (TypeError, ValueError, ArithmeticError, RecursionError) as exc:  # sympy's own failures, e.g. an
        return False, f"symbolic check failed: {type(exc).__name__}: {exc}"  # "Invalid NaN comparison"
