"""Interpolation (:func:`interpolate`, :func:`interpolation_stats`)
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
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from gensr._utils import model_device
from gensr.codec import arity_tensor, decoded_expression, is_valid_decode, token_mask_for
from gensr.formula import parse
from gensr.generator import GeneratorConfig, sample_inputs, sample_problem
from gensr.grammar import Expression
from gensr.latent._common import fit_generator, nanmean
from gensr.model import CVAE
from gensr.vocab import VOCAB

MAX_ABS_Y = 1e20  # rows with |y| at or above this are dropped (the generator's default max_abs_y; float32-safe)
MIN_SHARED_ROWS = 10  # fewer valid shared rows than this: the pair cannot be compared


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


def unit_constants(expr: Expression) -> Expression:
    """``expr`` with every constant set to 1 (how a skeleton is evaluated when nothing is fitted)."""
    return expr.with_constants(np.ones(expr.n_constants)) if expr.n_constants else expr






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
            pred = unit_constants(expr).evaluate(X)  # type: ignore[union-attr]
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
    cfg = fit_generator(generator_config, model)
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
    out["valid_rate"] = nanmean([r.valid_rate for r in results])
    out["monotonic"] = nanmean([r.monotonic for r in results])
    out["monotonic_a"] = nanmean([r.monotonic_a for r in results])
    out["monotonic_b"] = nanmean([r.monotonic_b for r in results])
    out["spearman_a"] = nanmean([r.spearman_a for r in results])
    out["spearman_b"] = nanmean([r.spearman_b for r in results])
    out["n_distinct"] = nanmean([r.n_distinct for r in results])
    out["endpoint_a"] = nanmean([r.steps[0].is_a for r in results])
    out["endpoint_b"] = nanmean([r.steps[-1].is_b for r in results])
    return out


