"""Physical units: read them (with pint), check an equation's dimensions, and reduce a problem to
dimensionless groups (Buckingham's Π theorem).

A user says what each column measures (``"kg"``, ``"m/s"``, ``"kg*m**2/s**2"``, ``""`` for dimensionless,
``None`` for unknown). :func:`parse_units` turns that into one dimension vector per column over the SI base
dimensions that occur (pint does the parsing; scale factors such as km against m are irrelevant, since
constants absorb them).

:func:`pi_basis` builds the dimension matrix D (base dimensions × inputs) and picks ``r = rank(D)``
"repeating" inputs P. Every other input j gives one dimensionless group π_j = x_j · ∏_{p∈P} x_p^(−a_p) with
D_P a = D_j, and the target gets y_ref = ∏_{p∈P} x_p^(b_p) with D_P b = d_y, so that

    y = y_ref · F(π_1, …, π_k),   k = n − r.

Every choice of P is solved exactly (sympy), exponents are scaled to integers, and the basis with the
fewest and smallest exponents wins. The search then looks for F on k inputs instead of n, and
:meth:`PiBasis.lift` maps each F back to the original variables.

:func:`dimension_check` says whether an equation is dimensionally consistent. A fitted constant may carry
any dimension (as in PySR), so ``C*x`` is consistent whatever x measures; the arguments of exp, log and the
trigonometric functions must be dimensionless, and the terms of a sum must share a dimension.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np

from gensr.grammar import CONST, Expression, Node, monomial

__all__ = ["PiBasis", "Units", "dimension_check", "parse_units", "pi_basis"]

Dims = tuple[Fraction, ...]


@lru_cache(maxsize=1)
def _registry() -> Any:
    try:
        import pint
    except ImportError:  # pragma: no cover - pint is a dependency
        raise ImportError("units need pint: pip install pint") from None
    return pint.UnitRegistry()


def _dimensionality(text: str, column: str) -> dict[str, Fraction]:
    """{base dimension: exponent} of a unit string; a one-line ValueError for anything pint cannot read."""
    if text.strip() in ("", "1", "dimensionless"):
        return {}
    ureg = _registry()
    try:
        dims = ureg.parse_units(text.replace("^", "**")).dimensionality
    except Exception as exc:  # pint raises several types (UndefinedUnitError, DefinitionSyntaxError, ...)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"unknown unit {text!r} for {column}: {reason}") from None
    return {str(k): Fraction(v).limit_denominator(12) for k, v in dims.items() if v != 0}


@dataclass(frozen=True)
class Units:
    """What each column measures, as dimension vectors over ``bases``.

    ``inputs[j]`` / ``target`` are the unit strings as given (None: unknown); ``dims[j]`` / ``target_dims``
    their exponents over ``bases`` (None: unknown).
    """

    names: tuple[str, ...]
    inputs: tuple[str | None, ...]
    target: str | None
    bases: tuple[str, ...]
    dims: tuple[Dims | None, ...]
    target_dims: Dims | None

    @property
    def complete(self) -> bool:
        """Every column's unit is known."""
        return self.target_dims is not None and all(d is not None for d in self.dims)

    def subset(self, columns: Sequence[int]) -> Units:
        """These units for a subset of the input columns (in that order)."""
        return Units(tuple(self.names[j] for j in columns), tuple(self.inputs[j] for j in columns), self.target,
                     self.bases, tuple(self.dims[j] for j in columns), self.target_dims)


def parse_units(X_units: Any, y_units: str | None, names: Sequence[str]) -> Units | None:
    """Check and read the units of the inputs (a sequence in column order, or a mapping by column name) and
    of the target. Returns None when no unit is given at all. Raises a one-line ValueError for an unknown
    unit, a wrong number of units, or a unit given for a column that does not exist."""
    if X_units is None and y_units is None:
        return None
    names = [str(n) for n in names]
    if X_units is None:
        given: list[str | None] = [None] * len(names)
    elif isinstance(X_units, Mapping):
        unknown = [str(k) for k in X_units if str(k) not in names]
        if unknown:
            raise ValueError(f"units given for columns that do not exist: {unknown}; the columns are {names}")
        given = [X_units.get(n) for n in names]
    elif isinstance(X_units, str):
        raise ValueError("X_units must be a list with one unit per column (or a dict by column name), not a string")
    else:
        given = list(X_units)
        if len(given) != len(names):
            raise ValueError(f"X_units has {len(given)} units but X has {len(names)} columns")
    for label, u in [*zip(names, given), ("the target", y_units)]:
        if u is not None and not isinstance(u, str):
            raise ValueError(f"the unit of {label} must be a string such as 'kg' or 'm/s' (or None), got {u!r}")
    raw = [None if u is None else _dimensionality(u, f"column {n!r}") for n, u in zip(names, given)]
    raw_y = None if y_units is None else _dimensionality(y_units, "the target")
    bases = tuple(sorted({b for d in [*raw, raw_y] if d for b in d}))

    def vector(d: dict[str, Fraction] | None) -> Dims | None:
        return None if d is None else tuple(d.get(b, Fraction(0)) for b in bases)

    return Units(tuple(names), tuple(given), y_units, bases, tuple(vector(d) for d in raw), vector(raw_y))


