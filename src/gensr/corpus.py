"""Corpora of generated (equation, data) pairs: sharded ``.npz`` files written in parallel, read back whole
or shard by shard (``gensr generate`` writes them, ``train.corpus`` trains on one).

Corpus format (:func:`write_corpus`): ``shard-00000.npz``… each holding ``tokens`` int16 (m, max_len+2)
(``VOCAB.encode`` of the prefix, 0-padded), ``constants`` float64 flat with ``const_offsets`` int64 (m+1),
``X`` float32 (m, max_points, 10) and ``y`` float32 (m, max_points) zero-padded, ``n_points`` int16,
``n_vars`` int8 and ``family`` int8 (index into :data:`FAMILIES`); plus ``config.json`` (written last).

Problem ``i`` of a corpus with seed ``S`` is :func:`gensr.generator.problem_rng` ``(S, i)``, so a corpus is
identical for any number of worker processes.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from gensr._config import to_dict
from gensr.generator import GeneratorConfig, iter_problems
from gensr.grammar import MAX_VARS
from gensr.inputs import FAMILIES
from gensr.vocab import VOCAB

__all__ = ["CORPUS_FORMAT", "iter_corpus", "load_corpus", "write_corpus"]

CORPUS_FORMAT = 1  # bump when the shard layout changes
_SHARD_KEYS = ("tokens", "constants", "const_offsets", "X", "y", "n_points", "n_vars", "family")

# --------------------------------------------------------------------------------------------------
# corpus on disk


def _version() -> str:
    try:
        from gensr._version import __version__

        return str(__version__)
    except ImportError:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("gensr")
        except PackageNotFoundError:
            return "unknown"


def _shard_arrays(start: int, stop: int, seed: int, config: GeneratorConfig) -> dict[str, np.ndarray]:
    m = stop - start
    width = config.max_len + 2
    tokens = np.zeros((m, width), dtype=np.int16)
    X = np.zeros((m, config.max_points, MAX_VARS), dtype=np.float32)
    y = np.zeros((m, config.max_points), dtype=np.float32)
    n_points = np.zeros(m, dtype=np.int16)
    n_vars = np.zeros(m, dtype=np.int8)
    family = np.zeros(m, dtype=np.int8)
    offsets = np.zeros(m + 1, dtype=np.int64)
    consts: list[np.ndarray] = []
    for k, prob in enumerate(iter_problems(m, seed, config, start=start)):
        ids = VOCAB.encode(prob.prefix, width)
        tokens[k, : len(ids)] = ids
        rows, d = prob.X.shape
        X[k, :rows, :d] = prob.X
        y[k, :rows] = prob.y
        n_points[k] = rows
        n_vars[k] = prob.n_vars
        family[k] = FAMILIES.index(prob.family)
        consts.append(prob.constants)
        offsets[k + 1] = offsets[k] + len(prob.constants)
    flat = np.concatenate(consts) if consts else np.zeros(0)
    return {"tokens": tokens, "constants": flat.astype(np.float64), "const_offsets": offsets, "X": X, "y": y,
            "n_points": n_points, "n_vars": n_vars, "family": family}


def _write_shard(path: str, start: int, stop: int, seed: int, config: GeneratorConfig, compress: bool) -> int:
    """Worker entry point (top-level so 'spawn' can pickle it): generate and atomically write one shard."""
    arrays = _shard_arrays(start, stop, seed, config)
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        (np.savez_compressed if compress else np.savez)(fh, **arrays)
    os.replace(tmp, path)
    return stop - start


def _shard_name(index: int) -> str:
    return f"shard-{index:05d}.npz"


def write_corpus(out_dir: str | os.PathLike[str], n: int, *, seed: int, config: GeneratorConfig | None = None,
                 workers: int = 1, shard_size: int = 10_000, progress: bool = True, compress: bool = True,
                 overwrite: bool = False) -> Path:
    """Generate problems ``0…n−1`` of ``seed`` into ``out_dir`` as shards plus ``config.json``.

    Shard ``s`` holds problems ``[s·shard_size, (s+1)·shard_size)`` and is written by one task, so the bytes
    do not depend on ``workers``. Worker processes use the 'spawn' start method. ``config.json`` is written
    last: a directory without it is an incomplete corpus. An existing corpus in ``out_dir`` is an error
    unless ``overwrite``. Returns the directory.
    """
    config = config or GeneratorConfig()
    if n < 0 or shard_size < 1 or workers < 1:
        raise ValueError("need n ≥ 0, shard_size ≥ 1 and workers ≥ 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    existing = sorted(out.glob("shard-*.npz")) + sorted(out.glob("config.json"))
    if existing and not overwrite:
        raise FileExistsError(f"{out} already holds a corpus ({existing[0].name}); pass overwrite=True")
    for old in existing:
        old.unlink()
    tasks = [(str(out / _shard_name(s)), start, min(start + shard_size, n), seed, config, compress)
             for s, start in enumerate(range(0, n, shard_size))]

    from tqdm.auto import tqdm

    with tqdm(total=n, disable=not progress, unit="eq", desc="generating") as bar:
        if workers == 1 or len(tasks) <= 1:
            for path, start, stop, *rest in tasks:
                _write_shard(path, start, stop, *rest)
                bar.update(stop - start)
        else:
            import multiprocessing

            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx) as pool:
                futures = [pool.submit(_write_shard, *t) for t in tasks]
                for fut in as_completed(futures):
                    bar.update(fut.result())
    meta = {
        "format": CORPUS_FORMAT,
        "n": n,
        "seed": seed,
        "shard_size": shard_size,
        "n_shards": len(tasks),
        "compressed": compress,
        "gensr_version": _version(),
        "vocab_signature": VOCAB.signature(),
        "keys": list(_SHARD_KEYS),
        "config": to_dict(config),
    }
    tmp = out / "config.json.tmp"
    tmp.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(tmp, out / "config.json")
    return out


def _read_meta(path: Path) -> dict[str, Any]:
    meta_path = path / "config.json"
    if not meta_path.is_file():
        raise ValueError(f"{path} is not a complete corpus: config.json is missing")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"corpus metadata {meta_path} is unreadable: {exc}") from None
    if meta.get("format") != CORPUS_FORMAT:
        raise ValueError(f"corpus {path} has format {meta.get('format')!r}; this gensr reads {CORPUS_FORMAT}")
    if meta.get("vocab_signature") != VOCAB.signature():
        raise ValueError(f"corpus {path} was written with vocabulary {meta.get('vocab_signature')!r}, "
                         f"but this gensr's vocabulary is {VOCAB.signature()!r}; regenerate the corpus")
    return meta


def iter_corpus(path: str | os.PathLike[str]) -> Iterator[dict[str, np.ndarray]]:
    """Yield the shards of a corpus one at a time (dicts of arrays, see the module docstring).

    The metadata is checked before the first shard: ``ValueError`` for a missing ``config.json``, a
    different vocabulary signature or format; ``ValueError`` naming the file for a missing or corrupt shard.
    """
    root = Path(path)
    meta = _read_meta(root)
    missing = [_shard_name(s) for s in range(meta["n_shards"]) if not (root / _shard_name(s)).is_file()]
    if missing:
        raise ValueError(f"corpus {root} is incomplete: missing {missing[:5]}{'…' if len(missing) > 5 else ''}")
    return _iter_shards(root, meta)


def _iter_shards(root: Path, meta: dict[str, Any]) -> Iterator[dict[str, np.ndarray]]:
    width = meta["config"]["max_len"] + 2
    for s in range(meta["n_shards"]):
        file = root / _shard_name(s)
        expected = min(meta["shard_size"], meta["n"] - s * meta["shard_size"])
        try:
            with np.load(file, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in _SHARD_KEYS}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"corrupt corpus shard {file}: {type(exc).__name__}: {exc}") from None
        m = arrays["tokens"].shape[0]
        bad = m != expected or arrays["tokens"].shape[1] != width or any(
            arrays[k].shape[0] != m for k in ("X", "y", "n_points", "n_vars", "family")) or (
            arrays["const_offsets"].shape != (m + 1,)
            or int(arrays["const_offsets"][-1]) != arrays["constants"].shape[0])
        if bad:
            raise ValueError(f"corrupt corpus shard {file}: array shapes do not match its metadata")
        yield arrays


def load_corpus(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Load a whole corpus into memory: the shards concatenated (``const_offsets`` re-based so constants of
    problem i are ``constants[const_offsets[i]:const_offsets[i+1]]``). Errors as in :func:`iter_corpus`;
    for corpora larger than memory, iterate with :func:`iter_corpus` instead."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in _SHARD_KEYS}
    base = 0
    for shard in iter_corpus(path):
        for k in _SHARD_KEYS:
            if k == "const_offsets":
                parts[k].append(shard[k][:-1] + base)
            else:
                parts[k].append(shard[k])
        base += shard["constants"].shape[0]
    if not parts["tokens"]:
        meta = _read_meta(Path(path))
        c = meta["config"]
        return {"tokens": np.zeros((0, c["max_len"] + 2), np.int16), "constants": np.zeros(0),
                "const_offsets": np.zeros(1, np.int64),
                "X": np.zeros((0, c["max_points"], MAX_VARS), np.float32),
                "y": np.zeros((0, c["max_points"]), np.float32), "n_points": np.zeros(0, np.int16),
                "n_vars": np.zeros(0, np.int8), "family": np.zeros(0, np.int8)}
    out = {k: np.concatenate(v) for k, v in parts.items() if k != "const_offsets"}
    out["const_offsets"] = np.concatenate([*parts["const_offsets"], np.array([base], np.int64)])
    return out
