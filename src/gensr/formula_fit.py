"""Fit the constants of a formula you already have: :func:`fit_formula` (``gensr fit --formula`` on the CLI).

``C`` marks a constant to fit; every other number in the formula keeps its value. The fit is the search's own
weighted least squares (:func:`gensr.screen.screen_constants`: Levenberg–Marquardt from several starts), on
the data as given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gensr.grammar import Expression

__all__ = ["FormulaFit", "fit_formula"]


@dataclass(frozen=True)
class FormulaFit:
    """The result of :func:`fit_formula`.

    Attributes
    ----------
    expression : Expression
        The formula with its fitted constants, over ``x0 … x{d-1}`` (the columns of X).
    feature_names : tuple of str
        The names of X's columns, used for printing.
    constants : np.ndarray
        The fitted values of the ``C`` placeholders, in the order they appear.
    r2, mse : float
        (Weighted) R² and MSE on the data it was fitted to; ``-inf`` / ``inf`` if the formula is undefined
        there.
    printed : sympy expression, optional
        The readable form (:func:`gensr.front.readable` without closed-form snaps: ``1.0*a*b/c - 4.1e-17``
        prints as ``a*b/c``), the same function on the data; None: the plain sympy form.
    """

    expression: Expression
    feature_names: tuple[str, ...]
    constants: np.ndarray
    r2: float
    mse: float
    printed: Any = None

    def sympy(self) -> Any:
        """The fitted formula as a sympy expression over the feature names (its readable form)."""
        return self.printed if self.printed is not None else self.expression.to_sympy(list(self.feature_names))

    def predict(self, X: Any) -> np.ndarray:
        """The formula's values on the rows of X (NaN where undefined)."""
        return self.expression.evaluate(np.asarray(X, dtype=np.float64))

    def __str__(self) -> str:
        return str(self.sympy())


def fit_formula(formula: str, X: Any, y: Any, *, feature_names: Sequence[str] | None = None,
                sample_weight: Any = None, n_starts: int = 8, max_iter: int = 500,
                random_state: int | None = 0) -> FormulaFit:
    """Fit the ``C`` constants of ``formula`` to the data by (weighted) least squares.

    Parameters
    ----------
    formula : str
        Over the feature names, e.g. ``"C*a*b/c + C"``; ``C`` is a constant to fit, other numbers stay fixed.
    X : array-like of shape (n, d) or DataFrame
        Inputs; a DataFrame's column names are the feature names.
    y : array-like of shape (n,)
        Targets.
    feature_names : sequence of str, optional
        Names of X's columns (default: a DataFrame's columns, else ``x0 … x{d-1}``).
    sample_weight : array-like of shape (n,), optional
        Non-negative row weights.
    n_starts, max_iter : int
        Optimiser starts (the first at 1 for every constant, then random ones) and iterations per start.
    random_state : int or None
        Seeds the random starts.

    Returns
    -------
    FormulaFit

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).uniform(1, 3, size=(50, 2))
    >>> fit = fit_formula("C*a/b + C", X, 2.5 * X[:, 0] / X[:, 1] - 1, feature_names=["a", "b"])
    >>> print(fit, round(fit.r2, 6))
    2.5*a/b - 1 1.0
    """
    from gensr._validation import check_weights
    from gensr.formula import parse
    from gensr.screen import screen_constants

    names = list(feature_names) if feature_names is not None else [str(c) for c in getattr(X, "columns", [])]
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"X must be (n, d) with n = len(y) = {len(y)}; got shape {X.shape}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ValueError("X and y must be finite (no NaN or inf)")
    names = names or [f"x{j}" for j in range(X.shape[1])]
    if len(names) != X.shape[1]:
        raise ValueError(f"{len(names)} feature names for {X.shape[1]} columns")
    expr = parse(formula, names)
    weights = check_weights(sample_weight, len(y))
    values = np.array(expr.constants, dtype=np.float64)
    free = np.flatnonzero(np.isnan(values))
    base = expr.numpy_fn()

    def fn(Xm: np.ndarray, c: Any) -> Any:  # the free constants from c, the others as written
        full: list[Any] = list(values)
        for i, j in enumerate(free):
            full[j] = c[i]
        return base(Xm, full)

    fit = screen_constants(fn, len(free), X, y, n_starts=n_starts if len(free) else 1, max_rows=len(y),
                           max_iter=max_iter, tol=1e-12, rng=random_state, weights=weights)
    values[free] = fit.constants
    fitted = expr.with_constants(values)
    from gensr.front import readable

    printed = readable(fitted.to_sympy(names), X, y, names, weights, snap=False)
    return FormulaFit(fitted, tuple(names), np.array(fit.constants), float(fit.r2), float(fit.mse), printed)
