"""The sparse-terms move's library and regression: laws with several terms, by sparse linear regression.

A *library* holds candidate terms built from the user's columns alone (the same rules for every dataset, no formula
of any benchmark): monomials of up to three inputs, unary functions of one input and of pairwise sums, differences,
products and ratios, squares of pairwise sums and differences, a unary function of one input times one or two other
inputs (each to the power ±1), and subexpressions the search has already fitted (so what the map and the other
moves found becomes a term). Targets are y and its transforms y², 1/y, 1/y², log|y|, √y and 1/√y (mapped back
through √, 1/·, 1/√, exp, ² and 1/²), the same for y/M where a monomial M multiplies the whole law
(:func:`common_factor`; each result times M), and the rational linearisation y = P/Q ⇔ y·q0 = P − y·(Q − q0), with
Q's leading term q0 a constant 1 or one of the first one-input monomials (for y and y/M). Forward selection by
orthogonal least squares, with swaps that revisit earlier picks, adds terms one at a time; every size up to the
second that the Bayesian information criterion rejects becomes an expression ``C + C·t1 + … + C·tk`` (terms that do
not contribute are dropped) whose constants the pool then fits in full (the linear ones by least squares,
:func:`gensr.screen.screen_constants`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from gensr.deadline import Deadline
from gensr.grammar import CONST, Expression, Node, monomial

__all__ = ["TRANSFORMS", "Term", "common_factor", "library", "log_log", "power_law_candidates", "sparse_candidates"]

_EXPONENTS = (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 3.0)  # single inputs and pairs
_HIGH_POWERS = (4.0, 5.0)  # single inputs only: polynomials of degree up to 5 in one input
_TRIPLE_EXPONENTS = (-2.0, -1.0, 1.0, 2.0)  # three-input monomials: fewer exponents keep the library small
_UNARY = ("sin", "cos", "exp", "log", "sqrt")
_WRAPPED = ("sin", "cos", "exp")  # functions of two-monomial sums
N_WRAPPED_COLUMNS = 4  # those sums use the most relevant four columns


@dataclass(frozen=True)
class Term:
    """A library column: its values on the rows and the tree that computes it."""

    node: Node
    values: np.ndarray
    monomial: bool = False  # a product of powers of inputs (the first, smaller dictionary)
    leg: bool = False  # a squared pairwise sum or difference (with the monomials of degree <= 2, the third)


def _monomial(parts: Sequence[tuple[int, float]]) -> Node:
    node = monomial({j: Fraction(a) for j, a in parts})
    assert node is not None  # every exponent of the library is non-zero
    return node


def _usable(v: np.ndarray) -> bool:
    """Finite, not constant, not astronomically large."""
    return bool(np.all(np.isfinite(v)) and np.ptp(v) > 1e-12 * (1.0 + np.max(np.abs(v))) and np.max(np.abs(v)) < 1e12)


def _away_from_zero(v: np.ndarray) -> bool:
    """Smallest |v| at least 5 % of the largest (and not all 0): negative powers and logs of |v| stay tame."""
    return bool(np.min(np.abs(v)) >= 0.05 * np.max(np.abs(v)) > 0)


def _nested(order: Sequence[int], k: int) -> Iterator[tuple[int, ...]]:
    """The k-subsets of ``order``, each sorted, those of its first m columns before any that uses column m+1."""
    for m in range(len(order)):
        for rest in itertools.combinations(order[:m], k - 1):
            yield tuple(sorted((*rest, order[m])))


def library(X: np.ndarray, extra: Iterable[Node] = (), max_terms: int = 4000,
            order: Sequence[int] | None = None, deadline: Deadline | None = None,
            allowed: Callable[[Node], bool] | None = None) -> list[Term]:
    """Candidate terms over the columns of ``X``, then the ``extra`` subexpressions; at most ``max_terms``,
    with room kept for the extras, and only the terms ``allowed`` accepts (the user's operators,
    :meth:`gensr.language.Language.allows`).

    Terms of one column come first, then pairs and triples of columns in ``order`` (most relevant first;
    default: the column order), the terms of the first m columns before any term of column m+1, so the cap
    drops the least relevant columns' combinations. Building stops at the cap or once ``deadline`` passes.
    """
    extra = list(extra)
    room = max(max_terms - len(extra), 0)
    out: list[Term] = []
    seen: set[bytes] = set()
    for make, values, kind in _generated(X, list(range(X.shape[1])) if order is None else [int(j) for j in order]):
        if len(out) >= room or (deadline is not None and deadline.expired()):
            break
        _add(out, seen, make, values, kind, allowed)
    for node in extra:  # fitted subexpressions of the search so far (constants kept)
        _add(out, seen, lambda node=node: node, Expression(node).evaluate(X), "", allowed)
    return out[:max_terms]


def _add(out: list[Term], seen: set[bytes], make: Callable[[], Node], values: np.ndarray, kind: str,
         allowed: Callable[[Node], bool] | None = None) -> None:
    if not _usable(values):
        return
    key = np.round(values / (np.max(np.abs(values)) or 1.0), 12).tobytes()
    if key not in seen:
        node = make()
        if allowed is None or allowed(node):
            seen.add(key)
            out.append(Term(node, values, kind == "monomial", kind == "leg"))


def _generated(X: np.ndarray, order: list[int]) -> Iterator[tuple[Callable[[], Node], np.ndarray, str]]:
    """The library's candidate terms in order, lazily: (a maker of the tree, its values, its kind:
    "monomial", "leg" or "")."""
    positive = {j: bool(np.all(X[:, j] > 0)) for j in order}
    # negative powers only of columns that stay away from zero: near a pole a fitted 1/x² term matches the
    # training rows and explodes between them
    nonzero = {j: _away_from_zero(X[:, j]) for j in order}
    with np.errstate(all="ignore"):
        powers = {(j, a): X[:, j] ** a for j in order for a in _EXPONENTS
                  if (a == int(a) or positive[j]) and (a > 0 or nonzero[j])}
        unary = {(j, u): getattr(np, u)(X[:, j]) for j in order for u in _UNARY
                 if u not in ("log", "sqrt") or positive[j]}
        for (j, a), v in powers.items():
            yield (lambda j=j, a=a: _monomial([(j, a)])), v, "monomial"
        for j, a in itertools.product(order, _HIGH_POWERS):
            yield (lambda j=j, a=a: _monomial([(j, a)])), X[:, j] ** a, "monomial"
        for (j, u), v in unary.items():  # unary functions of one input
            yield (lambda j=j, u=u: Node(u, (Node(f"x{j}"),))), v, ""
        for i, j in _nested(order, 2):
            for a, b in itertools.product(_EXPONENTS, repeat=2):
                if (i, a) in powers and (j, b) in powers:
                    yield ((lambda i=i, j=j, a=a, b=b: _monomial([(i, a), (j, b)])), powers[i, a] * powers[j, b],
                           "monomial")
            pairs = {"add": X[:, i] + X[:, j], "sub": X[:, i] - X[:, j], "mul": X[:, i] * X[:, j],
                     "div": X[:, i] / X[:, j]}
            for op, v in pairs.items():  # unary functions of pairwise combinations
                inner = Node(op, (Node(f"x{i}"), Node(f"x{j}")))
                yield (lambda inner=inner: inner), v, ""
                if op in ("add", "sub"):  # a distance's squared leg, one term where monomials need three; in
                    # the small dictionary, so the transforms (y² for a distance) see it
                    yield (lambda inner=inner: Node("pow2", (inner,))), v * v, "leg"
                for u in _UNARY:
                    if u not in ("log", "sqrt") or np.all(v > 0):
                        yield (lambda inner=inner, u=u: Node(u, (inner,))), getattr(np, u)(v), ""
        for pair in _nested(order, 2):  # a unary function of one input times another input or its inverse
            yield from _scaled_unary(unary, powers, pair)
        for i, j, k in _nested(order, 3):
            for a, b, c in itertools.product(_TRIPLE_EXPONENTS, repeat=3):
                if (i, a) in powers and (j, b) in powers and (k, c) in powers:
                    yield ((lambda i=i, j=j, k=k, a=a, b=b, c=c: _monomial([(i, a), (j, b), (k, c)])),
                           powers[i, a] * powers[j, b] * powers[k, c], "monomial")
            yield from _scaled_unary(unary, powers, (i, j, k))  # ... times two others (b·log(c)/d)
        yield from _wrapped_sums(X, order[:N_WRAPPED_COLUMNS])


def _scaled_unary(unary: dict[tuple[int, str], np.ndarray], powers: dict[tuple[int, float], np.ndarray],
                  cols: Sequence[int]) -> Iterator[tuple[Callable[[], Node], np.ndarray, str]]:
    """u(x_j) · ∏ x_i^±1 over the other columns of ``cols``, for each j in ``cols``: a law's term whose
    function's argument is one input and whose coefficient is a ratio or product of the others."""
    for j in cols:
        others = [i for i in cols if i != j]
        for signs in itertools.product((1.0, -1.0), repeat=len(others)):
            parts = list(zip(others, signs))
            if not all(part in powers for part in parts):
                continue
            scale = np.prod([powers[part] for part in parts], axis=0)
            for u in _UNARY:
                if (j, u) in unary:
                    yield ((lambda j=j, u=u, parts=parts: Node("mul", (Node(u, (Node(f"x{j}"),)), _monomial(parts)))),
                           unary[j, u] * scale, "")


