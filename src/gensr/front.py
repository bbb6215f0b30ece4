"""The Pareto front as users read it: readable forms, the front table, and its plot.

The search returns every fitted candidate and the indices of its complexity–loss front
(:class:`gensr.search.SearchResult`). :func:`front_table` turns that front into the estimator's
``equations_``: constants snapped to simple forms when that costs no accuracy, folded into the printed
form (so the complexity is the text's), mapped back to the user's units, and only the rows materially more
accurate than every simpler one. :func:`plot_front` draws it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from gensr.deadline import Deadline
from gensr.grammar import Expression

SNAP_ROWS = 20_000  # snapping refits a member's constants and tests them on at most this many rows (a fixed draw)

__all__ = ["exact_floor", "extreme_scales", "front_table", "notes", "plot_front", "readable", "unscaled"]


def front_table(result: Any, X: np.ndarray, y: np.ndarray, names: list[str], *, snap: bool = True,
                deadline: Deadline | None = None, scales: tuple[np.ndarray, float] | None = None,
                weights: np.ndarray | None = None, noise: Any = None, loss: Any = None,
                language: Any = None) -> Any:
    """The front of a :class:`~gensr.search.SearchResult` as users read it (``equations_``).

    With ``snap``, constants are snapped to short forms the data cannot tell from their fits (within
    :data:`gensr.snapping.SNAP_Z` standard errors, :func:`gensr.snapping.snap_within_error`) and folded into
    the tree, so the complexity is the printed formula's (at equal complexity, the row with fewer fitted
    floats comes first). Standard errors mean something only when the
    residuals are noise: a member at the resolved noise floor ``noise`` (:class:`gensr.noise.NoiseFloor`, in
    the search's units) is snapped within its errors; any other member (an approximation, or any member on
    noise-free data) only where the snap is exact to float precision. :func:`readable` then rewrites the
    text at no accuracy cost. ``equation`` has constants at 5 significant digits, ``sympy_format`` and
    ``expression`` full precision. With a ``loss`` other than MSE, snapping tests its least-squares
    equivalent at the member's constants (:meth:`gensr.loss.Loss.least_squares_weights`), and ``noise`` is not read.

    Every number in a row is the printed formula's own (STYLE 31): ``loss`` (the weighted MSE in y's units
    squared, or the weighted mean of ``loss``, a :class:`gensr.loss.Loss` built with y's scale), ``r2``
    (weighted), ``complexity`` and ``extrapolates`` are computed from the final
    ``expression`` on the user's data, with the same ``weights``, after snapping and canonicalisation. A row
    is kept only if it is materially more accurate than every simpler one: beyond round-off of the weighted
    variance of y, and beyond what the noise explains (SNAP_Z²·σ²/n, a likelihood-ratio margin for one more
    constant, with a resolved floor). Members are processed in the order of the ``balanced`` rule's score, so once
    ``deadline`` has passed, the rows left unsnapped are the ones least likely to be chosen. With ``scales``
    (X and y were divided by them for the search), every equation is mapped back to the user's units."""
    import pandas as pd
    import sympy

    from gensr._utils import r2_score, subsample_rows, weighted_mse
    from gensr.pareto import BALANCE, score
    from gensr.snapping import SNAP_Z, snap_within_error

    rows = []
    x_scale, y_scale = (np.ones(X.shape[1]), 1.0) if scales is None else (np.asarray(scales[0]), float(scales[1]))
    with np.errstate(over="ignore", under="ignore"):
        f = np.float64(y_scale) ** 2
    factor = float(f)  # loss in y's units = scaled loss · factor: inf beyond 1e154 and 0 below 1e-154, as
    # float64 holds them (the selection then ranks by 1 − R²)
    scaled = bool(np.any(x_scale != 1) or y_scale != 1)
    X_user = X * x_scale if scaled else X
    members = [result.candidates[i] for i in result.front]
    plain = loss is None or loss.is_mse
    if not plain:
        noise = None  # the floor is an MSE: it does not measure another loss
    at = subsample_rows(len(y), SNAP_ROWS, np.random.default_rng(0))  # the rows of the snaps' refits and tests
    # the members most likely to be chosen first (the balanced rule's score): if the deadline passes, the rest
    # are left unsnapped, not the answer
    for cand in sorted(members, key=lambda c: -score(c.r2, c.complexity, BALANCE)):
        expr, snapped = cand.expression, None
        if snap and expr.n_constants and (deadline is None or not deadline.expired()):
            at_floor = noise is not None and noise.reached(cand.mse)
            if plain:
                w_snap = weights
            else:
                with np.errstate(all="ignore"):
                    w_snap = loss.least_squares_weights(y, expr.evaluate(X), weights)
            values, snapped = snap_within_error(expr.torch_fn(), expr.constants, X[at], y[at],
                                                weights=None if w_snap is None else w_snap[at],
                                                exponents=exponent_mask(expr), reserved=names,
                                                statistical=at_floor, deadline=deadline)
            expr = expr.with_constants(values)
        sym = expr.to_sympy(names, constant_forms=snapped)
        expr = _folded(expr, sym, names, X, language=language)
        if scaled:
            expr = unscaled(expr, x_scale, y_scale)
            sym = expr.to_sympy(names)
            expr = _folded(expr, sym, names, X_user, language=language)
        if deadline is None or not deadline.expired():  # without snap: exact rewrites only (|x| of x > 0 …)
            sym = readable(sym, X_user, y * y_scale, names, weights, snap=snap)
            expr = _folded(expr, sym, names, X_user, slack=1, language=language)
        # the printed formula's own numbers, on the scaled target (no overflow at extreme scales)
        with np.errstate(all="ignore"):
            pred = expr.evaluate(X_user) / y_scale
        if plain:
            value = weighted_mse(pred - y, weights) if np.all(np.isfinite(pred)) else math.inf
        else:  # in the user's units already
            value = loss.value(y, pred, weights)
        rows.append({"complexity": expr.complexity, "loss": value, "r2": _clean(r2_score(y, pred, weights)),
                     "score": cand.score, "equation": _short(sym), "sympy_format": sym, "expression": expr,
                     "stage": cand.stage, "found_at": cand.found_at})
    table = pd.DataFrame(rows, columns=["complexity", "loss", "r2", "score", "equation", "sympy_format",
                                        "expression", "stage", "found_at"])
    # at equal complexity, fewer fitted floats first: a snapped row is kept over an unsnapped twin the data
    # cannot tell from it
    table["floats"] = [len(e.atoms(sympy.Float)) for e in table["sympy_format"]]
    table = table.sort_values(["complexity", "floats", "loss"], kind="stable").drop(columns="floats")
    keep, best, seen, kept_values = [], np.inf, set(), []
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    # a row must beat every simpler one by more than round-off of an exact fit and, on noisy data, by more than
    # the noise explains: the likelihood-ratio margin of one more constant, SNAP_Z²·σ²/n
    margin = max(1e-12 * float(np.average((y - np.average(y, weights=w)) ** 2, weights=w)) if plain else 0.0,
                 SNAP_Z**2 * noise.mse / len(y) if noise is not None and noise.resolved() else 0.0)
    rows_x = X_user[: min(len(X), 256)]
    for idx, r in table.iterrows():  # folding can reorder complexities and make rows print alike
        better = not keep or best - r["loss"] > max(1e-9 * best, margin)
        values = r["expression"].evaluate(rows_x)
        if r["equation"] not in seen and better and np.isfinite(r["loss"]) \
                and not any(_same_values(values, v) for v in kept_values):
            keep.append(idx)  # numerically equal members are merged into the simplest
            kept_values.append(values)
            best = min(best, r["loss"])
        seen.add(r["equation"])
    table = table.loc[keep].reset_index(drop=True)
    with np.errstate(over="ignore", under="ignore"):
        if plain:
            table["loss"] = np.where(table["loss"] > 0, table["loss"] * factor, 0.0)
    table["extrapolates"] = [extrapolates(e, X_user) for e in table["expression"]]
    return table


