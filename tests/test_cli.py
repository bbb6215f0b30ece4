"""The command line: help, generate, train, and exit code 2 with a one-line message on bad input."""

import json
import subprocess
import sys

import pytest

from gensr.cli import main


def test_help_and_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "generate" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--version"])


def test_python_dash_m():
    out = subprocess.run([sys.executable, "-m", "gensr", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "train" in out.stdout


def test_generate_writes_corpus_and_shows(tmp_path, capsys):
    assert main(["generate", "--n", "20", "--out", str(tmp_path / "c"), "--seed", "1", "--quiet", "--show", "3",
                 "max_vars=3"]) == 0
    out = capsys.readouterr().out
    assert "wrote 20 pairs" in out and out.count("y = ") == 3
    meta = json.loads((tmp_path / "c" / "config.json").read_text())
    assert meta["config"]["max_vars"] == 3


@pytest.mark.parametrize("argv", [
    ["generate", "--n", "0", "--out", "X"],
    ["generate", "--n", "5", "--out", "X", "max_varz=3"],
    ["generate", "--n", "5", "--out", "X", "--config", "/nonexistent.json"],
    ["train", "--preset", "tiny", "train.max_stepz=1"],
])
def test_bad_input_exit_code_2(argv, tmp_path, capsys):
    argv = [a if a != "X" else str(tmp_path / "x") for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("gensr ") and "error:" in err and "Traceback" not in err


def test_train_tiny_via_cli(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--preset", "tiny", "--out", str(out), "--quiet", "train.max_steps=4",
                 "train.eval_every=4", "train.save_every=4"]) == 0
    assert (out / "checkpoint" / "model.safetensors").is_file()
    assert "val_recovery_prior" in capsys.readouterr().out
    # a second run into the same directory without --resume is refused cleanly
    assert main(["train", "--preset", "tiny", "--out", str(out), "--quiet", "train.max_steps=4"]) == 2