def _wrapped_sums(X: np.ndarray, cols: Sequence[int]) -> Iterator[tuple[Callable[[], Node], np.ndarray, str]]:
    """Functions of non-monomial arguments: u(±m1 ± C·m2) for u in sin, cos, exp and two different monomials
    of degree ≤ 2 over ``cols`` (x, x², x·x'; not two single inputs, whose sums the pairwise terms have), then
    x_k·u(m1 ± C·m2) for sin and cos and each column k of ``cols`` that the argument does not use. The sign of
    m1 varies for exp only (sin and cos of −a are ±sin and cos of a). The term's values are those at C = ±1;
    the pool refits C with the formula's other constants."""
    monos: list[tuple[tuple[tuple[int, float], ...], np.ndarray]] = [(((j, 1.0),), X[:, j]) for j in cols]
    monos += [(((j, 2.0),), X[:, j] ** 2) for j in cols]
    monos += [(((i, 1.0), (j, 1.0)), X[:, i] * X[:, j]) for i, j in itertools.combinations(cols, 2)]
    with np.errstate(all="ignore"):
        for (p1, v1), (p2, v2) in itertools.combinations(monos, 2):
            if len(p1) == len(p2) == 1 and p1[0][1] == p2[0][1] == 1.0:
                continue
            for s1, s2 in ((1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0)):

                def inner(p1=p1, p2=p2, s1=s1, s2=s2) -> Node:
                    first = _monomial(p1) if s1 > 0 else Node("mul", (Node(CONST, value=-1.0), _monomial(p1)))
                    return Node("add", (first, Node("mul", (Node(CONST, value=s2), _monomial(p2)))))

                values = {u: getattr(np, u)(s1 * v1 + s2 * v2) for u in (_WRAPPED if s1 > 0 else ("exp",))}
                for u, v in values.items():
                    yield (lambda inner=inner, u=u: Node(u, (inner(),))), v, ""
                    if u == "exp":
                        continue
                    for k in (k for k in cols if k not in {j for j, _ in p1 + p2}):
                        yield ((lambda inner=inner, u=u, k=k: Node("mul", (Node(f"x{k}"), Node(u, (inner(),))))),
                               X[:, k] * v, "")