def notes(row: Any, result: Any, floor: Any, n_rows: int, budget: float) -> list[str]:
    """One-line warnings about the chosen equation (a front row) a user must read beside it: a choice well
    above a resolved noise ``floor`` (:class:`gensr.noise.NoiseFloor`, the data hold more than it explains),
    and a fit the clock stopped before it reached the floor or an exact law, with the time the search had.
    At the floor: the training MSE within RESOLVED_Z of :meth:`~gensr.noise.NoiseFloor.spread` over
    ``n_rows`` rows."""
    from gensr.noise import RESOLVED_Z

    out = []
    loss, r2 = float(row["loss"]), float(row["r2"])
    exact = r2 >= 1 - 1e-10
    at_floor = floor.resolved() and loss <= floor.mse + RESOLVED_Z * floor.spread(max(n_rows, 1))
    if floor.resolved() and not at_floor and not exact:
        out.append(f"the chosen equation's MSE is {loss / floor.mse:.3g}× the noise floor: the data hold structure "
                   "it does not explain")
    if "max_time" in result.stop and not exact and not at_floor:
        had = result.timings.get("total", float("nan"))
        out.append(f"stopped by max_time {budget:g} s at R² {r2:.4g} before an exact law or the noise floor: the "
                   f"search had {had:.1f} s; a longer max_time (e.g. {max(30, 4 * budget):g}) may find more")
    return out


