"""Training-data generator: random (equation, data) pairs, E2E/GenSR style (GENSR_METHOD.md §3).

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

Corpus format (:func:`write_corpus`): ``shard-00000.npz``… each holding ``tokens`` int16 (m, max_len+2)
(``VOCAB.encode`` of the prefix, 0-padded), ``constants`` float64 flat with ``const_offsets`` int64 (m+1),
``X`` float32 (m, max_points, 10) and ``y`` float32 (m, max_points) zero-padded, ``n_points`` int16,
``n_vars`` int8 and ``family`` int8 (index into :data:`FAMILIES`); plus ``config.json`` (written last).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import zipfile
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from gensr.grammar import (
    BINARY,
    CONST,
    INT_TOKENS,
    MAX_DEPTH,
    MAX_NODES,
    MAX_VARS,
    OPERATORS,
    UNARY,
    VOCAB,
    Expression,
)

__all__ = [
    "FAMILIES",
    "GeneratorConfig",
    "Problem",
    "config_from_dict",
    "config_to_dict",
    "iter_corpus",
    "iter_problems",
    "load_corpus",
    "problem_rng",
    "sample_expression",
    "sample_inputs",
    "sample_problem",
    "write_corpus",
]

FAMILIES = ("cluster", "physical")  # input families; a corpus stores the index into this tuple
CORPUS_FORMAT = 1  # bump when the shard layout changes
_SHARD_KEYS = ("tokens", "constants", "const_offsets", "X", "y", "n_points", "n_vars", "family")

Weights = tuple[tuple[str, float], ...]


# --------------------------------------------------------------------------------------------------
# configuration


@dataclass(frozen=True)
class GeneratorConfig:
    """Every knob of the generator. Defaults follow E2E (GENSR_METHOD.md §3) unless a comment says otherwise.

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
    max_attempts: int = 10_000  # expression resamples per problem before giving up with an error

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


def config_to_dict(config: GeneratorConfig) -> dict[str, Any]:
    """JSON-ready dict of a config (tuples become lists in JSON; :func:`config_from_dict` restores them)."""
    return dataclasses.asdict(config)


def config_from_dict(data: Mapping[str, Any]) -> GeneratorConfig:
    """Rebuild a :class:`GeneratorConfig` from :func:`config_to_dict` output (or its JSON round trip).

    Missing keys take their defaults; an unknown key is a ``ValueError`` naming the closest known keys.
    """
    known = [f.name for f in dataclasses.fields(GeneratorConfig)]
    unknown = [k for k in data if k not in known]
    if unknown:
        hints = {k: difflib.get_close_matches(k, known, n=3) for k in unknown}
        text = "; ".join(f"{k!r} (did you mean {h}?)" if h else repr(k) for k, h in hints.items())
        raise ValueError(f"unknown GeneratorConfig keys: {text}")
    return GeneratorConfig(**{k: _tuplify(v) for k, v in data.items()})


def _tuplify(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_tuplify(v) for v in value)
    return value


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


