"""Validation metrics, decode latency and training curves of a trained checkpoint (for MODEL.md).

Evaluates on problems drawn from the checkpoint's own generator config with a held-out seed (never the
training seed), and writes into ``--out``:

* ``metrics.json``: skeleton recovery from the prior mean (overall and by number of variables), top-k beam
  recovery, posterior reconstruction, valid-decode rates (prior samples, interpolation lines), token
  accuracy, KL, g_eval MSE, parameter count, decode latency for 200 latents;
* numeric recovery, the field's usual metric: the prior mean's beam-``--beam`` decodes get their constants
  fitted on 75 % of a problem's points, and the problem counts as recovered if any candidate reaches
  R² > 0.999 on the other 25 % (clean targets). Reported on the held-out generated problems and, with
  ``--data-dir``, on the Feynman truths (sampled from their formulas; evaluation only, never training);
* ``training_curves.png`` and a copy of the run's ``log.csv`` / ``val_log.csv`` if ``--run`` is given.

Example::

    python benchmarks/evaluate_model.py --checkpoint src/gensr/pretrained/default --run runs/default \\
        --out src/gensr/pretrained/default/card --n 1000
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from gensr._config import from_dict
from gensr._utils import r2_score
from gensr.checkpoint import load_model, read_checkpoint_config
from gensr.codec import arity_tensor, decoded_expression, pack_data, token_mask_for
from gensr.generator import GeneratorConfig
from gensr.screen import screen_constants
from gensr.train import evaluate, make_problems


def decode_latency(model, n: int = 200, repeats: int = 3, seed: int = 0) -> dict[str, float]:
    """Seconds to greedily decode ``n`` prior-like latents z ~ N(0, I), best of ``repeats``."""
    z = torch.randn(n, model.cfg.latent_dim, generator=torch.Generator().manual_seed(seed))
    arity = arity_tensor()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = model.decode(z, arity=arity)
        times.append(time.perf_counter() - start)
    return {"decode_200_greedy_s": min(times), "decode_200_mean_len": float(np.mean([len(o) for o in out]))}


@torch.no_grad()
def numeric_recovery(model, tables, *, beam: int = 10, threshold: float = 0.999, enc_rows: int = 200,
                     fit_rows: int = 256, seed: int = 0) -> list[bool]:
    """Per table ``(X_fit, y_fit, X_test, y_test)``: does any beam decode of the prior mean, with constants
    fitted on the fit rows, reach test R² > ``threshold``?"""
    rng = np.random.default_rng(seed)
    arity = arity_tensor()
    hits = []
    for X_fit, y_fit, X_test, y_test in tables:
        rows = rng.permutation(len(y_fit))[:enc_rows]
        mu, _ = model.encode_prior(*pack_data([(X_fit[rows], y_fit[rows])]))
        (beams,) = model.decode(mu, method="beam", beam_size=beam, arity=arity,
                                token_mask=token_mask_for([X_fit.shape[1]]))
        best = -np.inf
        for ids, _ in beams:
            expr = decoded_expression(ids)
            if expr is None:
                continue
            k = expr.n_constants
            fit = screen_constants(expr.numpy_fn(), k, X_fit, y_fit, n_starts=4 if k else 1, max_rows=fit_rows,
                                   max_iter=200, tol=1e-10, rng=seed)
            pred = (expr.with_constants(fit.constants) if k else expr).evaluate(X_test)
            best = max(best, r2_score(y_test, pred))
            if best > threshold:
                break
        hits.append(bool(best > threshold))
    return hits


def generated_tables(problems):
    """75/25 splits of generated problems' points; test targets are the clean formula values."""
    tables = []
    for p in problems:
        cut = (3 * len(p.y)) // 4
        tables.append((p.X[:cut], p.y[:cut], p.X[cut:], p.expr.evaluate(p.X[cut:])))
    return tables


def feynman_tables(data_dir: str, rows: int = 400, seed: int = 0):
    """(name, n_vars, table) per Feynman problem: ``rows`` points sampled from its formula, split 75/25."""
    from gensr.bench.data import feynman_names, load_feynman

    out = []
    for name in feynman_names(Path(data_dir)):
        prob = load_feynman(name, Path(data_dir), rows)
        order = np.random.default_rng(seed).permutation(len(prob.y))
        cut = (3 * len(order)) // 4
        fit, test = order[:cut], order[cut:]
        out.append((name, prob.X.shape[1], (prob.X[fit], prob.y[fit], prob.X[test], prob.y[test])))
    return out


