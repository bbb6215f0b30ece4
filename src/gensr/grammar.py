"""The expression language: one operator table and every view of an expression built from it.

docs/method.md §2 describes GenSR's prefix representation; ours keeps its idea (prefix tokens over a fixed
vocabulary) with a much smaller vocabulary: constants are one placeholder token ``C`` whose values are
fitted later, and a handful of small integers are leaves of their own.

Everything about an operator (arity, numpy, sympy and torch implementations, printing, complexity cost)
lives in :data:`OPERATORS` (:mod:`gensr.operators`, re-exported here); every representation below is derived
from that table, so an operator is added in exactly one place. Infix text is :mod:`gensr.infix`'s.

Representations and conversions
-------------------------------
* :class:`Node` is an immutable expression tree; :class:`Expression` wraps a root node and offers the
  views: ``prefix`` tokens, ``to_infix()``, ``to_sympy()``, ``to_latex()``.
* :func:`gensr.formula.parse` reads a user's formula with Python's :mod:`ast` parser (which only builds a
  syntax tree and never evaluates anything) and a whitelist of node types, names and functions.
* :class:`gensr.vocab.Vocabulary` maps tokens to the integer ids the model uses.

Evaluation is guarded locally: overflow, division by zero, domain errors and huge powers give non-finite
values (which callers treat as an invalid candidate), with warnings silenced by a local
``numpy.errstate`` and never by process-wide settings. Depth and size are bounded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any

import numpy as np

from gensr.operators import (  # the operator table and the token set, re-exported here
    _VARIABLE_SET,
    BINARY,
    CONST,
    FUNCTION_NAMES,
    INT_TOKENS,
    INTEGERS,
    MAX_DEPTH,
    MAX_FEATURES,
    MAX_NODES,
    MAX_VARS,
    OPERATORS,
    UNARY,
    VARIABLES,
    Operator,
    token_arity,
)

__all__ = [
    "BINARY",
    "CONST",
    "FUNCTION_NAMES",
    "INTEGERS",
    "INT_TOKENS",
    "MAX_DEPTH",
    "MAX_FEATURES",
    "MAX_NODES",
    "MAX_VARS",
    "OPERATORS",
    "UNARY",
    "VARIABLES",
    "Expression",
    "Node",
    "Operator",
    "evaluate_many",
    "monomial",
    "power_node",
    "token_arity",
]

# --------------------------------------------------------------------------------------------------
# trees


@dataclass(frozen=True)
class Node:
    """An immutable expression-tree node.

    ``token`` is an operator name, a variable ``x<i>``, an integer leaf ``"1"``…``"5"`` or :data:`CONST`.
    A constant leaf may carry a fitted ``value``; ``value is None`` marks an unfitted placeholder.
    """

    token: str
    children: tuple[Node, ...] = ()
    value: float | None = None

    def __post_init__(self) -> None:
        if len(self.children) != token_arity(self.token):
            raise ValueError(f"{self.token!r} takes {token_arity(self.token)} operands, got {len(self.children)}")

    def prefix(self) -> list[str]:
        out: list[str] = []
        stack = [self]
        while stack:
            node = stack.pop()
            out.append(node.token)
            stack.extend(reversed(node.children))
        return out

    def iter_nodes(self) -> Iterable[Node]:
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def depth(self) -> int:
        return 1 + max((c.depth() for c in self.children), default=0)

    def has_variable(self) -> bool:
        return any(n.token in _VARIABLE_SET for n in self.iter_nodes())


def tree_from_prefix(tokens: Sequence[str], values: Sequence[float] | None = None) -> Node:
    """Build a tree from prefix tokens; constant values, if given, fill ``C`` leaves in prefix order."""
    tokens = list(tokens)
    if not tokens:
        raise ValueError("empty prefix sequence")
    if len(tokens) > MAX_NODES:
        raise ValueError(f"expression has {len(tokens)} tokens, more than MAX_NODES={MAX_NODES}")
    n_const = sum(t == CONST for t in tokens)
    if values is not None and len(values) != n_const:
        raise ValueError(f"{len(values)} constant values for {n_const} constant placeholders")
    const_iter = iter(values) if values is not None else None
    pos = 0

    def build(depth: int) -> Node:
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError("incomplete prefix sequence: an operator is missing operands")
        if depth > MAX_DEPTH:
            raise ValueError(f"expression deeper than MAX_DEPTH={MAX_DEPTH}")
        tok = tokens[pos]
        pos += 1
        arity = token_arity(tok)
        children = tuple(build(depth + 1) for _ in range(arity))
        value = float(next(const_iter)) if (tok == CONST and const_iter is not None) else None
        return Node(tok, children, value)

    root = build(1)
    if pos != len(tokens):
        raise ValueError(f"trailing tokens after a complete expression: {tokens[pos:]}")
    return root


# --------------------------------------------------------------------------------------------------
# numeric evaluation


def _constants_of(node: Node) -> np.ndarray:
    """The constant leaves' values in prefix order (NaN where not fitted)."""
    return np.array([math.nan if n.value is None else n.value for n in node.iter_nodes() if n.token == CONST],
                    dtype=np.float64)