# ---- consistency ------------------------------------------------------------------------------------------
_WILD = None  # a constant's dimension: whatever makes the equation consistent
_DIMENSIONLESS_ARGS = {"exp", "log", "sin", "cos", "tan", "tanh", "arcsin", "arccos", "arctan"}


class _Inconsistent(Exception):
    pass


def _number(node: Node) -> float | None:
    """The value of a subtree without variables (None if it has variables or an unfitted constant)."""
    if any(n.token.startswith("x") for n in node.iter_nodes()):
        return None
    try:
        value = float(Expression(node).evaluate(np.zeros((1, 1)))[0])
    except (ValueError, IndexError):
        return None
    return value if np.isfinite(value) else None


def _dims(node: Node, units: Units, zero: Dims) -> Dims | None:
    tok, ch = node.token, node.children
    if tok == CONST:
        return _WILD
    if tok.startswith("x") and tok[1:].isdigit():
        d = units.dims[int(tok[1:])]
        return _WILD if d is None else d
    if not ch:  # integer leaf
        return zero
    args = [_dims(c, units, zero) for c in ch]
    if tok in ("add", "sub"):
        a, b = args
        if a is not _WILD and b is not _WILD and a != b:
            raise _Inconsistent
        return b if a is _WILD else a
    if tok in ("mul", "div"):
        a, b = args
        if a is _WILD or b is _WILD:
            return _WILD
        sign = 1 if tok == "mul" else -1
        return tuple(p + sign * q for p, q in zip(a, b))
    a = args[0]
    if tok in ("neg", "abs"):
        return a
    scale = {"inv": Fraction(-1), "sqrt": Fraction(1, 2), "pow2": Fraction(2), "pow3": Fraction(3)}
    if tok in scale:
        return _WILD if a is _WILD else tuple(scale[tok] * p for p in a)
    if tok == "pow":
        if args[1] is not _WILD and any(args[1]):
            raise _Inconsistent  # an exponent with a dimension
        if a is _WILD or not any(a):
            return a
        exponent = _number(ch[1])
        if exponent is None:
            raise _Inconsistent  # a dimensioned base raised to a power that varies
        return tuple(Fraction(exponent).limit_denominator(12) * p for p in a)
    if tok in _DIMENSIONLESS_ARGS:
        if a is not _WILD and any(a):
            raise _Inconsistent
        return zero
    raise ValueError(f"no dimension rule for operator {tok!r}")


def dimension_check(expr: Expression, units: Units) -> bool:
    """Whether ``expr`` (over the columns of ``units``) can be dimensionally consistent with the target, each
    constant taking whatever dimension it needs; unknown units count as "any dimension"."""
    zero = tuple(Fraction(0) for _ in units.bases)
    try:
        d = _dims(expr.root, units, zero)
    except _Inconsistent:
        return False
    return d is _WILD or units.target_dims is None or d == units.target_dims


# ---- Buckingham Π -----------------------------------------------------------------------------------------
def _integers(v: Sequence[Fraction]) -> list[Fraction]:
    """A rational vector scaled by the smallest factor that makes it integer (sign kept)."""
    lcm = math.lcm(*(x.denominator for x in v))
    return [x * lcm for x in v]