def exponent_mask(expr: Expression) -> list[bool]:
    """Per constant of ``expr`` (prefix order), whether it is an exponent (the right operand of ``pow``)."""
    from gensr.grammar import CONST

    out: list[bool] = []

    def walk(node: Any, is_exponent: bool) -> None:
        if node.token == CONST:
            out.append(is_exponent)
        for i, child in enumerate(node.children):
            walk(child, node.token == "pow" and i == 1)

    walk(expr.root, False)
    return out


def readable(sym: Any, X: np.ndarray, y: np.ndarray, names: list[str], weights: np.ndarray | None = None, *,
             tol: float = 1e-9, rtol: float = 1e-6, snap: bool = True) -> Any:
    """The printed form a person would write, by one canonicalisation pass with sympy, at no accuracy cost.

    In order, each rewrite kept only if the values on the data do not change (relative 1e-9; the snaps: if
    the MSE grows by at most the relative ``tol`` beyond round-off, a float within ``rtol`` of its form):

    1. floats equal to integers become integers, so unit factors vanish (``1.0*x`` is ``x``);
    2. ``c**u`` with a number c > 0 becomes ``exp(ln(c)·u)``;
    3. floats that agree up to round-off (1e-12) become the same number, and numeric factors common to the
       terms of a sum are pulled out, so constants that multiply or cancel fold
       into one (``0.85*(1.17*a - 1.17*b)`` is ``0.9945*(a - b)``), and ``(1/u)**(1/2)`` is ``1/sqrt(u)``;
    4. ``|u|`` becomes ``u`` where u > 0 on every row (``-u`` where u < 0), including the ``|x|`` that step 3
       brings out of ``sqrt(x²·v)``; factors of inputs positive on every row leave roots and powers, as
       sympy takes them out of positive symbols (``x*sqrt(u/x²)`` is ``sqrt(u)``), when shorter; square
       roots multiplied together become one (``sqrt(a*b/c)``), a sum under a root is expanded and its common
       factors pulled out, and a factor moves under its root (``x*sqrt(1 + y²/x²)`` is ``sqrt(x² + y²)``
       where x > 0), each when shorter; logs of positive columns are expanded when shorter
       (``2*log(sqrt(c))`` is ``log(c)``);
    5. floats below 1e-6 of the largest (round-off offsets such as ``6e-10 + x``) become 0 where the data
       accept it, and every remaining float is snapped to a short exact form
       (:func:`gensr.snapping.snap_constant`: small rationals, π, e, √2; products such as ln 10 or √(π/2)
       only when the formula is exact to float precision) wherever it sits, under roots and inverses
       included, one at a time;
    6. floats equal to integers become integers again.

    Without ``snap`` (``snap_constants=False``), step 5 removes only round-off (offsets below 1e-6 of the
    largest float, floats within 1e-9 of an integer): no float becomes a closed form.

    >>> import numpy as np, sympy
    >>> a, b = sympy.symbols("a b", real=True)
    >>> X = np.random.default_rng(0).uniform(1, 2, size=(50, 2))
    >>> y = X[:, 0] * np.exp(-X[:, 1])
    >>> readable(sympy.Float(1.0) * a / sympy.Float(np.e) ** b, X, y, ["a", "b"])
    a*exp(-b)
    """
    import sympy

    symbols = [sympy.Symbol(n, real=True) for n in names]
    rows = slice(0, min(len(y), 512))
    Xs, ys = np.asarray(X, dtype=np.float64)[rows], np.asarray(y, dtype=np.float64)[rows]
    ws = None if weights is None else np.asarray(weights, dtype=np.float64)[rows]
    if sym.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo) or not sym.free_symbols <= set(symbols):
        return sym

    with np.errstate(invalid="ignore"):  # columns positive on every row are positive symbols for step 4
        positive = {s: sympy.Symbol(s.name, positive=True) for s, col in zip(symbols, np.asarray(X).T)
                    if np.all(col > 0)}

    def values(e: Any) -> np.ndarray:
        with np.errstate(all="ignore"):
            try:
                out = np.asarray(sympy.lambdify(symbols, e, "numpy")(*Xs.T))
            except Exception:
                return np.full(len(ys), np.nan)
            if np.iscomplexobj(out):  # a root of a negative constant: not a real formula
                return np.full(len(ys), np.nan)
            return np.broadcast_to(out.astype(np.float64), (len(ys),))

    base = values(sym)
    scale = float(np.max(np.abs(ys)))  # errors are compared on y / max|y|: no underflow at extreme scales
    if not (np.all(np.isfinite(base)) and math.isfinite(scale) and scale > 0):
        return sym

    def mse(v: np.ndarray) -> float:
        return float(np.average(((v - ys) / scale) ** 2, weights=ws))

    from gensr.snapping import ROUND_OFF, clashes, snap_forms

    # products of several factors (√(π/2), ln 10) only for a fit exact to float precision: on noisy data they
    # would be made-up findings
    compound = mse(base) <= ROUND_OFF * float(np.average((ys / scale) ** 2, weights=ws))

    limit = mse(base) * (1 + tol) + 1e-12 * float(np.average((ys / scale) ** 2, weights=ws))

    def exact(e: Any) -> Any:  # a rewrite is kept only if it computes the same values
        return e if _same_values(values(e), base) else None

    def integral(e: Any) -> Any:  # not beyond 1e6: every float above 2^53 is an integer, and 6.06e22 reads better
        return e.xreplace({f: sympy.Integer(int(f)) for f in e.atoms(sympy.Float)
                           if float(f) == int(f) and abs(float(f)) <= 1e6})

    out = exact(integral(sym)) or sym
    out = exact(out.replace(lambda e: e.is_Pow and e.base.is_Number and e.base.is_positive and not e.exp.is_Number,
                            lambda e: sympy.exp(sympy.log(e.base) * e.exp))) or out
    out = exact(_unify_floats(out)) or out  # floats equal up to round-off become one number, so they factor
    out = exact(sympy.factor_terms(out)) or out  # may bring out |x| (sqrt(x²·u) is |x|·sqrt(u)): signs next
    out = exact(out.replace(_root_of_inverse, lambda e: 1 / sympy.fraction(e.base)[1] ** e.exp)) or out
    for a in sorted(out.atoms(sympy.Abs), key=sympy.count_ops):
        v = values(a.args[0])
        if np.all(v > 0) or np.all(v < 0):
            out = exact(out.xreplace({a: a.args[0] if np.all(v > 0) else -a.args[0]})) or out
    def roots(e: Any) -> Any:  # each rewrite kept if shorter and equal on the data
        for where, rule in ((_is_mul, _merge_roots),  # sqrt(a)*sqrt(b)/sqrt(c) is sqrt(a*b/c)
                            (_is_mul, _into_roots),  # x*sqrt(1 + y²/x²) is sqrt(x² + y²) where x > 0
                            (_root_of_sum, _expanded_root)):  # sqrt(x*(2 - 2y/x)) is sqrt(2x - 2y)
            trial = e.replace(where, rule)
            if sympy.count_ops(trial) < sympy.count_ops(e):
                e = exact(trial) or e
        return e

    out = roots(out)
    if positive:  # sympy takes positive factors out of roots and powers itself (sqrt(u/x²) is sqrt(u)/x)
        back = {v: k for k, v in positive.items()}
        trial = roots(out.xreplace(positive).xreplace(back))
        if sympy.count_ops(trial) < sympy.count_ops(out):
            out = exact(trial) or out
        trial = sympy.expand_log(out.xreplace(positive)).xreplace(back)  # 2*log(sqrt(c)) is log(c) for c > 0
        if sympy.count_ops(trial) < sympy.count_ops(out):
            out = exact(trial) or out
    floats = sorted(out.atoms(sympy.Float), key=lambda f: abs(float(f)))
    biggest = max([1.0] + [abs(float(f)) for f in floats])
    for f in (f for f in floats if abs(float(f)) < 1e-6 * biggest):  # round-off offsets and factors: dropped
        v = values(out.xreplace({f: sympy.Integer(0)}))
        if np.all(np.isfinite(v)) and mse(v) <= limit:
            out = out.xreplace({f: sympy.Integer(0)})
    for f in sorted(out.atoms(sympy.Float), key=lambda f: abs(float(f))):
        # without snap, only round-off: a float within 1e-9 of an integer
        forms = snap_forms(float(f), rtol=rtol, compound=compound) if snap else \
            [sympy.Integer(round(float(f)))] if abs(float(f) - round(float(f))) <= 1e-9 * abs(float(f)) else []
        for form in forms:  # simplest first; the first the data accept is kept
            if form == f or form == 0 or clashes(form, names):  # a zero would change the formula's structure;
                continue  # π must not print as a column called pi
            trial = out.xreplace({f: form})
            v = values(trial)
            if np.all(np.isfinite(v)) and mse(v) <= limit:
                out = trial
                break
    return exact(integral(out)) or out