def _positive_integer_powers(node: Node) -> bool:
    """A monomial made of inputs, squares, cubes and products only (no inverses, no roots)."""
    return all(n.token in ("mul", "pow2", "pow3") or n.token.startswith("x") for n in node.iter_nodes())


def _exponents(node: Node) -> dict[str, int]:
    """Each input's exponent in a product of positive integer powers of inputs."""
    if node.token.startswith("x"):
        return {node.token: 1}
    power, out = {"pow2": 2, "pow3": 3}.get(node.token, 1), {}
    for child in node.children:
        for x, a in _exponents(child).items():
            out[x] = out.get(x, 0) + power * a
    return out


def _degree(node: Node) -> int:
    """Total degree of a product of positive integer powers of inputs."""
    return sum(_exponents(node).values())


def _bic(rss: float, n: int, k: int) -> float:
    return n * math.log(max(rss / n, 1e-300)) + k * math.log(n)


def _fit(A: np.ndarray, t: np.ndarray, cols: Sequence[int]) -> tuple[np.ndarray, float, float]:
    """Least squares of t on the columns and an intercept: (coefficients, intercept, residual sum of squares)."""
    M = np.column_stack([np.ones(len(t)), A[:, list(cols)]])
    coef, *_ = np.linalg.lstsq(M, t, rcond=None)
    return coef[1:], float(coef[0]), float(np.sum((t - M @ coef) ** 2))


