"""Latent-space diagnostics: interpolation between equations and function-family probes (GENSR_METHOD.md §1, §8.8).

GenSR claims a latent space that is globally *symbolically continuous* (every point decodes, similar
structures lie close) and locally *numerically smooth*; its secondary summary shows a t-SNE over three
function families × two input dimensions, and probe scores of 0.849 (GenSR), 0.723 (SNIP) and 0.661 (E2E)
are quoted for it (unverified; no script is released). This module measures both claims for our model.

Interpolation (:func:`interpolate`, :func:`interpolation_stats`)
----------------------------------------------------------------
Two equations A and B are evaluated on shared points: ``n_points`` rows of the union of their variables
(``d`` = highest variable index + 1 columns), uniform on ``x_range`` (default [-2, 2]); rows where A or B
is undefined, or ``|y| >= 1e20``, are dropped and redrawn. Each is encoded with the **posterior** branch
q(z | equation, data) (token row ``VOCAB.encode(expr.prefix)``, its own y, the shared X) and the two means
are joined by a straight line (or by slerp, ``spherical=True``). ``steps`` points, endpoints included, are
decoded greedily with the grammar-constrained decoder (no variable beyond ``d``).

Per step: the decoded skeleton, its validity (:func:`gensr.codec.is_valid_decode`: complete, over the
data's variables, finite on every shared row with constants = 1), and its distance to A and to B.
**Distance** = normalised RMSE, ``RMSE(f(X), y_target) / std(y_target)`` (plain RMSE if y_target is
constant), with every constant of the decoded skeleton set to 1: nothing is fitted, so the distance is a
property of the skeleton alone and costs nothing; it is NaN for an invalid step. A consequence: even a
perfectly reconstructed ``2.5*x0`` is at distance > 0 from A (its skeleton is ``C*x0``, evaluated as x0).

Summary: valid-decode rate; whether the distance to A is non-decreasing and the distance to B
non-increasing along the path, over the steps with a distance (exact comparisons), **and** strictly larger
(smaller) at the last such step than at the first: a flat profile, e.g. every step decoding the same
skeleton, or fewer than two valid steps, counts as "not monotonic", so a collapsed decoder cannot score
well; the Spearman correlation of each distance with t (ideally +1 and −1; NaN if fewer than three
distances or all equal); the number of distinct canonical skeletons decoded.

Function-family probe (:func:`probe`)
-------------------------------------
Six classes: three families × input dimension 2 or 5 (:data:`PROBE_CLASSES`). A generated equation's
family is decided from the set of its operator tokens (:func:`function_family`):

* **exp**: contains ``exp`` and none of sin, cos, tan, log;
* **trig**: contains at least one of sin, cos, tan and neither exp nor log;
* **log**: contains ``log`` and none of exp, sin, cos, tan;
* equations with ``tanh``, ``arcsin``, ``arccos`` or ``arctan`` (:data:`EXCLUDED_UNARY`) belong to no
  family; the algebraic operators (add, sub, mul, div, pow, neg, inv, sqrt, pow2, pow3, abs) are neutral.

Sampling (:func:`sample_family_problem`): :func:`gensr.generator.sample_problem` with
``min_vars = max_vars = d`` and the unary weights of the other families' markers and of
:data:`EXCLUDED_UNARY` set to 0 (all other weights as in the generator config), then **rejection** of
equations that contain no marker of their family (e.g. no unary at all). Inputs, constants and point
counts follow the generator config (by default the checkpoint's own, see
:func:`generator_config_from_checkpoint`).

Embeddings: ``gensr`` = the prior mean μ of p(z | data) (data only, no equation); ``untrained`` = the same
on a randomly initialised model of the same shape (``CVAE(model.cfg)`` under ``torch.manual_seed(0)``);
``summary`` = hand-made statistics of (X, y) (:func:`summary_features`). Probes (scikit-learn, both after
standardisation): multinomial logistic regression and 5-nearest-neighbours, each fitted on a stratified 70 %
split and scored on the held-out 30 %, once per seed; accuracy is reported as mean ± std over seeds, for the
6-way task and, collapsing the dimension, for the 3-way family task (chance: 1/6 and 1/3).
:func:`plot_tsne` draws t-SNE maps of the embeddings coloured by class and by mean y.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gensr._utils import model_device
from gensr.codec import arity_tensor, collate, decoded_expression, is_valid_decode, token_mask_for
from gensr.generator import GeneratorConfig, Problem, config_from_dict, sample_inputs, sample_problem
from gensr.grammar import MAX_NODES, VOCAB, Expression, parse
from gensr.model import CVAE

__all__ = [
    "EMBEDDINGS",
    "EXCLUDED_UNARY",
    "FAMILIES",
    "FAMILY_MARKERS",
    "PROBES",
    "PROBE_CLASSES",
    "PROBE_DIMS",
    "InterpolationResult",
    "InterpolationStep",
    "ProbeResult",
    "ProbeScore",
    "function_family",
    "generator_config_from_checkpoint",
    "interpolate",
    "interpolation_stats",
    "plot_interpolation",
    "plot_tsne",
    "prior_embeddings",
    "probe",
    "sample_family_problem",
    "summary_features",
]

MAX_ABS_Y = 1e20  # rows with |y| at or above this are dropped (the generator's default max_abs_y; float32-safe)
MIN_SHARED_ROWS = 10  # fewer valid shared rows than this: the pair cannot be compared
_ENCODE_BATCH = 128  # problems per prior-encoder call in the probe


# --------------------------------------------------------------------------------------------------
# small helpers


def generator_config_from_checkpoint(path: str | Path | None) -> GeneratorConfig | None:
    """The generator config a checkpoint was trained with (``None`` if its config.json does not record one)."""
    from gensr.checkpoint import read_checkpoint_config

    _, config = read_checkpoint_config(path)
    data = config.get("generator")
    return config_from_dict(data) if isinstance(data, dict) else None


def _fit_generator(config: GeneratorConfig | None, model: CVAE) -> GeneratorConfig:
    """The generator config clipped to what the model reads (equation length, input width)."""
    cfg = config or GeneratorConfig()
    max_len = min(cfg.max_len, model.cfg.max_len - 2)
    max_vars = min(cfg.max_vars, model.cfg.max_vars)
    return dataclasses.replace(cfg.with_dims(min(cfg.min_vars, max_vars), max_vars), max_len=max_len)


def _nanmean(values: Sequence[float]) -> float:
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if arr.size else math.nan


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's ρ (NaN for fewer than three pairs or a constant input)."""
    from scipy.stats import spearmanr

    if len(x) < 3 or np.ptp(x) == 0 or np.all(y == y[0]):
        return math.nan
    return float(spearmanr(x, y).statistic)


