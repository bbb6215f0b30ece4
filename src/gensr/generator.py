"""Training-data generator: random (equation, data) pairs, E2E/GenSR style (docs/method.md §3).

GenSR trains its CVAE on pairs produced by a trimmed copy of the E2E generator (Kamienny et al. 2022,
``symbolicregression/envs/generators.py``). This module re-implements that generator on our grammar:

1. **Dimension** D ~ U{min_vars…max_vars} (or drawn by ``dim_weights``); binary count
   b ~ U{D−1…D+max_extra_binary}; unary count u ~ U{0…max_unary}. (E2E draws b ~ U{0…D+3} and rejects
   b < D−1 through ``enforce_dim``; the conditional law is the same.) D is kept fixed while an
   expression is resampled, so D follows exactly its configured law.
2. **Tree shape**: Lample & Charton's sampler, uniform over binary trees with b internal nodes
   (E2E ``generate_dist`` / ``sample_next_pos`` / ``generate_tree``).
3. **Leaves**, in a random order: x0…x_{D−1} first, then uniformly random variables (or, with probability
   ``prob_int_leaf``, an integer leaf 1…5); every variable therefore appears.
4. **Unaries** (E2E ``add_unaries``): a candidate unary above every child subtree (never the root) with fewer
   than ``max_unary_subtree`` tokens, then random deletions until u remain.
5. **Constants** (``constants="affine"``, E2E ``add_prefactors``): ``a + b·arg`` inside each unary whose
   argument is not add/sub, a factor on each non-add/sub child of add/sub, a prefactor if nothing else was
   added, then an outer additive constant (kept with probability ``constant_prob·outer_add_prob``). Each is
   a ``C`` leaf whose sampled value ±(1…999)·10^e, e ∈ {−3, −2, −1}, is used to compute y. GenSR as released
   adds no constants (``constants="none"``).
6. **Inputs**: the E2E cluster mixture (standardised per dimension) or a "physical" family with each variable
   uniform on its own positive interval (Feynman-like); see :func:`sample_inputs`.
7. **Validity**: rows where y is NaN/inf or |y| ≥ ``max_abs_y`` are dropped and redrawn; an expression valid
   on too few rows, or with constant y, is resampled.

Randomness comes only from an explicit :class:`numpy.random.Generator`. Problem ``i`` of a corpus with seed
``S`` uses :func:`problem_rng` (``SeedSequence(S, spawn_key=(i,))``), so a corpus is identical for any number
of worker processes. The hot path samples trees on plain Python lists, draws its uniforms from numpy in blocks
and evaluates the whole expression once per batch with a stack machine over the prefix tokens; sympy is never
used.

Corpora of problems are written and read by :mod:`gensr.corpus`.
"""

from __future__ import annotations

import dataclasses
import math
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache
from typing import Any

import numpy as np

from gensr.grammar import (
    BINARY,
    CONST,
    INT_TOKENS,
    MAX_DEPTH,
    MAX_NODES,
    MAX_VARS,
    UNARY,
    Expression,
    tree_from_prefix,
)
from gensr.inputs import FAMILIES, input_sampler
from gensr.structures import sample_structure

__all__ = ["GeneratorConfig", "Problem", "iter_problems", "problem_rng", "sample_expression", "sample_inputs",
           "sample_problem"]

Weights = tuple[tuple[str, float], ...]


# --------------------------------------------------------------------------------------------------
# configuration