def _sample_prefix(nxt: Any, n_vars: int, p: _Plan) -> tuple[list[str], list[float]] | None:
    """One attempt at an expression over exactly x0…x_{n_vars−1}: prefix tokens and constant values (in
    prefix order), or ``None`` if it is longer than ``max_len``. ``nxt()`` returns the next U[0, 1)."""
    c = p.config
    n_bin = n_vars - 1 + int(nxt() * (c.max_extra_binary + 2))
    n_un = int(nxt() * (c.max_unary + 1))

    # tree shape: E2E generate_tree. Node ids are creation order, which is E2E's `empty_nodes` list.
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
    n_nodes = len(tok)

    # leaves in a random order: x0…x_{D−1} first, then random variables (or integers)
    leaves = [i for i in range(n_nodes) if left[i] < 0]
    for i in range(len(leaves) - 1, 0, -1):  # Fisher–Yates
        j = int(nxt() * (i + 1))
        leaves[i], leaves[j] = leaves[j], leaves[i]
    var_tokens = p.var_tokens
    prob_int = c.prob_int_leaf
    for k, leaf in enumerate(leaves):
        if k < n_vars:
            tok[leaf] = var_tokens[k]
        elif prob_int > 0 and nxt() < prob_int:
            tok[leaf] = INT_TOKENS[int(nxt() * len(INT_TOKENS))]
        else:
            tok[leaf] = var_tokens[int(nxt() * n_vars)]
    if len(leaves) < n_vars:  # cannot happen with n_bin ≥ D−1; kept as the documented E2E rejection
        return None

    # unaries: candidates above every non-root subtree of < max_unary_subtree tokens, keep n_un at random
    unary: list[str | None] = [None] * n_nodes
    if n_un and p.un_tokens:
        size = [1] * n_nodes
        for i in range(n_nodes - 1, -1, -1):  # children have larger ids than their parent
            if left[i] >= 0:
                size[i] = 1 + size[left[i]] + size[right[i]]
        limit = c.max_unary_subtree
        cand = [i for i in range(1, n_nodes) if size[i] < limit]
        keep = min(n_un, len(cand))
        for k in range(keep):  # partial Fisher–Yates: the kept subset is uniform
            j = k + int(nxt() * (len(cand) - k))
            cand[k], cand[j] = cand[j], cand[k]
            unary[cand[k]] = _choose(nxt(), p.un_tokens, p.un_cum, p.un_total)

    # prefix emission with E2E prefactors (add_prefactors) when affine constants are on
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
    if len(out) > c.max_len or deepest[0] > MAX_DEPTH:
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
# fast evaluation (same numpy implementations as grammar.Expression.evaluate)

_ARITY = {name: op.arity for name, op in OPERATORS.items()}
_NUMPY = {name: op.numpy for name, op in OPERATORS.items()}
_VAR_INDEX = {f"x{i}": i for i in range(MAX_VARS)}
_INT_VALUE = {t: float(t) for t in INT_TOKENS}


def _evaluate_prefix(tokens: Sequence[str], values: Sequence[float], cols: np.ndarray) -> np.ndarray:
    """Evaluate prefix tokens on ``cols`` (D, n): a stack machine over the reversed prefix. Constants stay
    Python floats (numpy broadcasts them). Call under ``np.errstate(all="ignore")``; may return inf/NaN."""
    stack: list[Any] = []
    push, pop = stack.append, stack.pop
    k = len(values)
    for t in reversed(tokens):
        a = _ARITY.get(t)
        if a == 2:
            first = pop()
            push(_NUMPY[t](first, pop()))
        elif a == 1:
            push(_NUMPY[t](pop()))
        elif t == CONST:
            k -= 1
            push(values[k])
        elif t in _VAR_INDEX:
            push(cols[_VAR_INDEX[t]])
        else:
            push(_INT_VALUE[t])
    out = np.asarray(stack[0], dtype=np.float64)
    return np.broadcast_to(out, (cols.shape[1],)) if out.ndim == 0 else out


# --------------------------------------------------------------------------------------------------
# inputs


def _random_rotations(rng: np.random.Generator, k: int, d: int) -> np.ndarray:
    """k Haar-random orthogonal (d, d) matrices: QR of Gaussian matrices with the sign fix.

    E2E draws from SO(d) (scipy's ``special_ortho_group``); Haar on O(d) gives the same law of X here, since
    a reflection flips one coordinate of ``mean + z·scale``, whose law is symmetric in each coordinate (means
    N(0, 1), noise Gaussian or U(−1, 1)). Skipping the determinant fix saves a ``det`` per problem.
    """
    if d == 1:
        return np.ones((k, 1, 1))
    q, r = np.linalg.qr(rng.standard_normal((k, d, d)))
    return q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]


def _cluster_uniforms(max_clusters: int, n_vars: int) -> int:
    return max_clusters * (n_vars + 1)