def _nrmse(pred: np.ndarray, target: np.ndarray) -> float:
    """RMSE / std(target) (plain RMSE for a constant target); inf on overflow."""
    with np.errstate(all="ignore"):
        scale = float(np.std(target))
        rmse = float(np.sqrt(np.mean((pred - target) ** 2)))
    return rmse / scale if scale > 0 else rmse


def _ones(expr: Expression) -> Expression:
    return expr.with_constants(np.ones(expr.n_constants)) if expr.n_constants else expr


# --------------------------------------------------------------------------------------------------
# interpolation


@dataclass(frozen=True)
class InterpolationStep:
    """One decoded point of the path.

    Attributes
    ----------
    t : position on the path, 0 at A and 1 at B.
    expression : the decoded skeleton (constants unfitted), ``None`` if the tokens do not parse.
    equation : its infix text (``C`` for each constant); ``"<unparsable>"`` if ``expression`` is None.
    valid : :func:`gensr.codec.is_valid_decode` on the shared points.
    dist_a, dist_b : normalised RMSE to A's and B's values with every constant = 1; NaN if not valid.
    is_a, is_b : the decoded skeleton's canonical key equals A's / B's.
    """

    t: float
    expression: Expression | None
    equation: str
    valid: bool
    dist_a: float
    dist_b: float
    is_a: bool
    is_b: bool