def _additions(Z: np.ndarray, t: np.ndarray, cols: Sequence[int]) -> np.ndarray:
    """Orthogonal least squares: per column, the residual sum of squares once it joins ``cols`` (and the
    intercept); ``inf`` for the columns already in, or dependent on them."""
    Q, _ = np.linalg.qr(np.column_stack([np.ones(len(t)), Z[:, list(cols)]]))
    r = t - Q @ (Q.T @ t)
    orth = Z - Q @ (Q.T @ Z)
    norms = np.einsum("ij,ij->j", orth, orth)
    gain = np.where(norms > 1e-10 * len(t), (orth.T @ r) ** 2 / np.maximum(norms, 1e-300), -np.inf)
    gain[list(cols)] = -np.inf
    return float(r @ r) - gain


def _swaps(Z: np.ndarray, t: np.ndarray, cols: list[int], rss: float) -> tuple[list[int], float]:
    """Each chosen column replaced by the best other one while that lowers the residual (greedy early picks
    are revisited once the set is larger)."""
    for _ in range(6):
        swapped = False
        for pos in range(len(cols) if len(cols) > 1 else 0):
            rest = cols[:pos] + cols[pos + 1:]
            alt_rss = _additions(Z, t, rest)
            alt = int(np.argmin(alt_rss))
            if alt_rss[alt] < rss * (1 - 1e-9) - 1e-300:
                cols[pos], rss, swapped = alt, float(alt_rss[alt]), True
        if not swapped:
            break
    return cols, rss


def _path(A: np.ndarray, t: np.ndarray, max_k: int, beam: int = 4) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Forward selection by orthogonal least squares on standardised columns, keeping the ``beam`` best sets
    of each size, then swaps on the two best (see ``_swaps``). Per size: (columns, raw coefficients,
    intercept); stops one size after the BIC stops improving, or when the fit is exact. Then backward, from
    the largest size down: each set less its weakest column replaces the next smaller size's set if it fits better."""
    sd = A.std(0)
    Z = (A - A.mean(0)) / np.where(sd > 0, sd, 1.0)
    n, scale = len(t), float(np.sum((t - t.mean()) ** 2))
    sets: list[list[int]] = [[]]
    out, rsses, best, worse = [], [], math.inf, 0
    for _ in range(min(max_k, Z.shape[1], n - 2)):
        grown: dict[tuple[int, ...], float] = {}
        for cols in sets:
            rss = _additions(Z, t, cols)
            for j in np.argsort(rss)[:beam]:
                if math.isfinite(rss[j]):
                    grown.setdefault(tuple(sorted([*cols, int(j)])), float(rss[j]))
        if not grown:
            break
        ranked = sorted(grown.items(), key=lambda kv: kv[1])[:beam]
        # swaps on the two best beam sets (the second may escape a proxy the first holds); the best swapped set
        # leads the beam, the others grow unswapped, which keeps the beam diverse
        cols = min((_swaps(Z, t, list(c), r) for c, r in ranked[:2]), key=lambda cr: cr[1])[0]
        sets = [cols, *[list(c) for c, _ in ranked if sorted(c) != sorted(cols)][:beam - 1]]
        coefs, intercept, rss = _fit(A, t, cols)
        keep = [c for c, a in zip(cols, coefs) if abs(a) * A[:, c].std() > 1e-9 * (t.std() or 1.0)]
        if len(keep) < len(cols):  # terms that do not contribute (exact fits pick up round-off) are dropped
            coefs, intercept, _ = _fit(A, t, keep)
        out.append((np.array(keep), coefs, intercept))
        rsses.append(rss)
        score = _bic(rss, n, len(keep) + 1)
        worse = worse + 1 if score >= best else 0
        best = min(best, score)
        if worse >= 2 or rss <= 1e-20 * scale:
            break
    # backward: a set less its weakest column replaces the next smaller size's set when it fits better (under
    # noise an early greedy pick is often a proxy for several true terms, which the larger sets hold)
    for k in range(len(out) - 1, 0, -1):
        cols = list(out[k][0])
        if len(cols) < 2:
            continue
        drops = [(_fit(A, t, cols[:i] + cols[i + 1:])[2], i) for i in range(len(cols))]
        rss, i = min(drops)
        smaller = cols[:i] + cols[i + 1:]
        if len(smaller) <= len(out[k - 1][0]) and rss < rsses[k - 1] * (1 - 1e-9):
            coefs, intercept, rsses[k - 1] = _fit(A, t, smaller)
            out[k - 1] = (np.array(smaller), coefs, intercept)
    return out


