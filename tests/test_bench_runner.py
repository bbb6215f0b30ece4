"""Benchmark sweeps: the smoke config end to end, splits and noise, append + resume, failures, parallel runs."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest

from gensr._config import from_dict, load_json
from gensr.bench import runner
from gensr.bench.data import Problem
from gensr.bench.runner import COLUMNS, BenchConfig, make_tasks, run, split

SMOKE = Path(__file__).resolve().parents[1] / "benchmarks" / "configs" / "smoke.json"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def smoke_run(bench_data_dir, tmp_path_factory):
    """The committed smoke config (2 Feynman problems, 3 generations each, shipped model) run once."""
    config = from_dict(BenchConfig, load_json(SMOKE))
    out = tmp_path_factory.mktemp("smoke")
    return config, run(config, bench_data_dir, out, progress=False)


def test_smoke_config_end_to_end(smoke_run):
    config, results = smoke_run
    rows = _rows(results)
    assert [r["dataset"] for r in sorted(rows, key=lambda r: r["dataset"])] == list(config.problems)
    assert list(rows[0]) == list(COLUMNS)
    for r in rows:
        assert r["error"] == "" and r["method"] == "gensr" and r["seed"] == "14423"
        assert float(r["r2_test"]) > 0.99  # products of 2-3 variables: the shipped model finds them
        assert r["symbolic"] in ("True", "False") and int(r["complexity"]) >= 1
        assert float(r["wall_time"]) < config.time_limit  # bounded by generations, not by the clock
        assert int(r["n_train"]) == 1500 and int(r["n_test"]) == 500
    saved = json.loads((results.parent / "config.json").read_text())["config"]
    assert saved["time_limit"] == config.time_limit and saved["options"] == {"gensr": {"max_generations": 3}}
    assert "versions" in json.loads((results.parent / "env.json").read_text())


def test_rerun_skips_finished_and_resumes_missing(smoke_run, bench_data_dir):
    config, results = smoke_run
    before = _rows(results)
    run(config, bench_data_dir, results.parent, progress=False)
    assert len(_rows(results)) == len(before)  # nothing rerun
    with results.open("w", newline="") as fh:  # as if the sweep had stopped after the first fit
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerow(before[0])
    seen = []
    run(config, bench_data_dir, results.parent, progress=False, on_row=seen.append)
    assert [r["dataset"] for r in seen] == [before[1]["dataset"]]
    assert len(_rows(results)) == 2
    with pytest.raises(ValueError, match="another configuration"):
        run(dataclasses.replace(config, time_limit=31.0), bench_data_dir, results.parent, progress=False)
    # execution settings may change on resume: nothing is left to run, and nothing is refused
    run(dataclasses.replace(config, workers=2, threads=2), bench_data_dir, results.parent, progress=False)
    assert len(_rows(results)) == 2


def test_split_noise_and_caps():
    rng = np.random.default_rng(0)
    p = Problem("feynman", "p", rng.uniform(1, 2, (400, 2)), rng.uniform(1, 2, 400), ("a", "b"), "x0")
    _, _, y_tr, y_te = split(p, BenchConfig(), 0.0, 1)
    assert len(y_tr) == 300 and len(y_te) == 100
    _, _, y_noisy, y_te2 = split(p, BenchConfig(), 0.1, 1)
    np.testing.assert_array_equal(y_te, y_te2)  # test targets stay clean
    rel = np.std(y_noisy - y_tr) / np.sqrt(np.mean(y_tr**2))
    assert 0.08 < rel < 0.12  # std = γ·RMS(y_train)
    X_cap, _, _, _ = split(p, BenchConfig(protocol="srbench", max_train=50), 0.0, 1)
    assert len(X_cap) == 50
    assert BenchConfig(protocol="srbench").train_cap() == (10_000, True)
    assert BenchConfig().train_cap() == (None, False)
    assert BenchConfig(protocol="srbench", n_seeds=2).trial_seeds() == (23654, 15795)


def test_tasks_and_config_errors(bench_data_dir):
    cfg = BenchConfig(suites=("feynman", "strogatz"), methods=("gensr", "gplearn"), noise=(0.0, 0.01))
    tasks = make_tasks(cfg, bench_data_dir, "r")
    assert len(tasks) == 3 * 2 * 2
    assert len({t.key for t in tasks}) == len(tasks)
    assert len(make_tasks(dataclasses.replace(cfg, subset=1), bench_data_dir, "r")) == 2 * 2 * 2
    with pytest.raises(ValueError, match="none of the problems"):
        make_tasks(dataclasses.replace(cfg, problems=("zzz",)), bench_data_dir, "r")
    for bad in ({"methods": ("pysr",)}, {"protocol": "x"}, {"noise": (-1.0,)}, {"time_limit": 0},
                {"suites": ()}, {"workers": 0}):
        with pytest.raises(ValueError):
            BenchConfig(**bad)


@pytest.fixture
def toy_methods(monkeypatch):
    """Methods by import path, found by the fit's child process through PYTHONPATH."""
    here = str(Path(__file__).resolve().parent)
    monkeypatch.setenv("PYTHONPATH", here + (":" + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else ""))