@dataclass(frozen=True)
class GeneratorConfig:
    """Every knob of the generator. Defaults follow E2E (docs/method.md §3) unless a comment says otherwise.

    Weight tables are tuples of ``(name, weight)`` pairs (JSON-friendly and hashable); names missing from a
    table have weight 0. Lists are accepted and converted to tuples.
    """

    # ---- expression size
    min_vars: int = 1  # smallest input dimension D (E2E min_input_dimension)
    max_vars: int = 10  # largest D; the model reads x0…x9 (E2E/GenSR max_input_dimension)
    dim_weights: tuple[float, ...] = ()  # relative weights of D = min_vars…max_vars; () = uniform (E2E)
    max_extra_binary: int = 3  # b ~ U{D−1…D+3}: E2E's U{0…D+3} after rejecting trees missing a variable
    max_unary: int = 4  # u ~ U{0…max_unary} (E2E max_unary_ops)
    max_unary_subtree: int = 6  # unary candidates: child subtrees of fewer tokens (E2E max_unary_depth)
    max_len: int = 62  # longest prefix kept (longer ones are resampled): BOS+prefix+EOS fits 64 tokens
    short_len: int = 0  # expressions of at most this many tokens, not counting each C and its operator, are
    #   "short" (0: none are) …
    short_keep_prob: float = 1.0  # … and kept with this probability: the few short skeletons (x0, C·x0)
    #   otherwise repeat in most batches, while longer draws are almost all distinct (ours; E2E keeps all)
    # ---- operators
    binary_weights: Weights = (("add", 1.0), ("sub", 1.0), ("mul", 1.0), ("div", 0.0), ("pow", 0.0))  # E2E
    unary_weights: Weights = (  # E2E operators_to_downsample; neg/tanh are ours (not in E2E): 0
        ("sqrt", 5.0), ("inv", 3.0), ("pow2", 3.0), ("abs", 1.0), ("log", 1.0), ("exp", 1.0),
        ("sin", 1.0), ("cos", 1.0), ("pow3", 1.0), ("tan", 0.2), ("arctan", 0.2),
        ("arcsin", 0.0), ("arccos", 0.0), ("neg", 0.0), ("tanh", 0.0),
    )
    prob_int_leaf: float = 0.0  # a non-forced leaf is an integer 1…5 with this probability (E2E prob_const 0)
    # ---- constants
    constants: str = "affine"  # "affine": E2E prefactors as C leaves; "none": GenSR as released (no constants)
    constant_prob: float = 1.0  # each E2E prefactor slot is kept with this probability (1.0 = E2E: all)
    outer_add_prob: float = 1.0  # the outer additive slot is kept with constant_prob·this (physics laws rarely
    #   carry an additive offset; E2E: 1.0)
    constant_mantissa_max: int = 999  # |value| = m·10^e with m ~ U{1…999} (E2E float_precision 3)
    constant_exponents: tuple[int, ...] = (-3, -2, -1)  # e ~ U(this): values 0.001…99.9 (E2E prefactors)
    # ---- points
    max_points: int = 200  # N ≤ 200 rows per problem (E2E max_len, GenSR's fixed 200)
    min_points_per_dim: int = 5  # N ~ U{min(5·D, max_points)…max_points} (E2E min_len_per_dim)
    min_points: int = 1  # floor on N's lower bound; = max_points gives GenSR's fixed N
    input_families: Weights = (("cluster", 1.0), ("physical", 0.0))  # E2E uses only the cluster mixture
    max_clusters: int = 9  # cluster count k ~ U{1…9} (E2E max_centroids 10, exclusive)
    physical_low: tuple[float, float] = (0.1, 10.0)  # physical family: lower end lo ~ log-U(0.1, 10)
    physical_ratio: tuple[float, float] = (1.5, 10.0)  # … upper end hi = lo·U(1.5, 10): ranges within [0.1, 100]
    # ---- validity and noise
    max_abs_y: float = 1e20  # rows with |y| ≥ this are invalid (E2E: 1e103; ours must fit float32 storage)
    constant_y_rtol: float = 1e-6  # y is "constant" (rejected) if ptp(y) ≤ rtol·max|y|: float32 would flatten it
    min_valid_fraction: float = 0.5  # an expression valid on fewer rows of a batch is resampled (1.0 = E2E)
    max_point_draws: int = 4  # batches drawn to collect N valid rows before resampling the expression
    noise_gamma: float = 0.0  # target noise std = U(0, γ)·RMS(y) (E2E train_noise_gamma; off in GenSR)
    # ---- the nested laws (ours)
    structure_prob: float = 0.0  # share of expressions drawn as a nested structure (gensr.structures) instead
    #   of an E2E tree: functions of products, ratios and affine combinations, their sums and products
    require_all_inputs: bool = False  # drop expressions in which an input cancels (x4/x4): y must change when
    #   any one column's values are permuted (the data could not reveal a cancelled variable)
    max_attempts: int = 10_000  # expression resamples per problem before giving up with an error

    def with_dims(self, min_vars: int, max_vars: int) -> GeneratorConfig:
        """A copy drawing D from ``min_vars…max_vars``, keeping ``dim_weights`` for the Ds that stay (uniform
        where the old table says nothing or leaves only zeros)."""
        old = dict(zip(range(self.min_vars, self.max_vars + 1), self.dim_weights)) if self.dim_weights else {}
        w = tuple(old.get(d, 0.0) for d in range(min_vars, max_vars + 1))
        return dataclasses.replace(self, min_vars=min_vars, max_vars=max_vars, dim_weights=w if sum(w) > 0 else ())

    def __post_init__(self) -> None:
        for name in ("binary_weights", "unary_weights", "input_families"):
            object.__setattr__(self, name, _as_weights(name, getattr(self, name)))
        for name in ("constant_exponents",):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        for name in ("physical_low", "physical_ratio"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        _validate(self)


def _as_weights(name: str, value: Any) -> Weights:
    if isinstance(value, Mapping):
        value = tuple(value.items())
    try:
        pairs = tuple((str(k), float(w)) for k, w in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of (name, weight) pairs, got {value!r}") from None
    return pairs


def _validate(c: GeneratorConfig) -> None:
    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise ValueError(f"invalid GeneratorConfig: {msg}")

    need(1 <= c.min_vars <= c.max_vars <= MAX_VARS, f"need 1 ≤ min_vars ≤ max_vars ≤ {MAX_VARS}")
    need(c.max_extra_binary >= 0 and c.max_unary >= 0, "max_extra_binary and max_unary must be ≥ 0")
    need(c.max_unary_subtree >= 1, "max_unary_subtree must be ≥ 1")
    need(1 <= c.max_len <= MAX_NODES, f"max_len must be in [1, {MAX_NODES}]")
    for name, allowed in (("binary_weights", BINARY), ("unary_weights", UNARY), ("input_families", FAMILIES)):
        pairs = getattr(c, name)
        names = [k for k, _ in pairs]
        unknown = [k for k in names if k not in allowed]
        need(not unknown, f"unknown names {unknown} in {name}; allowed: {list(allowed)}")
        need(len(set(names)) == len(names), f"duplicate names in {name}")
        need(all(math.isfinite(w) and w >= 0 for _, w in pairs), f"{name} must be finite and ≥ 0")
        need(name == "unary_weights" or sum(w for _, w in pairs) > 0, f"{name} needs a positive weight")
    need(c.max_unary == 0 or sum(w for _, w in c.unary_weights) > 0, "unary_weights needs a positive weight")
    need(0.0 <= c.prob_int_leaf <= 1.0, "prob_int_leaf must be in [0, 1]")
    need(0.0 <= c.constant_prob <= 1.0, "constant_prob must be in [0, 1]")
    need(0.0 <= c.outer_add_prob <= 1.0, "outer_add_prob must be in [0, 1]")
    need(c.short_len >= 0 and 0.0 < c.short_keep_prob <= 1.0, "need short_len ≥ 0 and short_keep_prob in (0, 1]")
    n_dims = c.max_vars - c.min_vars + 1
    need(not c.dim_weights or (len(c.dim_weights) == n_dims and all(math.isfinite(w) and w >= 0
                                                                    for w in c.dim_weights)
                               and sum(c.dim_weights) > 0),
         f"dim_weights needs {n_dims} finite weights ≥ 0 (one per D = min_vars…max_vars), not all 0")
    need(c.constants in ("none", "affine"), f"constants must be 'none' or 'affine', got {c.constants!r}")
    need(c.constant_mantissa_max >= 1 and len(c.constant_exponents) >= 1, "empty constant range")
    need(1 <= c.max_points <= 32767, "max_points must be in [1, 32767] (stored as int16)")
    need(c.min_points_per_dim >= 0 and 1 <= c.min_points <= c.max_points, "need 1 ≤ min_points ≤ max_points")
    need(1 <= c.max_clusters, "max_clusters must be ≥ 1")
    low, ratio = c.physical_low, c.physical_ratio
    need(len(low) == 2 and 0 < low[0] <= low[1], "physical_low must be (lo, hi) with 0 < lo ≤ hi")
    need(len(ratio) == 2 and 1 < ratio[0] <= ratio[1], "physical_ratio must be (r0, r1) with 1 < r0 ≤ r1")
    need(0 < c.max_abs_y <= 3e38, "max_abs_y must be in (0, 3e38] (y is stored as float32)")
    need(c.constant_y_rtol >= 0, "constant_y_rtol must be ≥ 0")
    need(0 < c.min_valid_fraction <= 1, "min_valid_fraction must be in (0, 1]")
    need(c.max_point_draws >= 1 and c.max_attempts >= 1, "max_point_draws and max_attempts must be ≥ 1")
    need(c.noise_gamma >= 0, "noise_gamma must be ≥ 0")


# --------------------------------------------------------------------------------------------------
# tables derived from a config (read-only, cached per config)


@cache
def _tree_counts(max_ops: int) -> tuple[tuple[int, ...], ...]:
    """E2E ``generate_dist`` (binary trees only): ``D[n][e]`` = number of trees with n operators to place
    and e empty slots; ``D[0][e] = 1`` (e ≥ 1), ``D[n][0] = 0``, ``D[n][e] = D[n][e−1] + D[n−1][e+1]``."""
    table = [[0] + [1] * (2 * max_ops)]
    for n in range(1, 2 * max_ops + 1):
        row = [0]
        for e in range(1, 2 * max_ops - n + 1):
            row.append(row[e - 1] + table[n - 1][e + 1])
        table.append(row)
    return tuple(tuple(r) for r in table)


@cache
def _position_cdf(nb_empty: int, nb_ops: int) -> tuple[float, ...]:
    """Cumulative law of the next operator's position among the ``nb_empty`` empty slots (E2E
    ``sample_next_pos``): P(k) = D[nb_ops−1][nb_empty−k+1] / D[nb_ops][nb_empty]."""
    table = _tree_counts(max(16, nb_ops + nb_empty))
    total = table[nb_ops][nb_empty]
    acc, out = 0, []
    for k in range(nb_empty):
        acc += table[nb_ops - 1][nb_empty - k + 1]
        out.append(acc / total)
    out[-1] = 1.0
    return tuple(out)


class _Plan:
    """Plain-Python tables for the hot path, derived once from a config (habit 4: narrow inputs)."""

    def __init__(self, c: GeneratorConfig):
        self.config = c

        def table(pairs: Weights) -> tuple[tuple[str, ...], tuple[float, ...], float]:
            kept = [(k, w) for k, w in pairs if w > 0]
            cum = list(np.cumsum([w for _, w in kept])) if kept else []
            return tuple(k for k, _ in kept), tuple(float(v) for v in cum), float(cum[-1]) if cum else 0.0

        self.bin_tokens, self.bin_cum, self.bin_total = table(c.binary_weights)
        self.un_tokens, self.un_cum, self.un_total = table(c.unary_weights)
        self.fam_tokens, self.fam_cum, self.fam_total = table(c.input_families)
        self.affine = c.constants == "affine"
        self.pow10 = tuple(10.0**e for e in c.constant_exponents)
        self.n_const_codes = 2 * c.constant_mantissa_max * len(c.constant_exponents)
        self.var_tokens = tuple(f"x{i}" for i in range(MAX_VARS))
        dims = c.dim_weights or (1.0,) * (c.max_vars - c.min_vars + 1)
        self.dim_cum = tuple(float(v) for v in np.cumsum(dims))

    def draw_dim(self, u: float) -> int:
        """D from one U[0, 1) draw: uniform on min_vars…max_vars, or by ``dim_weights``."""
        c = self.config
        if not c.dim_weights:  # the historical draw, kept bit-identical for uniform configs
            return c.min_vars + int(u * (c.max_vars - c.min_vars + 1))
        i = bisect_right(self.dim_cum, u * self.dim_cum[-1])
        return c.min_vars + min(i, len(self.dim_cum) - 1)


@lru_cache(maxsize=32)
def _plan(config: GeneratorConfig) -> _Plan:
    return _Plan(config)


def _choose(u: float, tokens: tuple[str, ...], cum: tuple[float, ...], total: float) -> str:
    i = bisect_right(cum, u * total)
    return tokens[i if i < len(tokens) else -1]


def _uniforms(rng: np.random.Generator, block: int = 256) -> Iterator[float]:
    """An endless stream of U[0, 1) floats, drawn from ``rng`` in blocks (numpy per-call cost dominates)."""
    while True:
        yield from rng.random(block).tolist()


# --------------------------------------------------------------------------------------------------
# expressions

_ADDSUB = frozenset(("add", "sub"))


def _tree_shape(nxt: Any, n_bin: int, p: _Plan) -> tuple[list[str | None], list[int], list[int]]:
    """E2E's generate_tree: ``n_bin`` binary operators placed uniformly among the trees of that size.

    Node ids are creation order (E2E's ``empty_nodes`` list); a leaf has ``left[i] == -1`` and no token yet.
    """
    tok: list[str | None] = [None]
    left = [-1]
    right = [-1]
    next_en, nb_empty = 0, 1
    for ops_left in range(n_bin, 0, -1):
        pos = bisect_right(_position_cdf(nb_empty, ops_left), nxt())
        next_en += pos
        m = len(tok)
        tok[next_en] = _choose(nxt(), p.bin_tokens, p.bin_cum, p.bin_total)
        left[next_en] = m
        right[next_en] = m + 1
        tok += (None, None)
        left += (-1, -1)
        right += (-1, -1)
        next_en += 1
        nb_empty += 1 - pos
    return tok, left, right


def _place_leaves(nxt: Any, tok: list[str | None], left: list[int], n_vars: int, p: _Plan) -> bool:
    """Leaves in a random order get x0…x_{D−1} first, then random variables (or integers); False if D > leaves."""
    leaves = [i for i in range(len(tok)) if left[i] < 0]
    for i in range(len(leaves) - 1, 0, -1):  # Fisher–Yates
        j = int(nxt() * (i + 1))
        leaves[i], leaves[j] = leaves[j], leaves[i]
    var_tokens = p.var_tokens
    prob_int = p.config.prob_int_leaf
    for k, leaf in enumerate(leaves):
        if k < n_vars:
            tok[leaf] = var_tokens[k]
        elif prob_int > 0 and nxt() < prob_int:
            tok[leaf] = INT_TOKENS[int(nxt() * len(INT_TOKENS))]
        else:
            tok[leaf] = var_tokens[int(nxt() * n_vars)]
    return len(leaves) >= n_vars  # always true with n_bin ≥ D−1; kept as the documented E2E rejection


def _place_unaries(nxt: Any, left: list[int], right: list[int], n_un: int, p: _Plan) -> list[str | None]:
    """Unary wrappers: candidates above every non-root subtree of < max_unary_subtree tokens, n_un kept."""
    n_nodes = len(left)
    unary: list[str | None] = [None] * n_nodes
    if n_un and p.un_tokens:
        size = [1] * n_nodes
        for i in range(n_nodes - 1, -1, -1):  # children have larger ids than their parent
            if left[i] >= 0:
                size[i] = 1 + size[left[i]] + size[right[i]]
        limit = p.config.max_unary_subtree
        cand = [i for i in range(1, n_nodes) if size[i] < limit]
        keep = min(n_un, len(cand))
        for k in range(keep):  # partial Fisher–Yates: the kept subset is uniform
            j = k + int(nxt() * (len(cand) - k))
            cand[k], cand[j] = cand[j], cand[k]
            unary[cand[k]] = _choose(nxt(), p.un_tokens, p.un_cum, p.un_total)
    return unary


def _emit_prefix(nxt: Any, tok: list[str | None], left: list[int], right: list[int], unary: list[str | None],
                 p: _Plan) -> tuple[list[str], list[float], int]:
    """Prefix tokens, constant values and depth, with E2E's prefactors (add_prefactors) when affine is on."""
    c = p.config
    out: list[str] = []
    vals: list[float] = []
    affine = p.affine
    cp = c.constant_prob

    def keep() -> bool:  # each prefactor slot survives with probability constant_prob (no draw at 1.0)
        return cp >= 1.0 or nxt() < cp

    n_codes, mmax, pow10 = p.n_const_codes, c.constant_mantissa_max, p.pow10

    def const() -> float:
        code = int(nxt() * n_codes)
        sign = -1.0 if code & 1 else 1.0
        code >>= 1
        return sign * float(1 + code % mmax) * pow10[code // mmax]

    deepest = [0]

    def emit(i: int, d: int) -> None:  # node i with its unary wrapper, if any; d = depth of its first token
        un = unary[i]
        if un is not None:
            out.append(un)
            if affine and tok[i] not in _ADDSUB and keep():
                out.extend(("add", CONST, "mul", CONST))
                vals.append(const())
                vals.append(const())
                d += 2
            d += 1
        t = tok[i]
        out.append(t)  # type: ignore[arg-type]
        if left[i] >= 0:
            for ch in (left[i], right[i]):
                if affine and t in _ADDSUB and (unary[ch] or tok[ch]) not in _ADDSUB and keep():
                    out.extend(("mul", CONST))
                    vals.append(const())
                    emit(ch, d + 2)
                else:
                    emit(ch, d + 1)
        elif d > deepest[0]:  # leaves are the deepest tokens of every path
            deepest[0] = d

    emit(0, 1)
    if affine:
        head: list[str] = []
        head_vals: list[float] = []
        if (cp * c.outer_add_prob >= 1.0) or nxt() < cp * c.outer_add_prob:
            head += ("add", CONST)
            head_vals.append(const())
            deepest[0] += 1
        if not vals and keep():
            head += ("mul", CONST)
            head_vals.append(const())
            deepest[0] += 1
        out = head + out
        vals = head_vals + vals
    return out, vals, deepest[0]


def _sample_prefix(nxt: Any, n_vars: int, p: _Plan) -> tuple[list[str], list[float]] | None:
    """One attempt at an expression over exactly x0…x_{n_vars−1}: prefix tokens and constant values (in
    prefix order), or ``None`` if it is longer than ``max_len``. ``nxt()`` returns the next U[0, 1).

    The draws come in a fixed order (sizes, shape, leaves, unaries, prefactors), so a seed gives one corpus.
    """
    c = p.config
    if c.structure_prob > 0 and nxt() < c.structure_prob:  # (no draw at 0: old corpora stay the same)
        drawn = sample_structure(nxt, n_vars)
        return drawn if drawn is not None and len(drawn[0]) <= c.max_len else None
    n_bin = n_vars - 1 + int(nxt() * (c.max_extra_binary + 2))
    n_un = int(nxt() * (c.max_unary + 1))
    tok, left, right = _tree_shape(nxt, n_bin, p)
    if not _place_leaves(nxt, tok, left, n_vars, p):
        return None
    unary = _place_unaries(nxt, left, right, n_un, p)
    out, vals, depth = _emit_prefix(nxt, tok, left, right, unary, p)
    if len(out) > c.max_len or depth > MAX_DEPTH:
        return None
    return out, vals


def sample_expression(rng: np.random.Generator, config: GeneratorConfig | None = None,
                      n_vars: int | None = None) -> Expression:
    """Sample one expression (no data): tree, unaries and constants as in :func:`sample_problem`.

    ``n_vars`` fixes D; ``None`` draws D ~ U{min_vars…max_vars}. The expression uses exactly
    x0…x_{D−1}; its ``C`` leaves carry their sampled values.
    """
    p = _plan(config or GeneratorConfig())
    c = p.config
    nxt = _uniforms(rng).__next__
    if n_vars is None:
        n_vars = p.draw_dim(nxt())
    elif not 1 <= n_vars <= MAX_VARS:
        raise ValueError(f"n_vars must be in [1, {MAX_VARS}], got {n_vars}")
    for _ in range(c.max_attempts):
        sampled = _sample_prefix(nxt, n_vars, p)
        if sampled is not None:
            return Expression.from_prefix(*sampled)
    raise RuntimeError(f"no expression of ≤ {c.max_len} tokens in {c.max_attempts} attempts; raise max_len")


# --------------------------------------------------------------------------------------------------
# evaluation: the grammar's one numpy evaluator


def _evaluate_prefix(tokens: Sequence[str], values: Sequence[float], X: np.ndarray) -> np.ndarray:
    """y of prefix ``tokens`` (constants ``values``) on rows ``X`` (n, D), through the grammar's numpy evaluator
    (the one :meth:`Expression.numpy_fn` uses). Call under ``np.errstate(all="ignore")``; may hold inf/NaN."""
    out = np.asarray(Expression(tree_from_prefix(tokens, values)).numpy_fn()(X, values), dtype=np.float64)
    return np.broadcast_to(out, (X.shape[0],)) if out.ndim == 0 else out


# --------------------------------------------------------------------------------------------------
# inputs


def _inputs(family: str, n_vars: int, rng: np.random.Generator, c: GeneratorConfig) -> Any:
    return input_sampler(family, n_vars, rng, max_clusters=c.max_clusters, physical_low=c.physical_low,
                         physical_ratio=c.physical_ratio)


def sample_inputs(n_vars: int, n_points: int, rng: np.random.Generator, config: GeneratorConfig | None = None,
                  *, family: str | None = None) -> np.ndarray:
    """Draw an input matrix ``X`` (n_points, n_vars), float64.

    ``family`` is ``"cluster"`` (E2E mixture, standardised columns) or ``"physical"`` (positive per-variable
    ranges); ``None`` draws it from ``config.input_families``.
    """
    c = config or GeneratorConfig()
    if family is None:
        p = _plan(c)
        family = _choose(float(rng.random()), p.fam_tokens, p.fam_cum, p.fam_total)
    return _inputs(family, n_vars, rng, c)(n_points)


# --------------------------------------------------------------------------------------------------
# problems


@dataclass(frozen=True, eq=False)
class Problem:
    """One training pair.

    Attributes
    ----------
    prefix : prefix tokens of the expression (``C`` for each constant).
    constants : float64 values of the ``C`` leaves, in prefix order (used to compute ``y``).
    X : (n_points, n_vars) float64 inputs (values exactly representable in float32, as stored in a corpus).
    y : (n_points,) float64 targets, finite with ``|y| < max_abs_y`` (plus noise if ``noise_gamma > 0``).
    n_vars : D; the expression uses exactly x0…x_{D−1}.
    family : input family, one of :data:`gensr.inputs.FAMILIES`.
    expr : the :class:`~gensr.grammar.Expression` (built on first access; its constants carry the values).
    """

    prefix: tuple[str, ...]
    constants: np.ndarray = field(repr=False)
    X: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    n_vars: int
    family: str

    @cached_property
    def expr(self) -> Expression:
        # lazy: building the immutable tree costs about as much as sampling the problem
        return Expression.from_prefix(self.prefix, self.constants)


def problem_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of problem ``index`` of a corpus with ``seed``: ``SeedSequence(seed).spawn(...)[index]``
    without spawning the others. Independent of how problems are split across workers."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))


def sample_problem(rng: np.random.Generator, config: GeneratorConfig | None = None) -> Problem:
    """Sample one valid (expression, data) pair.

    D, N and the input family are drawn once; the expression (and its inputs) are resampled until the
    expression is valid on at least ``min_valid_fraction`` of a batch, ``N`` valid rows are collected within
    ``max_point_draws`` batches and y is not constant. ``RuntimeError`` after ``max_attempts`` failures.
    """
    return _sample_problem(rng, _plan(config or GeneratorConfig()))


def _sample_problem(rng: np.random.Generator, p: _Plan) -> Problem:
    c = p.config
    nxt = _uniforms(rng).__next__
    n_vars = p.draw_dim(nxt())
    family = _choose(nxt(), p.fam_tokens, p.fam_cum, p.fam_total)
    lo = min(max(c.min_points, c.min_points_per_dim * n_vars), c.max_points)
    n = lo + int(nxt() * (c.max_points - lo + 1))
    need_valid = math.ceil(c.min_valid_fraction * n)
    for _ in range(c.max_attempts):
        sampled = _sample_prefix(nxt, n_vars, p)
        if sampled is None:
            continue
        tokens, vals = sampled
        if (c.short_keep_prob < 1.0 and len(tokens) - 2 * tokens.count(CONST) <= c.short_len
                and nxt() >= c.short_keep_prob):
            continue
        draw = _inputs(family, n_vars, rng, c)
        xs, ys, have = [], [], 0
        for _draw in range(c.max_point_draws):
            # float32 round trip: stored X and y stay consistent
            X = draw(n).astype(np.float32).astype(np.float64)
            with np.errstate(all="ignore"):
                y = _evaluate_prefix(tokens, vals, X)
                ok = np.abs(y) < c.max_abs_y  # False for NaN and ±inf
            n_ok = int(np.count_nonzero(ok))
            if n_ok < need_valid:
                break
            if n_ok < n:
                X, y = X[ok], y[ok]
            xs.append(X)
            ys.append(y)
            have += n_ok
            if have >= n:
                break
        if have < n:
            continue
        X = xs[0][:n] if len(xs) == 1 else np.concatenate(xs)[:n]
        y = ys[0][:n] if len(ys) == 1 else np.concatenate(ys)[:n]
        y_min, y_max = float(y.min()), float(y.max())
        amax = max(y_max, -y_min)
        if n > 1 and (y_max - y_min <= c.constant_y_rtol * amax or amax == 0.0):
            continue
        if c.require_all_inputs and not _uses_every_input(tokens, vals, X[:32], y[:32]):
            continue
        if c.noise_gamma > 0:
            gamma = rng.uniform(0.0, c.noise_gamma)
            y = y + gamma * math.sqrt(float(np.mean(y * y))) * rng.standard_normal(n)
        return Problem(prefix=tuple(tokens), constants=np.array(vals, dtype=np.float64), X=X, y=y,
                       n_vars=n_vars, family=family)
    raise RuntimeError(
        f"no valid problem in {c.max_attempts} attempts (D={n_vars}, N={n}, family={family}); "
        "check max_len, min_valid_fraction and the operator weights")


def _uses_every_input(tokens: Sequence[str], vals: Sequence[float], X: np.ndarray, y: np.ndarray) -> bool:
    """Whether permuting any one column's values changes y (a cancelled variable changes nothing)."""
    for j in range(X.shape[1]):
        Xp = X.copy()
        Xp[:, j] = np.roll(X[:, j], 1)
        with np.errstate(all="ignore"):
            if np.all(np.abs(_evaluate_prefix(tokens, vals, Xp) - y) <= 1e-9 * np.abs(y) + 1e-300):
                return False
    return True


def iter_problems(n: int, seed: int, config: GeneratorConfig | None = None, *, start: int = 0
                  ) -> Iterator[Problem]:
    """Problems ``start … start+n−1`` of the corpus with ``seed``; problem i uses :func:`problem_rng`."""
    p = _plan(config or GeneratorConfig())
    for i in range(start, start + n):
        yield _sample_problem(problem_rng(seed, i), p)