def _sum(terms: Sequence[Node], coefs: Sequence[float], intercept: float | None, lead: Node | None = None) -> Node:
    """``C + C·t1 + …`` with the regression's values as starts; ``intercept=None``: a fixed 1 instead of C
    (or the fixed term ``lead``, a rational law's leading denominator term)."""
    node = lead if lead is not None else Node("1") if intercept is None else Node(CONST, value=float(intercept))
    for term, c in zip(terms, coefs):
        node = Node("add", (node, Node("mul", (Node(CONST, value=float(c)), term))))
    return node


# ---- one table of target transforms and one monomial fitter, for every regression of this module ----------

TRANSFORMS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[Node], Node], bool]] = {
    # name: (t(y), y's tree from the fitted tree of t, whether t needs y of one sign)
    "y": (lambda y: y, lambda b: b, False),
    "y2": (lambda y: y * y, lambda b: Node("sqrt", (b,)), True),
    "inv": (lambda y: 1.0 / y, lambda b: Node("inv", (b,)), False),
    "inv2": (lambda y: 1.0 / (y * y), lambda b: Node("inv", (Node("sqrt", (b,)),)), True),
    "log": (lambda y: np.log(np.abs(y)), lambda b: Node("exp", (b,)), True),
    "sqrt": (lambda y: np.sqrt(np.abs(y)), lambda b: Node("pow2", (b,)), True),
    "isqrt": (lambda y: 1.0 / np.sqrt(np.abs(y)), lambda b: Node("inv", (Node("pow2", (b,)),)), True),
}
"""The targets the regressions fit (y, y², 1/y, 1/y², log|y|, √|y|, 1/√|y|) and how each maps back."""


def log_log(X: np.ndarray, t: np.ndarray, cols: Sequence[int]) -> tuple[np.ndarray, np.ndarray] | None:
    """The monomial fitter: least squares of log|t| on 1 and log|x_j| over ``cols``; (the intercept and the
    exponents, the residuals), or None when they are not finite."""
    with np.errstate(all="ignore"):
        A = np.column_stack([np.ones(len(t)), np.log(np.abs(X[:, list(cols)]))])
        z = np.log(np.abs(t))
        coef, *_ = np.linalg.lstsq(A, z, rcond=None)
    return (coef, z - A @ coef) if np.all(np.isfinite(coef)) else None


def power_law_candidates(X: np.ndarray, y: np.ndarray, max_denominator: int = 3,
                         max_abs_exponent: int = 4) -> list[Expression]:
    """Skeletons from log-log least squares (:func:`log_log`) on the positive columns, for y, y² and 1/y.

    For each transform t of y with one sign, ``log|t| ≈ b + Σ a_j log x_j`` over the columns that are all
    positive; the exponents are snapped to fractions p/q (q <= ``max_denominator``), to halves and to
    integers, and each snapped monomial M gives ``C·M`` and ``C + C·M``, mapped back through the inverse
    transform (``sqrt`` for y², ``inv`` for 1/y).

    Examples
    --------
    >>> X = np.random.default_rng(0).uniform(1, 5, size=(100, 2))
    >>> 'C*(x0/sqrt(x1))' in [str(e) for e in power_law_candidates(X, 3 * X[:, 0] / np.sqrt(X[:, 1]))]
    True
    """
    cols = [j for j in range(X.shape[1]) if np.all(X[:, j] > 0)]
    if not cols:
        return []
    out: list[Expression] = []
    for name in ("y", "y2", "inv"):
        forward, back, _ = TRANSFORMS[name]
        with np.errstate(all="ignore"):
            t = forward(y)
        if not (np.all(np.isfinite(t)) and (np.all(t > 0) or np.all(t < 0))):
            continue
        fit = log_log(X, t, cols)
        if fit is None:
            continue
        for q in sorted({max_denominator, 2, 1}, reverse=True):
            snapped = {j: Fraction(round(float(a) * q), q).limit_denominator(max_denominator)
                       for j, a in zip(cols, fit[0][1:])}
            if any(abs(a) > max_abs_exponent for a in snapped.values()):
                continue
            mono = monomial({j: a for j, a in snapped.items() if a != 0})
            if mono is None:
                continue
            scaled = Node("mul", (Node(CONST), mono))
            out += [Expression(back(scaled)), Expression(back(Node("add", (Node(CONST), scaled))))]
    seen: set[tuple[str, ...]] = set()
    return [e for e in out if not (e.key in seen or seen.add(e.key))]  # type: ignore[func-returns-value]


