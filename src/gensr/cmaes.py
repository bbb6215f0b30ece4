"""A small separable CMA-ES for searching a VAE latent space: GenSR's fine search (docs/method.md §5.4).

After the prior branch of the CVAE has located a region of latent space (docs/method.md §5.2), GenSR refines it with a
diagonal CMA-ES. This module is that optimiser, kept small enough to be read in one sitting, in the
spirit of pycma's ``purecma``. Two update rules share one class (``CMAESConfig.update``):

* ``"standard"`` (default): a proper separable CMA-ES (sep-CMA-ES, Ros & Hansen 2008): rank-one *and*
  rank-μ covariance updates, cumulative step-size adaptation (CSA) on the C^{-1/2}-whitened path with the
  h_σ stall, and the learning rates c_1, c_μ scaled up by (n + 2)/3 because only n variances are learned.
* ``"gensr"``: the update of the released GenSR code, kept for reproduction and ablations, flaws
  included. For d = 512, μ = 16 its rank-one rate c_1 = 2/((d + 1.3)^2 + μ_eff) ≈ 7.6e-6 and there is no
  rank-μ update, so the covariance barely moves and the search shape stays the normalised prior
  variance; the σ path is not whitened, has no h_σ stall, and the step y is measured from the mean of the
  population rather than from the previous mean. ``"standard"`` fixes all of these.

Two interfaces to one algorithm, as in pycma: the ask/tell object :class:`LatentCMAES`, whose caller owns
the loop, and the driver :func:`fmin`; both restart through the one :class:`IPOP` policy, which the latent
search uses as well. Everything minimises; GenSR's fitness
(maximised) enters as ``-fitness``. Only numpy is used, and every random draw comes from one
``numpy.random.Generator``, so a seed fixes the whole run.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

__all__ = ["IPOP", "CMAESConfig", "CMAESResult", "LatentCMAES", "fmin"]

# stop reasons after which IPOP may restart; the others (budgets, target, callback) end the search
RESTARTABLE = frozenset({"tolfun", "tolx", "stall"})
# σ·max(√c) growing this far beyond its initial value means divergence (pycma's `tolupsigma`)
_TOLUPSIGMA = 1e20
# floor on the learned variances, so that the whitening C^{-1/2} never divides by zero
_MIN_VARIANCE = 1e-300


@dataclass(frozen=True)
class CMAESConfig:
    """Settings of :class:`LatentCMAES`, :class:`IPOP` and :func:`fmin`, and the ``cma`` section of the
    latent search (:class:`gensr.search.config.SearchConfig`): one config, one set of defaults, chosen for
    the latent search. ``None`` means "derive from the dimension"; pycma's defaults, where ours differ,
    are ``include_mean=False``, ``max_restarts=0`` and ``stall_iters=None``.
    """

    # initial step when the caller passes none; in the latent search, in units of the prior σ, so that
    # samples start where p(z | data) has mass
    sigma0: float = 1.0
    # None -> 4 + floor(3 ln d), Hansen's default, enough for sep-CMA: 14 at d = 32, cheap generations
    # (GenSR uses 81, mean + 80 samples, at d = 512)
    popsize: int | None = None
    # None -> popsize // 2, truncation at half as in standard CMA-ES; GenSR uses 16
    mu: int | None = None
    # "standard" = sep-CMA-ES; "gensr" = the released GenSR update, kept to reproduce it (module docstring)
    update: Literal["standard", "gensr"] = "standard"
    # floor on the rank-one rate c_1: GenSR's `c1_min`, its only remedy for c_1 ≈ 7.6e-6 (off there too)
    c1_min: float | None = None
    # adapt and sample only the k dimensions with the largest initial std: GenSR's top-k variant (k = 128)
    top_k: int | None = None
    # GenSR evaluates the unperturbed mean as candidate 0 of every generation; in the latent search its
    # decode is often cached, so it is nearly free
    include_mean: bool = True
    # pycma's default: the f range over the recent generations falls below this -> converged
    tolfun: float = 1e-11
    # pycma's default: every coordinate std σ√c_i and σ|p_c,i| fall below this -> converged
    tolx: float = 1e-11
    # iterations over all restarts; None -> pycma's 100 + 150 (n + 3)^2 / √λ for the first run
    max_iter: int | None = None
    # evaluations over all restarts (None = unlimited); checked before each generation, so it may be
    # exceeded by less than one population
    max_evals: int | None = None
    # stop once the best f <= target (e.g. -0.95 when f = -R²)
    target: float | None = None
    # IPOP restarts after a restartable stop (tolfun, tolx, stall); 0 = one run, as GenSR does. In the latent
    # search the clock usually ends first
    max_restarts: int = 3
    # IPOP (Auger & Hansen 2005) multiplies λ by 2 per restart: larger populations search more globally
    popsize_factor: float = 2.0
    # stop (or restart) after this many iterations without a new best f; None = off. Also ends runs in
    # which every candidate is invalid (f = inf), which no other criterion notices
    stall_iters: int | None = 20
    # where a restart begins: the best point so far ("best"; in a latent space that is the promising
    # region) or the original x0 ("x0"), always with the original sigma0 and stds
    restart_from: Literal["best", "x0"] = "best"

    def __post_init__(self) -> None:
        if self.update not in ("standard", "gensr"):
            raise ValueError(f"update must be 'standard' or 'gensr', got {self.update!r}")
        if self.restart_from not in ("best", "x0"):
            raise ValueError(f"restart_from must be 'best' or 'x0', got {self.restart_from!r}")
        for name in ("popsize", "mu", "top_k", "max_iter", "max_evals", "stall_iters"):
            value = getattr(self, name)
            if value is not None and (int(value) != value or value < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
        if self.popsize is not None and self.popsize < 2:
            raise ValueError(f"popsize must be >= 2, got {self.popsize}")
        if self.popsize is not None and self.mu is not None and self.mu > self.popsize:
            raise ValueError(f"mu ({self.mu}) must not exceed popsize ({self.popsize})")
        if self.c1_min is not None and not 0.0 <= self.c1_min < 1.0:
            raise ValueError(f"c1_min must lie in [0, 1), got {self.c1_min}")
        if self.max_restarts < 0 or self.popsize_factor < 1.0:
            raise ValueError("max_restarts must be >= 0 and popsize_factor >= 1")
        if not (math.isfinite(self.sigma0) and self.sigma0 > 0):
            raise ValueError(f"sigma0 must be finite and > 0, got {self.sigma0!r}")
        if not (self.tolfun >= 0 and self.tolx >= 0):
            raise ValueError("tolfun and tolx must be >= 0")


@dataclass(frozen=True)
class CMAESResult:
    """Outcome of a search, named after pycma's ``CMAEvolutionStrategyResult``.

    Attributes
    ----------
    xbest : ndarray, shape (d,)
        Best point told so far (``x0`` while nothing finite has been seen).
    fbest : float
        Its loss (``inf`` while nothing finite has been seen).
    evals_best : int
        Number of evaluations up to and including the one that found ``xbest``.
    evaluations : int
        Total number of evaluations (all restarts).
    iterations : int
        Total number of generations (all restarts).
    xfavorite : ndarray, shape (d,)
        Distribution mean of the last run: the estimate to use when f is noisy.
    stds : ndarray, shape (d,)
        Current per-coordinate standard deviations σ·√c_i (0 for coordinates that are not searched).
    stop : dict of str to float
        Stop reasons that fired, each with the threshold that fired it.
    restarts : int
        Number of IPOP restarts performed.
    """

    xbest: np.ndarray
    fbest: float
    evals_best: int
    evaluations: int
    iterations: int
    xfavorite: np.ndarray
    stds: np.ndarray
    stop: dict[str, float]
    restarts: int


@dataclass(frozen=True)
class _Params:
    """Strategy constants; n is the dimension they are computed for."""

    n: int
    weights: np.ndarray  # (μ,), positive, summing to 1
    mueff: float
    cs: float
    ds: float
    cc: float
    c1: float
    cmu: float
    chi_n: float  # E‖N(0, I_n)‖


def _strategy_params(n: int, mu: int, update: str, c1_min: float | None) -> _Params:
    """Learning rates of sep-CMA-ES ("standard") or of the released GenSR code ("gensr")."""
    w = np.log(mu + 0.5) - np.log(np.arange(1, mu + 1))
    w /= w.sum()
    mueff = float(1.0 / np.sum(w**2))
    cc = (4 + mueff / n) / (n + 4 + 2 * mueff / n)
    c1 = 2 / ((n + 1.3) ** 2 + mueff)
    chi_n = math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n**2))
    if update == "gensr":
        cs = (mueff + 2) / (n + mueff + 3)
        ds = 1 + 2 * max(0.0, math.sqrt(mueff / n) - 1) + cs
        cmu = 0.0
    else:
        cs = (mueff + 2) / (n + mueff + 5)
        ds = 1 + 2 * max(0.0, math.sqrt((mueff - 1) / (n + 1)) - 1) + cs
        cmu = 2 * (mueff - 2 + 1 / mueff) / ((n + 2) ** 2 + mueff)
        # sep-CMA: n variances instead of n(n+1)/2 covariances can be learned (n + 2)/3 times faster
        c1 = min(1.0, c1 * (n + 2) / 3)
        cmu = cmu * (n + 2) / 3
    if c1_min is not None:
        c1 = max(c1, c1_min)
    cmu = min(cmu, 1 - c1)
    return _Params(n, w, mueff, cs, ds, cc, c1, cmu, chi_n)


class LatentCMAES:
    """Separable CMA-ES with an ask/tell interface (minimisation).

    The search distribution is N(m, σ² diag(c)). Only the *active* coordinates are sampled and adapted:
    those with a positive initial std, restricted to the ``top_k`` widest if set; the others stay at x0.

    Generation g, with λ = popsize, the μ best of λ candidates x_{1:λ} … x_{μ:λ} and weights w_i ∝
    ln(μ + ½) − ln i (Σ w_i = 1, μ_eff = 1/Σ w_i²):

    * ask:  x_k = m + σ √c ⊙ z_k,  z_k ~ N(0, I)  (x_1 = m when ``include_mean``);
    * mean: m' = Σ_i w_i x_{i:λ}.

    ``update="standard"`` (sep-CMA-ES), with y_i = (x_{i:λ} − m)/σ and y_w = Σ_i w_i y_i = (m' − m)/σ::

        p_σ ← (1 − c_σ) p_σ + √(c_σ(2 − c_σ)μ_eff) · y_w / √c          (whitening C^{-1/2})
        h_σ = 1[‖p_σ‖ / √(1 − (1 − c_σ)^{2(g+1)}) < (1.4 + 2/(n + 1)) χ_n]
        p_c ← (1 − c_c) p_c + h_σ √(c_c(2 − c_c)μ_eff) · y_w
        c   ← (1 − c_1 − c_μ + (1 − h_σ) c_1 c_c(2 − c_c)) c + c_1 p_c² + c_μ Σ_i w_i y_i²
        σ   ← σ · exp((c_σ/d_σ)(‖p_σ‖/χ_n − 1))

    with c_σ = (μ_eff + 2)/(n + μ_eff + 5), d_σ = 1 + 2 max(0, √((μ_eff − 1)/(n + 1)) − 1) + c_σ,
    c_c = (4 + μ_eff/n)/(n + 4 + 2μ_eff/n), and the full-covariance rates c_1 = 2/((n + 1.3)² + μ_eff),
    c_μ = 2(μ_eff − 2 + 1/μ_eff)/((n + 2)² + μ_eff) multiplied by (n + 2)/3 (Ros & Hansen 2008), c_μ
    capped at 1 − c_1; n is the number of active coordinates.

    ``update="gensr"`` (docs/method.md §5.4), with y = (m' − x̄)/σ, x̄ the mean of the told population::

        p_σ ← (1 − c_σ) p_σ + √(c_σ(2 − c_σ)μ_eff) · y
        p_c ← (1 − c_c) p_c + √(c_c(2 − c_c)μ_eff) · y
        c   ← (1 − c_1) c + c_1 p_c²
        σ   ← σ · exp((c_σ/d_σ)(‖p_σ‖/χ_n − 1))

    with c_σ = (μ_eff + 2)/(n + μ_eff + 3), d_σ = 1 + 2 max(0, √(μ_eff/n) − 1) + c_σ, the same c_c and
    c_1 = max(2/((n + 1.3)² + μ_eff), c1_min); here n is the full dimension d, as in the released code
    (with ``top_k`` only k coordinates feed ‖p_σ‖ while χ_n counts d, so σ drifts down: a kept flaw).

    In both, the exponent of the σ update is capped at 1 per generation (as in purecma); it never binds
    in normal operation.

    Parameters
    ----------
    x0 : array_like, shape (d,)
        Initial mean (GenSR: the prior mean μ₀ of the encoded data set).
    sigma0 : float, optional
        Initial step size (default ``config.sigma0``). The initial std of coordinate i is ``sigma0 * stds[i]``.
    stds : array_like, shape (d,), optional
        Per-coordinate initial std multipliers, >= 0 (pycma's ``CMA_stds``); in the latent search, the
        prior branch's σ. It is normalised to max 1 and the max is moved into σ (σ = sigma0·max(stds),
        c = (stds/max(stds))²), so σ stays the overall scale and c the shape. Coordinates with std 0 are
        not searched. To reproduce GenSR, pass √c₀ with c₀ its min-max normalised variance (docs/method.md §5.4).
    config : CMAESConfig
        Settings; ``max_iter``, ``max_evals`` and ``target`` apply to this object's own counts.
    rng : numpy.random.Generator, int or None
        Source of all randomness (a Generator is used, not copied).

    Examples
    --------
    >>> es = LatentCMAES(np.ones(5), 0.5, rng=1, config=CMAESConfig(target=1e-8))
    >>> while not es.stop():
    ...     X = es.ask()
    ...     es.tell(X, np.sum(X**2, axis=1))
    >>> es.result.fbest <= 1e-8
    True
    """

    def __init__(
        self,
        x0: np.ndarray,
        sigma0: float | None = None,
        *,
        stds: np.ndarray | None = None,
        config: CMAESConfig = CMAESConfig(),  # frozen, hence safe as a default
        rng: np.random.Generator | int | None = None,
    ) -> None:
        sigma0 = config.sigma0 if sigma0 is None else sigma0
        x0 = np.array(x0, dtype=float)
        if x0.ndim != 1 or x0.size == 0:
            raise ValueError(f"x0 must be a non-empty 1-D array, got shape {x0.shape}")
        if not np.all(np.isfinite(x0)):
            raise ValueError("x0 must be finite")
        if not (np.isfinite(sigma0) and sigma0 > 0):
            raise ValueError(f"sigma0 must be finite and > 0, got {sigma0}")
        d = x0.size
        stds = np.ones(d) if stds is None else np.array(stds, dtype=float)
        if stds.shape != (d,):
            raise ValueError(f"stds must have shape ({d},), got {stds.shape}")
        if not np.all(np.isfinite(stds)) or np.any(stds < 0) or not np.any(stds > 0):
            raise ValueError("stds must be finite, >= 0, with at least one positive entry")
        active = stds > 0
        if config.top_k is not None and config.top_k < active.sum():
            active = np.zeros(d, dtype=bool)
            active[np.argsort(-stds, kind="stable")[: config.top_k]] = True  # ties: lower index first
        self.popsize = config.popsize if config.popsize is not None else 4 + int(3 * math.log(d))
        self.mu = config.mu if config.mu is not None else self.popsize // 2
        if self.mu > self.popsize:
            raise ValueError(f"mu ({self.mu}) must not exceed popsize ({self.popsize})")
        self.config = config
        self.dim = d
        self._rng = np.random.default_rng(rng)
        self._idx = np.flatnonzero(active)  # the searched coordinates
        n = self._idx.size if config.update == "standard" else d
        self._p = _strategy_params(n, self.mu, config.update, config.c1_min)
        self.max_iter = (
            config.max_iter if config.max_iter is not None else int(100 + 150 * (n + 3) ** 2 / math.sqrt(self.popsize))
        )
        scale = float(stds.max())
        self.sigma = float(sigma0) * scale
        self._sigma_limit = _TOLUPSIGMA * self.sigma
        self._mean = x0
        self._c = (stds[self._idx] / scale) ** 2  # diag(C) on the active coordinates
        self._ps = np.zeros(self._idx.size)
        self._pc = np.zeros(self._idx.size)
        self.iterations = 0
        self.evaluations = 0
        self._xbest, self._fbest, self._evals_best, self._iter_best = x0.copy(), math.inf, 0, 0
        self._fhist: deque[float] = deque(maxlen=10 + math.ceil(30 * n / self.popsize))
        self._frange = math.inf  # f range within the last generation

    @property
    def mean(self) -> np.ndarray:
        """The distribution mean m, shape (d,)."""
        return self._mean.copy()

    def ask(self) -> np.ndarray:
        """Sample a population of ``popsize`` candidates, shape (popsize, d)."""
        first = int(self.config.include_mean)
        z = self._rng.standard_normal((self.popsize - first, self._idx.size))
        X = np.tile(self._mean, (self.popsize, 1))
        X[first:, self._idx] += self.sigma * np.sqrt(self._c) * z
        return X

    def tell(self, X: np.ndarray, f: np.ndarray) -> None:
        """Update the distribution from candidates ``X`` (n, d) and their losses ``f`` (n,), n >= mu.

        NaN losses count as +inf; infinite losses rank last (ties keep their order in ``X``). Only the
        active coordinates of ``X`` are used; the others of the mean stay where they are. ``X`` should
        come from :meth:`ask`: points from elsewhere (GenSR tells its initial population) enter the
        "standard" covariance update unclipped.
        """
        X = np.asarray(X, dtype=float)
        f = np.asarray(f, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise ValueError(f"X must have shape (n, {self.dim}), got {X.shape}")
        if f.shape != (X.shape[0],):
            raise ValueError(f"f must have shape ({X.shape[0]},) to match X, got {f.shape}")
        if X.shape[0] < self.mu:
            raise ValueError(f"need at least mu = {self.mu} candidates, got {X.shape[0]}")
        if not np.all(np.isfinite(X)):
            raise ValueError("X must be finite")
        f = np.where(np.isnan(f), np.inf, f)
        order = np.argsort(f, kind="stable")
        self._record(X, f, order)

        p, xa = self._p, X[:, self._idx]
        selected = xa[order[: self.mu]]
        m_old = self._mean[self._idx]
        m_new = p.weights @ selected
        if self.config.update == "standard":
            y = (selected - m_old) / self.sigma  # (μ, n)
            y_w = p.weights @ y
            self._ps = (1 - p.cs) * self._ps + math.sqrt(p.cs * (2 - p.cs) * p.mueff) * y_w / np.sqrt(self._c)
            ps_norm = np.linalg.norm(self._ps) / math.sqrt(1 - (1 - p.cs) ** (2 * (self.iterations + 1)))
            hsig = float(ps_norm < (1.4 + 2 / (p.n + 1)) * p.chi_n)
            self._pc = (1 - p.cc) * self._pc + hsig * math.sqrt(p.cc * (2 - p.cc) * p.mueff) * y_w
            decay = 1 - p.c1 - p.cmu + (1 - hsig) * p.c1 * p.cc * (2 - p.cc)
            c = decay * self._c + p.c1 * self._pc**2 + p.cmu * (p.weights @ y**2)
            self._c = np.maximum(c, _MIN_VARIANCE)
        else:
            y = (m_new - xa.mean(axis=0)) / self.sigma  # GenSR: from the population mean, not m_old
            self._ps = (1 - p.cs) * self._ps + math.sqrt(p.cs * (2 - p.cs) * p.mueff) * y
            self._pc = (1 - p.cc) * self._pc + math.sqrt(p.cc * (2 - p.cc) * p.mueff) * y
            self._c = (1 - p.c1) * self._c + p.c1 * self._pc**2
        self.sigma *= math.exp(min(1.0, (p.cs / p.ds) * (np.linalg.norm(self._ps) / p.chi_n - 1)))
        self._mean[self._idx] = m_new
        self.iterations += 1

    def _record(self, X: np.ndarray, f: np.ndarray, order: np.ndarray) -> None:
        """Bookkeeping for the best point and the stop criteria (``f`` already NaN-free)."""
        ibest = int(order[0])
        if f[ibest] < self._fbest:
            self._xbest, self._fbest = X[ibest].copy(), float(f[ibest])
            self._evals_best = self.evaluations + ibest + 1
            self._iter_best = self.iterations + 1
        self.evaluations += f.size
        if np.isfinite(f[ibest]):
            self._fhist.append(float(f[ibest]))
        self._frange = float(f[order[-1]] - f[ibest]) if np.isfinite(f[order[-1]]) else math.inf

    def stop(self) -> dict[str, float]:
        """Stop reasons that fired, each mapped to its threshold; empty while the search should go on.

        ``maxiter``, ``maxfevals``, ``target``; ``tolfun`` (f range within the last generation and over
        the last 10 + ⌈30n/λ⌉ generations' best values < tolfun); ``tolx`` (σ√c_i and σ|p_c,i| < tolx for
        every searched i); ``stall`` (``stall_iters`` generations without a new best); ``tolupsigma``
        (σ·max√c grew 1e20-fold: divergence).
        """
        cfg, out = self.config, {}
        if self.iterations >= self.max_iter:
            out["maxiter"] = float(self.max_iter)
        if cfg.max_evals is not None and self.evaluations >= cfg.max_evals:
            out["maxfevals"] = float(cfg.max_evals)
        if cfg.target is not None and self._fbest <= cfg.target:
            out["target"] = float(cfg.target)
        if self.iterations == 0:
            return out
        if len(self._fhist) >= 10 and self._frange < cfg.tolfun and max(self._fhist) - min(self._fhist) < cfg.tolfun:
            out["tolfun"] = cfg.tolfun
        spread = np.maximum(np.sqrt(self._c), np.abs(self._pc))
        if np.all(self.sigma * spread < cfg.tolx):
            out["tolx"] = cfg.tolx
        if cfg.stall_iters is not None and self.iterations - self._iter_best >= cfg.stall_iters:
            out["stall"] = float(cfg.stall_iters)
        if self.sigma * math.sqrt(self._c.max()) > self._sigma_limit:
            out["tolupsigma"] = _TOLUPSIGMA
        return out

    @property
    def result(self) -> CMAESResult:
        """The current :class:`CMAESResult` of this run (``restarts`` is 0)."""
        stds = np.zeros(self.dim)
        stds[self._idx] = self.sigma * np.sqrt(self._c)
        return CMAESResult(
            xbest=self._xbest.copy(),
            fbest=self._fbest,
            evals_best=self._evals_best,
            evaluations=self.evaluations,
            iterations=self.iterations,
            xfavorite=self.mean,
            stds=stds,
            stop=self.stop(),
            restarts=0,
        )


class IPOP:
    """IPOP restarts (Auger & Hansen 2005) around :class:`LatentCMAES`: the one restart policy, used by
    :func:`fmin` and by the latent search.

    It holds the current run (``es``) and the totals of the finished ones; the caller owns the loop
    (ask → evaluate → tell → :meth:`stop`). When every stop reason of the current run is restartable
    (``tolfun``, ``tolx``, ``stall``) and fewer than ``config.max_restarts`` restarts were made,
    :meth:`stop` starts a new run and returns no reason: λ ← ⌈λ·``popsize_factor``⌉ (μ scaled alike), the
    original ``sigma0`` and ``stds``, from the best point told so far (``restart_from="best"``), from
    ``x0``, or from a point the caller passes; ``max_iter`` and ``max_evals`` are budgets over all runs
    (the first run's resolved ``max_iter`` is the total). :meth:`recentre` starts a fresh run of the same
    λ at a given point without counting a restart (the latent search does this when LEE refines a latent
    that beats the run).

    Examples
    --------
    >>> opt = IPOP(np.ones(3), 0.5, config=CMAESConfig(max_restarts=1, tolx=1e-4), rng=0)
    >>> while not opt.stop():
    ...     X = opt.ask()
    ...     opt.tell(X, np.sum(X**2, axis=1))
    >>> opt.restarts, opt.result.fbest < 1e-6
    (1, True)
    """

    def __init__(self, x0: np.ndarray, sigma0: float | None = None, *, stds: np.ndarray | None = None,
                 config: CMAESConfig = CMAESConfig(),  # frozen, hence safe as a default
                 rng: np.random.Generator | int | None = None) -> None:
        self.config, self.x0 = config, np.asarray(x0, dtype=float)
        self.sigma0 = config.sigma0 if sigma0 is None else sigma0
        self.stds, self._rng = stds, np.random.default_rng(rng)
        self.restarts = 0
        self._done_evals = self._done_iters = 0
        self._best: tuple[np.ndarray | None, float, int] = (None, math.inf, 0)
        self.es = LatentCMAES(self.x0, self.sigma0, stds=stds, config=config, rng=self._rng)
        self.max_iter = self.es.max_iter  # over all runs

    @property
    def popsize(self) -> int:
        return self.es.popsize

    @property
    def evaluations(self) -> int:
        return self._done_evals + self.es.evaluations

    @property
    def iterations(self) -> int:
        return self._done_iters + self.es.iterations

    def ask(self) -> np.ndarray:
        return self.es.ask()

    def tell(self, X: np.ndarray, f: np.ndarray) -> None:
        self.es.tell(X, f)

    def _best_so_far(self) -> tuple[np.ndarray | None, float, int]:
        run = self.es.result
        if self._best[0] is None or run.fbest < self._best[1]:
            return run.xbest, run.fbest, self._done_evals + run.evals_best
        return self._best

    def _new_run(self, start: np.ndarray, popsize: int) -> None:
        self._best = self._best_so_far()
        es, cfg = self.es, self.config
        self._done_evals += es.evaluations
        self._done_iters += es.iterations
        run_config = replace(
            cfg, popsize=popsize,
            mu=None if cfg.mu is None else max(1, es.mu * popsize // es.popsize),
            max_iter=max(1, self.max_iter - self._done_iters),
            max_evals=None if cfg.max_evals is None else max(1, cfg.max_evals - self._done_evals))
        self.es = LatentCMAES(start, self.sigma0, stds=self.stds, config=run_config, rng=self._rng)

    def recentre(self, x: np.ndarray) -> None:
        """A fresh run of the current λ at ``x`` (not a restart: the restart count stays)."""
        self._new_run(np.asarray(x, dtype=float), self.es.popsize)

    def stop(self, start: np.ndarray | None = None) -> dict[str, float]:
        """The reasons that end the search (empty while it goes on), restarting first when allowed.

        ``start``: where a restart begins (default: ``config.restart_from``).
        """
        reasons = self.es.stop()
        if reasons and reasons.keys() <= RESTARTABLE and self.restarts < self.config.max_restarts:
            self.restarts += 1
            if start is None:
                best = self._best_so_far()[0]
                start = best if self.config.restart_from == "best" and best is not None else self.x0
            self._new_run(np.asarray(start, dtype=float), math.ceil(self.es.popsize * self.config.popsize_factor))
            return {}
        return reasons

    @property
    def result(self) -> CMAESResult:
        """The best point over all runs; ``xfavorite``, ``stds`` and ``stop`` are those of the current run."""
        xbest, fbest, evals_best = self._best_so_far()
        return replace(self.es.result, xbest=xbest, fbest=fbest, evals_best=evals_best,
                       evaluations=self.evaluations, iterations=self.iterations, restarts=self.restarts)


def fmin(
    objective: Callable[[np.ndarray], np.ndarray],
    x0: np.ndarray,
    sigma0: float | None = None,
    *,
    stds: np.ndarray | None = None,
    config: CMAESConfig = CMAESConfig(),  # frozen, hence safe as a default
    rng: np.random.Generator | int | None = None,
    callback: Callable[[LatentCMAES], bool] | None = None,
) -> CMAESResult:
    """Minimise a batched ``objective`` with :class:`LatentCMAES` and :class:`IPOP` restarts.

    Each run loops ask → objective → tell until :meth:`LatentCMAES.stop` fires; :class:`IPOP` decides
    whether a new run starts (its docstring has the policy).

    Parameters
    ----------
    objective : callable
        ``objective(X)`` with X of shape (popsize, d) returns losses of shape (popsize,); NaN or inf
        mark invalid candidates. It receives a copy of the population.
    x0, sigma0, stds, config, rng
        As for :class:`LatentCMAES` (``sigma0=None``: ``config.sigma0``); one ``rng`` feeds all runs.
    callback : callable, optional
        Called as ``callback(es)`` with the current run after each ``tell``; returning True stops the
        search (reason ``"callback"``).

    Returns
    -------
    CMAESResult
        The best point over all runs; ``xfavorite``, ``stds`` and ``stop`` are those of the last run.
    """
    opt = IPOP(x0, sigma0, stds=stds, config=config, rng=rng)
    stop = opt.es.stop()
    while not stop:
        X = opt.ask()
        opt.tell(X, objective(X.copy()))
        if callback is not None and callback(opt.es):
            stop = {**opt.es.stop(), "callback": 1.0}
            break
        stop = opt.stop()
    return replace(opt.result, stop=stop)
