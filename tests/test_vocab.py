"""The model's vocabulary: ids, round trips and its signature."""

from __future__ import annotations

import pytest

from gensr.grammar import CONST, OPERATORS
from gensr.vocab import VOCAB


def test_vocabulary():
    ids = VOCAB.encode(["add", "x0", CONST])
    assert ids[0] == VOCAB.bos_id and ids[-1] == VOCAB.eos_id
    assert VOCAB.decode(ids) == ["add", "x0", CONST]
    assert (VOCAB.pad_id, VOCAB.bos_id, VOCAB.eos_id) == (0, 1, 2)
    assert all(VOCAB.arity[VOCAB.index[n]] == op.arity for n, op in OPERATORS.items())
    assert len(VOCAB.signature()) == 16
    with pytest.raises(ValueError):
        VOCAB.encode(["bogus"])
    with pytest.raises(ValueError):
        VOCAB.encode(["x0"] * 10, max_len=5)
