"""Probes of the prior branch (issue: the map finds what the moves cannot), for MODEL.md.

For each checkpoint, on the same held-out generated problems (``--generator``'s mix: the stage-1 mix of
``configs/default_model.json`` unless given, so that numbers stay comparable when the default changes;
``--points`` rows each, as many as the search encodes; seed 7,000,001, never trained on):

* **unary AUC**: a linear probe (standardised logistic regression, 5-fold cross-validated ROC AUC) for "the
  true skeleton contains a unary operator" (any, as the issue counts them: powers and inverses too), on the
  prior's encoder output (the shared data encoder's for a stage-1 model; for stage 2 the shared encoder's
  and the structure encoder's outputs side by side, then the structure encoder's alone, and its
  bag-of-tokens head's largest unary logit), on μ_p and on μ_q; and, stricter, for "contains a function"
  (exp, log, sqrt, trig, tanh, abs);
* **μ_q variance explained by μ_p**: 1 − Σ‖μ_q − μ_p‖² / Σ‖μ_q − mean μ_q‖²;
* **the stage-2 loss terms**: the decoder's CE (nats per token) of the true equation at μ_p, and KL(q ‖ p) per
  equation;
* **prior-mean decodes**: the share that contain a function (against the truths' share), and skeleton
  recovery overall and for 1–3 variables (grammar-constrained greedy decoding of μ_p).

For the function probe and the decodes, ``pow2``, ``pow3``, ``inv`` and ``neg`` are powers and signs, not
functions: they do not count.

Example::

    python benchmarks/prior_probes.py --checkpoints default runs/s2_pilot/checkpoint --n 1000
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gensr.checkpoint import load_model
from gensr.codec import arity_tensor, collate, decoded_expression, token_mask_for
from gensr.generator import problem_rng, sample_problem
from gensr.grammar import UNARY
from gensr.layers import gauss_kl
from gensr.train import resolve_config
from gensr.vocab import PAD_ID, VOCAB

FUNCTIONS = frozenset({"sqrt", "exp", "log", "sin", "cos", "tan", "tanh", "arcsin", "arccos", "arctan", "abs"})
PROBE_SEED = 7_000_001


def has_function(tokens) -> bool:
    return any(t in FUNCTIONS for t in tokens)


def has_unary(tokens) -> bool:
    return any(t in UNARY for t in tokens)


def auc(features: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
    return float(np.mean(cross_val_score(clf, features, labels, cv=5, scoring="roc_auc")))


@torch.no_grad()
def probe(checkpoint: str, problems, batch_size: int = 100) -> dict[str, float]:
    model = load_model(None if checkpoint == "default" else checkpoint).eval()
    arity = arity_tensor()
    feats, own, bow, mus_p, mus_q, hits, dec_fn, ce, n_tokens, kl = [], [], [], [], [], [], [], [], [], []
    for s in range(0, len(problems), batch_size):
        chunk = problems[s : s + batch_size]
        b = collate(chunk, model.cfg.max_len)
        X, y, vm, pm = model._prepare(b["X"], b["y"], b["var_mask"], b["point_mask"])
        if model.structure_prior is not None:  # what stage 2's prior reads: the old encoder (y / RMS) and its own
            h = model.structure_prior.features(X, y, vm, pm)
            feats.append(torch.cat([model.data_encoder(X, model.y_over_rms(y, pm), vm, pm), h], dim=1))
            own.append(h)
            bow.append(model.structure_prior.tokens(h)[:, [i for i, t in enumerate(VOCAB.tokens) if t in UNARY]])
        else:
            feats.append(model.data_encoder(X, y, vm, pm))
        mu_p, logvar_p = model.encode_prior(X, y, vm, pm)
        mu_q, logvar_q = model.encode_posterior(b["tokens"], X, y, vm, pm)
        tokens = model._trim(b["tokens"])
        logits = model.logits(mu_p, tokens[:, :-1])
        ce.append(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1),
                                  ignore_index=PAD_ID, reduction="sum").item())
        n_tokens.append(int((tokens[:, 1:] != PAD_ID).sum()))
        kl.append(gauss_kl(mu_q, logvar_q, mu_p, logvar_p).sum().item())
        mus_p.append(mu_p)
        mus_q.append(mu_q)
        for ids, p in zip(model.decode(mu_p, arity=arity, token_mask=token_mask_for([p.n_vars for p in chunk])),
                          chunk):
            e = decoded_expression(ids)
            hits.append(e is not None and e.key == p.expr.key)
            dec_fn.append(e is not None and has_function(e.prefix))
    labels = np.array([has_function(p.prefix) for p in problems])
    unary = np.array([has_unary(p.prefix) for p in problems])
    enc = torch.cat(feats).numpy()
    mu_p, mu_q = torch.cat(mus_p).numpy(), torch.cat(mus_q).numpy()
    explained = 1.0 - ((mu_q - mu_p) ** 2).sum() / ((mu_q - mu_q.mean(0)) ** 2).sum()
    small = np.array([p.n_vars <= 3 for p in problems])
    hits_arr = np.array(hits)
    extra = {}
    if own:  # the structure encoder alone, and its bag-of-tokens head's own reading (the largest unary logit)
        from sklearn.metrics import roc_auc_score

        extra = {"unary_auc_structure_encoder": auc(torch.cat(own).numpy(), unary),
                 "unary_auc_token_head": float(roc_auc_score(unary, torch.cat(bow).amax(1).numpy()))}
    return extra | {"unary_auc_encoder": auc(enc, unary), "unary_auc_mu_p": auc(mu_p, unary),
            "unary_auc_mu_q": auc(mu_q, unary), "truth_unary_share": float(unary.mean()),
            "function_auc_encoder": auc(enc, labels), "function_auc_mu_q": auc(mu_q, labels),
            "mu_q_var_explained": float(explained),
            "truth_function_share": float(labels.mean()), "prior_decode_function_share": float(np.mean(dec_fn)),
            "prior_recovery": float(hits_arr.mean()), "ce_at_prior_mean": sum(ce) / sum(n_tokens),
            "kl_q_p": sum(kl) / len(problems),
            "prior_recovery_1_3": float(hits_arr[small].mean()) if small.any() else math.nan}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoints", nargs="+", default=["default"])
    ap.add_argument("--n", type=int, default=1000, help="held-out problems")
    ap.add_argument("--points", type=int, default=200, help="rows per problem (the search encodes 200)")
    ap.add_argument("--out", default=None, help="write the JSON here")
    ap.add_argument("--generator", default="configs/default_model.json",
                    help="a training config whose generator section the problems come from")
    args = ap.parse_args()
    torch.set_num_threads(1)
    gen = dataclasses.replace(resolve_config(config_file=args.generator).generator, max_points=args.points,
                              min_points=args.points, noise_gamma=0.0)
    problems = [sample_problem(problem_rng(PROBE_SEED, i), gen) for i in range(args.n)]
    results = {c: probe(c, problems) for c in args.checkpoints}
    print("| checkpoint | unary AUC encoder | unary AUC μ_p | unary AUC μ_q | function AUC encoder (μ_q) | "
          "μ_q var. explained | CE at μ_p | KL(q‖p) | prior decodes with a function (truths) | "
          "prior recovery (1–3 vars) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for c, r in results.items():
        print(f"| {c} | {r['unary_auc_encoder']:.3f} | {r['unary_auc_mu_p']:.3f} | {r['unary_auc_mu_q']:.3f} | "
              f"{r['function_auc_encoder']:.3f} ({r['function_auc_mu_q']:.3f}) | "
              f"{r['mu_q_var_explained']:.3f} | {r['ce_at_prior_mean']:.3f} | {r['kl_q_p']:.1f} | "
              f"{r['prior_decode_function_share']:.1%} "
              f"({r['truth_function_share']:.1%}) | {r['prior_recovery']:.1%} ({r['prior_recovery_1_3']:.1%}) |")
    for c, r in results.items():
        if "unary_auc_structure_encoder" in r:
            print(f"{c}: unary AUC of the structure encoder alone {r['unary_auc_structure_encoder']:.3f}, "
                  f"of its bag-of-tokens head {r['unary_auc_token_head']:.3f}")
    if args.out:
        Path(args.out).write_text(json.dumps({"n": args.n, "points": args.points, "results": results}, indent=2))


if __name__ == "__main__":
    main()
