"""User formulas as text → :class:`~gensr.grammar.Expression`, safely (:func:`parse`).

The text is read by :func:`ast.parse` (a syntax tree only: nothing is evaluated) and every node is checked
against a whitelist built from the one operator table, :data:`gensr.grammar.OPERATORS`.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
from collections.abc import Sequence
from typing import Any

from gensr.grammar import (
    CONST,
    FUNCTION_NAMES,
    INTEGERS,
    MAX_DEPTH,
    MAX_FEATURES,
    MAX_NODES,
    Expression,
    Node,
)

__all__ = ["parse"]

_MAX_TEXT = 10_000  # longer formula strings are rejected before parsing
_CONSTANT_NAMES = {"pi": math.pi, "e": math.e, "E": math.e}
_KEYWORD_RE = re.compile(r"\b(" + "|".join(sorted(keyword.kwlist, key=len, reverse=True)) + r")\b")
_KW_PREFIX = "_gensr_kw_"


def parse(text: str, feature_names: Sequence[str] | None = None) -> Expression:
    """Parse a formula string into an :class:`Expression`, safely.

    The text is read by :func:`ast.parse` (a syntax tree only, nothing is evaluated) and every node is
    checked against a whitelist: numbers, names, ``+ - * / ** ^``, unary minus and the functions of the
    operator table (plus aliases such as ``ln``, ``asin``, ``square``).

    Names resolve in this order: ``feature_names`` (so ``I``, ``E``, ``S``, ``N``, ``pi``, ``lambda`` or
    ``gamma`` are variables when the user lists them); then ``x0``…``x99`` (also ``x_0``) if no feature
    names are given; then ``pi`` and ``e``/``E`` as numeric constants; then ``C`` as an unfitted constant.
    Anything else is a ``ValueError`` naming the unknown symbol.

    Normalisations: ``a**2`` → ``pow2(a)``, ``a**3`` → ``pow3(a)``, ``1/a`` → ``inv(a)``, ``-number`` →
    a negative constant; integer literals 1…5 become integer leaves, other numbers constants.

    >>> parse("I*E/lambda", feature_names=["I", "E", "lambda"]).prefix
    ('div', 'mul', 'x0', 'x1', 'x2')
    >>> parse("x0^2 + ln(x1)").prefix
    ('add', 'pow2', 'x0', 'log', 'x1')
    """
    if not isinstance(text, str):
        raise TypeError(f"formula must be a string, got {type(text).__name__}")
    if len(text) > _MAX_TEXT:
        raise ValueError(f"formula longer than {_MAX_TEXT} characters")
    names = list(feature_names) if feature_names is not None else None
    if names is not None and len(names) > MAX_FEATURES:
        raise ValueError(f"at most {MAX_FEATURES} features are supported, got {len(names)}")
    source = _KEYWORD_RE.sub(lambda m: _KW_PREFIX + m.group(1), text.replace("^", "**"))
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, RecursionError, MemoryError, ValueError) as exc:
        raise ValueError(f"cannot parse formula {text!r}: {exc}") from None
    try:
        root = _Converter(names).convert(tree.body, 1)
    except RecursionError:
        raise ValueError(f"formula {text!r} is nested too deeply") from None
    expr = Expression(root)
    if len(expr.prefix) > MAX_NODES:
        raise ValueError(f"formula has {len(expr.prefix)} nodes, more than MAX_NODES={MAX_NODES}")
    return expr


class _Converter:
    def __init__(self, feature_names: list[str] | None):
        self.names = feature_names

    def fail(self, what: str) -> ValueError:
        return ValueError(f"unsupported formula syntax: {what}")

    def convert(self, node: ast.AST, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise ValueError(f"formula deeper than MAX_DEPTH={MAX_DEPTH}")
        d = depth + 1
        if isinstance(node, ast.Constant):
            return self.number(node.value)
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.UAdd):
                return self.convert(node.operand, d)
            if not isinstance(node.op, ast.USub):
                raise self.fail(type(node.op).__name__)
            if isinstance(node.operand, ast.Constant):
                leaf = self.number(node.operand.value)
                return Node(CONST, value=-(leaf.value if leaf.token == CONST else float(leaf.token)))
            return Node("neg", (self.convert(node.operand, d),))
        if isinstance(node, ast.BinOp):
            ops = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
            tok = ops.get(type(node.op))
            if tok is None:
                raise self.fail(f"operator {type(node.op).__name__}")
            if tok == "pow" and isinstance(node.right, ast.Constant) and type(node.right.value) is int \
                    and node.right.value in (2, 3):
                return Node(f"pow{node.right.value}", (self.convert(node.left, d),))
            if tok == "div" and isinstance(node.left, ast.Constant) and type(node.left.value) is int \
                    and node.left.value == 1:
                return Node("inv", (self.convert(node.right, d),))
            return Node(tok, (self.convert(node.left, d), self.convert(node.right, d)))
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.keywords:
                raise self.fail("only plain function calls like sin(x) are allowed")
            fname = node.func.id
            if fname == "pow" and len(node.args) == 2:
                return Node("pow", tuple(self.convert(a, d) for a in node.args))
            op = FUNCTION_NAMES.get(fname)
            if op is None:
                raise ValueError(f"unknown function {fname!r}; known: {sorted(FUNCTION_NAMES)}")
            if len(node.args) != 1:
                raise ValueError(f"{fname}() takes exactly one argument")
            return Node(op, (self.convert(node.args[0], d),))
        raise self.fail(type(node).__name__)

    def number(self, value: Any) -> Node:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(f"literal {value!r}")
        if type(value) is int and value in INTEGERS:
            return Node(str(value))
        if not math.isfinite(float(value)):
            raise ValueError(f"non-finite number {value!r} in formula")
        return Node(CONST, value=float(value))

    def name(self, raw: str) -> Node:
        name = raw[len(_KW_PREFIX):] if raw.startswith(_KW_PREFIX) else raw
        if self.names is not None:
            if name in self.names:
                return Node(f"x{self.names.index(name)}")
        else:
            m = re.fullmatch(r"x_?(\d+)", name)
            if m and int(m.group(1)) < MAX_FEATURES:
                return Node(f"x{int(m.group(1))}")
        if name in _CONSTANT_NAMES:
            return Node(CONST, value=_CONSTANT_NAMES[name])
        if name == CONST:
            return Node(CONST)
        known = f"; features are {self.names}" if self.names is not None else "; variables are x0…x99"
        raise ValueError(f"unknown name {name!r} in formula{known}")