def _value(node: Node) -> float:
    """The value of a variable-free subtree (NaN or ±inf where undefined), through the one numpy evaluator."""
    with np.errstate(all="ignore"):
        out = _builder(node, "numpy")(np.zeros((1, 1)), _constants_of(node))
    return float(np.asarray(out, dtype=np.float64).reshape(-1)[0])


def _as_float_matrix(X: Any) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_rows, n_features), got shape {X.shape}")
    return X


def _eval_guarded(root: Node, X: np.ndarray) -> np.ndarray:
    if any(n.token[0] == "x" and int(n.token[1:]) >= X.shape[1] for n in root.iter_nodes()):
        return np.full(X.shape[0], np.nan)  # a variable the data lack
    with np.errstate(all="ignore"):
        out = np.asarray(_builder(root, "numpy")(X, _constants_of(root)), dtype=np.float64)
    if out.shape != (X.shape[0],):
        out = np.broadcast_to(out, (X.shape[0],)).copy()
    out[~np.isfinite(out)] = np.nan
    return out


def evaluate_many(exprs: Sequence[Expression], X: Any) -> np.ndarray:
    """Evaluate many expressions on the same rows.

    Returns an array of shape ``(len(exprs), n_rows)``; entries where an expression is undefined
    (domain error, overflow, division by zero, huge power, unfitted constant) are NaN.
    """
    X = _as_float_matrix(X)
    out = np.empty((len(exprs), X.shape[0]))
    for i, expr in enumerate(exprs):
        out[i] = _eval_guarded(expr.root, X)
    return out


def _builder(root: Node, impl: str) -> Callable[[Any, Any], Any]:
    """Compile a tree into ``f(X, c)`` (``c`` holds the constants in prefix order) with the operator table's
    ``impl`` functions ("numpy" or "torch"). Torch leaves are full (n,) tensors; numpy leaves of constants and
    integers are scalars (broadcast the result to ``(n_rows,)``), and numpy is unguarded: call it under
    ``np.errstate``."""
    counter = 0
    torch_impl = impl == "torch"

    def build(node: Node) -> Callable[[Any, Any], Any]:
        nonlocal counter
        tok = node.token
        if tok in OPERATORS:
            fn = getattr(OPERATORS[tok], impl)
            subs = [build(c) for c in node.children]
            if len(subs) == 1:
                (a,) = subs
                return lambda X, c: fn(a(X, c))
            a, b = subs
            return lambda X, c: fn(a(X, c), b(X, c))
        if tok[0] == "x":
            idx = int(tok[1:])
            return lambda X, c: X[:, idx]
        if tok == CONST:
            k = counter
            counter += 1
            return (lambda X, c: c[k].expand(X.shape[0])) if torch_impl else (lambda X, c: c[k])
        val = float(tok)
        return (lambda X, c: X.new_full((X.shape[0],), val)) if torch_impl else (lambda X, c: val)

    return build(root)


# --------------------------------------------------------------------------------------------------
# canonical form


def _chain(node: Node, op: str) -> list[Node]:
    if node.token == op:
        return _chain(node.children[0], op) + _chain(node.children[1], op)
    return [node]


def _fold_constant(node: Node) -> Node:
    """A variable-free subtree becomes one constant (or an integer leaf if it folds to one)."""
    val = _value(node) if all(n.token != CONST or n.value is not None for n in node.iter_nodes()) else None
    if val is not None and not math.isfinite(val):
        val = None
    if val is not None and val in INTEGERS:
        return Node(str(int(val)))
    return Node(CONST, value=val)


