"""Checkpoint save/load round trips and the one-line errors for bad checkpoints."""

import json
import shutil

import pytest
import torch

from gensr.checkpoint import CheckpointError, load_model, save_checkpoint
from gensr.codec import collate
from gensr.train import make_problems, resolve_config


def _batch(cfg, n=4):
    return collate(make_problems(7, 0, n, cfg.generator), cfg.model.max_len)


def test_save_load_identical_outputs(tiny_checkpoint, tmp_path):
    model = load_model(tiny_checkpoint)
    cfg = resolve_config("tiny")
    b = _batch(cfg)
    mu, logvar = model.encode_prior(b["X"], b["y"], b["var_mask"], b["point_mask"])
    save_checkpoint(tmp_path / "copy", model)
    again = load_model(tmp_path / "copy")
    mu2, logvar2 = again.encode_prior(b["X"], b["y"], b["var_mask"], b["point_mask"])
    torch.testing.assert_close(mu, mu2, rtol=0, atol=0)
    torch.testing.assert_close(logvar, logvar2, rtol=0, atol=0)
    assert model.decode(mu) == again.decode(mu2)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "nope")


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_truncated_weights(tiny_checkpoint, tmp_path):
    ck = _copy(tiny_checkpoint, tmp_path / "ck")
    data = (ck / "model.safetensors").read_bytes()
    (ck / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors"):
        load_model(ck)
    with pytest.raises(CheckpointError, match="cannot read weights"):
        load_model(ck, verify=False)


def test_corrupt_config(tiny_checkpoint, tmp_path):
    ck = _copy(tiny_checkpoint, tmp_path / "ck")
    (ck / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt checkpoint config"):
        load_model(ck)


@pytest.mark.parametrize(("key", "value", "match"), [
    ("vocab_signature", "0000", "vocabulary signature"),
    ("format_version", 99, "checkpoint format"),
])
def test_mismatched_checkpoint(tiny_checkpoint, tmp_path, key, value, match):
    ck = _copy(tiny_checkpoint, tmp_path / "ck")
    cfg = json.loads((ck / "config.json").read_text())
    cfg[key] = value
    (ck / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=match) as info:
        load_model(ck)
    assert "\n" not in str(info.value)


def test_version_mismatch_warns(tiny_checkpoint, tmp_path):
    ck = _copy(tiny_checkpoint, tmp_path / "ck")
    cfg = json.loads((ck / "config.json").read_text())
    cfg["gensr_version"] = "0.0.1"
    (ck / "config.json").write_text(json.dumps(cfg))
    with pytest.warns(UserWarning, match="0.0.1"):
        load_model(ck)
