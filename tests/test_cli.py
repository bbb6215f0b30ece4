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
    assert "Pareto front" in text and "chosen (noise): y = " in text
    result = json.loads(out.read_text())
    assert result["front"] and {"equation", "complexity", "r2", "latex", "prefix", "extrapolates"} \
        <= set(result["front"][0])
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
    ("nan-named", r"NaN or inf in 1 row \(column c\)"),
    ("directory", "is a directory, not a data file"),
    ("short-row", "line 3 has 2 fields, the header has 3"),
    ("max-time-0", "--max-time must be a positive number of seconds, got 0"),
    ("max-time-negative", "--max-time must be a positive number of seconds, got -5"),
    ("one-row", "n_samples = 1 usable row;"),
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
    elif kind == "directory":
        path = tmp_path
    elif kind == "short-row":  # a row cut short reads as NaN in pandas: name the line instead
        path = tmp_path / "short.csv"
        path.write_text("a,b,y\n" + "1,2,3\n" + "4,5\n" + "".join(f"{i},{i},{2 * i}\n" for i in range(20)))
    elif kind == "one-row":
        path = tmp_path / "one.csv"
        path.write_text("a,y\n1,2\n")
    else:
        path = _table(tmp_path)
        if kind == "missing-target":
            target = "z"
        if kind == "bad-checkpoint":
            ckpt = str(tmp_path / "ck")
            shutil.copytree(tiny_checkpoint, ckpt)
            (tmp_path / "ck" / "model.safetensors").write_bytes(b"garbage")
    extra = ["--output", str(tmp_path / "no" / "such" / "out.json")] if kind == "unwritable-output" else []
    if kind.startswith("max-time"):
        extra = ["--max-time", "0" if kind == "max-time-0" else "-5"]
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
                 "0.5", "--search", "lee.enabled=false", *FIT]) == 0
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


def test_fit_sniffs_semicolons_and_takes_sep(tmp_path, tiny_checkpoint, capsys):
    path = _table(tmp_path)
    semi = tmp_path / "semi.csv"
    semi.write_text(path.read_text().replace(",", ";"))
    assert main(["fit", str(semi), "--target", "y", "--checkpoint", str(tiny_checkpoint), *FIT]) == 0
    assert "y = " in capsys.readouterr().out
    pipe = tmp_path / "pipe.txt"
    pipe.write_text(path.read_text().replace(",", "|"))
    assert main(["fit", str(pipe), "--target", "y", "--sep", "|", "--checkpoint", str(tiny_checkpoint), *FIT]) == 0


def test_fit_formula_fits_constants_without_a_search(tmp_path, capsys):
    out = tmp_path / "f.json"
    assert main(["fit", str(_table(tmp_path)), "--target", "y", "--formula", "C*a + C", "--output", str(out),
                 "--test-size", "0.25"]) == 0
    text = capsys.readouterr().out
    assert "y = 3*a - 1\n" in text and "R² 1.000000" in text and "Pareto" not in text
    payload = json.loads(out.read_text())
    assert payload["constants"] == pytest.approx([3.0, -1.0]) and payload["test_r2"] > 0.999999
    assert main(["fit", str(_table(tmp_path)), "--target", "y", "--formula", "C*z"]) == 2
    assert "unknown name 'z'" in capsys.readouterr().err


@pytest.mark.parametrize("broken", [None, "raises"])
def test_fit_plot_without_matplotlib_fails_before_the_fit(tmp_path, tiny_checkpoint, capsys, monkeypatch, broken):
    # absent, or present but failing to import (issue 30: the check only looked for the package, and the
    # command ended in a traceback after the fit)
    import gensr.estimator

    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    if broken:
        import matplotlib

        monkeypatch.setattr(matplotlib, "use", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("no backend")))
    fitted = []
    monkeypatch.setattr(gensr.estimator.GenSRRegressor, "fit", lambda self, *a, **k: fitted.append(1))
    path = _table(tmp_path)
    assert main(["fit", str(path), "--target", "y", "--checkpoint", str(tiny_checkpoint), "--plot",
                 str(tmp_path / "f.png"), *FIT]) == 2
    err = capsys.readouterr().err
    assert "--plot needs a working matplotlib" in err and err.count("\n") == 1 and not fitted


def test_fit_writes_json_before_a_failing_plot(tmp_path, tiny_checkpoint, capsys, monkeypatch):
    import gensr.estimator

    def broken(self, *a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(gensr.estimator.GenSRRegressor, "plot_front", broken)
    out = tmp_path / "r.json"
    assert main(["fit", str(_table(tmp_path)), "--target", "y", "--checkpoint", str(tiny_checkpoint), "--plot",
                 str(tmp_path / "f.png"), "--output", str(out), *FIT]) == 2
    assert json.loads(out.read_text())["front"]
    assert "disk full" in capsys.readouterr().err


def test_fit_warns_when_start_up_ate_half_the_budget(tmp_path, tiny_checkpoint, capsys, monkeypatch):
    import gensr.cli

    monkeypatch.setattr(gensr.cli, "_startup_seconds", lambda: 3.0)
    monkeypatch.setattr(sys, "argv", ["gensr", "fit", str(_table(tmp_path)), "--target", "y", "--checkpoint",
                                      str(tiny_checkpoint), "--max-time", "4", "--max-generations", "1", "--quiet"])
    assert main() == 0
    warning = [line for line in capsys.readouterr().err.splitlines() if "start-up" in line]
    assert len(warning) == 1 and "of --max-time 4" in warning[0], warning


def test_budget_is_not_charged_for_what_ran_before_exec(tmp_path):
    """``bash -c 'sleep 12 && gensr fit …'``: bash execs gensr, which inherits bash's start time; the sleep
    must not be charged to --max-time (it was, via /proc, and the fit got 0.05 s and printed a wrong law)."""
    import pandas as pd

    frame = pd.read_csv(_table(tmp_path))
    frame["y"] = frame["a"] * frame["b"] ** 2  # not one of the affine seed laws, so it takes a search
    path = tmp_path / "law.csv"
    frame.to_csv(path, index=False)
    gensr_bin = subprocess.run([sys.executable, "-c", "import shutil, sys; print(shutil.which('gensr') or '')"],
                               capture_output=True, text=True).stdout.strip()
    if not gensr_bin:
        pytest.skip("the gensr console script is not installed")
    out = subprocess.run(["bash", "-c", f"sleep 12 && exec {gensr_bin} fit {path} --target y --max-time 10"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    reasons = re.search(r"stopped by ([a-z0-9_, ]+);", out.stderr)
    searched = re.search(r"([0-9]+) latents decoded", out.stdout)
    assert reasons is not None and searched is not None, out.stdout + out.stderr
    if "max_time" in reasons.group(1):  # before the fix: the search got 0.05 s of the 10, decoded nothing
        assert int(searched.group(1)) > 0, out.stdout  # and printed a wrong law
    assert "start-up" not in out.stderr


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
