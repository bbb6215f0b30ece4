"""Frozen-dataclass configs ↔ JSON, and checked dotted overrides: the one loader and the one override walker
of every config (model, generator, training, search, benchmarks)."""

from __future__ import annotations

import dataclasses
import difflib
import json
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration file or override names an unknown key or holds a value of the wrong type."""


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict of a (possibly nested) dataclass; tuples become lists."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def _suggest(key: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(options), n=3)
    return f"; did you mean {', '.join(close)}?" if close else f"; valid keys: {', '.join(options)}"


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin in (tuple, list):
        if isinstance(value, str):
            raise ConfigError(f"{where}: expected a list, got the string {value!r}")
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], where) for v in value)
        if origin is tuple and args:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} items, got {len(value)}")
            return tuple(_coerce(v, a, where) for a, v in zip(args, value))
        return tuple(value) if origin is tuple else list(value)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where) if isinstance(value, Mapping) else value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
        if f != int(f):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return int(f)
    if tp is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def from_dict(cls: type[T], data: Mapping[str, Any], where: str = "") -> T:
    """Build dataclass ``cls`` from a mapping; unknown keys are an error with suggestions."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or cls.__name__}: expected a JSON object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(f"unknown key {where + '.' if where else ''}{key!r}{_suggest(key, list(fields))}")
        kwargs[key] = _coerce(value, hints[key], f"{where + '.' if where else ''}{key}")
    return cls(**kwargs)


def replace(cfg: T, changes: Mapping[str, Any]) -> T:
    """A copy of dataclass ``cfg`` with dotted keys (``"section.key"``, or a top-level ``"key"``) set to the
    given values, coerced to the field types and validated by the dataclasses; an unknown key is a
    :class:`ConfigError` with "did you mean" suggestions.

    >>> from gensr.search.config import SearchConfig
    >>> replace(SearchConfig(), {"fit.rows": "256", "parsimony": 0.01}).fit.rows
    256
    """
    data = to_dict(cfg)
    for path, value in changes.items():
        node = data
        parts = path.split(".")
        for i, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                options = list(node) if isinstance(node, dict) else []
                raise ConfigError(f"unknown config key {'.'.join(parts[: i + 1])!r}{_suggest(part, options)}")
            if i == len(parts) - 1:
                node[part] = to_dict(value) if dataclasses.is_dataclass(value) else value
            else:
                node = node[part]
    return from_dict(type(cfg), data)


def apply_overrides(cfg: T, overrides: Sequence[str]) -> T:
    """Apply ``section.key=value`` (or ``key=value``) overrides; values are parsed as JSON when possible."""
    changes: dict[str, Any] = {}
    for item in overrides:
        text = item[2:] if item.startswith("--") else item
        if "=" not in text:
            raise ConfigError(f"override {item!r} must look like --section.key=value")
        path, raw = text.split("=", 1)
        try:
            changes[path] = json.loads(raw)
        except json.JSONDecodeError:
            changes[path] = raw
    return replace(cfg, changes)


def load_json(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found")
    try:
        data = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a JSON object at the top level")
    return data
