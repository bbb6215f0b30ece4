"""The model's vocabulary: token ↔ id, built from the one operator table (:data:`gensr.grammar.OPERATORS`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from gensr.grammar import CONST, INT_TOKENS, MAX_VARS, OPERATORS, VARIABLES, token_arity

__all__ = ["BOS_ID", "EOS_ID", "PAD_ID", "VOCAB", "Vocabulary"]

PAD_ID, BOS_ID, EOS_ID = 0, 1, 2  # the special tokens' ids: their one home



class Vocabulary:
    """Token ↔ id mapping for the model. Ids 0, 1, 2 are ``<PAD>``, ``<BOS>``, ``<EOS>``."""

    PAD, BOS, EOS = "<PAD>", "<BOS>", "<EOS>"

    def __init__(self) -> None:
        variables = VARIABLES[:MAX_VARS]  # the model's input width; formulas over more columns are not encoded
        self.tokens: tuple[str, ...] = (self.PAD, self.BOS, self.EOS, *OPERATORS, *variables, CONST, *INT_TOKENS)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.pad_id, self.bos_id, self.eos_id = PAD_ID, BOS_ID, EOS_ID
        self.arity = tuple(-1 if i <= EOS_ID else token_arity(t) for i, t in enumerate(self.tokens))
        self.variable_ids = tuple(self.index[v] for v in variables)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def size(self) -> int:
        return len(self.tokens)

    def encode(self, prefix: Sequence[str], max_len: int | None = None) -> list[int]:
        """``[BOS, ids…, EOS]``; ``ValueError`` for an unknown token or a sequence over ``max_len``."""
        try:
            ids = [self.bos_id, *(self.index[t] for t in prefix), self.eos_id]
        except KeyError as exc:
            raise ValueError(f"token {exc.args[0]!r} is not in the vocabulary") from None
        if max_len is not None and len(ids) > max_len:
            raise ValueError(f"sequence of {len(ids)} tokens exceeds max_len={max_len}")
        return ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Token ids (special tokens are skipped; stops at EOS after content) → prefix tokens."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.eos_id and out:
                break
            if i <= EOS_ID:
                continue
            out.append(self.tokens[i])
        return out

    def signature(self) -> str:
        """Hash of tokens and arities: a checkpoint trained on another vocabulary is refused."""
        text = "|".join(f"{t}:{a}" for t, a in zip(self.tokens, self.arity))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


VOCAB = Vocabulary()