class _ClusterInputs:
    """E2E's input law: a mixture of k ~ U{1…max_clusters} clusters with means N(0, 1), per-axis variances
    U(0, 1), a random rotation each and weights U(0, 1) (normalised); all Gaussian or all uniform (50/50);
    then per-dimension standardisation. Rows come in random order (E2E stacks them cluster by cluster).

    The first batch fixes the standardisation; later batches (refills after invalid rows) reuse it, so every
    row has the same law."""

    def __init__(self, n_vars: int, rng: np.random.Generator, max_clusters: int):
        self.rng = rng
        u = rng.random(2 + _cluster_uniforms(max_clusters, n_vars))  # one draw: numpy's per-call cost dominates
        k = 1 + int(u[0] * max_clusters)
        self.gaussian = bool(u[1] < 0.5)
        self.scales = np.sqrt(u[2 : 2 + k * n_vars]).reshape(k, n_vars)  # variances U(0, 1)
        w = u[2 + k * n_vars : 2 + k * n_vars + k]
        self.cum = np.cumsum(w / w.sum())
        self.means = rng.standard_normal((k, n_vars))
        self.rot = _random_rotations(rng, k, n_vars)
        self.shift: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    def __call__(self, n: int) -> np.ndarray:
        rng = self.rng
        comp = np.minimum(np.searchsorted(self.cum, rng.random(n), side="right"), len(self.cum) - 1)
        d = self.means.shape[1]
        z = rng.standard_normal((n, d)) if self.gaussian else rng.uniform(-1.0, 1.0, (n, d))
        v = self.means[comp] + z * self.scales[comp]
        x = np.matmul(v, self.rot)[comp, np.arange(n)]  # (k, n, d): every row by every rotation, then pick
        if self.shift is None:  # np.mean/np.std cost ~3x more in Python overhead at this size
            self.shift = x.sum(axis=0) / n
            dev = x - self.shift
            std = np.sqrt(np.einsum("ij,ij->j", dev, dev) / n)
            self.scale = np.where(std > 0, std, 1.0)
            return dev / self.scale
        return (x - self.shift) / self.scale


class _PhysicalInputs:
    """Feynman-like inputs: variable j is uniform on its own positive interval [lo_j, hi_j] with
    lo_j ~ log-U(physical_low) and hi_j = lo_j·U(physical_ratio) (defaults: within [0.1, 100])."""

    def __init__(self, n_vars: int, rng: np.random.Generator, low: tuple[float, float],
                 ratio: tuple[float, float]):
        self.rng = rng
        self.lo = np.exp(rng.uniform(math.log(low[0]), math.log(low[1]), n_vars))
        self.hi = self.lo * rng.uniform(ratio[0], ratio[1], n_vars)

    def __call__(self, n: int) -> np.ndarray:
        return self.lo + (self.hi - self.lo) * self.rng.random((n, self.lo.shape[0]))


def _input_sampler(family: str, n_vars: int, rng: np.random.Generator, c: GeneratorConfig) -> Any:
    if family == "cluster":
        return _ClusterInputs(n_vars, rng, c.max_clusters)
    if family == "physical":
        return _PhysicalInputs(n_vars, rng, c.physical_low, c.physical_ratio)
    raise ValueError(f"unknown input family {family!r}; known: {list(FAMILIES)}")


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
    return _input_sampler(family, n_vars, rng, c)(n_points)


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
    family : input family, one of :data:`FAMILIES`.
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
        draw = _input_sampler(family, n_vars, rng, c)
        xs, ys, have = [], [], 0
        for _draw in range(c.max_point_draws):
            # float32 round trip: stored X and y stay consistent
            X = draw(n).astype(np.float32).astype(np.float64)
            with np.errstate(all="ignore"):
                y = _evaluate_prefix(tokens, vals, X.T)
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
        if c.noise_gamma > 0:
            gamma = rng.uniform(0.0, c.noise_gamma)
            y = y + gamma * math.sqrt(float(np.mean(y * y))) * rng.standard_normal(n)
        return Problem(prefix=tuple(tokens), constants=np.array(vals, dtype=np.float64), X=X, y=y,
                       n_vars=n_vars, family=family)
    raise RuntimeError(
        f"no valid problem in {c.max_attempts} attempts (D={n_vars}, N={n}, family={family}); "
        "check max_len, min_valid_fraction and the operator weights")


def iter_problems(n: int, seed: int, config: GeneratorConfig | None = None, *, start: int = 0
                  ) -> Iterator[Problem]:
    """Problems ``start … start+n−1`` of the corpus with ``seed``; problem i uses :func:`problem_rng`."""
    p = _plan(config or GeneratorConfig())
    for i in range(start, start + n):
        yield _sample_problem(problem_rng(seed, i), p)