def canonicalize(node: Node) -> Node:
    """A cheap canonical form for de-duplicating skeletons.

    Rules: variable-free subtrees fold into one constant; ``neg(neg(a))`` and ``inv(inv(a))`` cancel;
    chains of ``add``/``mul`` are flattened, several constants in one chain merge into one, the operands
    are sorted by their prefix string and the chain is rebuilt left-deep. Equal skeletons are always
    recognised as equal by their canonical prefix; different canonical prefixes may still be equivalent
    mathematically (this is not a full simplifier).
    """
    if not node.children:
        return node
    if not node.has_variable():
        return _fold_constant(node)
    kids = tuple(canonicalize(c) for c in node.children)
    tok = node.token
    if tok in ("neg", "inv") and kids[0].token == tok:
        return kids[0].children[0]
    if tok in ("add", "mul"):
        terms = [t for k in kids for t in _chain(k, tok)]
        consts = [t for t in terms if not t.has_variable()]
        others = sorted((t for t in terms if t.has_variable()), key=lambda t: " ".join(t.prefix()))
        if len(consts) > 1:
            consts = [Node(CONST)]
        terms = consts + others
        out = terms[0]
        for t in terms[1:]:
            out = Node(tok, (out, t))
        return out
    return Node(tok, kids)


# --------------------------------------------------------------------------------------------------
# the public expression type


@dataclass(frozen=True, eq=True)
class Expression:
    """A symbolic expression: an immutable tree plus views of it.

    Build one with :meth:`from_prefix` or :func:`gensr.formula.parse`. Constants are ``C`` leaves; ``constants`` lists
    their values in prefix order (NaN where unfitted).

    Examples
    --------
    >>> from gensr.formula import parse
    >>> e = parse("2.5*sin(x0) + x1**2")
    >>> e.prefix
    ('add', 'mul', 'C', 'sin', 'x0', 'pow2', 'x1')
    >>> e.to_infix()
    '2.5*sin(x0) + x1**2'
    """

    root: Node

    @classmethod
    def from_prefix(cls, tokens: Sequence[str], constants: Sequence[float] | None = None) -> Expression:
        return cls(tree_from_prefix(tokens, constants))

    @cached_property
    def prefix(self) -> tuple[str, ...]:
        return tuple(self.root.prefix())

    @cached_property
    def constants(self) -> np.ndarray:
        return _constants_of(self.root)

    @property
    def n_constants(self) -> int:
        return sum(t == CONST for t in self.prefix)

    @cached_property
    def variables(self) -> tuple[int, ...]:
        """Sorted indices of the variables the expression uses."""
        return tuple(sorted({int(t[1:]) for t in self.prefix if t in _VARIABLE_SET}))

    def renamed(self, mapping: Any) -> Expression:
        """The same expression with each variable ``x_i`` replaced by ``x_{mapping[i]}`` (a sequence or dict)."""
        tokens = [f"x{int(mapping[int(t[1:])])}" if t in _VARIABLE_SET else t for t in self.prefix]
        return Expression.from_prefix(tokens, self.constants)

    def with_constants(self, values: Sequence[float]) -> Expression:
        return Expression.from_prefix(self.prefix, values)

    @property
    def skeleton(self) -> Expression:
        """The same expression with every constant value dropped."""
        return Expression.from_prefix(self.prefix)

    def canonical(self) -> Expression:
        return Expression(canonicalize(self.root))

    @cached_property
    def key(self) -> tuple[str, ...]:
        """Canonical skeleton prefix: equal keys mean the same skeleton up to the canonical rules."""
        return tuple(canonicalize(self.root).prefix())

    @property
    def depth(self) -> int:
        return self.root.depth()

    @property
    def complexity(self) -> int:
        """Prefix-node complexity (docs/protocols.md §2 (a)): each node counts its operator's cost, leaves 1."""
        return sum(OPERATORS[t].complexity if t in OPERATORS else 1 for t in self.prefix)

    # ---- numeric ---------------------------------------------------------------------------------
    def evaluate(self, X: Any) -> np.ndarray:
        """Evaluate on rows of ``X`` (n_rows, n_features); NaN where undefined (never a warning)."""
        return _eval_guarded(self.root, _as_float_matrix(X))

    def numpy_fn(self) -> Callable[[Any, Any], Any]:
        """A numpy callable ``f(X, c) -> y`` (constants ``c`` in prefix order), unguarded and fast: call it
        under ``np.errstate`` and broadcast the result to ``(n_rows,)``."""
        return _builder(self.root, "numpy")

    def torch_fn(self) -> Callable[[Any, Any], Any]:
        """A torch callable ``f(X, c) -> y``, differentiable in the constants ``c`` (prefix order)."""
        return _builder(self.root, "torch")

    def torch_evaluate(self, X: Any, constants: Any = None) -> Any:
        import torch

        X = torch.as_tensor(X)
        c = torch.as_tensor(self.constants if constants is None else constants, dtype=X.dtype)
        return self.torch_fn()(X, c)

    # ---- printing --------------------------------------------------------------------------------
    def to_infix(self, feature_names: Sequence[str] | None = None, precision: int | None = None) -> str:
        """Infix text that :func:`gensr.formula.parse` reads back to the same tree.

        ``precision`` rounds constants to that many significant digits for display (``None``: exact repr,
        which parses back); at a given precision a factor that rounds to 1 is not printed (``a*b``, not
        ``1.0*a*b``).
        """
        from gensr.infix import infix

        return infix(self.root, _names(feature_names), precision)

    def __str__(self) -> str:
        return self.to_infix(precision=6)

    def to_sympy(self, feature_names: Sequence[str] | None = None, symbolic_constants: bool = False,
                 constant_forms: Sequence[Any] | None = None) -> Any:
        """A sympy expression. Unfitted constants (or all, if ``symbolic_constants``) become c0, c1, …

        ``constant_forms`` gives, per constant in prefix order, a sympy form to print instead of its float
        (``None``: the float), so a snapped 0.159… prints as 1/(2π) whatever the feature names are."""
        import sympy

        symbols = [sympy.Symbol(n, real=True) for n in _names(feature_names)]
        counter = 0

        def conv(node: Node) -> Any:
            nonlocal counter
            tok = node.token
            if tok in OPERATORS:
                if not symbolic_constants and not node.has_variable():
                    big = _huge_constant(node)  # sympy would compute a tower like 5**(5**125) exactly
                    if big is not None:
                        counter += sum(n.token == CONST for n in node.iter_nodes())
                        return big
                return OPERATORS[tok].sympy(*(conv(c) for c in node.children))
            if tok[0] == "x":
                return symbols[int(tok[1:])]
            if tok == CONST:
                k = counter
                counter += 1
                if constant_forms is not None and k < len(constant_forms) and constant_forms[k] is not None:
                    return constant_forms[k]
                if node.value is None or symbolic_constants:
                    return sympy.Symbol(f"c{k}", real=True)
                return sympy.Float(node.value)
            return sympy.Integer(int(tok))

        return conv(self.root)

    def to_latex(self, feature_names: Sequence[str] | None = None) -> str:
        import sympy

        return sympy.latex(self.to_sympy(feature_names))


