"""The generic typed-settings checks (circuitvae.study.settings)."""

from dataclasses import dataclass, field
from typing import Any

import pytest

from circuitvae.study import SettingsError, make_settings, settings_dict
from circuitvae.study.settings import (
    apply_override_block,
    check_at_least,
    check_device_name,
    check_override_block,
    check_value,
)


@dataclass(frozen=True)
class Demo:
    n: int = 1
    rate: float = 0.5
    flag: bool = False
    name: str | None = None
    sizes: tuple[int, ...] = (1, 2)
    extra: dict[str, Any] = field(default_factory=dict)


def test_defaults_base_and_overrides():
    base = make_settings(Demo, overrides={"n": 3})
    assert base == Demo(n=3)
    s = make_settings(Demo, base, {"rate": 2, "sizes": [4], "extra": {"a": 1}, "name": None})
    assert s == Demo(n=3, rate=2.0, sizes=(4,), extra={"a": 1}) and isinstance(s.rate, float)
    assert settings_dict(s) == {"n": 3, "rate": 2.0, "flag": False, "name": None,
                                "sizes": (4,), "extra": {"a": 1}}


@pytest.mark.parametrize("key, value, expected", [
    ("n", 1.0, "int"), ("n", "1", "int"), ("n", None, "int"), ("rate", "x", "float"),
    ("rate", False, "float"), ("flag", "yes", "bool"), ("name", 3, "str or None"),
    ("sizes", 3, "tuple"), ("extra", {1: 2}, "dict"),
])
def test_wrong_types(key, value, expected):
    with pytest.raises(SettingsError, match=f"setting '{key}' must be {expected}, got"):
        make_settings(Demo, overrides={key: value})


def test_unknown_keys_list_the_valid_ones():
    with pytest.raises(SettingsError, match=r"unknown setting\(s\) 'm', 'z' of study 'demo'; "
                                            r"valid settings: n, rate, flag, name, sizes, extra"):
        make_settings(Demo, overrides={"z": 1, "m": 2}, study="demo")


def test_settings_must_be_a_frozen_dataclass():
    @dataclass
    class Loose:
        n: int = 1

    with pytest.raises(SettingsError, match="not a frozen dataclass"):
        make_settings(Loose)
    with pytest.raises(SettingsError, match="base settings must be a Demo"):
        make_settings(Demo, base=object())  # type: ignore[arg-type]


def test_check_value_accepts_any():
    assert check_value("x", object, Any) is object


@dataclass(frozen=True)
class WithImage:
    epochs: int = 10
    patience: int | None = None
    image: dict[str, Any] = field(default_factory=dict)


def test_check_at_least_names_the_field_and_skips_none():
    check_at_least(WithImage(epochs=1), ("epochs", "patience"))
    check_at_least(WithImage(epochs=0), ("epochs",), 0)
    with pytest.raises(SettingsError, match=r"setting 'epochs' must be >= 1, got 0"):
        check_at_least(WithImage(epochs=0), ("epochs", "patience"))


@pytest.mark.parametrize("device", ["cpu", "cuda", "cuda:1", "mps"])
def test_good_device_names(device):
    check_device_name(device)


@pytest.mark.parametrize("device", ["gpu", "cuda:", "cuda:x", "CPU", " cpu", ""])
def test_bad_device_names(device):
    with pytest.raises(SettingsError, match="setting 'device' must be 'cpu', 'cuda'"):
        check_device_name(device)


def test_override_block_checks_keys_and_types_and_applies():
    check_override_block(WithImage(image={"epochs": 3}), "image")
    with pytest.raises(SettingsError, match=r"unknown setting\(s\) \['epoch'\] in 'image'; "
                                            r"valid: epochs, patience"):
        check_override_block(WithImage(image={"epoch": 3}), "image")
    with pytest.raises(SettingsError, match=r"unknown setting\(s\) \['image'\]"):
        check_override_block(WithImage(image={"image": {}}), "image")
    with pytest.raises(SettingsError, match=r"setting 'image.epochs' must be int, got 1.5"):
        check_override_block(WithImage(image={"epochs": 1.5}), "image")
    s = WithImage(image={"epochs": 3, "patience": 2})
    assert apply_override_block(s, "image", True) == WithImage(epochs=3, patience=2)
    assert apply_override_block(s, "image", False) == WithImage()