# --------------------------------------------------------------------------------------------------
# corpus on disk


def _version() -> str:
    try:
        from gensr import __version__  # type: ignore[attr-defined]

        return str(__version__)
    except ImportError:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("gensr")
        except PackageNotFoundError:
            return "unknown"


def _shard_arrays(start: int, stop: int, seed: int, config: GeneratorConfig) -> dict[str, np.ndarray]:
    m = stop - start
    width = config.max_len + 2
    tokens = np.zeros((m, width), dtype=np.int16)
    X = np.zeros((m, config.max_points, MAX_VARS), dtype=np.float32)
    y = np.zeros((m, config.max_points), dtype=np.float32)
    n_points = np.zeros(m, dtype=np.int16)
    n_vars = np.zeros(m, dtype=np.int8)
    family = np.zeros(m, dtype=np.int8)
    offsets = np.zeros(m + 1, dtype=np.int64)
    consts: list[np.ndarray] = []
    for k, prob in enumerate(iter_problems(m, seed, config, start=start)):
        ids = VOCAB.encode(prob.prefix, width)
        tokens[k, : len(ids)] = ids
        rows, d = prob.X.shape
        X[k, :rows, :d] = prob.X
        y[k, :rows] = prob.y
        n_points[k] = rows
        n_vars[k] = prob.n_vars
        family[k] = FAMILIES.index(prob.family)
        consts.append(prob.constants)
        offsets[k + 1] = offsets[k] + len(prob.constants)
    flat = np.concatenate(consts) if consts else np.zeros(0)
    return {"tokens": tokens, "constants": flat.astype(np.float64), "const_offsets": offsets, "X": X, "y": y,
            "n_points": n_points, "n_vars": n_vars, "family": family}


def _write_shard(path: str, start: int, stop: int, seed: int, config: GeneratorConfig, compress: bool) -> int:
    """Worker entry point (top-level so 'spawn' can pickle it): generate and atomically write one shard."""
    arrays = _shard_arrays(start, stop, seed, config)
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        (np.savez_compressed if compress else np.savez)(fh, **arrays)
    os.replace(tmp, path)
    return stop - start


def _shard_name(index: int) -> str:
    return f"shard-{index:05d}.npz"


def write_corpus(out_dir: str | os.PathLike[str], n: int, *, seed: int, config: GeneratorConfig | None = None,
                 workers: int = 1, shard_size: int = 10_000, progress: bool = True, compress: bool = True,
                 overwrite: bool = False) -> Path:
    """Generate problems ``0…n−1`` of ``seed`` into ``out_dir`` as shards plus ``config.json``.

    Shard ``s`` holds problems ``[s·shard_size, (s+1)·shard_size)`` and is written by one task, so the bytes
    do not depend on ``workers``. Worker processes use the 'spawn' start method. ``config.json`` is written
    last: a directory without it is an incomplete corpus. An existing corpus in ``out_dir`` is an error
    unless ``overwrite``. Returns the directory.
    """
    config = config or GeneratorConfig()
    if n < 0 or shard_size < 1 or workers < 1:
        raise ValueError("need n ≥ 0, shard_size ≥ 1 and workers ≥ 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    existing = sorted(out.glob("shard-*.npz")) + sorted(out.glob("config.json"))
    if existing and not overwrite:
        raise FileExistsError(f"{out} already holds a corpus ({existing[0].name}); pass overwrite=True")
    for old in existing:
        old.unlink()
    tasks = [(str(out / _shard_name(s)), start, min(start + shard_size, n), seed, config, compress)
             for s, start in enumerate(range(0, n, shard_size))]

    from tqdm.auto import tqdm

    with tqdm(total=n, disable=not progress, unit="eq", desc="generating") as bar:
        if workers == 1 or len(tasks) <= 1:
            for path, start, stop, *rest in tasks:
                _write_shard(path, start, stop, *rest)
                bar.update(stop - start)
        else:
            import multiprocessing

            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx) as pool:
                futures = [pool.submit(_write_shard, *t) for t in tasks]
                for fut in as_completed(futures):
                    bar.update(fut.result())
    meta = {
        "format": CORPUS_FORMAT,
        "n": n,
        "seed": seed,
        "shard_size": shard_size,
        "n_shards": len(tasks),
        "compressed": compress,
        "gensr_version": _version(),
        "vocab_signature": VOCAB.signature(),
        "keys": list(_SHARD_KEYS),
        "config": config_to_dict(config),
    }
    tmp = out / "config.json.tmp"
    tmp.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(tmp, out / "config.json")
    return out


