"""Which operators a fit may use and how large a formula may grow (PySR's ``unary_operators``,
``binary_operators`` and ``maxsize``).

:func:`allowed_operators` reads the user's lists, in gensr's names, their aliases or PySR's spellings
(``"+"``, ``"*"``, ``"/"``, ``"^"``, ``"square"`` …), into the set of operator tokens of
:data:`gensr.grammar.OPERATORS` a formula may hold. The algebraic shorthands follow the binary operators
they abbreviate, as in PySR, where x² is x·x: ``neg`` (0 − a) comes with ``-``, ``inv`` (1/a) with ``/``,
and ``pow2`` and ``pow3`` with ``*``; ``sqrt`` is a function and comes only when named. :class:`Language`
is what the search reads: the decoder masks the other tokens, the moves build from the allowed ones, the
pool refuses any formula outside the language (:meth:`Language.allows`), and the front keeps the search's
tree where a printed form would leave it.

>>> sorted(allowed_operators(["sin"], ["+", "*"]))
['add', 'mul', 'pow2', 'pow3', 'sin']
>>> Language(frozenset({"add", "mul"}), maxsize=5).allows(Expression(Node("add", (Node("x0"), Node("x1")))))
True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gensr.grammar import BINARY, FUNCTION_NAMES, OPERATORS, UNARY, Expression, Node

__all__ = ["Language", "allowed_operators"]

_PYSR = {"+": "add", "-": "sub", "*": "mul", "/": "div", "^": "pow", "**": "pow", "plus": "add", "mult": "mul",
         "square": "pow2", "cube": "pow3", "neg": "neg", "inv": "inv"}
"""PySR's spellings of gensr's operators (the function names of :data:`gensr.grammar.FUNCTION_NAMES` are
accepted as they are)."""

_SHORTHANDS = {"neg": "sub", "inv": "div", "pow2": "mul", "pow3": "mul"}
"""The unary shorthands of a binary operator: allowed with it."""


def _token(name: Any, arity: int) -> str:
    if not isinstance(name, str):
        raise ValueError(f"operators are given by name, got {name!r}")
    token = _PYSR.get(name.strip(), FUNCTION_NAMES.get(name.strip(), name.strip()))
    if token not in OPERATORS or OPERATORS[token].arity != arity:
        kind, table = ("unary", UNARY) if arity == 1 else ("binary", BINARY)
        spelled = sorted(k for k, v in _PYSR.items() if OPERATORS[v].arity == arity and not k.isalpha())
        raise ValueError(f"unknown {kind} operator {name!r}; gensr's {kind} operators are {list(table)}"
                         + (f" (also spelled {spelled})" if spelled else ""))
    return token


def allowed_operators(unary: Iterable[str] | None = None, binary: Iterable[str] | None = None) -> frozenset[str]:
    """The operator tokens a formula may hold: ``unary`` and ``binary`` (None: every operator of that arity),
    with the unary shorthands of the allowed binary operators; a one-line ValueError names the table."""
    if isinstance(unary, str) or isinstance(binary, str):
        raise ValueError("unary_operators and binary_operators are lists of names, e.g. ['sin', 'exp']")
    tokens = set(UNARY if unary is None else (_token(u, 1) for u in unary))
    tokens |= set(BINARY if binary is None else (_token(b, 2) for b in binary))
    tokens |= {short for short, full in _SHORTHANDS.items() if full in tokens}
    return frozenset(tokens)


@dataclass(frozen=True)
class Language:
    """The operators a formula may hold (None: all) and its largest complexity (None: no limit)."""

    operators: frozenset[str] | None = None
    maxsize: int | None = None

    @classmethod
    def of(cls, operators: Sequence[str] | None, maxsize: int | None) -> Language:
        return cls(None if operators is None else frozenset(operators), maxsize)

    @property
    def everything(self) -> bool:
        return self.operators is None and self.maxsize is None

    def has(self, token: str) -> bool:
        """Whether operator ``token`` may be used (leaves always may)."""
        return self.operators is None or token not in OPERATORS or token in self.operators

    def unary(self, names: Iterable[str] = UNARY) -> tuple[str, ...]:
        return tuple(u for u in names if self.has(u))

    def binary(self, names: Iterable[str] = BINARY) -> tuple[str, ...]:
        return tuple(b for b in names if self.has(b))

    def allows(self, expr: Expression | Node) -> bool:
        """Whether a formula holds only allowed operators and is no larger than ``maxsize``."""
        if self.everything:
            return True
        root = expr.root if isinstance(expr, Expression) else expr
        if self.operators is not None and not all(self.has(n.token) for n in root.iter_nodes()):
            return False
        size = (expr if isinstance(expr, Expression) else Expression(root)).complexity
        return self.maxsize is None or size <= self.maxsize