def _unify_floats(e: Any) -> Any:
    """``e`` with floats whose magnitudes agree to 1e-12 relative replaced by one of them (sign kept)."""
    import sympy

    rep: dict[float, float] = {}
    prev = None  # the representative of the previous magnitude, in increasing order
    for f in sorted({abs(float(f)) for f in e.atoms(sympy.Float)}):
        prev = rep[f] = prev if prev is not None and abs(f - prev) <= 1e-12 * f else f
    return e.xreplace({f: sympy.Float(math.copysign(rep[abs(float(f))], float(f)), 15) for f in e.atoms(sympy.Float)
                       if rep[abs(float(f))] != abs(float(f))})


def _merge_roots(m: Any) -> Any:
    """A product's factors b**(k/2) (k odd) as one square root of the product of b**k."""
    import sympy

    half = [f for f in m.args if f.is_Pow and f.exp.is_Rational and f.exp.q == 2]
    if len(half) < 2:
        return m
    rest = [f for f in m.args if f not in half]
    return sympy.Mul(*rest) * sympy.sqrt(sympy.Mul(*[f.base ** (2 * f.exp) for f in half]))


def _into_roots(m: Any) -> Any:
    """A product f·B**(±1/2)·rest as (f**(±2)·B)**(±1/2)·rest for the factor f that gives the fewest
    operations (the caller keeps it only if shorter and equal on the data)."""
    import sympy

    roots = [f for f in m.args if f.is_Pow and f.exp in (sympy.Rational(1, 2), sympy.Rational(-1, 2))]
    if len(roots) != 1:
        return m
    root = roots[0]
    others = [f for f in m.args if f is not root and not f.is_Number]
    best, ops = m, sympy.count_ops(m)
    for f in others:
        trial = m / f / root * sympy.expand(f ** (1 / root.exp) * root.base) ** root.exp
        if sympy.count_ops(trial) < ops:
            best, ops = trial, sympy.count_ops(trial)
    return best


