"""``unary_operators`` / ``binary_operators`` / ``maxsize``: the language a fit may write in."""

import numpy as np
import pytest

from gensr import GenSRRegressor
from gensr.codec import token_mask_for
from gensr.grammar import UNARY
from gensr.language import Language, allowed_operators
from gensr.search import SearchConfig
from gensr.vocab import VOCAB

FAST = {"max_generations": 4, "deterministic": True, "random_state": 0, "verbose": 0, "max_time": 120,
        # the local search (hundreds of refits a round) is off here; its own tests run it
        "search_config": SearchConfig().replace(**{"local.enabled": False})}
FUNCTIONS = set(UNARY) - {"neg", "inv", "pow2", "pow3"}  # the shorthands of -, / and * are not functions


def _data():
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 5, size=(200, 2))
    return X, np.sin(X[:, 0]) * X[:, 1] + X[:, 0] ** 2  # the law needs sin


def _tokens(expr):
    return {n.token for n in expr.root.iter_nodes()}


def test_without_unary_operators_no_front_member_holds_a_function(tiny_checkpoint):
    X, y = _data()
    free = GenSRRegressor(checkpoint=tiny_checkpoint, **FAST).fit(X, y)
    assert any(_tokens(e) & FUNCTIONS for e in free.equations_["expression"])  # the test can fail
    model = GenSRRegressor(checkpoint=tiny_checkpoint, unary_operators=[], binary_operators=["+", "-", "*", "/"],
                           **FAST).fit(X, y)
    for expr in model.equations_["expression"]:
        assert not _tokens(expr) & (FUNCTIONS | {"pow"}), expr
    assert not set(model.search_result_.table()["expression"].map(_tokens).explode()) & FUNCTIONS


def test_maxsize_bounds_every_front_member(tiny_checkpoint):
    X, y = _data()
    model = GenSRRegressor(checkpoint=tiny_checkpoint, maxsize=7, **FAST).fit(X, y)
    assert model.equations_["complexity"].max() <= 7
    assert max(c.complexity for c in model.search_result_.candidates) <= 7


def test_pysr_spellings_and_shorthands():
    assert allowed_operators(["sin", "square"], ["+", "*", "^"]) == {"sin", "pow2", "add", "mul", "pow", "pow3"}
    assert allowed_operators([], ["-", "/"]) == {"sub", "neg", "div", "inv"}
    assert allowed_operators(None, []) == set(UNARY)
    assert Language.of(("add",), None).unary() == ()


def test_unknown_operator_is_a_one_line_error_listing_the_table():
    X, y = _data()
    with pytest.raises(ValueError, match=r"unknown unary operator 'sinh'; gensr's unary operators are \[") as err:
        GenSRRegressor(unary_operators=["sinh"], verbose=0).fit(X, y)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="unknown binary operator '%'"):
        GenSRRegressor(binary_operators=["+", "%"], verbose=0).fit(X, y)
    with pytest.raises(ValueError, match="maxsize must be an integer >= 1"):
        GenSRRegressor(maxsize=0, verbose=0).fit(X, y)


def test_the_decoder_masks_excluded_operators():
    mask = token_mask_for([2], operators={"add", "mul"})[0]
    assert not mask[VOCAB.index["sin"]] and mask[VOCAB.index["add"]] and mask[VOCAB.index["x0"]]
    assert token_mask_for([2])[0, VOCAB.index["sin"]]
