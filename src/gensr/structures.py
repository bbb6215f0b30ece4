"""Nested structures for the training mix: the shapes of laws scientists meet, built from generic parts.

E2E's random trees (:mod:`gensr.generator`) rarely put a function around a product, a ratio or an affine
combination of inputs, or multiply two such functions; the laws a map exists for are made of exactly that.
A *structure* draws one of these shapes, each with its weight in :data:`STRUCTURES`:

* ``unary``: C·f(a) (+ C), a function of an argument;
* ``scaled``: C·x·f(a) or C·f(a)/x, a function times or over an input;
* ``sum``: C·f(a) ± C·g(b), two such terms;
* ``product``: C·f(a)·g(b), one function times another (an envelope times an oscillation);
* ``reciprocal``: C/(f(a) + C), one over a function plus a constant (saturations and occupations);
* ``power``: C·a^C, an argument to a free exponent (±0.2 to 3.2);

where an argument a is a product x·y, a ratio x/y, a difference x − y, an affine C·x + C or a combination
C·x + C·y of inputs (with one input: x² or C·x + C), and f, g are drawn from :data:`FUNCTIONS`. These are
generic operator shapes, not any benchmark's formula. Constants are ±10^U(−1, 1) (0.1 to 10, the scale of
fitted physical coefficients).
Every input x0…x_{D−1} must appear; a draw with fewer variable slots than D returns None (the caller draws
again), and the generator drops draws whose variables cancel.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["ARGUMENTS", "FUNCTIONS", "STRUCTURES", "sample_structure"]

FUNCTIONS: tuple[tuple[str, float], ...] = (("exp", 1.0), ("sin", 1.0), ("cos", 0.6), ("log", 0.6),
                                            ("sqrt", 0.6), ("tanh", 0.4), ("arctan", 0.2))
ARGUMENTS: tuple[tuple[str, float], ...] = (("product", 1.0), ("ratio", 1.0), ("difference", 0.6),
                                            ("affine", 1.0), ("combination", 0.6))
STRUCTURES: tuple[tuple[str, float], ...] = (("unary", 1.0), ("scaled", 1.0), ("sum", 1.0), ("product", 0.8),
                                             ("reciprocal", 0.6), ("power", 0.4))

V = "V"  # a variable slot, filled once the tree is drawn


def _pick(u: float, table: tuple[tuple[str, float], ...]) -> str:
    total = sum(w for _, w in table)
    acc = 0.0
    for name, w in table:
        acc += w
        if u * total < acc:
            return name
    return table[-1][0]


def sample_structure(nxt: Callable[[], float], n_vars: int) -> tuple[list[str], list[float]] | None:
    """One structured expression over x0…x_{n_vars−1}: (prefix tokens with ``C`` leaves, their values).

    ``nxt`` returns uniforms on [0, 1). None when the drawn shape has fewer variable slots than ``n_vars``.
    """
    values: list[float] = []

    def const() -> list[str]:
        sign = -1.0 if nxt() < 0.5 else 1.0
        values.append(sign * 10.0 ** (2.0 * nxt() - 1.0))
        return ["C"]

    def exponent() -> list[str]:  # ±0.2 … 3.2
        sign = -1.0 if nxt() < 0.3 else 1.0
        values.append(sign * 10.0 ** (1.2 * nxt() - 0.7))
        return ["C"]

    def argument() -> list[str]:
        kind = _pick(nxt(), ARGUMENTS)
        if n_vars == 1 and kind != "affine":  # one input: x·x is its square; x/x and x − x are no argument
            return ["pow2", V] if kind == "product" else ["add", "mul", *const(), V, *const()]
        if kind == "product":
            return ["mul", V, V]
        if kind == "ratio":
            return ["div", V, V]
        if kind == "difference":
            return ["sub", V, V]
        if kind == "affine":
            return ["add", "mul", *const(), V, *const()]
        return ["add", "mul", *const(), V, "mul", *const(), V]

    def function() -> list[str]:
        name = _pick(nxt(), FUNCTIONS)
        if name in ("exp", "sin", "cos", "tanh"):  # a scale inside, so that the argument's range is varied
            return [name, "mul", *const(), *argument()]  # (constants are drawn in prefix order)
        return [name, *argument()]

    kind = _pick(nxt(), STRUCTURES)
    if kind == "unary":
        tokens = ["mul", *const(), *function()]
        if nxt() < 0.3:
            tokens = ["add", *tokens, *const()]
    elif kind == "scaled":
        over = nxt() < 0.5
        tokens = ["mul", *const(), "div", *function(), V] if over else ["mul", *const(), "mul", V, *function()]
    elif kind == "sum":
        tokens = ["add", "mul", *const(), *function(), "mul", *const(), *function()]
    elif kind == "product":
        tokens = ["mul", *const(), "mul", *function(), *function()]
    elif kind == "reciprocal":
        tokens = ["div", *const(), "add", *function(), *const()]
    else:
        tokens = ["mul", *const(), "pow", *argument(), *exponent()]
    slots = tokens.count(V)
    if slots < n_vars:
        return None
    order = list(range(n_vars))
    for i in range(n_vars - 1, 0, -1):  # every input once, in random order, then random ones
        j = int(nxt() * (i + 1))
        order[i], order[j] = order[j], order[i]
    order += [int(nxt() * n_vars) for _ in range(slots - n_vars)]
    filled, out = iter(order), []
    for t in tokens:
        if t == V:
            j = next(filled)
            if n_vars > 1 and out and out[-1] == f"x{j}":  # x − x, x/x: the pair of one argument differs
                j = (j + 1 + int(nxt() * (n_vars - 1))) % n_vars
            t = f"x{j}"
        out.append(t)
    return out, values