def _is_mul(e: Any) -> bool:
    return bool(e.is_Mul)


def _expanded_root(p: Any) -> Any:
    """A fractional power of its base expanded, with the common factors of the sum pulled out."""
    import sympy

    return sympy.factor_terms(sympy.expand(p.base)) ** p.exp


def _root_of_sum(e: Any) -> bool:
    """A root (or other fractional power) of an expression with a sum in it."""
    import sympy

    return bool(e.is_Pow and e.exp.is_Rational and not e.exp.is_Integer and e.base.has(sympy.Add))


def _root_of_inverse(e: Any) -> bool:
    """``(1/u)**(p/q)``, which reads better as ``1/u**(p/q)``."""
    import sympy

    if not (e.is_Pow and e.exp.is_Rational and not e.exp.is_Integer):
        return False
    num, den = sympy.fraction(e.base)
    return num == 1 and den != 1


def extrapolates(expr: Expression, X: np.ndarray, margin: float = 0.05, max_rows: int = 200) -> bool:
    """Whether ``expr`` stays finite when each column in turn moves a little beyond its range in the data.

    Up to ``max_rows`` rows (evenly spaced) are copied with one column set to ``min − margin·ptp`` and then to
    ``max + margin·ptp`` (a column of one sign keeps it: the bound moves at most halfway to 0), the other
    columns as they are. A fitted singularity at the data's edge, such as ``(x − 32)**0.34`` fitted where
    x ≥ 32, fails; a law defined around the data does not. Rows where ``expr`` is not finite already are
    left out.
    """
    rows = X[np.linspace(0, len(X) - 1, min(len(X), max_rows)).astype(int)]
    lo, hi = X.min(0), X.max(0)
    with np.errstate(all="ignore"):
        rows = rows[np.isfinite(expr.evaluate(rows))]
        step = margin * (hi - lo)
        below = np.where(lo > 0, np.maximum(lo - step, lo / 2), lo - step)
        above = np.where(hi < 0, np.minimum(hi + step, hi / 2), hi + step)
        for j in range(X.shape[1]):
            for v in (below[j], above[j]):
                probe = rows.copy()
                probe[:, j] = v
                if not np.all(np.isfinite(expr.evaluate(probe))):
                    return False
    return True