def _huge_constant(node: Node) -> Any:
    """A sympy Float for a variable-free subtree whose value is huge or undefined, else ``None``."""
    import sympy

    if any(n.token == CONST and n.value is None for n in node.iter_nodes()):
        return None
    value = _value(node)
    if math.isfinite(value) and abs(value) < 1e12:
        return None
    return sympy.nan if math.isnan(value) else sympy.Float(value)


def _names(feature_names: Sequence[str] | None) -> Sequence[str]:
    if feature_names is None:
        return VARIABLES
    names = [str(n) for n in feature_names]
    if len(names) > MAX_FEATURES:
        raise ValueError(f"at most {MAX_FEATURES} feature names are supported, got {len(names)}")
    return names + list(VARIABLES[len(names):])


def power_node(x: Node, exponent: Fraction) -> Node:
    """x**exponent for exponent > 0 (a Fraction) in the grammar's own operators (pow2, pow3, sqrt; pow for the rest)."""
    p, q = exponent.numerator, exponent.denominator
    simple = {1: x, 2: Node("pow2", (x,)), 3: Node("pow3", (x,))}
    if q == 1 and p in simple:
        return simple[p]
    if q == 2 and p in simple:
        return Node("sqrt", (simple[p],))
    ints = {k: Node(str(k)) for k in range(1, 6)}
    if p in ints and q in ints:
        return Node("pow", (x, ints[p] if q == 1 else Node("div", (ints[p], ints[q]))))
    return Node("pow", (x, Node(CONST, value=float(exponent))))


def monomial(exponents: dict[int, Fraction]) -> Node | None:
    """∏ x_j^a_j as numerator / denominator; None if every exponent is 0."""
    num = [power_node(Node(f"x{j}"), a) for j, a in exponents.items() if a > 0]
    den = [power_node(Node(f"x{j}"), -a) for j, a in exponents.items() if a < 0]

    def product(nodes: list[Node]) -> Node | None:
        out = None
        for n in nodes:
            out = n if out is None else Node("mul", (out, n))
        return out

    top, bottom = product(num), product(den)
    if top is None and bottom is None:
        return None
    if bottom is None:
        return top
    return Node("inv", (bottom,)) if top is None else Node("div", (top, bottom))
