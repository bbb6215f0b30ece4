"""Local symbolic edits of good skeletons: a move the search adds beside the latent CMA-ES.

The latent search proposes skeletons through the decoder; when the decoder is close but not exact (a wrong
variable, a missing factor, one operator off), one symbolic edit often finishes the job. :func:`neighbours`
draws random single edits of an expression:

* swap a variable for another input variable;
* swap an operator for another of the same arity;
* wrap a subtree in a unary operator;
* replace an operator node by one of its operands (delete it);
* combine a subtree with an input variable or a constant through + − × ÷;
* turn a constant into a variable or a variable into a constant.

Edits are skeleton-level (new constants are unfitted placeholders); the search fits and scores them like
any decoded candidate, through the same skeleton cache, so a repeated edit costs nothing.
:func:`all_neighbours` lists every single edit of these kinds instead (the local search's neighbourhood).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gensr.grammar import BINARY, CONST, MAX_DEPTH, MAX_NODES, UNARY, Expression, Node

__all__ = ["all_neighbours", "neighbours"]

_COMBINE = ("add", "sub", "mul", "div")


def _replace(root: Node, target: int, new: Node) -> Node:
    """``root`` with its ``target``-th node (prefix order) replaced by ``new``."""
    counter = -1

    def rec(node: Node) -> Node:
        nonlocal counter
        counter += 1
        if counter == target:
            return new
        if not node.children:
            return node
        return Node(node.token, tuple(rec(c) for c in node.children), node.value)

    return rec(root)


def _edit(root: Node, n_vars: int, rng: np.random.Generator, unary: Sequence[str] = UNARY,
          binary: Sequence[str] = BINARY) -> Node:
    nodes = list(root.iter_nodes())
    i = int(rng.integers(len(nodes)))
    node = nodes[i]
    variables = [f"x{j}" for j in range(n_vars)]
    kind = int(rng.integers(6))
    if kind == 0 and node.token.startswith("x"):
        return _replace(root, i, Node(str(rng.choice(variables))))
    if kind == 1 and node.children:
        pool = unary if len(node.children) == 1 else binary
        return _replace(root, i, Node(str(rng.choice(pool)), node.children)) if len(pool) else root
    if kind == 2:
        return _replace(root, i, Node(str(rng.choice(unary)), (node,))) if len(unary) else root
    if kind == 3 and node.children:
        return _replace(root, i, node.children[int(rng.integers(len(node.children)))])
    combine = [op for op in _COMBINE if op in binary]
    if kind == 4 and combine:
        other = Node(CONST) if rng.random() < 0.3 else Node(str(rng.choice(variables)))
        pair = (node, other) if rng.random() < 0.5 else (other, node)
        return _replace(root, i, Node(str(rng.choice(combine)), pair))
    if node.token == CONST:
        return _replace(root, i, Node(str(rng.choice(variables))))
    if node.token.startswith("x"):
        return _replace(root, i, Node(CONST))
    return root


def neighbours(expr: Expression, n_vars: int, rng: np.random.Generator, n: int,
               max_attempts: int | None = None, unary: Sequence[str] = UNARY,
               binary: Sequence[str] = BINARY) -> list[Expression]:
    """Up to ``n`` distinct single-edit neighbours of ``expr`` over variables ``x0 … x{n_vars-1}``, with new
    operators drawn from ``unary`` and ``binary`` (default: the whole table).

    Constants become unfitted placeholders. Neighbours that equal ``expr``'s skeleton, exceed the size or
    depth bounds, or repeat are skipped; at most ``max_attempts`` (default ``10 * n``) edits are drawn.
    """
    if n_vars < 1:
        raise ValueError("n_vars must be >= 1")
    root = expr.skeleton.root
    seen = {expr.key}
    out: list[Expression] = []
    for _ in range(max_attempts if max_attempts is not None else 10 * n):
        if len(out) >= n:
            break
        new = _edit(root, n_vars, rng, unary, binary)
        if new is root or new.depth() > MAX_DEPTH or len(new.prefix()) > MAX_NODES:
            continue
        cand = Expression(new)
        if cand.key in seen:
            continue
        seen.add(cand.key)
        out.append(cand)
    return out


def _all_edits(root: Node, n_vars: int, unary: Sequence[str], binary: Sequence[str]) -> list[Node]:
    """Every single edit of :func:`_edit`'s kinds, node by node in prefix order."""
    variables = [Node(f"x{j}") for j in range(n_vars)]
    combine = [op for op in _COMBINE if op in binary]
    out: list[Node] = []
    for i, node in enumerate(root.iter_nodes()):
        if node.token.startswith("x"):  # another variable, or a constant
            out += [_replace(root, i, v) for v in variables if v.token != node.token]
            out.append(_replace(root, i, Node(CONST)))
        elif node.token == CONST:
            out += [_replace(root, i, v) for v in variables]
        elif node.children:  # another operator of the same arity, or one of its operands in its place
            same = unary if len(node.children) == 1 else binary
            out += [_replace(root, i, Node(op, node.children)) for op in same if op != node.token]
            out += [_replace(root, i, child) for child in node.children]
        out += [_replace(root, i, Node(u, (node,))) for u in unary]  # wrapped in a function
        for op in combine:  # combined with a variable or a constant
            for other in (*variables, Node(CONST)):
                out.append(_replace(root, i, Node(op, (node, other))))
                if op in ("sub", "div"):
                    out.append(_replace(root, i, Node(op, (other, node))))
    return out


def all_neighbours(expr: Expression, n_vars: int, unary: Sequence[str] = UNARY,
                   binary: Sequence[str] = BINARY) -> list[Expression]:
    """Every distinct single-edit neighbour of ``expr``'s skeleton (the kinds of :func:`neighbours`), in a fixed
    order, without ``expr`` itself and without trees past the size or depth bounds."""
    if n_vars < 1:
        raise ValueError("n_vars must be >= 1")
    seen = {expr.key}
    out: list[Expression] = []
    for new in _all_edits(expr.skeleton.root, n_vars, unary, binary):
        if new.depth() > MAX_DEPTH or len(new.prefix()) > MAX_NODES:
            continue
        cand = Expression(new)
        if cand.key not in seen:
            seen.add(cand.key)
            out.append(cand)
    return out