def _same_values(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal to 1e-9 relative, NaN where the other is NaN; the absolute floor follows the values' own scale."""
    nan = np.isnan(a)
    if not np.array_equal(nan, np.isnan(b)):
        return False
    a, b = a[~nan], b[~nan]
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    return bool(np.allclose(a, b, rtol=1e-9, atol=1e-12 * scale if math.isfinite(scale) else 0.0))


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


def _folded(expr: Expression, sym: Any, names: list[str], X: np.ndarray, slack: int = 0,
            language: Any = None) -> Expression:
    """``expr`` as its printed (sympy) form, when that parses back to the same function with at most ``slack``
    more nodes, within ``language`` (:class:`gensr.language.Language`; sympy writes x⁻⁴ with ``pow``):
    snapped unit constants disappear (``1.0*a*b/c`` is ``a*b/c``) and the complexity matches the text
    (``exp(k*u)`` for ``c**u`` costs one node more)."""
    from gensr.formula import parse

    try:
        folded = parse(str(sym), names)
    except (ValueError, RecursionError):
        return expr
    if folded.complexity > expr.complexity + slack or any(v >= X.shape[1] for v in folded.variables):
        return expr
    if language is not None and not language.allows(folded):
        return expr
    rows = X[: min(len(X), 256)]
    return folded if _same_values(expr.evaluate(rows), folded.evaluate(rows)) else expr


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
