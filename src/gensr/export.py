"""A fitted equation as a numpy function or a torch module (``GenSRRegressor.numpy()`` / ``.pytorch()``).

Both take the estimator's full input matrix (every column it was fitted on, in order) and pick the columns the
equation uses, so they drop in where ``model.predict`` was used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from gensr.grammar import Expression

__all__ = ["ExpressionModule", "numpy_function"]


def numpy_function(expr: Expression, columns: Sequence[int]) -> Callable[[np.ndarray], np.ndarray]:
    """``f(X) -> y`` for X of shape (n, n_features): NaN where the equation is undefined, never a warning."""
    cols = np.asarray(columns, dtype=np.int64)

    def f(X: np.ndarray) -> np.ndarray:
        return expr.evaluate(np.asarray(X, dtype=np.float64)[:, cols])

    f.__doc__ = f"y = {expr} (columns {cols.tolist()} of X)"
    return f


class ExpressionModule(torch.nn.Module):
    """A fitted equation as a differentiable module; its constants are trainable parameters.

    ``forward(X)`` takes X of shape (n, n_features) (the estimator's columns) and returns y of shape (n,).
    """

    def __init__(self, expr: Expression, columns: Sequence[int]):
        super().__init__()
        self.expression = expr
        self.register_buffer("columns", torch.as_tensor(np.asarray(columns, dtype=np.int64)))
        self.constants = torch.nn.Parameter(torch.as_tensor(np.array(expr.constants, dtype=np.float64)))
        self._fn = expr.torch_fn()

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = torch.as_tensor(X, dtype=self.constants.dtype)
        out = self._fn(X[:, self.columns], self.constants)
        return torch.broadcast_to(out, (X.shape[0],))

    def extra_repr(self) -> str:
        return f"y = {self.expression}"
