"""What the latent diagnostics share: the generator config a model reads, and a NaN-skipping mean."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gensr._config import from_dict
from gensr.generator import GeneratorConfig
from gensr.model import CVAE


def generator_config_from_checkpoint(path: str | Path | None) -> GeneratorConfig | None:
    """The generator config a checkpoint was trained with (``None`` if its config.json does not record one)."""
    from gensr.checkpoint import read_checkpoint_config

    _, config = read_checkpoint_config(path)
    data = config.get("generator")
    return from_dict(GeneratorConfig, data) if isinstance(data, dict) else None


def fit_generator(config: GeneratorConfig | None, model: CVAE) -> GeneratorConfig:
    """The generator config clipped to what the model reads (equation length, input width)."""
    cfg = config or GeneratorConfig()
    max_len = min(cfg.max_len, model.cfg.max_len - 2)
    max_vars = min(cfg.max_vars, model.cfg.max_vars)
    return dataclasses.replace(cfg.with_dims(min(cfg.min_vars, max_vars), max_vars), max_len=max_len)


def nanmean(values: Sequence[float]) -> float:
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if arr.size else math.nan


