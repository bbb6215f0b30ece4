"""Benchmark problem loading: Feynman sampling, Strogatz and PMLB files, the real benchdata when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy

from gensr.bench.data import read_pmlb, sample_feynman
from gensr.bench.parsing import parse_model
from gensr.bench.suites import list_problems, load_problem

SHARED = Path(__file__).resolve().parents[2] / "shared" / "benchdata"


def test_lists(bench_data_dir):
    assert list_problems("feynman", bench_data_dir) == ["feynman_I_12_1", "feynman_I_14_3"]
    assert list_problems("strogatz", bench_data_dir) == ["strogatz_lv1"]
    assert list_problems("blackbox", bench_data_dir) == ["bb_a", "bb_b"]
    assert list_problems("pmlb", bench_data_dir) == ["bb_a", "bb_b", "strogatz_lv1"]
    with pytest.raises(ValueError, match="unknown suite"):
        list_problems("nope", bench_data_dir)


def test_feynman_is_sampled_in_range_and_reproducible(bench_data_dir):
    p = load_problem("feynman", "feynman_I_14_3", bench_data_dir, feynman_rows=500)
    assert p.X.shape == (500, 3) and p.feature_names == ("m", "g", "z")
    assert p.X.min() >= 1 and p.X.max() <= 5
    np.testing.assert_allclose(p.y, p.X.prod(axis=1))
    assert sympy.simplify(parse_model(p.truth) - parse_model("x0*x1*x2")) == 0
    again = load_problem("feynman", "feynman_I_14_3", bench_data_dir, feynman_rows=500)
    np.testing.assert_array_equal(p.X, again.X)
    with pytest.raises(ValueError, match="not one of"):
        load_problem("feynman", "feynman_not_in_pmlb", bench_data_dir)


def test_strogatz_and_blackbox(bench_data_dir):
    s = load_problem("strogatz", "strogatz_lv1", bench_data_dir)
    assert s.feature_names == ("x", "y") and s.truth is not None
    fn = sympy.lambdify(sympy.symbols("x0 x1"), parse_model(s.truth))
    np.testing.assert_allclose(fn(s.X[:, 0], s.X[:, 1]), s.y)
    b = load_problem("blackbox", "bb_a", bench_data_dir)
    assert b.truth is None and b.X.shape == (60, 2)
    with pytest.raises(FileNotFoundError, match=r"no missing\.tsv\.gz"):
        load_problem("pmlb", "missing", bench_data_dir)


def test_bad_files_are_clear(tmp_path):
    (tmp_path / "t.tsv").write_text("a\tb\n1\t2\n")
    with pytest.raises(ValueError, match="no 'target' column"):
        read_pmlb(tmp_path / "t.tsv")
    (tmp_path / "u.tsv").write_text("a\ttarget\nx\t2\n")
    with pytest.raises(ValueError, match="non-numeric"):
        read_pmlb(tmp_path / "u.tsv")
    with pytest.raises(FileNotFoundError, match="--data-dir"):
        list_problems("feynman", tmp_path)
    with pytest.raises(ValueError, match="not finite"):
        sample_feynman("log(x)", [("x", -2.0, -1.0)], 10, seed=0)


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared benchdata folder is not beside the repository")
def test_real_benchdata_counts_and_formulas():
    assert len(list_problems("feynman", SHARED)) == 119
    assert len(list_problems("strogatz", SHARED)) == 14
    assert len(list_problems("blackbox", SHARED)) == 57
    for name in list_problems("feynman", SHARED):  # every formula samples finite values over its ranges
        p = load_problem("feynman", name, SHARED, feynman_rows=50)
        assert np.isfinite(p.y).all() and p.X.shape[1] == len(p.feature_names)
    s = load_problem("strogatz", "strogatz_vdp2", SHARED)
    fn = sympy.lambdify(sympy.symbols("x0 x1"), parse_model(s.truth))
    np.testing.assert_allclose(fn(s.X[:, 0], s.X[:, 1]), s.y, rtol=1e-9, atol=1e-12)