def _read_meta(path: Path) -> dict[str, Any]:
    meta_path = path / "config.json"
    if not meta_path.is_file():
        raise ValueError(f"{path} is not a complete corpus: config.json is missing")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"corpus metadata {meta_path} is unreadable: {exc}") from None
    if meta.get("format") != CORPUS_FORMAT:
        raise ValueError(f"corpus {path} has format {meta.get('format')!r}; this gensr reads {CORPUS_FORMAT}")
    if meta.get("vocab_signature") != VOCAB.signature():
        raise ValueError(f"corpus {path} was written with vocabulary {meta.get('vocab_signature')!r}, "
                         f"but this gensr's vocabulary is {VOCAB.signature()!r}; regenerate the corpus")
    return meta


def iter_corpus(path: str | os.PathLike[str]) -> Iterator[dict[str, np.ndarray]]:
    """Yield the shards of a corpus one at a time (dicts of arrays, see the module docstring).

    The metadata is checked before the first shard: ``ValueError`` for a missing ``config.json``, a
    different vocabulary signature or format; ``ValueError`` naming the file for a missing or corrupt shard.
    """
    root = Path(path)
    meta = _read_meta(root)
    missing = [_shard_name(s) for s in range(meta["n_shards"]) if not (root / _shard_name(s)).is_file()]
    if missing:
        raise ValueError(f"corpus {root} is incomplete: missing {missing[:5]}{'…' if len(missing) > 5 else ''}")
    return _iter_shards(root, meta)


def _iter_shards(root: Path, meta: dict[str, Any]) -> Iterator[dict[str, np.ndarray]]:
    width = meta["config"]["max_len"] + 2
    for s in range(meta["n_shards"]):
        file = root / _shard_name(s)
        expected = min(meta["shard_size"], meta["n"] - s * meta["shard_size"])
        try:
            with np.load(file, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in _SHARD_KEYS}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"corrupt corpus shard {file}: {type(exc).__name__}: {exc}") from None
        m = arrays["tokens"].shape[0]
        bad = m != expected or arrays["tokens"].shape[1] != width or any(
            arrays[k].shape[0] != m for k in ("X", "y", "n_points", "n_vars", "family")) or (
            arrays["const_offsets"].shape != (m + 1,)
            or int(arrays["const_offsets"][-1]) != arrays["constants"].shape[0])
        if bad:
            raise ValueError(f"corrupt corpus shard {file}: array shapes do not match its metadata")
        yield arrays


def load_corpus(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Load a whole corpus into memory: the shards concatenated (``const_offsets`` re-based so constants of
    problem i are ``constants[const_offsets[i]:const_offsets[i+1]]``). Errors as in :func:`iter_corpus`;
    for corpora larger than memory, iterate with :func:`iter_corpus` instead."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in _SHARD_KEYS}
    base = 0
    for shard in iter_corpus(path):
        for k in _SHARD_KEYS:
            if k == "const_offsets":
                parts[k].append(shard[k][:-1] + base)
            else:
                parts[k].append(shard[k])
        base += shard["constants"].shape[0]
    if not parts["tokens"]:
        meta = _read_meta(Path(path))
        c = meta["config"]
        return {"tokens": np.zeros((0, c["max_len"] + 2), np.int16), "constants": np.zeros(0),
                "const_offsets": np.zeros(1, np.int64),
                "X": np.zeros((0, c["max_points"], MAX_VARS), np.float32),
                "y": np.zeros((0, c["max_points"]), np.float32), "n_points": np.zeros(0, np.int16),
                "n_vars": np.zeros(0, np.int8), "family": np.zeros(0, np.int8)}
    out = {k: np.concatenate(v) for k, v in parts.items() if k != "const_offsets"}
    out["const_offsets"] = np.concatenate([*parts["const_offsets"], np.array([base], np.int64)])
    return out
