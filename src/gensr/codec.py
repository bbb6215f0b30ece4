"""Expressions <-> token ids <-> model tensors: the helpers that training, search and the latent tools share.

Nothing here trains or searches: :func:`collate` pads generated problems into a training batch,
:func:`pack_data` pads raw data sets into model inputs, :func:`encode_tokens` turns expressions into
``[BOS .. EOS PAD ..]`` rows, and :func:`decoded_expression` / :func:`is_valid_decode` read decoder output
back. :func:`token_mask_for` and :func:`arity_tensor` are the grammar constraints the decoder takes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import torch

from gensr.grammar import MAX_VARS, OPERATORS, Expression
from gensr.vocab import PAD_ID, VOCAB

__all__ = ["arity_tensor", "collate", "decoded_expression", "encode_tokens", "is_valid_decode", "pack_data",
           "token_mask_for"]


def collate(problems: Sequence[Any], max_len: int) -> dict[str, torch.Tensor]:
    """Pad a list of problems into model tensors: tokens (B, T), X (B, N, 10), y, var_mask, point_mask."""
    B = len(problems)
    seqs = [VOCAB.encode(p.prefix) for p in problems]
    T = max(len(s) for s in seqs)
    if T > max_len:
        raise ValueError(f"a generated equation has {T} tokens, more than model.max_len={max_len}")
    N = max(len(p.y) for p in problems)
    tokens = torch.zeros(B, T, dtype=torch.long)
    X = torch.zeros(B, N, MAX_VARS)
    y = torch.zeros(B, N)
    var_mask = torch.zeros(B, MAX_VARS, dtype=torch.bool)
    point_mask = torch.zeros(B, N, dtype=torch.bool)
    for b, (p, s) in enumerate(zip(problems, seqs)):
        tokens[b, : len(s)] = torch.tensor(s)
        n, d = p.X.shape
        X[b, :n, :d] = torch.from_numpy(np.asarray(p.X, dtype=np.float32))
        y[b, :n] = torch.from_numpy(np.asarray(p.y, dtype=np.float32))
        var_mask[b, :d] = True
        point_mask[b, :n] = True
    return {"tokens": tokens, "X": X, "y": y, "var_mask": var_mask, "point_mask": point_mask}


def decoded_expression(ids: Sequence[int]) -> Expression | None:
    try:
        return Expression.from_prefix(VOCAB.decode(ids))
    except ValueError:
        return None


def is_valid_decode(expr: Expression | None, X: np.ndarray) -> bool:
    """Valid = a complete expression over the data's variables that is finite on the data (constants = 1)."""
    if expr is None or any(v >= X.shape[1] for v in expr.variables):
        return False
    filled = expr.with_constants(np.ones(expr.n_constants)) if expr.n_constants else expr
    return bool(np.isfinite(filled.evaluate(X)).all())


def token_mask_for(n_vars: Sequence[int], device: torch.device | str = "cpu",
                   operators: Collection[str] | None = None) -> torch.Tensor:
    """(B, V) allowed tokens: no variable beyond each problem's input dimension and, with ``operators``, no
    operator token outside it (:mod:`gensr.language`)."""
    mask = torch.ones(len(n_vars), VOCAB.size, dtype=torch.bool, device=device)
    for b, d in enumerate(n_vars):
        for j in range(d, MAX_VARS):
            mask[b, VOCAB.variable_ids[j]] = False
    if operators is not None:
        for token in OPERATORS:
            if token not in operators and token in VOCAB.index:
                mask[:, VOCAB.index[token]] = False
    return mask


def arity_tensor(device: torch.device | str = "cpu") -> torch.Tensor:
    return torch.tensor(VOCAB.arity, dtype=torch.long, device=device)


def pack_data(
    sets: Sequence[tuple[np.ndarray, np.ndarray]], device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad data sets of possibly different lengths (same columns) into model inputs.

    Parameters
    ----------
    sets : sequence of (X_i, y_i)
        Raw ``X_i`` (n_i, d) and ``y_i`` (n_i,), all with the same d.

    Returns
    -------
    X : Tensor (B, N, d) float32; y : Tensor (B, N) float32; var_mask : Tensor (B, d) bool, all True;
    point_mask : Tensor (B, N) bool, True on real rows (N = max n_i).
    """
    if not sets:
        raise ValueError("pack_data needs at least one data set")
    d = np.shape(sets[0][0])[1]
    N = max(len(yi) for _, yi in sets)
    B = len(sets)
    X = np.zeros((B, N, d), dtype=np.float32)
    y = np.zeros((B, N), dtype=np.float32)
    point_mask = np.zeros((B, N), dtype=bool)
    for b, (Xi, yi) in enumerate(sets):
        n = len(yi)
        with np.errstate(over="ignore"):  # |v| > 3e38 becomes inf in float32; the model's features bound it
            X[b, :n], y[b, :n] = Xi, yi
        point_mask[b, :n] = True
    var_mask = torch.ones(B, d, dtype=torch.bool, device=device)
    as_t = lambda a: torch.from_numpy(a).to(device)  # noqa: E731
    return as_t(X), as_t(y), var_mask, as_t(point_mask)


def encode_tokens(exprs: Sequence[Expression], max_len: int, device: torch.device) -> torch.Tensor:
    """``[BOS .. EOS PAD ..]`` rows (k, T); a ``ValueError`` names an expression too long for the model."""
    seqs = []
    for e in exprs:
        try:
            seqs.append(VOCAB.encode(e.prefix, max_len=max_len))
        except ValueError as exc:
            raise ValueError(f"cannot re-encode {e}: {exc}") from None
    rows = [torch.tensor(s, dtype=torch.long) for s in seqs]
    return torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=PAD_ID).to(device)
