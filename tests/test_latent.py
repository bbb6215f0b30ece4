"""Latent-space diagnostics: interpolation between equations, function-family probes, their CLI commands."""

import json
import math

import numpy as np
import pytest
import torch

from gensr.cli import main
from gensr.formula import parse
from gensr.generator import GeneratorConfig
from gensr.latent import (
    EMBEDDINGS,
    PROBE_CLASSES,
    PROBES,
    function_family,
    interpolate,
    interpolation_stats,
    probe,
    sample_family_problem,
    summary_features,
)
from gensr.latent.interpolation import _path


def test_interpolate_two_formulas(model):
    r = interpolate(model, "x0*sin(x1)", "x0*exp(x1)", steps=5)
    assert [s.t for s in r.steps] == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    assert r.X.shape == (200, 2) and r.y_a.shape == r.y_b.shape == (200,)
    assert np.isfinite(r.y_a).all() and np.isfinite(r.y_b).all()
    for s in r.steps:
        assert s.expression is not None  # the grammar-constrained decoder always gives a complete expression
        assert set(s.expression.variables) <= {0, 1}
        assert parse(s.equation.replace("C", "1.5")) is not None
        assert s.valid == (not math.isnan(s.dist_a))
    assert 0.0 <= r.valid_rate <= 1.0 and 1 <= r.n_distinct <= 5
    assert isinstance(r.monotonic_a, bool) and isinstance(r.monotonic, bool)
    assert math.isnan(r.spearman_a) or -1.0 <= r.spearman_a <= 1.0
    json.dumps(r.to_dict())
    assert "distinct skeletons" in r.format()
    # slerp, constants and a positive range
    r2 = interpolate(model, "2.5*x0", "log(x0)", steps=3, spherical=True, x_range=(0.1, 4.0), n_points=50)
    assert r2.spherical and len(r2.steps) == 3 and r2.X.min() >= 0.1 and r2.n_points == 50


def test_interpolate_bad_input(model):
    with pytest.raises(ValueError, match="steps"):
        interpolate(model, "x0", "x0**2", steps=1)
    with pytest.raises(ValueError, match="finite on only"):
        interpolate(model, "log(x0)", "log(-x0)")


def test_slerp_path_endpoints():
    za, zb = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    ts = torch.linspace(0, 1, 5)
    z = _path(za, zb, ts, spherical=True)
    assert torch.allclose(z[0], za, atol=1e-6) and torch.allclose(z[-1], zb, atol=1e-6)
    assert torch.allclose(z.norm(dim=1), torch.ones(5), atol=1e-6)  # on the unit circle, unlike the chord
    assert torch.allclose(_path(za, zb, ts, spherical=False)[2], torch.tensor([0.5, 0.5]))


def test_interpolation_stats_runs(model):
    stats = interpolation_stats(model, n_pairs=3, rng=1, generator_config=GeneratorConfig(max_vars=3), steps=3,
                                n_points=40)
    assert stats["n_pairs"] + stats["n_skipped"] == 3
    for key in ("valid_rate", "monotonic", "monotonic_a", "monotonic_b", "endpoint_a", "endpoint_b"):
        assert 0.0 <= stats[key] <= 1.0
    assert stats["n_distinct"] >= 1


def test_function_family_membership():
    assert function_family(parse("exp(x0) + sqrt(x1)").prefix) == "exp"
    assert function_family(parse("sin(x0)*cos(x1)").prefix) == "trig"
    assert function_family(parse("log(x0**2)").prefix) == "log"
    assert function_family(parse("exp(sin(x0))").prefix) is None  # two families
    assert function_family(parse("x0 + x1").prefix) is None  # none
    assert function_family(parse("tanh(x0) + exp(x1)").prefix) is None  # excluded operator
    rng = np.random.default_rng(0)
    for family in ("exp", "trig", "log"):
        p = sample_family_problem(family, 5, rng, GeneratorConfig(max_points=30))
        assert function_family(p.prefix) == family and p.n_vars == 5 and p.X.shape[1] == 5


def test_summary_features_fixed_width():
    rng = np.random.default_rng(0)
    f2 = summary_features(rng.normal(size=(30, 2)), rng.normal(size=30))
    f5 = summary_features(rng.normal(size=(40, 5)), np.full(40, 3.0))  # constant y: no NaN
    assert f2.shape == f5.shape and np.isfinite(f2).all() and np.isfinite(f5).all()


def test_probe_end_to_end(model, tmp_path):
    result = probe(model, n_per_class=8, seeds=(0, 1), rng=0, generator_config=GeneratorConfig(max_points=30))
    assert result.classes == PROBE_CLASSES and len(result.labels) == 48
    assert {(s.embedding, s.probe) for s in result.scores} == {(e, p) for e in EMBEDDINGS for p in PROBES}
    for s in result.scores:
        assert 0.0 <= s.accuracy <= 1.0 and 0.0 <= s.family_accuracy <= 1.0 and len(s.per_seed) == 2
    assert result.embeddings["gensr"].shape == (48, model.cfg.latent_dim)
    assert result.embeddings["untrained"].shape == (48, model.cfg.latent_dim)
    assert not np.allclose(result.embeddings["gensr"], result.embeddings["untrained"])
    json.dumps(result.to_dict())
    pytest.importorskip("matplotlib")
    from gensr.latent import plot_tsne

    out = plot_tsne(result, tmp_path / "tsne.png", embeddings=("gensr",))
    assert out.stat().st_size > 1000


def test_cli_interpolate_and_bad_formula(tiny_checkpoint, tmp_path, capsys):
    torch.set_num_threads(1)
    ckpt = str(tiny_checkpoint)
    out = tmp_path / "interp.json"
    assert main(["interpolate", "x0*sin(x1)", "x0*exp(x1)", "--checkpoint", ckpt, "--steps", "3",
                 "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert "valid decodes:" in text and "distinct skeletons:" in text
    assert len(json.loads(out.read_text())["steps"]) == 3
    assert main(["interpolate", "x0*sin(", "x0", "--checkpoint", ckpt]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gensr interpolate: error:") and err.count("\n") == 1 and "Traceback" not in err
