"""The Pareto front as users read it: readable forms, the front table, and its plot.

The search returns every fitted candidate and the indices of its complexity–MSE front
(:class:`gensr.search.SearchResult`). :func:`front_table` turns that front into the estimator's
``equations_``: constants snapped to simple forms when that costs no accuracy, folded into the printed
form (so the complexity is the text's), mapped back to the user's units, and only the rows materially more
accurate than every simpler one. :func:`plot_front` draws it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gensr.deadline import Deadline
from gensr.grammar import Expression

__all__ = ["exact_floor", "extreme_scales", "front_table", "plot_front", "unscaled"]


def front_table(result: Any, X: np.ndarray, y: np.ndarray, names: list[str], *, snap: bool = True,
                deadline: Deadline | None = None, scales: tuple[np.ndarray, float] | None = None,
                weights: np.ndarray | None = None) -> Any:
    """The front of a :class:`~gensr.search.SearchResult` as users read it (``equations_``).

    With ``snap``, constants are snapped to simple forms when that costs no accuracy
    (:func:`gensr.snapping.snap_if_no_loss`) and folded into the tree, so the complexity is the printed
    formula's. ``equation`` has short constants, ``sympy_format`` and ``expression`` full precision; a row is
    kept only if it is materially more accurate than every simpler one. Once ``deadline`` has passed, the
    remaining rows are left unsnapped. With ``scales`` (X and y were divided by them for the search), every
    equation is mapped back to the user's units."""
    import pandas as pd

    from gensr.snapping import snap_if_no_loss

    rows = []
    factor = 1.0  # the MSE in the user's units is the scaled one times y_scale², if float64 holds that
    if scales is not None:
        with np.errstate(over="ignore", under="ignore"):
            f = np.float64(scales[1]) ** 2
        factor = float(f) if np.isfinite(f) and f > 0 else 1.0
    for i in result.front:
        cand = result.candidates[i]
        expr, snapped = cand.expression, None
        if snap and expr.n_constants and (deadline is None or not deadline.expired()):
            values, snapped = snap_if_no_loss(expr.torch_fn(), expr.constants, X, y, weights=weights)
            expr = expr.with_constants(values)
        sym = _sympy_with_snaps(expr, names, snapped)
        expr = _folded(expr, sym, names, X)
        loss = cand.mse
        if scales is not None and (np.any(scales[0] != 1) or scales[1] != 1):
            expr = unscaled(expr, *scales)
            sym = expr.to_sympy(names)
            expr = _folded(expr, sym, names, X * scales[0])
            loss = cand.mse * factor
        rows.append({"complexity": expr.complexity, "loss": loss, "r2": _clean(cand.r2),
                     "score": cand.score, "equation": _short(sym), "sympy_format": sym, "expression": expr,
                     "stage": cand.stage, "found_at": cand.found_at})
    table = pd.DataFrame(rows, columns=["complexity", "loss", "r2", "score", "equation", "sympy_format",
                                        "expression", "stage", "found_at"])
    table = table.sort_values(["complexity", "loss"], kind="stable")
    keep, best, seen = [], np.inf, set()
    noise = 1e-12 * float(np.var(y)) * factor  # exact fits differ only in round-off below this
    for idx, r in table.iterrows():  # folding can reorder complexities and make rows print alike
        better = not keep or best - r["loss"] > max(1e-9 * best, noise)
        if r["equation"] not in seen and better:
            keep.append(idx)
            best = min(best, r["loss"])
        seen.add(r["equation"])
    return table.loc[keep].reset_index(drop=True)


def plot_front(t: Any, chosen: int, ax: Any = None, *, path: str | Path | None = None) -> Any:
    """Loss (MSE) against complexity along the front table ``t``, with row ``chosen`` marked.

    Needs matplotlib (``pip install gensr[plot]``). Returns the Axes; with ``path``, also saves a PNG.
    """
    try:
        import matplotlib

        if ax is None and path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plot_front needs matplotlib: pip install 'gensr[plot]'") from None
    from matplotlib.ticker import MaxNLocator

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    loss = t["loss"].to_numpy(dtype=float)
    floor = exact_floor(loss, t["r2"].to_numpy(dtype=float))
    exact = loss <= floor
    shown = np.maximum(loss, floor)  # exact members sit on the floor, not at 1e-300
    ax.step(t["complexity"], shown, where="post", marker="o", color="tab:blue", label="front")
    if exact.any():
        ax.plot(t["complexity"][exact], shown[exact], marker="o", ms=9, mfc="none", color="tab:green",
                linestyle="none", label="exact to float precision")
        ax.axhline(floor, color="0.6", lw=0.8, ls=":")
    i = chosen
    ax.plot([t["complexity"].iloc[i]], [shown[i]], marker="*", ms=16, color="tab:red",
            label=f"chosen: {t['equation'].iloc[i][:40]}", linestyle="none")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("complexity (nodes)")
    ax.set_ylabel("training MSE")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize=8, frameon=False, ncol=1)
    if path is not None:
        ax.figure.tight_layout()
        ax.figure.savefig(path, dpi=120, bbox_inches="tight")
    return ax


