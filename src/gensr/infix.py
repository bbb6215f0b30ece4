"""Infix text of an expression tree (:meth:`gensr.grammar.Expression.to_infix`): Python syntax over the
feature names, with the fewest parentheses the operators' precedences allow, and fitted constants at a
given number of significant digits (a unit factor is then not printed). A node is any tree of
:class:`gensr.grammar.Node`'s shape (``token``, ``children``, ``value``): this module reads only the table.

>>> from gensr.formula import parse
>>> infix(parse("C*x0/(x1 + C) - x0**2").root, ["a", "b"], None)
'C*a/(b + C) - a**2'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from gensr.operators import CONST, OPERATORS

__all__ = ["infix"]


def _fmt_const(value: float | None, precision: int | None) -> str:
    if value is None:
        return CONST
    if precision is None:
        return repr(float(value))
    text = f"{value:.{precision}g}"
    return text if any(ch in text for ch in ".einn") else text + ".0"


def _is_unit(node: Any, precision: int) -> bool:
    """A fitted constant that prints as 1 at ``precision`` significant digits."""
    return node.token == CONST and node.value is not None and f"{node.value:.{precision}g}" == "1"


def _prec(node: Any) -> int:
    if node.token in OPERATORS:
        return OPERATORS[node.token].precedence
    if node.token == CONST and node.value is not None and (node.value < 0 or math.copysign(1, node.value) < 0):
        return 3  # printed with a leading minus: binds like unary minus
    return 6


def infix(node: Any, names: Sequence[str], precision: int | None) -> str:
    """``node`` as infix text over ``names`` (constants at ``precision`` significant digits; None: repr)."""
    tok = node.token
    if tok in OPERATORS:
        op = OPERATORS[tok]
        kids = node.children
        if op.arity == 2:
            p = op.precedence
            if tok == "mul" and precision is not None:  # display text: a unit factor is not printed
                unit = [_is_unit(c, precision) for c in kids]
                if any(unit):
                    other = kids[1] if unit[0] else kids[0]
                    text = infix(other, names, precision)
                    return text if _prec(other) >= p else f"({text})"
            left, right = (infix(c, names, precision) for c in kids)
            if _prec(kids[0]) < p or (tok == "pow" and _prec(kids[0]) <= p):
                left = f"({left})"
            if _prec(kids[1]) < p or (_prec(kids[1]) == p and tok != "pow"):
                right = f"({right})"
            return f"{left} {op.symbol} {right}" if p == 1 else f"{left}{op.symbol}{right}"
        inner = infix(kids[0], names, precision)
        if tok == "neg":
            return f"-{inner}" if _prec(kids[0]) >= 4 else f"-({inner})"
        if tok in ("pow2", "pow3"):
            base = inner if _prec(kids[0]) > 4 else f"({inner})"
            return f"{base}**{2 if tok == 'pow2' else 3}"
        if tok == "inv":
            return f"1/{inner}" if _prec(kids[0]) > 2 else f"1/({inner})"
        return f"{tok}({inner})"
    if tok[0] == "x":
        return names[int(tok[1:])]
    if tok == CONST:
        return _fmt_const(node.value, precision)
    return tok
