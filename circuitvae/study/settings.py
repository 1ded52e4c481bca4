"""Typed study settings: a frozen dataclass per study, checked field by field.

A study declares its settings as a frozen dataclass (see :class:`circuitvae.study.Study`);
:func:`make_settings` builds one from a base instance (a profile) and overrides, and every
value is checked against the field's annotation:

* an unknown key is an error that lists the valid keys;
* ``int`` takes an int only (not ``1.9``, not ``True``, not ``"2"``); ``float`` takes an int or a
  float; ``bool`` a bool; ``str`` a str; ``X | None`` also takes ``None``;
* ``dict[...]`` / ``Mapping[...]`` take a mapping with string keys (copied to a plain dict);
  ``tuple[...]`` takes a list or tuple (converted to a tuple).

Anything else in an annotation is taken as it is. The dataclass's own ``__post_init__`` may add
checks of values (ranges, keys of nested mappings), reusing :func:`check_value`.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, Union

from ..protocol import CircuitVAEError

S = TypeVar("S")


class SettingsError(CircuitVAEError):
    """A study setting is unknown or has a value of the wrong type."""


def _is_settings_type(cls: Any) -> bool:
    params = getattr(cls, "__dataclass_params__", None)
    return isinstance(cls, type) and dataclasses.is_dataclass(cls) and bool(
        params is not None and params.frozen)


def field_types(cls: type) -> dict[str, Any]:
    """Field name -> resolved annotation of the settings dataclass ``cls``."""
    if not _is_settings_type(cls):
        raise SettingsError(f"{getattr(cls, '__name__', cls)!r} is not a frozen dataclass; a "
                            "study's settings must be one")
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _describe(tp: Any) -> str:
    if tp is type(None):
        return "None"
    args = typing.get_args(tp)
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is not None:
        return getattr(origin, "__name__", str(origin))
    return getattr(tp, "__name__", str(tp))


def check_value(name: str, value: Any, tp: Any) -> Any:
    """``value`` checked against the annotation ``tp`` (and normalised); raises
    :class:`SettingsError` naming the setting, the value and the expected type."""
    ok, out = _convert(value, tp)
    if not ok:
        raise SettingsError(f"setting {name!r} must be {_describe(tp)}, got {value!r} "
                            f"({type(value).__name__})")
    return out


def _convert(value: Any, tp: Any) -> tuple[bool, Any]:
    if tp is Any:
        return True, value
    if tp is type(None):
        return value is None, value
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(tp):
            ok, out = _convert(value, arg)
            if ok:
                return True, out
        return False, value
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        good = isinstance(value, int | float) and not isinstance(value, bool)
        return good, float(value) if good else value
    if tp is str:
        return isinstance(value, str), value
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        good = isinstance(value, Mapping) and all(isinstance(k, str) for k in value)
        return good, dict(value) if good else value
    if origin is tuple or tp is tuple:
        good = isinstance(value, list | tuple)
        return good, tuple(value) if good else value
    return True, value


def make_settings(cls: type[S], base: S | None = None, overrides: Mapping[str, Any] | None = None,
                  *, study: str = "") -> S:
    """A ``cls`` instance: ``base`` (or the field defaults) with ``overrides`` applied, every
    given value checked (see the module docstring)."""
    types_ = field_types(cls)
    overrides = dict(overrides or {})
    unknown = sorted(k for k in overrides if k not in types_)
    if unknown:
        where = f" of study {study!r}" if study else ""
        raise SettingsError(
            f"unknown setting(s) {', '.join(map(repr, unknown))}{where}; valid settings: "
            + ", ".join(types_)
        )
    checked = {k: check_value(k, v, types_[k]) for k, v in overrides.items()}
    if base is None:
        return cls(**checked)
    if not isinstance(base, cls):
        raise SettingsError(f"base settings must be a {cls.__name__}, got {type(base).__name__}")
    return dataclasses.replace(base, **checked)  # type: ignore[type-var]


def check_fields(settings: Any) -> None:
    """Check every field value of a settings instance against its annotation (for use in a
    settings dataclass's ``__post_init__``); normalised values are written back."""
    for name, tp in field_types(type(settings)).items():
        value = check_value(name, getattr(settings, name), tp)
        object.__setattr__(settings, name, value)


def settings_dict(settings: Any) -> dict[str, Any]:
    """A plain-dict copy of a settings instance (or of a mapping, for stored settings)."""
    if dataclasses.is_dataclass(settings) and not isinstance(settings, type):
        return dataclasses.asdict(settings)
    if isinstance(settings, Mapping):
        return {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in settings.items()}
    raise SettingsError(f"settings must be a dataclass instance or a mapping, got "
                        f"{type(settings).__name__}")


def check_at_least(settings: Any, names: tuple[str, ...], low: int = 1) -> None:
    """Each named field of ``settings`` is ``None`` or at least ``low``; raises
    :class:`SettingsError` naming the first that is not."""
    for name in names:
        value = getattr(settings, name)
        if value is not None and value < low:
            raise SettingsError(f"setting {name!r} must be >= {low}, got {value}")


_DEVICE = re.compile(r"cpu|cuda(:\d+)?|mps")


def check_device_name(device: str) -> None:
    """``device`` is ``"cpu"``, ``"cuda"``, ``"cuda:<n>"`` or ``"mps"`` (the spelling only; see
    :func:`require_device` for whether torch can use it)."""
    if not _DEVICE.fullmatch(device):
        raise SettingsError(f"setting 'device' must be 'cpu', 'cuda', 'cuda:<n>' or 'mps', "
                            f"got {device!r}")


def require_device(device: str) -> None:
    """Stop before any run on a ``cuda`` or ``mps`` device that torch cannot see here."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise CircuitVAEError(f"setting device={device!r}, but torch sees no CUDA device here "
                              f"(torch {torch.__version__}); use device='cpu'")
    index = device.partition(":")[2]
    if device.startswith("cuda") and index.isdigit() and int(index) >= torch.cuda.device_count():
        raise CircuitVAEError(f"setting device={device!r}, but torch sees "
                              f"{torch.cuda.device_count()} CUDA device(s) here (cuda:0 to "
                              f"cuda:{torch.cuda.device_count() - 1})")
    if device == "mps" and not torch.backends.mps.is_available():
        raise CircuitVAEError("setting device='mps', but torch sees no MPS device here")


def check_override_block(settings: Any, block: str) -> None:
    """The mapping field ``block`` of ``settings`` (e.g. ``image``: settings that replace the
    others on some datasets) names only other fields, each with a value of that field's type."""
    types_ = field_types(type(settings))
    overrides = getattr(settings, block)
    unknown = sorted(k for k in overrides if k not in types_ or k == block)
    if unknown:
        raise SettingsError(f"unknown setting(s) {unknown} in {block!r}; valid: "
                            + ", ".join(k for k in types_ if k != block))
    for key, value in overrides.items():
        check_value(f"{block}.{key}", value, types_[key])


def apply_override_block(settings: S, block: str, applies: bool) -> S:
    """``settings`` with the mapping field ``block`` emptied, and its values applied when
    ``applies`` (so the result is the settings one run uses)."""
    applied = dict(getattr(settings, block)) if applies else {}
    return dataclasses.replace(settings, **{block: {}}, **applied)  # type: ignore[type-var]
