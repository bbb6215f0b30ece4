"""Reading a fitted ``GenSRRegressor``: its equations as sympy, LaTeX, numpy and torch, the front as a
notebook table (``_repr_html_``) and as a paper's table (``latex_table``), and its plot.

:class:`FrontReadout` is the estimator's mixin for all of them. With several targets (a 2-D y), each method
answers per target: a list, in the order of the target columns. :func:`front_html` and :func:`front_latex`
work on any front table (``equations_``).
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from sklearn.utils.validation import check_is_fitted

__all__ = ["FrontReadout", "front_html", "front_latex"]


def _rounded(sym: Any, digits: int) -> Any:
    """``sym`` with its floats at ``digits`` significant digits (integers and rationals stay exact)."""
    import sympy

    return sym.xreplace({f: sympy.Float(f, digits) for f in sym.atoms(sympy.Float)})


def _number(x: float, digits: int, latex: bool) -> str:
    """A loss or an R² as text: fixed or scientific, with a LaTeX power of ten in a table."""
    if not math.isfinite(x):
        return r"$\infty$" if latex else "inf"
    text = f"{x:.{digits}g}"
    if latex and "e" in text:
        mantissa, exponent = text.split("e")
        return rf"${mantissa} \cdot 10^{{{int(exponent)}}}$"
    return text


def front_html(table: Any, chosen: int, *, title: str | None = None, digits: int = 4) -> str:
    """The front as an HTML table: complexity, loss, R² and the equation in LaTeX (``$…$``, typeset by
    Jupyter's MathJax), the chosen row in bold and marked ▶."""
    import sympy

    head = f"<p><b>{html.escape(title)}</b></p>" if title else ""
    rows = []
    for i, row in enumerate(table.itertuples()):
        mark, style = ("▶", ' style="font-weight:bold"') if i == chosen else ("", "")
        tex = html.escape(sympy.latex(_rounded(row.sympy_format, digits + 1)))
        rows.append(f"<tr{style}><td>{mark}</td><td>{row.complexity}</td><td>{_number(row.loss, digits, False)}"
                    f"</td><td>{_number(row.r2, digits + 2, False)}</td><td>${tex}$</td></tr>")
    return (f'{head}<table class="gensr-front"><thead><tr><th></th><th>complexity</th><th>loss</th><th>R²</th>'
            f"<th>equation</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def front_latex(table: Any, chosen: int, *, digits: int = 3, caption: str | None = None,
                label: str | None = None) -> str:
    """The front as a booktabs ``table`` (``\\usepackage{booktabs}``): equation, complexity, loss and R²,
    simplest first, the chosen row marked with a dagger."""
    import sympy

    lines = [r"\begin{table}[ht]", r"\centering", r"\begin{tabular}{@{}lrrr@{}}", r"\toprule",
             r"Equation & Complexity & Loss & $R^2$ \\", r"\midrule"]
    for i, row in enumerate(table.itertuples()):
        mark = r"$^\dagger$" if i == chosen else ""
        tex = sympy.latex(_rounded(row.sympy_format, digits + 1))
        lines.append(f"${tex}${mark} & {row.complexity} & {_number(row.loss, digits, True)} & "
                     f"{_number(row.r2, digits + 2, True)} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    note = r"$^\dagger$ the chosen equation."
    lines.append(rf"\caption{{{caption + ' ' if caption else ''}{note}}}")
    if label:
        lines.append(rf"\label{{{label}}}")
    lines.append(r"\end{table}")
    return "\n".join(lines)


class FrontReadout:
    """The read-only side of ``GenSRRegressor`` (a mixin: it reads ``equations_``, ``best_index_``,
    ``selected_features_`` and, with several targets, ``estimators_``)."""

    def _per_target(self) -> list[Any] | None:
        """The per-target estimators of a fit with several targets (else None)."""
        check_is_fitted(self, "equations_")
        return getattr(self, "estimators_", None)

    def _row(self, index: int | None) -> Any:
        check_is_fitted(self, "equations_")
        front = self.equations_  # type: ignore[attr-defined]
        i = self.best_index_ if index is None else index  # type: ignore[attr-defined]
        if not -len(front) <= i < len(front):
            raise IndexError(f"index {i} out of range for {len(front)} equations")
        return front.iloc[i]

    def numpy(self, index: int | None = None) -> Any:
        """The chosen equation (or row ``index``) as a numpy function ``f(X) -> y`` over X's columns."""
        if (each := self._per_target()) is not None:
            return [e.numpy(index) for e in each]
        from gensr.export import numpy_function

        return numpy_function(self._row(index)["expression"], self.selected_features_)  # type: ignore

    def pytorch(self, index: int | None = None) -> Any:
        """The chosen equation (or row ``index``) as a ``torch.nn.Module``: ``module(X) -> y`` over X's
        columns (float64), with the constants as trainable parameters."""
        if (each := self._per_target()) is not None:
            return [e.pytorch(index) for e in each]
        from gensr.export import ExpressionModule

        return ExpressionModule(self._row(index)["expression"], self.selected_features_)  # type: ignore

    def sympy(self, index: int | None = None) -> Any:
        """The chosen equation (or row ``index``) as a sympy expression over the feature names."""
        if (each := self._per_target()) is not None:
            return [e.sympy(index) for e in each]
        return self._row(index)["sympy_format"]

    def latex(self, index: int | None = None) -> Any:
        """The chosen equation (or row ``index``) as LaTeX."""
        if (each := self._per_target()) is not None:
            return [e.latex(index) for e in each]
        import sympy

        return sympy.latex(self.sympy(index))

    def latex_table(self, *, digits: int = 3, caption: str | None = None, label: str | None = None) -> str:
        """The front as a booktabs LaTeX table (:func:`front_latex`), the chosen equation marked; one table
        per target with several targets."""
        if (each := self._per_target()) is not None:
            names = self.target_names_  # type: ignore[attr-defined]
            return "\n\n".join(e.latex_table(digits=digits, caption=f"{n}." + (f" {caption}" if caption else ""),
                                             label=f"{label}-{n}" if label else None) for n, e in zip(names, each))
        return front_latex(self.equations_, self.best_index_, digits=digits,  # type: ignore[attr-defined]
                           caption=caption, label=label)

    @property
    def _repr_html_(self) -> Any:
        """In a notebook: the front as a table (:func:`front_html`) once fitted, scikit-learn's diagram before."""
        if not hasattr(self, "equations_"):
            return super()._repr_html_  # type: ignore[misc]
        return self._front_html

    def _front_html(self) -> str:
        each = getattr(self, "estimators_", None)
        if each is not None:
            return "".join(front_html(e.equations_, e.best_index_, title=str(n))
                           for n, e in zip(self.target_names_, each))  # type: ignore[attr-defined]
        return front_html(self.equations_, self.best_index_)  # type: ignore[attr-defined]

    def plot_front(self, ax: Any = None, *, path: str | Path | None = None) -> Any:
        """The loss against complexity along the front, with the chosen equation marked.

        Needs matplotlib (``pip install gensr[plot]``). Returns the Axes; with ``path``, also saves a PNG.
        """
        if self._per_target() is not None:
            raise ValueError("plot_front draws one front: call it on estimators_[i] for target i")
        from gensr.front import plot_front

        return plot_front(self.equations_, self.best_index_, ax, path=path)  # type: ignore[attr-defined]

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        text = super().__repr__(N_CHAR_MAX)  # type: ignore[call-arg]
        if hasattr(self, "equations_"):
            chosen = [e._row(None)["equation"] for e in self.estimators_] \
                if getattr(self, "estimators_", None) is not None else [self._row(None)["equation"]]
            text += "\n  chosen equation: " + "; ".join(chosen)
        return text