def common_factor(X: np.ndarray, y: np.ndarray, tol: float = 0.1, max_abs_exponent: int = 6) -> Term | None:
    """The monomial M = ∏ x_j^a_j that multiplies the whole of y, if any: ``log|y| ≈ b + Σ a_j log|x_j|`` by
    least squares over the columns that stay away from zero, keeping the exponents within ``tol`` of a whole
    number (or of a half, for positive columns). A column that enters only as a factor gets its exponent
    exactly, whatever the rest of the law, when the columns are independent, and leaves no curve in the
    residual (a column inside the rest can have a near-whole slope too, but its residual bends); y/M is then a
    sum of fewer or smaller terms (x0·x3·(x2 − x1)/x4 ÷ x0·x3/x4 = x2 − x1). None when no exponent qualifies."""
    cols = [j for j in range(X.shape[1]) if _away_from_zero(X[:, j])]
    rows = np.isfinite(y) & (y != 0)
    n = int(rows.sum())
    if not cols or n <= 2 * len(cols) + 2:
        return None
    fit = log_log(X[rows], y[rows], cols)
    if fit is None:
        return None
    coef, resid = fit
    with np.errstate(all="ignore"):
        L = np.log(np.abs(X[rows][:, cols]))
        curve = (L - L.mean(0)) ** 2  # a factor's column leaves no trace in the residual, not even a curve
        bent = np.abs([np.corrcoef(resid, c)[0, 1] if c.std() > 0 else 0.0 for c in curve.T])
    parts = []
    for j, a, b in zip(cols, coef[1:], bent):
        q = 2 if np.all(X[:, j] > 0) else 1
        r = Fraction(round(float(a) * q), q)
        if r != 0 and abs(r) <= max_abs_exponent and abs(float(a) - float(r)) < tol and b < 0.02 + 4 / np.sqrt(n):
            parts.append((j, float(r)))
    if not parts:
        return None
    node = _monomial(parts)
    values = Expression(node).evaluate(X)
    return Term(node, values, True) if np.all(np.isfinite(values)) and np.all(values != 0) else None


def sparse_candidates(y: np.ndarray, terms: Sequence[Term], max_terms: int = 6, rational: bool = False,
                      deadline: Deadline | None = None, factor: Term | None = None) -> list[Expression]:
    """Expressions from sparse regressions of y (and its transforms) on the library ``terms`` (their values
    on the rows of ``y``): first on the terms of one input, then on the monomials, then on the squared pairwise
    sums and differences with the monomials of degree ≤ 2 (a distance's y² is a sum of them), for y and every
    transform (small dictionaries, where greedy selection goes wrong less often: on all of them a product that
    correlates with a sum of one-input terms is picked first), then the same for y/M with a ``factor`` M
    (:func:`common_factor`; each result times M), then on all of it for y. Stops between regressions once
    ``deadline`` has passed."""
    targets = tuple(TRANSFORMS)
    single = [t for t in terms if len(Expression(t.node).variables) == 1]
    monomials = [t for t in terms if t.monomial]
    legs = [t for t in terms if t.leg]  # squared legs with the polynomial monomials of degree <= 2: distances
    legs += [t for t in monomials if legs and _positive_integer_powers(t.node) and _degree(t.node) <= 2]
    out: list[Expression] = []
    for scale in (None, factor):
        z = y if scale is None else y / scale.values
        if scale is not None and not _usable(z):
            continue
        found: list[Expression] = []
        if single:
            found += _regressions(z, single, max_terms, False, targets, deadline)
        if monomials:
            found += _regressions(z, monomials, max_terms, rational, targets, deadline)
        if legs:
            found += _regressions(z, legs, max_terms, False, targets, deadline)
        out += found if scale is None else [Expression(Node("mul", (scale.node, e.root))) for e in found]
    if len(monomials) < len(terms):
        out += _regressions(y, terms, max_terms, False, ("y",), deadline)
    return out