@dataclass(frozen=True)
class PiBasis:
    """y = y_ref · F(π_1, …, π_k): ``groups[i][j]`` is the exponent of input j in π_i (integers), and
    ``reference[j]`` that of input j in y_ref (rationals)."""

    groups: tuple[tuple[Fraction, ...], ...]
    reference: tuple[Fraction, ...]
    names: tuple[str, ...]

    @property
    def k(self) -> int:
        return len(self.groups)

    @staticmethod
    def _power(X: np.ndarray, exponents: Sequence[Fraction]) -> np.ndarray:
        out = np.ones(len(X))
        with np.errstate(all="ignore"):
            for j, a in enumerate(exponents):
                if a != 0:
                    out = out * np.power(X[:, j], float(a))
        return out

    def transform(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The reduced problem: the k groups' values (n, k) and y / y_ref."""
        P = np.column_stack([self._power(X, g) for g in self.groups]) if self.groups else np.empty((len(X), 0))
        with np.errstate(all="ignore"):
            return P, y / self._power(X, self.reference)

    def oriented(self, X: np.ndarray) -> PiBasis:
        """The basis with each group inverted where that brings its median magnitude on ``X`` below 1 (v/c
        rather than c/v): the same law, usually in the form with fewer nodes."""
        groups = []
        for g in self.groups:
            with np.errstate(all="ignore"):
                m = np.nanmedian(np.abs(self._power(X, g)))
            groups.append(tuple(-a for a in g) if m > 1 else g)
        return PiBasis(tuple(groups), self.reference, self.names)

    def _text(self, exponents: Sequence[Fraction]) -> str:
        import sympy

        return str(sympy.Mul(*[sympy.Symbol(self.names[j]) ** sympy.Rational(a.numerator, a.denominator)
                               for j, a in enumerate(exponents) if a]))

    def group_text(self) -> list[str]:
        """Each group as text over the column names, e.g. ``v/c``."""
        return [self._text(g) for g in self.groups]

    def reference_text(self) -> str:
        """y_ref as text over the column names (``1`` when y is dimensionless)."""
        return self._text(self.reference)

    def lift(self, expr: Expression) -> Expression:
        """F over the groups (variables x0 … x{k−1}) as y_ref · F(π(x)) over the original inputs."""
        pis = [monomial({j: a for j, a in enumerate(g) if a}) for g in self.groups]

        def sub(node: Node) -> Node:
            if node.token.startswith("x") and node.token[1:].isdigit():
                return pis[int(node.token[1:])]
            if not node.children:
                return node
            return Node(node.token, tuple(sub(c) for c in node.children), node.value)

        body = sub(expr.root)
        ref = monomial({j: a for j, a in enumerate(self.reference) if a})
        if ref is None:
            return Expression(body)
        if body.token == CONST or (not body.children and not body.token.startswith("x")):
            return Expression(Node("mul", (body, ref)))
        return Expression(Node("mul", (ref, body)))


MAX_BASES = 500  # column subsets tried as the Π basis's repeating variables (each costs a sympy rank and solves,
# ~4 ms): C(12, 3) = 220 fit; at 20 columns every subset took 21 s


def pi_basis(units: Units, deadline: Any = None) -> PiBasis | None:
    """The simplest Buckingham Π basis of complete ``units`` (module docstring), or None when the target's
    dimension cannot be formed from the inputs' (a dimensional constant the data lack).

    At most :data:`MAX_BASES` subsets of repeating variables are tried, fewer once ``deadline`` (a
    :class:`gensr.deadline.Deadline`) has passed with a basis in hand: the simplest basis found so far.

    A relativistic mass m = m0/√(1 − v²/c²) depends on one group, and m0 carries the target's dimension:

    >>> basis = pi_basis(parse_units(["kg", "m/s", "m/s"], "kg", ["m0", "v", "c"]))
    >>> basis.k, basis.group_text(), basis.reference_text()
    (1, ['c/v'], 'm0')
    """
    import sympy

    if not units.complete:
        raise ValueError("a Π basis needs the units of every column")
    n = len(units.dims)
    D = sympy.Matrix([[d[b] for d in units.dims] for b in range(len(units.bases))]) if units.bases else \
        sympy.zeros(0, n)
    d_y = sympy.Matrix([units.target_dims[b] for b in range(len(units.bases))])
    r = D.rank() if D.rows else 0
    if r and D.row_join(d_y).rank() > r:
        return None
    if not r and any(units.target_dims):
        return None
    best: tuple[tuple[int, int, int], PiBasis] | None = None
    for tried, P in enumerate(itertools.combinations(range(n), r)):
        if best is not None and (tried >= MAX_BASES or (deadline is not None and deadline.expired())):
            break
        D_P = D[:, list(P)] if r else None
        if r and D_P.rank() < r:
            continue
        groups, cost = [], 0
        for j in (j for j in range(n) if j not in P):
            e = [Fraction(0)] * n
            e[j] = Fraction(1)
            if r:
                a = _solve(D_P, D[:, j])
                for p, v in zip(P, a):
                    e[p] = -v
            e = _integers(e)
            groups.append(tuple(e))
            cost += sum(abs(x) for x in e)
        ref = [Fraction(0)] * n
        if r:
            for p, v in zip(P, _solve(D_P, d_y)):
                ref[p] = v
        fractional = sum(x.denominator > 1 for x in ref)
        key = (fractional, int(cost + sum(abs(x) for x in ref) * 2), sum(x != 0 for x in ref))
        if best is None or key < best[0]:
            best = (key, PiBasis(tuple(groups), tuple(ref), units.names))
    return None if best is None else best[1]


def _solve(A: Any, b: Any) -> list[Fraction]:
    """The exact solution of the consistent, full-column-rank system A·x = b."""
    import sympy

    sol, params = A.gauss_jordan_solve(b)
    sol = sol.subs({t: 0 for t in params}) if params.shape[0] else sol
    return [Fraction(int(sympy.fraction(v)[0]), int(sympy.fraction(v)[1])) for v in sol]
