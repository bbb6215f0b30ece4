"""SRBench's symbolic rule, rounding, complexities and R² as the harness computes them."""

from __future__ import annotations

import time

import pytest
import sympy

from gensr.bench.metrics import (
    SymbolicTimeout,
    node_count,
    round_floats,
    simplified_complexity,
    symbolic_solution,
    time_limit,
)
from gensr.bench.parsing import parse_model


def test_parse_keeps_clashing_names_as_symbols():
    expr = parse_model("I*E + gamma + S + N + beta")
    assert {s.name for s in expr.free_symbols} == {"I", "E", "gamma", "S", "N", "beta"}
    assert parse_model("pi") == sympy.pi
    with pytest.raises(ValueError, match="cannot parse"):
        parse_model("x0 +* 2")


@pytest.mark.parametrize(("model", "truth", "solved"), [
    ("x0*x1", "x0*x1", True),
    ("2.5*x0*x1", "x0*x1", True),  # ratio constant
    ("x0*x1 + 3.2", "x0*x1", True),  # difference constant
    ("x0*x1 + 0.00001*x0", "x0*x1", True),  # tiny constants are rounded away
    ("x0**2", "x0*x1", False),
    ("exp(-x0**2/2)*0.398942280401433", "exp(-x0**2/2)/sqrt(2*pi)", True),
    ("0", "x0", False),
])
def test_symbolic_rule(model, truth, solved):
    assert symbolic_solution(parse_model(model), parse_model(truth))[0] is solved


def test_symbolic_rule_ignores_symbol_assumptions():
    x = sympy.Symbol("x0", real=True)
    assert symbolic_solution(3 * x, parse_model("x0"))[0]


def test_symbolic_rule_reports_sympy_failures_instead_of_raising(monkeypatch):
    # sympy raised "Invalid NaN comparison" while simplifying a fitted model and ended a sweep
    def broken(*args, **kwargs):
        raise TypeError("Invalid NaN comparison")

    monkeypatch.setattr(sympy, "simplify", broken)
    solved, note = symbolic_solution(parse_model("x0*x1"), parse_model("x0*x1"))
    assert not solved and note == "symbolic check failed: TypeError: Invalid NaN comparison"


def test_rounding_and_complexity():
    assert round_floats(parse_model("1.23456*x0 + 0.00001")) == parse_model("1.235*x0")
    assert node_count(parse_model("x0*x1 + 2")) == 5  # Add, Mul, x0, x1, 2
    assert simplified_complexity(parse_model("x0 + x0 + x0")) == 3  # 3*x0


def test_time_limit_interrupts_and_restores():
    with pytest.raises(SymbolicTimeout), time_limit(0.2):
        time.sleep(2)
    with time_limit(5):
        pass  # the timer is cleared on exit: nothing fires later
    time.sleep(0.05)
