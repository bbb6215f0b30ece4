"""Formula strings to sympy, in one place: true formulas and the peers' model strings.

- :func:`parse`: ``sympy.parse_expr`` over an explicit name table (no sympy globals), the one parser;
- :func:`parse_model`: true formulas and formulas in sympy's spelling (Feynman, Strogatz, tests);
- :func:`gplearn_to_sympy`: gplearn's prefix programs (``add(mul(X0, X1), -0.5)``), protected functions
  exact on numbers;
- :func:`operon_to_sympy`: Operon's infix strings (``^`` for powers).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["gplearn_to_sympy", "operon_to_sympy", "parse", "parse_model"]

_FUNCTIONS = ("exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sinh", "cosh", "asin", "acos", "atan", "Abs",
              "cot", "sign", "Min", "Max")


def _indexed_symbols(text: str, prefix: str, n_features: int | None) -> dict[str, Any]:
    """``{prefix}{i}`` -> ``Symbol("x{i}")`` for every index used in ``text``, checked against ``n_features``."""
    import sympy

    used = {int(i) for i in re.findall(rf"\b{prefix}(\d+)\b", text)}
    if n_features is not None and any(i >= n_features for i in used):
        raise ValueError(f"variable {prefix}{max(used)} out of range for {n_features} features")
    top = n_features if n_features is not None else (max(used) + 1 if used else 0)
    return {f"{prefix}{i}": sympy.Symbol(f"x{i}") for i in range(top)}


def parse(text: str, names: Mapping[str, Any], *, strict: bool = True) -> Any:
    """``sympy.parse_expr`` where only ``names`` and number constructors exist.

    There is no ``from sympy import *``: ``E``, ``I``, ``S``, ``N``, ``gamma`` … never mean sympy objects,
    and an unknown function is an error. An unknown name becomes a plain Symbol, which is an error when
    ``strict`` (a peer's model may only use its variables). Floats become 53-bit floats.
    """
    import sympy
    from sympy.parsing.sympy_parser import parse_expr, standard_transformations

    global_dict = {"Integer": sympy.Integer, "Float": sympy.Float, "Rational": sympy.Rational,
                   "Symbol": sympy.Symbol}
    try:
        expr = sympy.sympify(parse_expr(text, local_dict=dict(names), global_dict=global_dict,
                                        transformations=standard_transformations))
    except NameError as exc:
        raise ValueError(f"unknown function in {text!r}: {exc}") from None
    except Exception as exc:  # sympy raises SyntaxError, TokenError, TypeError, ... for bad text
        raise ValueError(f"cannot parse formula {text!r}: {exc}") from None
    if strict:
        allowed = {v for v in names.values() if isinstance(v, sympy.Symbol)}
        unknown = expr.free_symbols - allowed
        if unknown:
            raise ValueError(f"unknown names {sorted(map(str, unknown))} in {text!r}")
    return expr.xreplace({f: sympy.Float(float(f)) for f in expr.atoms(sympy.Float)})


def parse_model(text: str, symbols: Mapping[str, Any] | None = None) -> Any:
    """Parse a true formula (or any formula in sympy's spelling); every other name is a plain Symbol.

    Known functions are sympy's (``exp``, ``sqrt``, ``asin``, ``Abs``, …) and ``pi`` is π; names sympy would
    otherwise read as objects (``I``, ``E``, ``S``, ``N``, ``gamma``, ``beta``) stay symbols, as in SRBench,
    which passes every feature in ``local_dict``.
    """
    import sympy

    names: dict[str, Any] = {name: getattr(sympy, name) for name in _FUNCTIONS}
    names["pi"] = sympy.pi
    names.update(symbols or {})
    return parse(text, names, strict=False)


def _gplearn_functions() -> dict[str, Callable[..., Any]]:
    """gplearn's function names in sympy; protected functions are plain, except on a number (exact there)."""
    import sympy

    def number(a: Any) -> bool:  # a real number (nan and complex values stay symbolic-plain)
        return bool(getattr(a, "is_number", False) and getattr(a, "is_extended_real", False))

    def div(a: Any, b: Any) -> Any:
        return sympy.Integer(1) if number(b) and abs(b) <= 0.001 else a / b

    def log(a: Any) -> Any:
        if number(a):
            return sympy.log(abs(a)) if abs(a) > 0.001 else sympy.Integer(0)
        return sympy.log(a)

    def inv(a: Any) -> Any:
        if number(a):
            return 1 / a if abs(a) > 0.001 else sympy.Integer(0)
        return 1 / a

    return {
        "add": lambda a, b: a + b,
        "sub": lambda a, b: a - b,
        "mul": lambda a, b: a * b,
        "div": div,
        "sqrt": lambda a: sympy.sqrt(abs(a) if number(a) else a),
        "log": log,
        "inv": inv,
        "neg": lambda a: -a,
        "abs": sympy.Abs,
        "max": sympy.Max,
        "min": sympy.Min,
        "sin": sympy.sin,
        "cos": sympy.cos,
        "tan": sympy.tan,
        "sig": lambda a: 1 / (1 + sympy.exp(-a)),
    }


def gplearn_to_sympy(program: str, n_features: int | None = None) -> Any:
    """Convert a gplearn program string such as ``add(mul(X0, X1), -0.5)`` to sympy over ``x0, x1, …``.

    Parameters
    ----------
    program : str
        The prefix program as gplearn prints it (``X{i}`` features, any float format for constants).
    n_features : int, optional
        Number of input features; a variable ``X{i}`` with ``i >= n_features`` is an error.

    Returns
    -------
    sympy.Expr
        The formula with ``X{i}`` renamed ``x{i}``. gplearn's protected ``div``, ``log``, ``sqrt`` and
        ``inv`` are the plain functions (as in SRBench), except that on a numeric argument the protected
        value is used.

    Raises
    ------
    ValueError
        On unknown names or functions, or a variable out of range.
    """
    names: dict[str, Any] = _indexed_symbols(program, "X", n_features)
    names.update(_gplearn_functions())
    return parse(program, names)


def _operon_functions() -> dict[str, Any]:
    """Function names that Operon's infix formatter prints, in sympy (``aq`` prints as ``a / sqrt(1 + b^2)``)."""
    import sympy

    return {
        "sqrt": sympy.sqrt, "exp": sympy.exp, "log": sympy.log, "sin": sympy.sin, "cos": sympy.cos,
        "tan": sympy.tan, "tanh": sympy.tanh, "sinh": sympy.sinh, "cosh": sympy.cosh, "asin": sympy.asin,
        "acos": sympy.acos, "atan": sympy.atan, "abs": sympy.Abs, "cbrt": sympy.cbrt, "floor": sympy.floor,
        "ceil": sympy.ceiling, "log1p": lambda a: sympy.log(1 + a), "square": lambda a: a**2,
        "logabs": lambda a: sympy.log(sympy.Abs(a)), "sqrtabs": lambda a: sympy.sqrt(sympy.Abs(a)),
        "fmin": sympy.Min, "fmax": sympy.Max, "pow": sympy.Pow, "nan": sympy.nan, "inf": sympy.oo,
    }


def operon_to_sympy(model: str, n_features: int | None = None) -> Any:
    """Convert Operon's infix model string (variables named ``x0, x1, …``) to sympy.

    Parameters
    ----------
    model : str
        ``SymbolicRegressor.get_model_string(tree, precision, names=["x0", …])``: infix with ``^`` for
        powers and parenthesised negative constants, e.g. ``(2.0 + (1.5 * ((-0.3) * x1)))``.
    n_features : int, optional
        Number of input features; a variable ``x{i}`` with ``i >= n_features`` is an error.

    Returns
    -------
    sympy.Expr

    Raises
    ------
    ValueError
        On unknown names or functions, or a variable out of range.
    """
    names: dict[str, Any] = _indexed_symbols(model, "x", n_features)
    names.update(_operon_functions())
    return parse(model.replace("^", "**"), names)
