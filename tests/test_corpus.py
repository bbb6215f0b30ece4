"""Tests for gensr.corpus: sharded corpora on disk, independent of the number of workers, and their errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gensr._config import from_dict
from gensr.corpus import iter_corpus, load_corpus, write_corpus
from gensr.generator import GeneratorConfig, iter_problems
from gensr.inputs import FAMILIES
from gensr.vocab import VOCAB


def test_write_corpus_independent_of_workers(tmp_path):
    cfg = GeneratorConfig(max_points=30)
    one = write_corpus(tmp_path / "w1", 300, seed=3, config=cfg, workers=1, shard_size=100, progress=False)
    two = write_corpus(tmp_path / "w2", 300, seed=3, config=cfg, workers=2, shard_size=100, progress=False)
    shards1, shards2 = list(iter_corpus(one)), list(iter_corpus(two))
    assert len(shards1) == len(shards2) == 3
    for s1, s2 in zip(shards1, shards2):
        assert s1.keys() == s2.keys()
        for k in s1:
            assert s1[k].dtype == s2[k].dtype and s1[k].shape == s2[k].shape
            assert s1[k].tobytes() == s2[k].tobytes(), k


def test_corpus_round_trip(tmp_path):
    cfg = GeneratorConfig(max_points=25)
    out = write_corpus(tmp_path / "c", 50, seed=9, config=cfg, shard_size=20, progress=False)
    meta = json.loads((out / "config.json").read_text())
    assert meta["n"] == 50 and meta["seed"] == 9 and meta["n_shards"] == 3
    assert meta["vocab_signature"] == VOCAB.signature() and meta["gensr_version"]
    assert from_dict(GeneratorConfig, meta["config"]) == cfg
    assert sorted(f.name for f in out.glob("shard-*.npz")) == [f"shard-{i:05d}.npz" for i in range(3)]

    data = load_corpus(out)
    assert data["tokens"].shape == (50, cfg.max_len + 2) and data["tokens"].dtype == np.int16
    assert data["X"].shape == (50, 25, 10) and data["X"].dtype == np.float32
    assert data["y"].shape == (50, 25) and data["y"].dtype == np.float32
    assert data["n_points"].dtype == np.int16 and data["n_vars"].dtype == np.int8
    assert data["const_offsets"].shape == (51,)
    for i, p in enumerate(iter_problems(50, 9, cfg)):
        assert VOCAB.decode(data["tokens"][i]) == list(p.prefix)
        assert data["tokens"][i, 0] == VOCAB.bos_id
        n, d = p.X.shape
        assert (data["n_points"][i], data["n_vars"][i]) == (n, d)
        np.testing.assert_array_equal(data["X"][i, :n, :d], p.X.astype(np.float32))
        assert not data["X"][i, n:].any() and not data["X"][i, :, d:].any()
        np.testing.assert_array_equal(data["y"][i, :n], p.y.astype(np.float32))
        lo, hi = data["const_offsets"][i : i + 2]
        np.testing.assert_array_equal(data["constants"][lo:hi], p.constants)
        assert FAMILIES[data["family"][i]] == p.family
    with pytest.raises(FileExistsError):
        write_corpus(out, 5, seed=9, config=cfg, progress=False)
    write_corpus(out, 5, seed=9, config=cfg, progress=False, overwrite=True)
    assert load_corpus(out)["tokens"].shape[0] == 5


def test_corpus_errors(tmp_path):
    out = write_corpus(tmp_path / "c", 30, seed=1, config=GeneratorConfig(max_points=10), shard_size=10,
                       progress=False, compress=False)
    shard = out / "shard-00001.npz"
    shard.write_bytes(shard.read_bytes()[:200])  # truncated
    with pytest.raises(ValueError, match=r"corrupt corpus shard .*shard-00001"):
        load_corpus(out)
    shard.unlink()
    with pytest.raises(ValueError, match=r"missing.*shard-00001"):
        load_corpus(out)
    meta = json.loads((out / "config.json").read_text())
    meta["vocab_signature"] = "0" * 16
    (out / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="vocabulary"):
        load_corpus(out)
    with pytest.raises(ValueError, match=r"config\.json"):
        load_corpus(tmp_path)
