"""The command line: help, generate, train, and exit code 2 with a one-line message on bad input."""

import json
import re
import subprocess
import sys

import numpy as np
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


# ---- gensr fit ---------------------------------------------------------------------------------------

FIT = ["--max-time", "20", "--max-generations", "2", "--quiet"]


def _table(tmp_path, filename="data.csv", **cols):
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 40
    frame = pd.DataFrame({"a": rng.uniform(1, 3, n), "b": rng.uniform(1, 3, n)})
    frame["y"] = 3 * frame["a"] - 1
    for key, value in cols.items():
        frame[key] = value
    path = tmp_path / filename
    if filename.endswith(".parquet"):
        frame.to_parquet(path)
    else:
        frame.to_csv(path, sep="\t" if ".tsv" in filename else ",", index=False)
    return path


@pytest.mark.parametrize("name", ["data.csv", "data.tsv.gz", "data.parquet"])
def test_fit_reads_formats_and_writes_json(tmp_path, tiny_checkpoint, capsys, name):
    path = _table(tmp_path, name)
    out = tmp_path / "result.json"
    assert main(["fit", str(path), "--target", "y", "--checkpoint", str(tiny_checkpoint), "--output", str(out),
                 *FIT]) == 0
    text = capsys.readouterr().out
    assert "Pareto front" in text and "chosen (balanced): y = " in text
    result = json.loads(out.read_text())
    assert result["front"] and {"equation", "complexity", "r2", "latex", "prefix"} <= set(result["front"][0])
    chosen = result["front"][result["chosen"]]
    assert chosen["r2"] > 0.999999 and "a" in chosen["equation"]


@pytest.mark.parametrize(("kind", "match"), [
    ("missing-target", "target column 'z' not in"),
    ("text-column", "non-numeric feature columns: \\['label'\\]"),
    ("nan", "NaN"),
    ("few-rows", "at least 10"),
    ("constant", "constant"),
    ("missing-file", "no such data file"),
    ("bad-checkpoint", "model.safetensors: weights do not match"),
    ("header-only", "header but no data rows"),
    ("unwritable-output", "cannot write .*does not exist"),
    ("nan-named", r"NaN or inf in 1 rows \(column c\)"),
])
def test_fit_bad_input_exit_2(tmp_path, tiny_checkpoint, capsys, kind, match):
    import shutil

    target, ckpt = "y", str(tiny_checkpoint)
    if kind == "text-column":
        path = _table(tmp_path, label=["t"] * 40)
    elif kind == "nan":
        path = _table(tmp_path, c=[np.nan] + [1.0] * 39)
    elif kind == "few-rows":
        path = tmp_path / "few.csv"
        path.write_text("a,y\n1,2\n2,3\n3,5\n")
    elif kind == "constant":
        path = tmp_path / "const.csv"
        path.write_text("a,y\n" + "".join(f"{i},7\n" for i in range(30)))
    elif kind == "missing-file":
        path = tmp_path / "nope.csv"
    elif kind == "header-only":
        path = tmp_path / "empty.csv"
        path.write_text("a,y\n")
    elif kind == "nan-named":
        path = _table(tmp_path, c=[np.inf] + [1.0] * 39)
    else:
        path = _table(tmp_path)
        if kind == "missing-target":
            target = "z"
        if kind == "bad-checkpoint":
            ckpt = str(tmp_path / "ck")
            shutil.copytree(tiny_checkpoint, ckpt)
            (tmp_path / "ck" / "model.safetensors").write_bytes(b"garbage")
    extra = ["--output", str(tmp_path / "no" / "such" / "out.json")] if kind == "unwritable-output" else []
    assert main(["fit", str(path), "--target", target, "--checkpoint", ckpt, *FIT, *extra]) == 2
    err = capsys.readouterr().err
    assert re.search(match, err), err
    assert "Traceback" not in err and err.count("\n") == 1


def test_fit_drop_nan(tmp_path, tiny_checkpoint):
    path = _table(tmp_path, c=[np.nan] + [1.0] * 39)
    assert main(["fit", str(path), "--target", "y", "--checkpoint", str(tiny_checkpoint), "--drop-nan", *FIT]) == 0
    cut = tmp_path / "cut.csv"  # a file cut off mid-row: the last row has no target
    cut.write_text(_table(tmp_path).read_text().rstrip("\n").rsplit(",", 1)[0] + ",\n")
    assert main(["fit", str(cut), "--target", "y", "--checkpoint", str(tiny_checkpoint), "--drop-nan", *FIT]) == 0


def test_fit_test_size_plot_threshold_and_search_overrides(tmp_path, tiny_checkpoint, capsys):
    pytest.importorskip("matplotlib")
    path, out, png = _table(tmp_path), tmp_path / "r.json", tmp_path / "front.png"
    assert main(["fit", str(path), "--target", "y", "--checkpoint", str(tiny_checkpoint), "--test-size", "0.25",
                 "--plot", str(png), "--output", str(out), "--model-selection", "simplest", "--r2-threshold",
                 "0.5", "--search", "lee.every=0", *FIT]) == 0
    text = capsys.readouterr().out
    assert "held-out R² (10 rows" in text and png.stat().st_size > 1000
    payload = json.loads(out.read_text())
    assert payload["test_rows"] == 10 and payload["test_r2"] > 0.999
    assert main(["fit", str(path), "--target", "y", "--search", "lee.evry=0", *FIT]) == 2
    assert "did you mean" in capsys.readouterr().err
    cfg = tmp_path / "search.json"  # --config: SearchConfig sections, checked the same way
    cfg.write_text(json.dumps({"lee": {"evry": 0}}))
    assert main(["fit", str(path), "--target", "y", "--config", str(cfg), *FIT]) == 2
    assert "did you mean" in capsys.readouterr().err


def test_bench_run_and_report(tmp_path, bench_data_dir, tiny_checkpoint, capsys):
    out = tmp_path / "run"
    argv = ["bench", "run", "--data-dir", str(bench_data_dir), "--out", str(out), "--suites", "strogatz",
            "--time-limit", "1", "--checkpoint", str(tiny_checkpoint), "--quiet", "hard_limit_s=100"]
    assert main(argv) == 0
    assert "results in" in capsys.readouterr().out
    stored = json.loads((out / "config.json").read_text())["config"]  # --checkpoint is a gensr option
    assert stored["options"] == {"gensr": {"checkpoint": str(tiny_checkpoint)}} and stored["hard_limit_s"] == 100
    md = tmp_path / "B.md"
    md.write_text("# keep me\n")
    assert main(["bench", "report", str(out), "--write-into", str(md), "--plots", str(tmp_path / "p")]) == 0
    assert "### Strogatz" in capsys.readouterr().out
    assert md.read_text().startswith("# keep me") and "<!-- bench:begin -->" in md.read_text()
    assert list((tmp_path / "p").glob("*.png"))


@pytest.mark.parametrize(("extra", "match"), [
    (["--data-dir", "/nonexistent"], "does not exist"),
    (["--methods", "pysr"], "choose one or more"),
    (["--config", "CFG"], "did you mean time_limit"),
])
def test_bench_bad_input_exit_2(tmp_path, bench_data_dir, capsys, extra, match):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"time_limt": 3}))
    argv = ["bench", "run", "--out", str(tmp_path / "r"), "--quiet"]
    if "--data-dir" not in extra:
        argv += ["--data-dir", str(bench_data_dir)]
    argv += [str(cfg) if a == "CFG" else a for a in extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert match in err and len(err.strip().splitlines()) == 1
    assert main(["bench", "report", str(tmp_path / "none.csv")]) == 2