def test_failed_fit_is_a_row_not_a_crash(bench_data_dir, tmp_path, toy_methods):
    cfg = BenchConfig(problems=("feynman_I_12_1",), methods=("toy_methods:broken",), time_limit=1,
                      feynman_rows=200)
    rows = _rows(run(cfg, bench_data_dir, tmp_path / "r", progress=False))
    assert rows[0]["error"] == "RuntimeError: boom" and float(rows[0]["r2_test_clipped"]) == 0.0
    assert runner.finished_keys(tmp_path / "r" / "results.csv", retry_errors=True) == set()


@pytest.mark.parametrize("executor", ["in-process", "dask"])
def test_hard_limit_kills_a_runaway_fit_under_any_executor(bench_data_dir, tmp_path, toy_methods, executor):
    import time

    if executor == "dask":
        pytest.importorskip("dask.distributed")
    cfg = BenchConfig(problems=("feynman_I_12_1",), methods=("toy_methods:sleepy",), time_limit=1,
                      feynman_rows=200, hard_limit_s=3)
    start = time.perf_counter()
    rows = _rows(run(cfg, bench_data_dir, tmp_path / "r", progress=False,
                     dask="local" if executor == "dask" else None))
    assert "hard per-fit limit of 3 s" in rows[0]["error"] and time.perf_counter() - start < 60


BOUNDED = {"gensr": {"max_generations": 2}}  # work bounded by generations; the 60 s never bind


def test_process_pool_runs_in_parallel(bench_data_dir, tmp_path):
    import datetime

    cfg = BenchConfig(suites=("blackbox",), time_limit=60, workers=2, options=BOUNDED)
    rows = _rows(run(cfg, bench_data_dir, tmp_path / "pool", progress=False))
    assert sorted(r["dataset"] for r in rows) == ["bb_a", "bb_b"]
    assert all(r["error"] == "" and float(r["r2_test"]) > 0.5 for r in rows)
    # the two fits ran at the same time: each started before the other finished
    spans = []
    for r in rows:
        end = datetime.datetime.fromisoformat(r["finished_at"]).timestamp()
        spans.append((end - float(r["wall_time"]), end))
    (a0, a1), (b0, b1) = spans
    assert a0 < b1 and b0 < a1, spans


def test_dask_local_cluster(bench_data_dir, tmp_path):
    pytest.importorskip("dask.distributed")
    cfg = BenchConfig(suites=("strogatz",), time_limit=60, workers=1, options=BOUNDED)
    rows = _rows(run(cfg, bench_data_dir, tmp_path / "dask", dask="local", progress=False))
    assert len(rows) == 1 and rows[0]["error"] == ""


def test_a_registered_suite_and_method_run(tmp_path, toy_methods, monkeypatch):
    """A new suite and a new method are one registry entry each; the method's default options reach it."""
    from gensr.bench import methods, suites

    def load(name, data_dir, rows):
        X = np.linspace(1.0, 2.0, rows)[:, None]
        y = np.full(rows, 3.0) if name == "flat" else 2.0 * X[:, 0]
        return Problem("toy", name, X, y, ("x",), "3" if name == "flat" else "2*x0")

    monkeypatch.setitem(suites.SUITES, "toy", suites.Suite("Toy", lambda data_dir: ["flat", "line"], load))
    monkeypatch.setitem(methods.METHODS, "mean", methods.Method("toy_methods:mean", {"offset": 0.0}))
    cfg = BenchConfig(suites=("toy",), methods=("mean",), feynman_rows=40, time_limit=5)
    rows = {r["dataset"]: r for r in _rows(run(cfg, tmp_path, tmp_path / "r", progress=False))}
    assert set(rows) == {"flat", "line"} and all(r["error"] == "" for r in rows.values())
    assert rows["flat"]["symbolic"] == "True" and rows["line"]["symbolic"] == "False"
    assert float(rows["line"]["r2_test"]) < 0.5 and rows["flat"]["complexity"] == "1"
    # a sweep's own options extend the registered ones
    cfg = dataclasses.replace(cfg, options={"mean": {"offset": 1.0}})
    shifted = {r["dataset"]: r for r in _rows(run(cfg, tmp_path, tmp_path / "r2", progress=False))}
    assert float(shifted["flat"]["model"]) == pytest.approx(4.0)


def test_resumes_a_sweep_written_before_the_registries(bench_data_dir, tmp_path, toy_methods):
    """An old config.json (a top-level 'checkpoint', no 'options') still resumes; workers may differ."""
    cfg = BenchConfig(problems=("feynman_I_12_1",), methods=("toy_methods:broken",), time_limit=1,
                      feynman_rows=200)
    out = tmp_path / "old"
    run(cfg, bench_data_dir, out, progress=False)
    stored = json.loads((out / "config.json").read_text())
    stored["config"].pop("options")
    stored["config"].update(checkpoint=None, workers=4)
    (out / "config.json").write_text(json.dumps(stored))
    assert len(_rows(run(cfg, bench_data_dir, out, progress=False))) == 1  # resumed: nothing refit
    stored["config"]["checkpoint"] = "some/model"  # another gensr model is another sweep
    (out / "config.json").write_text(json.dumps(stored))
    with pytest.raises(ValueError, match="another configuration"):
        run(cfg, bench_data_dir, out, progress=False)