def _regressions(y: np.ndarray, terms: Sequence[Term], max_terms: int, rational: bool,
                 targets: Sequence[str], deadline: Deadline | None) -> list[Expression]:
    def late() -> bool:
        return deadline is not None and deadline.expired()

    if not terms:
        return []
    A = np.column_stack([t.values for t in terms])
    nodes = [t.node for t in terms]
    out: list[Expression] = []
    with np.errstate(all="ignore"):
        for name, (forward, back, one_sign) in TRANSFORMS.items():
            if name not in targets or late():
                continue
            t = forward(y)
            if not _usable(t) or (one_sign and not (np.all(y > 0) or np.all(y < 0))) \
                    or (name == "inv" and not np.all(y != 0)):
                continue
            for cols, coefs, b in _path(A, t, max_terms):
                root = back(_sum([nodes[c] for c in cols], coefs, b))
                out.append(Expression(Node("neg", (root,)) if one_sign and np.all(y < 0) else root))
        if rational and not late():
            out += _rationals(y, A, terms, max_terms, late)
    return out


N_LEADING = 6  # denominators normalised by each of the first six one-input monomials x, x² (most relevant first)


def _rationals(y: np.ndarray, A: np.ndarray, terms: Sequence[Term], max_terms: int,
               late: Callable[[], bool]) -> list[Expression]:
    """Rational laws y = (b + Σ a·p) / (q0 + Σ c·q), linear as y·q0 = b + Σ a·p − y·Σ c·q.

    q0 = 1 first (the denominator has a constant term), then each of the first ``N_LEADING`` one-input monomials of
    degree 1 or 2 among the terms (most relevant first), for denominators with no constant term such as x²/(K² + x²)
    or (x0·x2 + x1·x3)/(x0 + x1); these regressions use the monomials of total degree ≤ 2 and q0 times each input (a
    numerator q0·(u + v)), which keeps their cost near the q0 = 1 one's. Numerators and denominators are products of
    positive integer powers only: terms that can sum to about −q0 give the trivial solution Q ≈ 0, P ≈ 0, and greedy
    selection would otherwise chase P/Q with numerator terms that are themselves ratios.
    """
    poly = [i for i, t in enumerate(terms) if t.monomial and _positive_integer_powers(t.node)]
    if not poly:
        return []
    low = [i for i in poly if _degree(terms[i].node) <= 2]
    leading = [i for i in low if len(Expression(terms[i].node).variables) == 1][:N_LEADING]

    def times_an_input(i: int, q0: int) -> bool:  # term i = q0·x for an input x
        a, b = _exponents(terms[i].node), _exponents(terms[q0].node)
        return sum(a.values()) == sum(b.values()) + 1 and all(a.get(x, 0) >= e for x, e in b.items())

    out: list[Expression] = []
    for q0 in [None, *leading]:
        if late():
            break
        # with a leading monomial, also q0 times each input: P = q0·(u + v) for y = (u + v)/(1 + uv/q0)
        rest = poly if q0 is None else [i for i in poly if i != q0 and (i in low or times_an_input(i, q0))]
        target = y if q0 is None else y * A[:, q0]
        B = np.column_stack([A[:, rest], -y[:, None] * A[:, rest]])
        if not (np.all(np.isfinite(B)) and np.all(np.isfinite(target)) and _usable(target)):
            continue
        m = len(rest)
        for cols, coefs, b in _path(B, target, max_terms):
            num = [(terms[rest[c]].node, a) for c, a in zip(cols, coefs) if c < m]
            den = [(terms[rest[c - m]].node, a) for c, a in zip(cols, coefs) if c >= m]
            if not den:
                continue
            top = _sum([n for n, _ in num], [a for _, a in num], b)
            bottom = _sum([n for n, _ in den], [a for _, a in den], None,
                          lead=None if q0 is None else terms[q0].node)
            out.append(Expression(Node("div", (top, bottom))))
    return out

