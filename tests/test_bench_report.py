"""Tests for gensr.bench.report: loading, aggregation, published numbers, markdown, write_into, plots."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from gensr.bench import report as rep

SCHEMA = [
    "run_id", "protocol", "suite", "dataset", "method", "noise", "seed", "time_limit", "n_train", "n_test",
    "n_features", "r2_train", "r2_test", "r2_test_clipped", "solved_099", "solved_0999", "symbolic", "complexity",
    "complexity_simplified", "wall_time", "evaluations", "model", "truth", "error", "finished_at", "host",
    "gensr_version",
]


def _row(protocol, suite, dataset, method, noise, seed, r2, *, symbolic=None, complexity=None,
         simplified=None, wall_time=1.0, evaluations=100, error="", time_limit=60.0):
    failed = r2 is None
    r2v = math.nan if failed else r2
    return {
        "run_id": "t", "protocol": protocol, "suite": suite, "dataset": dataset, "method": method, "noise": noise,
        "seed": seed, "time_limit": time_limit, "n_train": 75, "n_test": 25, "n_features": 2, "r2_train": r2v,
        "r2_test": r2v, "r2_test_clipped": 0.0 if failed else max(r2, 0.0),
        "solved_099": (not failed) and r2 > 0.99, "solved_0999": (not failed) and r2 > 0.999,
        "symbolic": "" if symbolic is None else symbolic, "complexity": complexity,
        "complexity_simplified": simplified, "wall_time": wall_time, "evaluations": evaluations,
        "model": "x0" if not failed else "", "truth": "", "error": error, "finished_at": "2025-01-01T00:00:00",
        "host": "h", "gensr_version": "0.1.0",
    }


def _gensr_rows():
    """Feynman γ=0, gensr protocol: clipped R² [1, 0.995, 0.5, 0 (failed)] over 4 datasets, one seed."""
    return [
        _row("gensr", "feynman", "d1", "gensr", 0.0, 14423, 1.0, symbolic=True, complexity=5, simplified=3,
             wall_time=1.0, evaluations=100),
        _row("gensr", "feynman", "d2", "gensr", 0.0, 14423, 0.995, symbolic=False, complexity=7, simplified=5,
             wall_time=2.0, evaluations=200),
        _row("gensr", "feynman", "d3", "gensr", 0.0, 14423, 0.5, symbolic=False, complexity=9, simplified=9,
             wall_time=3.0, evaluations=300),
        _row("gensr", "feynman", "d4", "gensr", 0.0, 14423, None, symbolic=False, wall_time=10.0, evaluations=400,
             error="RuntimeError: boom"),
    ]


def _srbench_rows():
    """Feynman γ=0, srbench protocol, pyoperon: 2 datasets × 3 seeds."""
    rows = []
    for seed, (a, b) in zip((1, 2, 3), ((0.9, 0.2), (0.99995, 0.4), (1.0, 0.9))):
        rows.append(_row("srbench", "feynman", "dA", "pyoperon", 0.0, seed, a, symbolic=a == 1.0, complexity=10,
                         simplified=8, wall_time=float(seed), time_limit=30.0))
        rows.append(_row("srbench", "feynman", "dB", "pyoperon", 0.0, seed, b, symbolic=False, complexity=20,
                         simplified=12, wall_time=10.0 * seed, time_limit=30.0))
    return rows


def _blackbox_rows():
    return [_row("gensr", "blackbox", f"bb{i}", "gplearn", 0.0, 14423, r2, complexity=15, wall_time=5.0)
            for i, r2 in enumerate((0.8, 0.6))]


def _write(path, rows):
    pd.DataFrame(rows, columns=SCHEMA).to_csv(path, index=False)
    return path


@pytest.fixture
def results(tmp_path):
    """Two CSVs; the first holds stale rows (same keys) that the second overrides."""
    stale = [_row("gensr", "feynman", "d1", "gensr", 0.0, 14423, 0.1, symbolic=False, complexity=99),
             _row("gensr", "feynman", "d2", "gensr", 0.0, 14423, 0.2, symbolic=False, complexity=99)]
    first = _write(tmp_path / "a.csv", stale)
    second = _write(tmp_path / "b.csv", _gensr_rows() + _srbench_rows() + _blackbox_rows())
    return [first, second]


@pytest.fixture
def agg(results):
    return rep.aggregate(rep.load_results(results))


def _one(agg, protocol, suite, method):
    sub = agg[(agg["protocol"] == protocol) & (agg["suite"] == suite) & (agg["method"] == method)]
    assert len(sub) == 1
    return sub.iloc[0]


def test_load_dedup_keeps_last_across_and_within_files(results, tmp_path):
    df = rep.load_results(results)
    assert len(df) == 4 + 6 + 2
    d1 = df[(df["dataset"] == "d1") & (df["protocol"] == "gensr")]
    assert len(d1) == 1 and d1["r2_test"].iloc[0] == 1.0 and d1["complexity"].iloc[0] == 5
    # Within one file, the later line wins too.
    one = _write(tmp_path / "c.csv", [_row("gensr", "strogatz", "s", "gensr", 0.01, 1, 0.3),
                                      _row("gensr", "strogatz", "s", "gensr", 0.01, 1, 0.7)])
    got = rep.load_results([one])
    assert len(got) == 1 and got["r2_test"].iloc[0] == 0.7


def test_load_types(results):
    df = rep.load_results(results)
    assert str(df["solved_099"].dtype) == "boolean"
    bb = df[df["suite"] == "blackbox"]
    assert bb["symbolic"].isna().all()
    assert df.loc[df["dataset"] == "d4", "error"].iloc[0] == "RuntimeError: boom"
    assert (df.loc[df["dataset"] == "d1", "error"] == "").all()


def test_aggregate_gensr_protocol(agg):
    r = _one(agg, "gensr", "feynman", "gensr")
    assert r["n"] == 4 and r["n_runs"] == 4
    assert r["r2_mean"] == pytest.approx((1 + 0.995 + 0.5 + 0) / 4)
    assert r["r2_median"] == pytest.approx((0.5 + 0.995) / 2)
    assert r["solved_099_pct"] == pytest.approx(50.0)
    assert r["solved_0999_pct"] == pytest.approx(25.0)
    assert r["symbolic_pct"] == pytest.approx(25.0)
    assert r["complexity_median"] == pytest.approx(7.0)  # failed run has no complexity
    assert r["complexity_simplified_median"] == pytest.approx(5.0)
    assert r["wall_time_median"] == pytest.approx(2.5)
    assert r["wall_time_mean"] == pytest.approx(4.0)
    assert r["evaluations_median"] == pytest.approx(250.0)
    assert r["n_errors"] == 1
    assert r["time_limit"] == 60.0


def test_aggregate_srbench_per_dataset_median(agg):
    r = _one(agg, "srbench", "feynman", "pyoperon")
    assert r["n"] == 2 and r["n_runs"] == 6
    # Per-dataset medians over seeds: dA 0.99995, dB 0.4; then mean/median over datasets.
    assert r["r2_mean"] == pytest.approx((0.99995 + 0.4) / 2)
    assert r["r2_median"] == pytest.approx((0.99995 + 0.4) / 2)
    # Rates are means over all 6 runs.
    assert r["solved_099_pct"] == pytest.approx(100 * 2 / 6)
    assert r["solved_0999_pct"] == pytest.approx(100 * 2 / 6)
    assert r["symbolic_pct"] == pytest.approx(100 * 1 / 6)
    # SRBench accuracy: share of datasets whose median R² > 0.999.
    assert r["solved_0999_dsmedian_pct"] == pytest.approx(50.0)
    # Times: per-dataset medians 2 and 20.
    assert r["wall_time_median"] == pytest.approx(11.0)
    assert r["complexity_median"] == pytest.approx(15.0)
    assert r["time_limit"] == 30.0


def test_aggregate_blackbox_symbolic_is_nan(agg):
    r = _one(agg, "gensr", "blackbox", "gplearn")
    assert math.isnan(r["symbolic_pct"])
    assert r["r2_mean"] == pytest.approx(0.7)
    assert list(agg.columns) == list(rep.AGG_COLUMNS)


def test_missing_column_and_missing_file(tmp_path):
    df = pd.DataFrame(_gensr_rows(), columns=SCHEMA).drop(columns=["r2_test_clipped"])
    bad = tmp_path / "bad.csv"
    df.to_csv(bad, index=False)
    with pytest.raises(ValueError, match="r2_test_clipped"):
        rep.load_results([bad])
    with pytest.raises(ValueError, match="not found"):
        rep.load_results([tmp_path / "nope.csv"])


def test_published_numbers():
    by = {(p.method, p.suite, p.noise, p.protocol): p for p in rep.PUBLISHED}
    assert by[("TPSR λ=0.1", "feynman", 0.0, "gensr")].r2_mean == 0.9925
    assert by[("SNIP (LSO)", "strogatz", 0.1, "gensr")].solved_099_pct == 64.3
    assert by[("GenSR", "blackbox", 0.0, "gensr")].r2_mean == 0.8416
    assert by[("GenSR", "strogatz", 0.1, "gensr")].r2_mean == 0.9773
    op = by[("Operon", "feynman", 0.001, "srbench")]
    assert (op.symbolic_pct, op.solved_0999_pct) == (0.3, 81.9)
    assert math.isnan(op.r2_mean)
    assert by[("gplearn", "blackbox", 0.0, "srbench")].time_s == 22871
    assert all(p.source and p.protocol in ("gensr", "srbench") for p in rep.PUBLISHED)
    assert len(rep.published_frame()) == len(rep.PUBLISHED)


def _section(md, title):
    start = md.index(f"### {title}\n")
    nxt = md.find("\n### ", start + 1)
    return md[start:] if nxt < 0 else md[start:nxt]


def test_markdown_measured_and_published_rows(agg):
    md = rep.markdown_tables(agg)
    sec = _section(md, "Feynman, noise γ = 0")
    lines = [line for line in sec.splitlines() if line.startswith("| ")]
    measured = [line for line in lines if "(measured," in line]
    published = [line for line in lines if "(published," in line]
    assert any("gensr (measured, gensr, 60 s)" in line for line in measured)
    assert any("pyoperon (measured, srbench, 30 s)" in line for line in measured)
    assert any(line.startswith("| TPSR λ=0.1 (published,") for line in published)
    assert any(line.startswith("| Operon (published,") and "srbench" in line for line in published)
    assert lines.index(measured[-1]) < lines.index(published[0])  # measured first
    gensr = next(line for line in measured if line.startswith("| gensr"))
    assert "| 4 | 0.6238 | 0.7475 | 50.0 | 25.0 | 25.0 | 7 | 5 | 2.50 | – | 250 |" in gensr  # no answer times recorded
    assert "–" in sec  # missing values
    bb = _section(md, "Black-box, noise γ = 0")
    assert "| – |" in next(line for line in bb.splitlines() if line.startswith("| gplearn (measured"))
    assert "GenSR (published" in bb
    assert "Feynman" not in rep.markdown_tables(agg[agg["suite"] == "blackbox"], published=False).split("###", 1)[1]


def test_write_into_replaces_between_markers(tmp_path):
    p = tmp_path / "B.md"
    head, tail = "# Title\r\n\ntext before\n", "\ntext after\n"
    p.write_bytes((head + "<!-- bench:begin -->\nold table\n<!-- bench:end -->" + tail).encode())
    rep.write_into(p, "new table\n")
    once = p.read_bytes()
    assert once == (head + "<!-- bench:begin -->\nnew table\n<!-- bench:end -->" + tail).encode()
    rep.write_into(p, "new table\n")
    assert p.read_bytes() == once


def test_write_into_appends_when_no_markers(tmp_path):
    p = tmp_path / "B.md"
    p.write_text("# Title\n\nbody\n", encoding="utf-8")
    rep.write_into(p, "T1")
    first = p.read_text(encoding="utf-8")
    assert first.startswith("# Title\n\nbody\n")
    assert "<!-- bench:begin -->\nT1\n<!-- bench:end -->" in first
    rep.write_into(p, "T1")
    assert p.read_text(encoding="utf-8") == first
    rep.write_into(p, "T2")
    assert p.read_text(encoding="utf-8") == first.replace("T1", "T2")
    p.write_text("<!-- bench:begin -->\n", encoding="utf-8")
    with pytest.raises(ValueError):
        rep.write_into(p, "x")


def test_plot_writes_pngs(agg, tmp_path):
    paths = rep.plot(agg, tmp_path / "plots")
    assert {p.name for p in paths} == {"feynman_noise0.png", "blackbox_noise0.png"}
    for p in paths:
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


def test_report_end_to_end(results, tmp_path):
    md_file = tmp_path / "BENCHMARKS.md"
    md_file.write_text("# Benchmarks\n\nkeep me\n", encoding="utf-8")
    text = rep.report(results, benchmarks_md=md_file, plot_dir=tmp_path / "figs")
    content = md_file.read_text(encoding="utf-8")
    assert content.startswith("# Benchmarks\n\nkeep me\n")
    assert text.strip() in content
    assert "](figs/feynman_noise0.png)" in text


def test_published_numbers_are_package_data():
    """The report reads the published numbers from the package's CSV, with a source and protocol per row."""
    from importlib import resources

    raw = pd.read_csv(resources.files("gensr.bench").joinpath("published.csv"))
    frame = rep.published_frame()
    assert len(raw) == len(frame) == len(rep.published()) and list(raw.columns) == list(frame.columns)
    assert raw["source"].notna().all() and set(raw["protocol"]) == {"gensr", "srbench"}
    assert frame["r2_mean"].equals(raw["r2_mean"].astype(float))
