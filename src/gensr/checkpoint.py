"""Checkpoints: safetensors weights plus a JSON config, never pickle.

A checkpoint is a directory holding ``model.safetensors`` and ``config.json``. The JSON records the model
config, the grammar's vocabulary signature, the checkpoint format version, the ``gensr`` version, the
training step and the sha256 of the weights, so a model can be rebuilt from the directory alone and a
checkpoint made for another vocabulary or format is refused with a one-line error naming the file.

``checkpoint=None`` everywhere means the default model shipped inside the package (loaded through
:mod:`importlib.resources`, offline).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import warnings
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1  # bump when the layout of config.json or the tensor names change incompatibly
WEIGHTS = "model.safetensors"
CONFIG = "config.json"

log = logging.getLogger(__name__)


class CheckpointError(ValueError):
    """A checkpoint is missing, truncated, corrupt or made for another vocabulary/format."""


def default_checkpoint() -> Path:
    """Directory of the default model shipped with the package."""
    return Path(str(resources.files("gensr") / "pretrained" / "default"))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_checkpoint(directory: str | Path, model: Any, meta: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (a :class:`gensr.model.CVAE`) as safetensors + JSON into ``directory``."""
    from safetensors.torch import save_file

    from gensr._version import __version__
    from gensr.vocab import VOCAB

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / WEIGHTS
    tmp = weights.with_suffix(".tmp")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(tmp))
    tmp.replace(weights)  # atomic: a crash never leaves a half-written weights file behind
    config = {
        "format_version": FORMAT_VERSION,
        "gensr_version": __version__,
        "vocab_signature": VOCAB.signature(),
        "model": asdict(model.cfg),
        "weights_sha256": _sha256(weights),
        **(meta or {}),
    }
    tmp_cfg = directory / (CONFIG + ".tmp")
    tmp_cfg.write_text(json.dumps(config, indent=2, default=str))
    tmp_cfg.replace(directory / CONFIG)
    return directory


def read_checkpoint_config(path: str | Path | None) -> tuple[Path, dict[str, Any]]:
    """Resolve a checkpoint directory (``None``: the shipped default) and read and check its config."""
    from gensr.vocab import VOCAB

    directory = default_checkpoint() if path is None else Path(path)
    if directory.is_file() and directory.name in (WEIGHTS, CONFIG):
        directory = directory.parent
    cfg_path = directory / CONFIG
    if not directory.exists():
        raise CheckpointError(f"{directory}: checkpoint not found")
    if not cfg_path.is_file():
        raise CheckpointError(f"{cfg_path}: missing checkpoint config (expected {CONFIG} beside {WEIGHTS})")
    if not (directory / WEIGHTS).is_file():
        raise CheckpointError(f"{directory / WEIGHTS}: missing checkpoint weights")
    try:
        config = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{cfg_path}: corrupt checkpoint config ({exc.__class__.__name__})") from None
    if not isinstance(config, dict) or "model" not in config:
        raise CheckpointError(f"{cfg_path}: not a gensr checkpoint config (no 'model' section)")
    fmt = config.get("format_version")
    if fmt != FORMAT_VERSION:
        raise CheckpointError(f"{cfg_path}: checkpoint format {fmt!r}, this gensr reads format {FORMAT_VERSION}")
    if config.get("vocab_signature") != VOCAB.signature():
        raise CheckpointError(
            f"{cfg_path}: vocabulary signature {config.get('vocab_signature')!r} does not match this gensr's "
            f"{VOCAB.signature()!r}; the checkpoint was trained for another operator set"
        )
    return directory, config


def load_model(path: str | Path | None = None, device: str = "cpu", *, verify: bool = True) -> Any:
    """Load a :class:`gensr.model.CVAE` from a checkpoint directory (``None``: the shipped default).

    Raises :class:`CheckpointError` (a ``ValueError``) with a one-line message naming the file for a
    missing, truncated or corrupt checkpoint, or one made for another vocabulary or format version.
    A different ``gensr`` version only warns.
    """
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from gensr._config import ConfigError, from_dict
    from gensr._version import __version__
    from gensr.model import CVAE, CVAEConfig

    directory, config = read_checkpoint_config(path)
    weights = directory / WEIGHTS
    if verify and config.get("weights_sha256") and _sha256(weights) != config["weights_sha256"]:
        raise CheckpointError(f"{weights}: weights do not match the sha256 in {CONFIG} (truncated or modified)")
    if config.get("gensr_version") != __version__:
        warnings.warn(
            f"{directory}: checkpoint written by gensr {config.get('gensr_version')}, this is {__version__}",
            stacklevel=2,
        )
    try:
        model_cfg = from_dict(CVAEConfig, config["model"], "model")
    except (ConfigError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{directory / CONFIG}: bad model config ({exc})") from None
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{weights}: cannot read weights ({str(exc).splitlines()[0]})") from None
    model = CVAE(model_cfg)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{weights}: weights do not fit the model config ({str(exc).splitlines()[0]})") from None
    model.eval()
    return model.to(torch.device(device))


_MODEL_CACHE: dict[tuple[str, float, str], Any] = {}
_CACHE_LOCK = threading.Lock()


def load_cached(checkpoint: str | Path | None, device: str = "cpu") -> Any:
    """:func:`load_model`, once per (path, mtime, device) and process: later fits (and a worker's later
    islands) reuse the network. Never stored on an estimator, so pickling never pickles it."""
    directory, _ = read_checkpoint_config(checkpoint)
    key = (str(directory.resolve()), (directory / WEIGHTS).stat().st_mtime, device)
    with _CACHE_LOCK:
        if key not in _MODEL_CACHE:
            _MODEL_CACHE[key] = load_model(directory, device=device)
        return _MODEL_CACHE[key]