def exact_floor(loss: np.ndarray, r2: np.ndarray) -> float:
    """The MSE below which a front member is exact to float precision, on the data's scale: 1e-14·var(y).

    var(y) is read back from a non-exact member (MSE / (1 − R²)); a front of exact members only uses the
    largest loss, or 1.
    """
    inexact = (r2 < 1.0) & np.isfinite(loss) & (loss > 0)
    var_y = float(np.median(loss[inexact] / (1.0 - r2[inexact]))) if inexact.any() else float(np.max(loss, initial=0))
    return 1e-14 * (var_y if var_y > 0 else 1.0)


def _clean(r2: float) -> float:
    """R² at float noise of 0 (a constant model: 1.1e-16) reads as 0."""
    return 0.0 if abs(r2) < 1e-12 else float(r2)


def _short(sym: Any, digits: int = 5) -> str:
    """Text of a sympy expression with floats at ``digits`` significant digits (exact forms kept)."""
    import sympy

    floats = {f: sympy.Float(f, digits) for f in sym.atoms(sympy.Float)}
    return str(sym.xreplace(floats)) if floats else str(sym)


def _folded(expr: Expression, sym: Any, names: list[str], X: np.ndarray) -> Expression:
    """``expr`` as its printed (sympy) form, when that parses back to the same function with no more nodes:
    snapped unit constants disappear (``1.0*a*b/c`` is ``a*b/c``) and the complexity matches the text."""
    from gensr.formula import parse

    try:
        folded = parse(str(sym), names)
    except (ValueError, RecursionError):
        return expr
    if folded.complexity > expr.complexity or any(v >= X.shape[1] for v in folded.variables):
        return expr
    rows = X[: min(len(X), 256)]
    a, b = expr.evaluate(rows), folded.evaluate(rows)
    same = np.array_equal(np.isnan(a), np.isnan(b)) and np.allclose(a[~np.isnan(a)], b[~np.isnan(b)],
                                                                     rtol=1e-9, atol=1e-12)
    return folded if same else expr


def extreme_scales(X: np.ndarray) -> np.ndarray:
    """Per column, a power of ten near its largest magnitude when that is extreme (beyond 1e±6), else 1."""
    with np.errstate(divide="ignore"):
        top = np.max(np.abs(X), axis=0)
        exp10 = np.where(top > 0, np.round(np.log10(np.where(top > 0, top, 1.0))), 0.0)
    return np.where(np.abs(exp10) > 6, 10.0**exp10, 1.0)


def unscaled(expr: Expression, x_scale: np.ndarray, y_scale: float) -> Expression:
    """``y_scale · expr(x / x_scale)``: an equation found on scaled data, in the user's units."""
    from gensr.grammar import CONST, Node

    def walk(node: Node) -> Node:
        if node.token.startswith("x") and node.token[1:].isdigit():
            s = float(x_scale[int(node.token[1:])])
            return node if s == 1 else Node("mul", (Node(CONST, value=1.0 / s), node))
        return Node(node.token, tuple(walk(c) for c in node.children), node.value) if node.children else node

    root = walk(expr.root)
    return Expression(root if y_scale == 1 else Node("mul", (Node(CONST, value=float(y_scale)), root)))


def _sympy_with_snaps(expr: Expression, names: list[str], snapped: list[Any] | None) -> Any:
    """sympy form of ``expr``, with snapped constants as their exact forms (1/(2*pi) rather than 0.159)."""
    import sympy

    if not snapped:
        return expr.to_sympy(names)
    symbolic = expr.to_sympy(names, symbolic_constants=True)
    subs = {sympy.Symbol(f"c{k}", real=True): (s if s is not None else sympy.Float(v))
            for k, (s, v) in enumerate(zip(snapped, expr.constants))}
    return symbolic.xreplace(subs)
