"""Frozen-dataclass configs: validation helpers and strict dict round-trips.

Every component has one frozen dataclass config whose `__post_init__` rejects bad values with a
`ConfigError` naming the field. `config_from_dict` refuses unknown keys, so a typo in a saved or
hand-written config is an error instead of a silently ignored default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from ami.errors import ConfigError

C = TypeVar("C")


def require_positive(owner: str, name: str, value: float) -> None:
    """Raise `ConfigError` unless `value > 0`."""
    if not value > 0:
        raise ConfigError(f"{owner}.{name} must be positive, got {value!r}")


def require_non_negative(owner: str, name: str, value: float) -> None:
    """Raise `ConfigError` unless `value >= 0`."""
    if not value >= 0:
        raise ConfigError(f"{owner}.{name} must be non-negative, got {value!r}")


def require_in_range(owner: str, name: str, value: float, low: float, high: float) -> None:
    """Raise `ConfigError` unless `low <= value <= high`."""
    if not low <= value <= high:
        raise ConfigError(f"{owner}.{name} must be in [{low}, {high}], got {value!r}")


def require_choice(owner: str, name: str, value: object, choices: tuple[object, ...]) -> None:
    """Raise `ConfigError` unless `value` is one of `choices`."""
    if value not in choices:
        raise ConfigError(f"{owner}.{name} must be one of {list(choices)}, got {value!r}")


def config_to_dict(config: object) -> dict[str, Any]:
    """Plain-data dict of a (possibly nested) dataclass config, JSON-serialisable."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"expected a dataclass instance, got {type(config).__name__}")
    return dataclasses.asdict(config)


def config_from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
    """Build `cls` from `data`, rejecting unknown keys; nested dataclass fields recurse."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{cls.__name__} config must be a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{cls.__name__} has no field(s) {unknown}; known fields: {sorted(fields)}"
        )
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        field_type = fields[key].type
        nested = _dataclass_type(cls, key, field_type)
        if nested is not None:
            if not isinstance(value, Mapping):
                raise ConfigError(
                    f"{cls.__name__}.{key} must be a mapping of {nested.__name__} fields, "
                    f"got {type(value).__name__}"
                )
            kwargs[key] = config_from_dict(nested, value)
        elif isinstance(value, list):
            kwargs[key] = tuple(value)
        else:
            kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:  # wrong kind of value, e.g. a string where a number goes
        raise ConfigError(f"{cls.__name__}: {exc}") from exc


def replace_config(config: C, **changes: Any) -> C:
    """A copy of `config` with `changes`, validated again; unknown names are a `ConfigError`."""
    names = {f.name for f in dataclasses.fields(config)}  # type: ignore[arg-type]
    unknown = sorted(set(changes) - names)
    if unknown:
        raise ConfigError(f"{type(config).__name__} has no field(s) {unknown}")
    return dataclasses.replace(config, **changes)  # type: ignore[type-var]


def _dataclass_type(cls: type, key: str, annotation: object) -> type | None:
    """The dataclass type of field `key` of `cls`, if it is one (resolving string annotations)."""
    if isinstance(annotation, str):
        import typing

        hints = typing.get_type_hints(cls)
        annotation = hints.get(key)
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return annotation
    return None