@dataclass(frozen=True)
class InterpolationResult:
    """Decodes along the latent path between A and B, and their summary (see the module docstring).

    Attributes
    ----------
    a, b : the endpoint equations (with their constants).
    spherical : slerp (True) or a straight line (False).
    steps : the per-step table, t = 0 … 1.
    valid_rate : share of valid steps.
    monotonic_a : the distance to A never decreases along the path (over steps with a distance) and ends
        larger than it starts.
    monotonic_b : the distance to B never increases and ends smaller than it starts.
    spearman_a, spearman_b : Spearman's ρ of t with the distance to A (ideally +1) and to B (ideally −1).
    n_distinct : distinct canonical skeletons among the decodes.
    x_range : the interval the shared points were drawn from (``None`` if the caller gave X).
    X, y_a, y_b : the shared points and the two equations' values on them.
    """

    a: Expression
    b: Expression
    spherical: bool
    steps: tuple[InterpolationStep, ...]
    valid_rate: float
    monotonic_a: bool
    monotonic_b: bool
    spearman_a: float
    spearman_b: float
    n_distinct: int
    x_range: tuple[float, float] | None
    X: np.ndarray = field(repr=False, compare=False)
    y_a: np.ndarray = field(repr=False, compare=False)
    y_b: np.ndarray = field(repr=False, compare=False)

    @property
    def monotonic(self) -> bool:
        """Both distances monotonic in the expected direction."""
        return self.monotonic_a and self.monotonic_b

    @property
    def n_points(self) -> int:
        return int(self.X.shape[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary and table (non-finite numbers become ``None``)."""

        def num(v: float) -> float | None:
            return float(v) if math.isfinite(v) else None

        return {
            "a": self.a.to_infix(), "b": self.b.to_infix(), "spherical": self.spherical,
            "n_points": self.n_points, "x_range": list(self.x_range) if self.x_range else None,
            "valid_rate": self.valid_rate, "monotonic_a": self.monotonic_a, "monotonic_b": self.monotonic_b,
            "spearman_a": num(self.spearman_a), "spearman_b": num(self.spearman_b), "n_distinct": self.n_distinct,
            "steps": [{"t": s.t, "equation": s.equation,
                       "prefix": list(s.expression.prefix) if s.expression is not None else None,
                       "valid": s.valid, "dist_a": num(s.dist_a), "dist_b": num(s.dist_b),
                       "is_a": s.is_a, "is_b": s.is_b} for s in self.steps],
        }

    def format(self) -> str:
        """A plain-text table and summary, as printed by ``gensr interpolate``."""
        where = (f"on [{self.x_range[0]:g}, {self.x_range[1]:g}]" if self.x_range else "given")
        lines = [f"A = {self.a}    B = {self.b}",
                 f"{'slerp' if self.spherical else 'straight line'}, {len(self.steps)} steps, "
                 f"{self.n_points} shared points {where}; distance = RMSE/std(y) with every constant C = 1",
                 f"{'t':>6}  {'valid':5}  {'dist A':>9}  {'dist B':>9}  decoded"]

        def fmt(v: float) -> str:
            return f"{v:9.3g}" if not math.isnan(v) else f"{'-':>9}"

        for s in self.steps:
            tag = " (=A)" if s.is_a else " (=B)" if s.is_b else ""
            lines.append(f"{s.t:6.3f}  {'yes' if s.valid else 'no':5}  {fmt(s.dist_a)}  {fmt(s.dist_b)}  "
                         f"{s.equation}{tag}")
        n_valid = sum(s.valid for s in self.steps)

        def rho(v: float) -> str:
            return "n/a" if math.isnan(v) else f"{v:+.2f}"

        lines += [f"valid decodes: {n_valid}/{len(self.steps)} ({self.valid_rate:.0%})",
                  f"distance to A non-decreasing: {'yes' if self.monotonic_a else 'no'} "
                  f"(Spearman rho with t = {rho(self.spearman_a)})",
                  f"distance to B non-increasing: {'yes' if self.monotonic_b else 'no'} "
                  f"(Spearman rho with t = {rho(self.spearman_b)})",
                  f"distinct skeletons: {self.n_distinct}"]
        return "\n".join(lines)


def _as_expression(f: str | Expression) -> Expression:
    if isinstance(f, Expression):
        return f
    if isinstance(f, str):
        return parse(f)
    raise TypeError(f"expected a formula string or an Expression, got {type(f).__name__}")


def _values(expr: Expression, X: np.ndarray) -> np.ndarray:
    y = expr.evaluate(X)
    with np.errstate(invalid="ignore"):
        y[~(np.abs(y) < MAX_ABS_Y)] = np.nan
    return y


def _shared_points(a: Expression, b: Expression, n_vars: int, n_points: int, x_range: tuple[float, float],
                   rng: np.random.Generator) -> np.ndarray:
    lo, hi = float(x_range[0]), float(x_range[1])
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"x_range must be a finite interval (lo, hi) with lo < hi, got {x_range}")
    kept: list[np.ndarray] = []
    have = 0
    for _ in range(10):  # a few batches: formulas defined on a small part of the box still get their rows
        X = rng.uniform(lo, hi, size=(n_points, n_vars))
        ok = np.isfinite(_values(a, X)) & np.isfinite(_values(b, X))
        kept.append(X[ok])
        have += int(ok.sum())
        if have >= n_points:
            break
    return np.concatenate(kept)[:n_points]


@torch.no_grad()
def _posterior_means(model: CVAE, exprs: Sequence[Expression], X: np.ndarray, ys: Sequence[np.ndarray]
                     ) -> torch.Tensor:
    device = model_device(model)
    seqs = [VOCAB.encode(e.prefix, max_len=model.cfg.max_len) for e in exprs]
    tokens = torch.zeros(len(seqs), max(map(len, seqs)), dtype=torch.long)
    for i, s in enumerate(seqs):
        tokens[i, : len(s)] = torch.tensor(s)
    Xt = torch.as_tensor(X, dtype=torch.float32).expand(len(exprs), *X.shape)
    yt = torch.as_tensor(np.stack(ys), dtype=torch.float32)
    var_mask = torch.ones(len(exprs), X.shape[1], dtype=torch.bool)
    mu, _ = model.encode_posterior(tokens.to(device), Xt.to(device), yt.to(device), var_mask.to(device))
    return mu.float()


def _path(za: torch.Tensor, zb: torch.Tensor, ts: torch.Tensor, spherical: bool) -> torch.Tensor:
    """(steps, L) latents from za to zb: straight line, or slerp (a line where the angle is ~0)."""
    t = ts[:, None]
    if spherical:
        na, nb = za.norm(), zb.norm()
        if float(na * nb) > 0:
            omega = torch.arccos((za @ zb / (na * nb)).clamp(-1.0, 1.0))
            if float(torch.sin(omega)) > 1e-6:
                return (torch.sin((1 - t) * omega) * za + torch.sin(t * omega) * zb) / torch.sin(omega)
    return (1 - t) * za + t * zb


def interpolate(model: CVAE, a: str | Expression, b: str | Expression, *, steps: int = 9, spherical: bool = False,
                n_points: int = 200, rng: int | np.random.Generator | None = 0,
                x_range: tuple[float, float] = (-2.0, 2.0), X: np.ndarray | None = None) -> InterpolationResult:
    """Decode the latent path between the posterior means of equations ``a`` and ``b``.

    Parameters
    ----------
    model : a trained :class:`gensr.model.CVAE`.
    a, b : formula strings (``"x0*sin(x1)"``, constants allowed: ``"2.5*x0"``) or :class:`Expression` s.
    steps : decoded points including both endpoints (≥ 2).
    spherical : slerp instead of the straight line.
    n_points : shared rows drawn uniformly on ``x_range`` over the union of the variables.
    rng : seed or generator for the shared points.
    x_range : interval for every variable (e.g. ``(0.1, 4)`` for formulas with log or sqrt).
    X : shared points to use instead of drawing them (columns = variables; invalid rows are dropped).

    Returns
    -------
    InterpolationResult
        The per-step table and summary; see the module docstring for every definition.

    Raises
    ------
    ValueError
        A formula that does not parse, uses more variables than the model reads, is too long for it, or
        fewer than 10 shared rows on which both formulas are finite.
    """
    ea, eb = _as_expression(a), _as_expression(b)
    if int(steps) < 2:
        raise ValueError(f"steps must be at least 2 (both endpoints), got {steps}")
    used = sorted(set(ea.variables) | set(eb.variables))
    if X is None:
        if n_points < MIN_SHARED_ROWS:
            raise ValueError(f"n_points must be at least {MIN_SHARED_ROWS}, got {n_points}")
        n_vars = (used[-1] + 1) if used else 1
        if n_vars > model.cfg.max_vars:
            raise ValueError(f"the formulas use x{n_vars - 1}; the model reads at most {model.cfg.max_vars} variables")
        X = _shared_points(ea, eb, n_vars, int(n_points), x_range, np.random.default_rng(rng))
    else:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or (used and used[-1] >= X.shape[1]) or X.shape[1] > model.cfg.max_vars:
            raise ValueError(f"X of shape {X.shape} does not cover the formulas' variables {used} "
                             f"(or has more than {model.cfg.max_vars} columns)")
        X = X[np.isfinite(_values(ea, X)) & np.isfinite(_values(eb, X))]
        x_range = None  # type: ignore[assignment]
    if len(X) < MIN_SHARED_ROWS:
        where = f"on [{x_range[0]:g}, {x_range[1]:g}]" if x_range is not None else "in the given X"
        raise ValueError(f"A = {ea} and B = {eb} are both finite on only {len(X)} points {where}; "
                         "try another range (e.g. 0.1 4 for log or sqrt)")
    y_a, y_b = _values(ea, X), _values(eb, X)
    model.eval()
    device = model_device(model)
    mu = _posterior_means(model, [ea, eb], X, [y_a, y_b])
    ts = torch.linspace(0.0, 1.0, int(steps), device=device)
    z = _path(mu[0], mu[1], ts, spherical)
    mask = token_mask_for([X.shape[1]] * len(ts), device)
    decoded = model.decode(z, arity=arity_tensor(device), token_mask=mask)
    table = []
    for t, ids in zip(ts.tolist(), decoded):
        expr = decoded_expression(ids)
        valid = is_valid_decode(expr, X)
        if valid:
            pred = _ones(expr).evaluate(X)  # type: ignore[union-attr]
            da, db = _nrmse(pred, y_a), _nrmse(pred, y_b)
        else:
            da = db = math.nan
        table.append(InterpolationStep(
            t=float(t), expression=expr, equation=expr.to_infix() if expr is not None else "<unparsable>",
            valid=valid, dist_a=da, dist_b=db, is_a=expr is not None and expr.key == ea.key,
            is_b=expr is not None and expr.key == eb.key))
    t_arr = np.array([s.t for s in table])
    d_a, d_b = np.array([s.dist_a for s in table]), np.array([s.dist_b for s in table])
    has = ~np.isnan(d_a)
    da_, db_, th = d_a[has], d_b[has], t_arr[has]
    return InterpolationResult(
        a=ea, b=eb, spherical=bool(spherical), steps=tuple(table),
        valid_rate=float(np.mean([s.valid for s in table])),
        monotonic_a=bool(len(da_) >= 2 and np.all(da_[1:] >= da_[:-1]) and da_[-1] > da_[0]),
        monotonic_b=bool(len(db_) >= 2 and np.all(db_[1:] <= db_[:-1]) and db_[-1] < db_[0]),
        spearman_a=_spearman(th, da_), spearman_b=_spearman(th, db_),
        n_distinct=len({s.expression.key for s in table if s.expression is not None}),
        x_range=(float(x_range[0]), float(x_range[1])) if x_range is not None else None,
        X=X, y_a=y_a, y_b=y_b)


def interpolation_stats(model: CVAE, n_pairs: int = 100, *, rng: int | np.random.Generator | None = 0,
                        generator_config: GeneratorConfig | None = None, steps: int = 9, spherical: bool = False,
                        n_points: int = 200, max_tries: int = 20) -> dict[str, float]:
    """:func:`interpolate` over random pairs of generated equations with the same input dimension.

    Each pair: A from the generator (``generator_config``, default :class:`GeneratorConfig`, clipped to the
    model's equation length and input width), B from the same generator with A's dimension d, and shared
    points X from the generator's input distribution (:func:`gensr.generator.sample_inputs`, d columns);
    rows where A or B is undefined are dropped. A pair with fewer than 10 shared rows is redrawn (at most
    ``max_tries`` times, then counted in ``n_skipped``).

    Returns
    -------
    dict
        ``n_pairs``, ``n_skipped``, ``steps``, ``spherical``; means over pairs of ``valid_rate``,
        ``n_distinct`` (distinct skeletons per path), ``spearman_a`` / ``spearman_b`` (NaN-skipping);
        shares of pairs with ``monotonic`` (both), ``monotonic_a``, ``monotonic_b``; ``endpoint_a`` /
        ``endpoint_b``, the share of paths whose first / last decode has A's / B's skeleton.
    """
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be positive, got {n_pairs}")
    gen = np.random.default_rng(rng)
    cfg = _fit_generator(generator_config, model)
    results: list[InterpolationResult] = []
    skipped = 0
    for _ in range(int(n_pairs)):
        for _try in range(max_tries):
            pa = sample_problem(gen, cfg)
            d = pa.n_vars
            pb = sample_problem(gen, cfg.with_dims(d, d))
            X = sample_inputs(d, n_points, gen, cfg)
            try:
                results.append(interpolate(model, pa.expr, pb.expr, steps=steps, spherical=spherical, X=X))
                break
            except ValueError:
                continue
        else:
            skipped += 1
    out: dict[str, float] = {"n_pairs": float(len(results)), "n_skipped": float(skipped), "steps": float(steps),
                             "spherical": float(bool(spherical))}
    out["valid_rate"] = _nanmean([r.valid_rate for r in results])
    out["monotonic"] = _nanmean([r.monotonic for r in results])
    out["monotonic_a"] = _nanmean([r.monotonic_a for r in results])
    out["monotonic_b"] = _nanmean([r.monotonic_b for r in results])
    out["spearman_a"] = _nanmean([r.spearman_a for r in results])
    out["spearman_b"] = _nanmean([r.spearman_b for r in results])
    out["n_distinct"] = _nanmean([r.n_distinct for r in results])
    out["endpoint_a"] = _nanmean([r.steps[0].is_a for r in results])
    out["endpoint_b"] = _nanmean([r.steps[-1].is_b for r in results])
    return out


def _figure(figsize: tuple[float, float]) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ValueError("plotting needs matplotlib: pip install 'gensr[plot]'") from None
    return Figure(figsize=figsize)


def plot_interpolation(result: InterpolationResult, path: str | Path) -> Path:
    """Plot A, B and every valid decoded curve (constants = 1) against the one variable; saves a PNG.

    ``ValueError`` if A and B together use more than one variable.
    """
    used = sorted(set(result.a.variables) | set(result.b.variables))
    if len(used) > 1:
        raise ValueError(f"the plot draws curves of one variable; A and B use {len(used)} "
                         f"({', '.join(f'x{i}' for i in used)})")
    col = used[0] if used else 0
    order = np.argsort(result.X[:, col])
    x = result.X[order, col]
    fig = _figure((7.0, 4.5))
    ax = fig.add_subplot(1, 1, 1)
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    for s in result.steps:
        if s.valid and s.expression is not None:
            ax.plot(x, _ones(s.expression).evaluate(result.X)[order], color=cmap(s.t), lw=1.2, alpha=0.8,
                    label=f"t={s.t:.2f}: {s.equation}")
    ax.plot(x, result.y_a[order], "k--", lw=2, label=f"A: {result.a}")
    ax.plot(x, result.y_b[order], "r:", lw=2, label=f"B: {result.b}")
    ax.set_xlabel(f"x{col}")
    ax.set_ylabel("y (decoded skeletons with C = 1)")
    ax.set_title(f"latent {'slerp' if result.spherical else 'interpolation'}: "
                 f"{sum(s.valid for s in result.steps)}/{len(result.steps)} valid")
    ax.legend(fontsize=6, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    return path


# --------------------------------------------------------------------------------------------------
# function-family probe

FAMILIES = ("exp", "trig", "log")
FAMILY_MARKERS: dict[str, frozenset[str]] = {
    "exp": frozenset({"exp"}), "trig": frozenset({"sin", "cos", "tan"}), "log": frozenset({"log"})}
EXCLUDED_UNARY = frozenset({"tanh", "arcsin", "arccos", "arctan"})  # transcendental but in no family
PROBE_DIMS = (2, 5)
PROBE_CLASSES = tuple(f"{f}-{d}d" for f in FAMILIES for d in PROBE_DIMS)
EMBEDDINGS = ("gensr", "untrained", "summary")
PROBES = ("logistic", "knn")
_UNTRAINED_SEED = 0


def function_family(prefix: Sequence[str]) -> str | None:
    """The family (``"exp"``, ``"trig"``, ``"log"``) of a prefix token sequence, or ``None`` (see module doc)."""
    ops = set(prefix)
    if ops & EXCLUDED_UNARY:
        return None
    hits = [f for f in FAMILIES if ops & FAMILY_MARKERS[f]]
    return hits[0] if len(hits) == 1 else None


def _family_config(config: GeneratorConfig, family: str, n_vars: int) -> GeneratorConfig:
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose from {FAMILIES}")
    forbidden = EXCLUDED_UNARY.union(*(FAMILY_MARKERS[f] for f in FAMILIES if f != family))
    weights = tuple((k, 0.0 if k in forbidden else w) for k, w in config.unary_weights)
    if config.max_unary < 1 or not any(w > 0 for k, w in weights if k in FAMILY_MARKERS[family]):
        raise ValueError(f"the generator config never samples a {family} operator "
                         f"({sorted(FAMILY_MARKERS[family])}); the {family} class cannot be built")
    return dataclasses.replace(config.with_dims(n_vars, n_vars), unary_weights=weights)


def sample_family_problem(family: str, n_vars: int, rng: np.random.Generator,
                          config: GeneratorConfig | None = None, *, max_tries: int = 5_000) -> Problem:
    """A generated problem of ``family`` with ``n_vars`` inputs, by restricted weights and rejection."""
    cfg = _family_config(config or GeneratorConfig(), family, n_vars)
    for _ in range(max_tries):
        problem = sample_problem(rng, cfg)
        if function_family(problem.prefix) == family:
            return problem
    raise RuntimeError(f"no {family} equation with {n_vars} variables in {max_tries} draws")


@torch.no_grad()
def prior_embeddings(model: CVAE, problems: Sequence[Problem], *, batch_size: int = _ENCODE_BATCH) -> np.ndarray:
    """(n, latent_dim) prior means μ of p(z | X, y) for each problem (the equation is not seen)."""
    model.eval()
    device = model_device(model)
    out = []
    for s in range(0, len(problems), batch_size):
        batch = collate(problems[s : s + batch_size], MAX_NODES + 2)  # tokens are collated but never read
        mu, _ = model.encode_prior(batch["X"].to(device), batch["y"].to(device), batch["var_mask"].to(device),
                                   batch["point_mask"].to(device))
        out.append(mu.float().cpu().numpy())
    return np.nan_to_num(np.concatenate(out).astype(np.float64))


def summary_features(X: np.ndarray, y: np.ndarray, max_vars: int = 10) -> np.ndarray:
    """A fixed-width vector of simple statistics of one dataset: the non-learned baseline of the probe.

    With ``s = sign(y)·log(1 + |y|)`` (scale-tamed y): mean, std, min, max and the 5/25/50/75/95 %
    quantiles of s; skewness and excess kurtosis of standardised y; the share of y > 0; the number of
    input columns; then for each of ``max_vars`` columns (zeros where absent): a present flag, mean and
    std of x_j, and Pearson and Spearman correlations of x_j with y. Non-finite entries become 0.
    """
    from scipy.stats import rankdata

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(all="ignore"):
        s = np.sign(y) * np.log1p(np.abs(y))
        z = (y - y.mean()) / y.std() if y.std() > 0 else np.zeros_like(y)
        head = [s.mean(), s.std(), s.min(), s.max(), *np.quantile(s, [0.05, 0.25, 0.5, 0.75, 0.95]),
                np.mean(z**3), np.mean(z**4) - 3.0, np.mean(y > 0), X.shape[1]]
        cols = np.zeros((max_vars, 5))
        ry = rankdata(y)
        for j in range(min(X.shape[1], max_vars)):
            x = X[:, j]
            pearson = np.corrcoef(x, y)[0, 1] if x.std() > 0 and y.std() > 0 else 0.0
            spear = np.corrcoef(rankdata(x), ry)[0, 1] if x.std() > 0 and y.std() > 0 else 0.0
            cols[j] = (1.0, x.mean(), x.std(), pearson, spear)
    return np.nan_to_num(np.concatenate([np.asarray(head, dtype=np.float64), cols.ravel()]),
                         nan=0.0, posinf=0.0, neginf=0.0)


@dataclass(frozen=True)
class ProbeScore:
    """Accuracy of one probe on one embedding, over seeds (6-way classes and 3-way families)."""

    embedding: str
    probe: str
    accuracy: float
    accuracy_std: float
    family_accuracy: float
    family_accuracy_std: float
    per_seed: tuple[float, ...]


@dataclass(frozen=True)
class ProbeResult:
    """Function-family probe results (see the module docstring).

    Attributes
    ----------
    classes : the class names, :data:`PROBE_CLASSES`; ``labels`` index into it.
    n_per_class, seeds, test_size : the protocol.
    scores : one :class:`ProbeScore` per embedding × probe.
    labels : (n,) class index of each problem.
    mean_y : (n,) mean of each problem's y (for the t-SNE colouring).
    embeddings : name → (n, width) features (``gensr``, ``untrained``, ``summary``).
    """

    classes: tuple[str, ...]
    n_per_class: int
    seeds: tuple[int, ...]
    test_size: float
    scores: tuple[ProbeScore, ...]
    labels: np.ndarray = field(repr=False, compare=False)
    mean_y: np.ndarray = field(repr=False, compare=False)
    embeddings: dict[str, np.ndarray] = field(repr=False, compare=False)

    def score(self, embedding: str, probe: str = "logistic") -> ProbeScore:
        for s in self.scores:
            if s.embedding == embedding and s.probe == probe:
                return s
        raise KeyError(f"no score for embedding {embedding!r} and probe {probe!r}")

    def accuracy(self, embedding: str, probe: str = "logistic") -> float:
        """Mean 6-way held-out accuracy of ``probe`` on ``embedding``."""
        return self.score(embedding, probe).accuracy

    def to_dict(self) -> dict[str, Any]:
        return {"classes": list(self.classes), "n_per_class": self.n_per_class, "seeds": list(self.seeds),
                "test_size": self.test_size, "scores": [dataclasses.asdict(s) for s in self.scores]}

    def format(self) -> str:
        """A plain-text table, as printed by ``gensr probe``."""
        lines = [f"{len(self.classes)} classes ({', '.join(self.classes)}), {self.n_per_class} per class, "
                 f"held-out {self.test_size:.0%}, seeds {list(self.seeds)}; chance 6-way "
                 f"{1 / len(self.classes):.3f}, 3-way {1 / len(FAMILIES):.3f}",
                 f"{'embedding':<10}  {'probe':<8}  {'6-way accuracy':>15}  {'family (3-way)':>15}"]
        for s in self.scores:
            lines.append(f"{s.embedding:<10}  {s.probe:<8}  {s.accuracy:8.3f} ± {s.accuracy_std:.3f}  "
                         f"{s.family_accuracy:8.3f} ± {s.family_accuracy_std:.3f}")
        return "\n".join(lines)


def _make_probe(name: str, n_train: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if name == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=min(5, n_train)))


def _score_probes(features: np.ndarray, labels: np.ndarray, seeds: Sequence[int], test_size: float
                  ) -> dict[str, tuple[list[float], list[float]]]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split

    out: dict[str, tuple[list[float], list[float]]] = {p: ([], []) for p in PROBES}
    fam = labels // len(PROBE_DIMS)
    for seed in seeds:
        tr, te = train_test_split(np.arange(len(labels)), test_size=test_size, stratify=labels,
                                  random_state=int(seed))
        for name in PROBES:
            clf = _make_probe(name, len(tr))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(features[tr], labels[tr])
                pred = clf.predict(features[te])
            out[name][0].append(float(np.mean(pred == labels[te])))
            out[name][1].append(float(np.mean(pred // len(PROBE_DIMS) == fam[te])))
    return out


def _untrained_like(model: CVAE) -> CVAE:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_UNTRAINED_SEED)
        fresh = CVAE(model.cfg)
    return fresh.to(model_device(model)).eval()


def probe(model: CVAE, *, n_per_class: int = 100, seeds: Sequence[int] = (0, 1, 2),
          rng: int | np.random.Generator | None = 0, generator_config: GeneratorConfig | None = None,
          test_size: float = 0.3) -> ProbeResult:
    """Function-family classification from latents: GenSR's prior mean vs an untrained model vs statistics.

    Parameters
    ----------
    model : a trained :class:`gensr.model.CVAE`.
    n_per_class : problems per class (6 classes; at least 4).
    seeds : train/test splits; accuracy is the mean ± std over them.
    rng : seed or generator for the problems.
    generator_config : the generator to draw problems from (default :class:`GeneratorConfig`), clipped
        to the model's equation length; pass the checkpoint's own with
        :func:`generator_config_from_checkpoint`.
    test_size : held-out share of each split.

    Returns
    -------
    ProbeResult
    """
    if n_per_class < 4:
        raise ValueError(f"n_per_class must be at least 4 (for a stratified split), got {n_per_class}")
    if not seeds:
        raise ValueError("seeds must not be empty")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    gen = np.random.default_rng(rng)
    base = _fit_generator(generator_config, model)
    if max(PROBE_DIMS) > model.cfg.max_vars:
        raise ValueError(f"the probe needs {max(PROBE_DIMS)} input columns; the model reads {model.cfg.max_vars}")
    problems: list[Problem] = []
    labels: list[int] = []
    for k, name in enumerate(PROBE_CLASSES):
        family, dim = name.split("-")
        for _ in range(int(n_per_class)):
            problems.append(sample_family_problem(family, int(dim[:-1]), gen, base))
            labels.append(k)
    y_lab = np.asarray(labels)
    embeddings = {
        "gensr": prior_embeddings(model, problems),
        "untrained": prior_embeddings(_untrained_like(model), problems),
        "summary": np.stack([summary_features(p.X, p.y, model.cfg.max_vars) for p in problems]),
    }
    scores = []
    for emb in EMBEDDINGS:
        res = _score_probes(embeddings[emb], y_lab, seeds, test_size)
        for name in PROBES:
            acc, fam = res[name]
            scores.append(ProbeScore(embedding=emb, probe=name, accuracy=float(np.mean(acc)),
                                     accuracy_std=float(np.std(acc)), family_accuracy=float(np.mean(fam)),
                                     family_accuracy_std=float(np.std(fam)), per_seed=tuple(acc)))
    return ProbeResult(classes=PROBE_CLASSES, n_per_class=int(n_per_class), seeds=tuple(int(s) for s in seeds),
                       test_size=float(test_size), scores=tuple(scores), labels=y_lab,
                       mean_y=np.array([float(np.mean(p.y)) for p in problems]), embeddings=embeddings)


def plot_tsne(result: ProbeResult, path: str | Path, *, embeddings: Sequence[str] = EMBEDDINGS,
              rng: int = 0) -> Path:
    """t-SNE (scikit-learn) of each embedding: one row each, coloured by class and by mean y; saves a PNG.

    Mean y is shown as ``sign(m)·log10(1 + |m|)``, since generated targets span many orders of magnitude.
    """
    from sklearn.manifold import TSNE

    unknown = [e for e in embeddings if e not in result.embeddings]
    if unknown:
        raise ValueError(f"unknown embeddings {unknown}; available: {sorted(result.embeddings)}")
    fig = _figure((11.0, 4.6 * len(embeddings)))
    from matplotlib import colormaps

    n = len(result.labels)
    colours = colormaps["tab10"]
    m = result.mean_y
    shade = np.sign(m) * np.log10(1.0 + np.abs(m))
    for row, name in enumerate(embeddings):
        feats = result.embeddings[name]
        feats = (feats - feats.mean(0)) / np.where(feats.std(0) > 0, feats.std(0), 1.0)
        xy = TSNE(n_components=2, perplexity=float(min(30.0, max(2.0, (n - 1) / 3))), init="pca",
                  random_state=rng).fit_transform(feats)
        ax1 = fig.add_subplot(len(embeddings), 2, 2 * row + 1)
        for k, cls in enumerate(result.classes):
            sel = result.labels == k
            ax1.scatter(xy[sel, 0], xy[sel, 1], s=9, color=colours(k), marker="o" if cls.endswith("2d") else "^",
                        label=cls)
        logistic = result.score(name, "logistic").accuracy
        ax1.set_title(f"{name}: by class (logistic probe {logistic:.3f})")
        ax1.legend(fontsize=7, markerscale=1.5)
        ax2 = fig.add_subplot(len(embeddings), 2, 2 * row + 2)
        sc = ax2.scatter(xy[:, 0], xy[:, 1], s=9, c=shade, cmap="coolwarm")
        fig.colorbar(sc, ax=ax2, label="sign(mean y)·log10(1 + |mean y|)")
        ax2.set_title(f"{name}: by mean y")
        for ax in (ax1, ax2):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path
