"""Tests for gensr.codec: padding data sets and problems into tensors, tokens in and out, decoder constraints."""

import numpy as np
import pytest

from gensr.codec import (
    arity_tensor,
    collate,
    decoded_expression,
    encode_tokens,
    is_valid_decode,
    pack_data,
    token_mask_for,
)
from gensr.formula import parse
from gensr.generator import GeneratorConfig, problem_rng, sample_problem
from gensr.grammar import MAX_VARS
from gensr.vocab import VOCAB


def test_pack_data_pads_and_masks():
    X1, y1 = np.ones((3, 2)), np.arange(3.0)
    X2, y2 = np.full((5, 2), 2.0), np.arange(5.0)
    X, y, var_mask, point_mask = pack_data([(X1, y1), (X2, y2)])
    assert X.shape == (2, 5, 2) and y.shape == (2, 5) and var_mask.shape == (2, 2) and var_mask.all()
    assert point_mask.tolist() == [[True] * 3 + [False] * 2, [True] * 5]
    assert float(X[0, 3:].abs().sum()) == 0.0 and y[1].tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError):
        pack_data([])


def test_collate_and_token_round_trip():
    gen = GeneratorConfig(max_vars=3, max_points=20, min_points=10)
    problems = [sample_problem(problem_rng(0, i), gen) for i in range(4)]
    batch = collate(problems, max_len=gen.max_len + 2)
    assert batch["X"].shape[2] == MAX_VARS and batch["tokens"].shape[0] == 4
    for b, p in enumerate(problems):
        ids = [t for t in batch["tokens"][b].tolist() if t not in (0, 1, 2)]
        assert decoded_expression(ids).key == p.expr.key
        assert batch["var_mask"][b].sum() == p.n_vars and batch["point_mask"][b].sum() == len(p.y)
    exprs = [parse("x0*x1 + 2"), parse("sin(x0)")]
    tokens = encode_tokens(exprs, max_len=20, device="cpu")
    assert tokens[:, 0].tolist() == [1, 1] and (tokens == 2).sum() == 2
    with pytest.raises(ValueError, match="cannot re-encode"):
        encode_tokens([parse("+".join(["x0"] * 30))], max_len=10, device="cpu")


def test_decoder_constraints_and_validity():
    mask = token_mask_for([1, 3])
    assert not mask[0, VOCAB.variable_ids[1]] and mask[1, VOCAB.variable_ids[2]] and not mask[1, VOCAB.variable_ids[3]]
    assert arity_tensor().shape == (VOCAB.size,)
    assert decoded_expression([VOCAB.variable_ids[0], VOCAB.variable_ids[0]]) is None  # two leaves: incomplete
    X = np.linspace(0.1, 1.0, 10)[:, None]
    assert is_valid_decode(parse("log(x0)"), X) and not is_valid_decode(parse("log(x0 - 2)"), X)
    assert not is_valid_decode(parse("x1"), X) and not is_valid_decode(None, X)
