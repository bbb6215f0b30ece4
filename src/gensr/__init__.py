"""gensr: symbolic regression in a generative equation space (GenSR, arXiv 2602.20557, with LEE refinement).

The public API is small: :class:`Expression` and :func:`parse` for formulas, and (once the search ships)
the scikit-learn estimator. Everything else is documented as internal.
"""

import logging

from gensr.grammar import Expression, parse

__version__ = "0.1.0"
__all__ = ["Expression", "__version__", "parse"]

logging.getLogger(__name__).addHandler(logging.NullHandler())
