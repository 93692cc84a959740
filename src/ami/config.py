"""Frozen-dataclass configs: validation helpers and strict dict round-trips.

Every component has one frozen dataclass config whose `__post_init__` rejects bad values with a
`ConfigError` naming the field. `config_from_dict` refuses unknown keys, so a typo in a saved or
hand-written config is an error instead of a silently ignored default.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from ami.errors import ConfigError

C = TypeVar("C")


def require_finite(owner: str, name: str, value: float) -> None:
    """Raise `ConfigError` if `value` is a number that is not finite (inf, -inf, NaN)."""
    if isinstance(value, int | float) and not math.isfinite(value):
        raise ConfigError(f"{owner}.{name} must be a finite number, got {value!r}")


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


def machine_memory() -> int | None:
    """Bytes of physical memory of this machine (`SC_PAGE_SIZE * SC_PHYS_PAGES`), None if unknown.

    Where the platform does not report it (no `os.sysconf`), size checks are skipped.
    """
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def require_fits_memory(what: str, nbytes: int) -> None:
    """Raise `ConfigError` if `what` needs more than this machine's physical memory.

    `nbytes` is an estimate that undercounts (the caller counts only the largest buffers), so what
    is refused could never run here; what passes may still not fit.
    """
    memory = machine_memory()
    if memory is not None and nbytes > memory:
        raise ConfigError(
            f"{what} needs ~{format_bytes(nbytes)}, more than this machine's "
            f"{format_bytes(memory)} of memory; make it smaller"
        )


def format_bytes(nbytes: float) -> str:
    """`nbytes` in binary units, e.g. "1.5 GiB"."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.3g} {unit}"
        nbytes /= 1024
    raise AssertionError("unreachable")


def config_to_dict(config: object) -> dict[str, Any]:
    """Plain-data dict of a (possibly nested) dataclass config, JSON-serialisable."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"expected a dataclass instance, got {type(config).__name__}")
    return dataclasses.asdict(config)


def config_from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
    """Build `cls` from `data`, rejecting unknown keys and ill-typed values; nested fields recurse.

    Each value must fit its field's annotation: `int` takes an int (not a bool), `float` an int
    or float (not a bool; kept as float), `bool` only a bool, `str` only a str, `tuple[X, ...]`
    a list or tuple of X, `dict[str, ...]` a mapping, `A | B` either; other annotations are left
    to the config's `__post_init__`. A wrong value is a `ConfigError` naming `Class.field`.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{cls.__name__} config must be a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields), key=repr)
    if unknown:
        raise ConfigError(
            f"{cls.__name__} has no field(s) {unknown}; known fields: {sorted(fields)}"
        )
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        annotation = hints.get(key, fields[key].type)
        nested = annotation if _is_dataclass_type(annotation) else None
        if nested is not None:
            if not isinstance(value, Mapping):
                raise ConfigError(
                    f"{cls.__name__}.{key} must be a mapping of {nested.__name__} fields, "
                    f"got {type(value).__name__}"
                )
            kwargs[key] = config_from_dict(nested, value)
        else:
            kwargs[key] = _typed(f"{cls.__name__}.{key}", annotation, value)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError, OverflowError) as exc:  # a value __post_init__ cannot compare
        raise ConfigError(f"{cls.__name__}: {exc}") from exc


def replace_config(config: C, **changes: Any) -> C:
    """A copy of `config` with `changes`, validated again; unknown names are a `ConfigError`."""
    names = {f.name for f in dataclasses.fields(config)}  # type: ignore[arg-type]
    unknown = sorted(set(changes) - names)
    if unknown:
        raise ConfigError(f"{type(config).__name__} has no field(s) {unknown}")
    return dataclasses.replace(config, **changes)  # type: ignore[type-var]


def _is_dataclass_type(annotation: object) -> bool:
    return isinstance(annotation, type) and dataclasses.is_dataclass(annotation)


_SCALARS: dict[type, str] = {
    int: "an integer",
    float: "a number",
    bool: "true or false",
    str: "a string",
}


def _typed(name: str, annotation: object, value: Any) -> Any:
    """`value` as field `name` of type `annotation` takes it (lists to tuples, ints to floats).

    Raises:
        ConfigError: `value` does not fit `annotation`.
    """
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(annotation):
            with contextlib.suppress(ConfigError):
                return _typed(name, option, value)
        raise ConfigError(f"{name} must be {_describe(annotation)}, got {_show(value)}")
    if annotation is type(None):
        if value is None:
            return None
    elif annotation in _SCALARS:
        if annotation is float and type(value) is int:
            return _as_float(name, value)
        scalar = typing.cast(type, annotation)
        if isinstance(value, scalar) and (scalar is bool) == isinstance(value, bool):
            return value
    elif origin is tuple:
        return _typed_tuple(name, annotation, value)
    elif origin is dict or annotation is dict:
        if isinstance(value, Mapping) and all(isinstance(key, str) for key in value):
            return dict(value)
    elif origin is typing.Literal:
        if value in typing.get_args(annotation):
            return value
    else:  # Any, or a type this checker does not know: __post_init__ validates it
        return value
    raise ConfigError(f"{name} must be {_describe(annotation)}, got {_show(value)}")


def _typed_tuple(name: str, annotation: object, value: Any) -> tuple:
    """`value` (a list or tuple) as the tuple `annotation` describes, item by item."""
    args = typing.get_args(annotation)
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{name} must be {_describe(annotation)}, got {_show(value)}")
    if len(args) == 2 and args[1] is Ellipsis:
        items = (args[0],) * len(value)
    elif len(args) == len(value):
        items = args
    else:
        raise ConfigError(f"{name} must hold {len(args)} items, got {_show(value)}")
    return tuple(
        _typed(f"{name}[{i}]", item, v)
        for i, (item, v) in enumerate(zip(items, value, strict=True))
    )


def _as_float(name: str, value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        raise ConfigError(f"{name} is too large for a number, got {_show(value)}") from None


def _describe(annotation: object) -> str:
    """Words for what `annotation` takes, e.g. "an integer" or "a list of integers"."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(option) for option in typing.get_args(annotation))
    if annotation is type(None):
        return "null"
    if annotation in _SCALARS:
        return _SCALARS[annotation]  # type: ignore[index]
    if origin is tuple:
        args = typing.get_args(annotation)
        item = _describe(args[0]) if args else "values"
        return f"a list of {item.removeprefix('an ').removeprefix('a ')}s"
    if origin is dict or annotation is dict:
        return "a mapping with string keys"
    if origin is typing.Literal:
        return f"one of {list(typing.get_args(annotation))}"
    return str(annotation)


def _show(value: object) -> str:
    """A short one-line rendering of a bad value and its JSON kind."""
    kinds = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list"}
    kind = kinds.get(type(value), "mapping" if isinstance(value, Mapping) else type(value).__name__)
    try:  # as the JSON it came from: true, "16", [1, 2]
        text = json.dumps(value, default=repr)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({kind})"
