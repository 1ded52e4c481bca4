"""The generic typed-settings checks (circuitvae.study.settings)."""

from dataclasses import dataclass, field
from typing import Any

import pytest

from circuitvae.study import SettingsError, make_settings, settings_dict
from circuitvae.study.settings import check_value


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
