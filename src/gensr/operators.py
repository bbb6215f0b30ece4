"""The operator table: every operator's arity, numpy, torch and sympy implementations, printing and
complexity cost (:data:`OPERATORS`), and the token set around it (variables, the constant placeholder, the
integer leaves). :mod:`gensr.grammar` builds every view of an expression from it, so an operator is added
here, in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BINARY", "CONST", "FUNCTION_NAMES", "INTEGERS", "INT_TOKENS", "MAX_DEPTH", "MAX_FEATURES", "MAX_NODES",
           "MAX_POW_EXPONENT", "MAX_VARS", "OPERATORS", "UNARY", "VARIABLES", "Operator", "token_arity"]

MAX_VARS = 10  # x0…x9, as in E2E/GenSR: the model's input width (its vocabulary's variables)
MAX_FEATURES = 100  # x0…x99: the columns a formula, the search and its moves may use (the map sees MAX_VARS)
MAX_DEPTH = 32  # deeper trees are invalid: bounds recursion and evaluation time
MAX_NODES = 256  # larger trees are invalid: bounds evaluation time and memory
MAX_POW_EXPONENT = 16.0  # |b| above this in a**b is "a huge power": invalid rather than 0 or inf
CONST = "C"  # the constant placeholder: its value is fitted, never predicted by the model
INTEGERS = (1, 2, 3, 4, 5)  # small integer leaves; negative ones come from neg/sub


# --------------------------------------------------------------------------------------------------
# guarded primitive implementations (called under np.errstate(all="ignore") by the evaluators)


def _np_pow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(np.abs(b) > MAX_POW_EXPONENT, np.nan, np.power(a, b))


def _torch_pow(a: Any, b: Any) -> Any:
    import torch

    b = torch.as_tensor(b, dtype=a.dtype) if not isinstance(b, torch.Tensor) else b
    return torch.where(b.abs() > MAX_POW_EXPONENT, torch.full_like(a, float("nan")), torch.pow(a, b))


def _torch(name: str) -> Callable[..., Any]:
    """Look up ``torch.<name>`` lazily, so importing gensr does not import torch."""

    def call(*args: Any) -> Any:
        import torch

        return getattr(torch, name)(*args)

    call.__name__ = f"torch_{name}"
    return call


def _sympy(name: str) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        import sympy

        return getattr(sympy, name)(*args)

    call.__name__ = f"sympy_{name}"
    return call


@dataclass(frozen=True)
class Operator:
    """One row of the operator table.

    Attributes
    ----------
    name : token and canonical function name.
    arity : 1 or 2.
    numpy, torch, sympy : implementations taking ``arity`` arguments.
    complexity : cost of one node of this operator in :meth:`Expression.complexity`.
    symbol : infix symbol for binary operators (``"+"``) or ``None`` for function-call syntax.
    precedence : binding strength for printing (higher binds tighter).
    commutative : whether operand order is irrelevant (used by canonicalisation).
    aliases : extra function names accepted by :func:`gensr.formula.parse`.
    """

    name: str
    arity: int
    numpy: Callable[..., Any]
    torch: Callable[..., Any]
    sympy: Callable[..., Any]
    complexity: int = 1
    symbol: str | None = None
    precedence: int = 5
    commutative: bool = False
    aliases: tuple[str, ...] = ()


def _op_table() -> dict[str, Operator]:
    ops = [
        Operator("add", 2, np.add, _torch("add"), lambda a, b: a + b, 1, "+", 1, True),
        Operator("sub", 2, np.subtract, _torch("sub"), lambda a, b: a - b, 1, "-", 1),
        Operator("mul", 2, np.multiply, _torch("mul"), lambda a, b: a * b, 1, "*", 2, True),
        Operator("div", 2, np.divide, _torch("div"), lambda a, b: a / b, 1, "/", 2),
        Operator("pow", 2, _np_pow, _torch_pow, lambda a, b: a**b, 1, "**", 4),
        Operator("neg", 1, np.negative, _torch("neg"), lambda a: -a, 1, "-", 3),
        Operator("inv", 1, np.reciprocal, _torch("reciprocal"), lambda a: 1 / a, 1, None, 2),
        Operator("sqrt", 1, np.sqrt, _torch("sqrt"), _sympy("sqrt"), 1),
        Operator("pow2", 1, np.square, _torch("square"), lambda a: a**2, 1, None, 4, aliases=("square",)),
        Operator("pow3", 1, lambda a: a * a * a, lambda a: a * a * a, lambda a: a**3, 1, None, 4,
                 aliases=("cube",)),
        Operator("exp", 1, np.exp, _torch("exp"), _sympy("exp"), 1),
        Operator("log", 1, np.log, _torch("log"), _sympy("log"), 1, aliases=("ln",)),
        Operator("sin", 1, np.sin, _torch("sin"), _sympy("sin"), 1),
        Operator("cos", 1, np.cos, _torch("cos"), _sympy("cos"), 1),
        Operator("tan", 1, np.tan, _torch("tan"), _sympy("tan"), 1),
        Operator("tanh", 1, np.tanh, _torch("tanh"), _sympy("tanh"), 1),
        Operator("arcsin", 1, np.arcsin, _torch("arcsin"), _sympy("asin"), 1, aliases=("asin",)),
        Operator("arccos", 1, np.arccos, _torch("arccos"), _sympy("acos"), 1, aliases=("acos",)),
        Operator("arctan", 1, np.arctan, _torch("arctan"), _sympy("atan"), 1, aliases=("atan",)),
        Operator("abs", 1, np.abs, _torch("abs"), _sympy("Abs"), 1, aliases=("Abs",)),
    ]
    return {op.name: op for op in ops}


OPERATORS: dict[str, Operator] = _op_table()
UNARY = tuple(name for name, op in OPERATORS.items() if op.arity == 1)
BINARY = tuple(name for name, op in OPERATORS.items() if op.arity == 2)
VARIABLES = tuple(f"x{i}" for i in range(MAX_FEATURES))  # the model's are the first MAX_VARS
_VARIABLE_SET = frozenset(VARIABLES)
INT_TOKENS = tuple(str(i) for i in INTEGERS)
FUNCTION_NAMES = {alias: op.name for op in OPERATORS.values() if op.symbol is None or op.name == "neg"
              for alias in (op.name, *op.aliases)}


def token_arity(token: str) -> int:
    """Arity of an expression token (0 for leaves); ``ValueError`` for anything else."""
    op = OPERATORS.get(token)
    if op is not None:
        return op.arity
    if token in _VARIABLE_SET or token == CONST or token in INT_TOKENS:
        return 0
    raise ValueError(f"unknown token {token!r}")
