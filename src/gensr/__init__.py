"""gensr: symbolic regression in a generative equation space (GenSR, arXiv 2602.20557, with LEE refinement).

Public API: :class:`GenSRRegressor` (the scikit-learn estimator), :class:`Expression` and :func:`parse`
for formulas, :func:`fit_formula` (fit the constants of your own formula), and ``__version__``. Other modules
are documented as internal.
"""

import logging
from typing import Any

from gensr._version import __version__
from gensr.formula import parse
from gensr.grammar import Expression

__all__ = ["Expression", "GenSRRegressor", "__version__", "fit_formula", "parse"]

logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name: str) -> Any:
    # the estimator pulls in scikit-learn and torch: import it on first use, not with the package
    if name == "GenSRRegressor":
        from gensr.estimator import GenSRRegressor

        return GenSRRegressor
    if name == "fit_formula":
        from gensr.formula_fit import fit_formula

        return fit_formula
    raise AttributeError(f"module 'gensr' has no attribute {name!r}")