def recovery_metrics(model, problems, data_dir: str | None, beam: int, seed: int) -> dict[str, float]:
    """Numeric recovery on the generated problems (overall and 1–3 variables) and on the Feynman truths."""
    hits = np.array(numeric_recovery(model, generated_tables(problems), beam=beam, seed=seed))
    nv = np.array([p.n_vars for p in problems])
    out = {f"numeric_recovery_beam{beam}": float(hits.mean()),
           f"numeric_recovery_beam{beam}_1_3": float(hits[nv <= 3].mean()) if (nv <= 3).any() else float("nan")}
    if data_dir:
        feyn = feynman_tables(data_dir)
        fh = np.array(numeric_recovery(model, [t for _, _, t in feyn], beam=beam, seed=seed))
        fv = np.array([d for _, d, _ in feyn])
        out[f"feynman_numeric_recovery_beam{beam}"] = float(fh.mean())
        out[f"feynman_numeric_recovery_beam{beam}_1_3"] = float(fh[fv <= 3].mean())
        out["feynman_n"] = len(feyn)
    return out


def plot_curves(run: Path, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    log = pd.read_csv(run / "log.csv")
    val = pd.read_csv(run / "val_log.csv") if (run / "val_log.csv").exists() else None
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for key in ("loss", "recon_post", "recon_prior", "kl_prior", "geval_mse"):
        if key not in log or not (log[key] > 0).any():
            continue  # a term switched off in this run
        axes[0].plot(log["step"], log[key].rolling(8, min_periods=1).mean(), label=key)
    axes[0].set_yscale("log")
    axes[0].set_title("training losses (rolling mean)")
    axes[1].plot(log["step"], log["kl"], label="KL(q||p) (nats)")
    axes[1].plot(log["step"], log["token_acc"] * 10, label="token accuracy ×10")
    axes[1].set_title("KL and token accuracy")
    if val is not None:
        for key in ("val_recovery_prior", "val_recovery_post", "val_valid_prior_sample", "val_valid_interp",
                    "val_recovery_prior_1_3"):
            if key in val:
                axes[2].plot(val["step"], val[key], marker="o", label=key[4:])
        axes[2].set_ylim(0, 1.02)
        axes[2].set_title("validation (held-out generated problems)")
    for ax in axes:
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "training_curves.png", dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None, help="checkpoint directory (default: the shipped model)")
    ap.add_argument("--run", help="run directory with log.csv / val_log.csv for the curves")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--n", type=int, default=1000, help="held-out problems")
    ap.add_argument("--seed", type=int, default=20_261_122, help="held-out problem seed")
    ap.add_argument("--beam", type=int, default=10, help="beam size for top-k recovery")
    ap.add_argument("--data-dir", help="benchmark data folder: also report numeric recovery on the Feynman truths")
    ap.add_argument("--generator", help="a training config (JSON with a generator section) whose distribution the "
                                        "held-out problems come from (default: the checkpoint's own), so that "
                                        "models trained on different mixes are compared on the same problems")
    ap.add_argument("--recovery-only", action="store_true",
                    help="only the recovery metrics (skeleton and numeric), for comparing checkpoints quickly")
    args = ap.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    directory, meta = read_checkpoint_config(args.checkpoint)
    if meta.get("train", {}).get("seed") == args.seed:
        raise SystemExit("--seed equals the training seed: pick a held-out seed")
    model = load_model(directory)
    gen = from_dict(GeneratorConfig, meta["generator"] if args.generator is None
                    else json.loads(Path(args.generator).read_text())["generator"])
    problems = make_problems(args.seed, 0, args.n, gen)
    start = time.perf_counter()
    metrics = evaluate(model, problems, beam_size=args.beam, n_interp_pairs=100, seed=args.seed)
    metrics.update(recovery_metrics(model, problems, args.data_dir, args.beam, args.seed))
    metrics["eval_seconds"] = time.perf_counter() - start
    if not args.recovery_only:
        metrics.update(decode_latency(model))
    metrics.update({"n_problems": args.n, "seed": args.seed, "generator": args.generator or "checkpoint's own",
                    "parameters": model.num_parameters(),
                    "step": meta.get("step"), "torch_threads": torch.get_num_threads()})
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    if args.run:
        run = Path(args.run)
        for name in ("log.csv", "val_log.csv"):
            if (run / name).exists():
                shutil.copy(run / name, out / name)
        plot_curves(run, out)
    for key, value in metrics.items():
        print(f"{key:32s} {value}")


if __name__ == "__main__":
    main()
