"""Grid and run specifications: architectures x datasets x seeds, with one settings object.

A :class:`GridSpec` expands into :class:`RunSpec` items, one per run; each run is independent,
seeded, and named by its run id ``<architecture>__<dataset>__<seed>``. The settings are the
study's typed settings (a frozen dataclass, see :mod:`circuitvae.study.settings`) or, for a grid
read back from a study folder, the plain mapping that was stored. A grid knows no study: its
names are checked against a study by :meth:`circuitvae.study.Study.grid`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..protocol import CircuitVAEError
from .settings import settings_dict


def run_id(architecture: str, dataset: str, seed: int) -> str:
    """The id of one run, also its file name in the store: ``<arch>__<dataset>__<seed>``."""
    return f"{architecture}__{dataset}__{int(seed)}"


@dataclass(frozen=True)
class RunSpec:
    """One run of a study: which model, which data, which seed, and the grid's settings."""

    study: str
    architecture: str
    dataset: str
    seed: int
    settings: Any

    @property
    def run_id(self) -> str:
        return run_id(self.architecture, self.dataset, self.seed)

    def to_dict(self) -> dict[str, Any]:
        return {"study": self.study, "architecture": self.architecture, "dataset": self.dataset,
                "seed": self.seed, "settings": settings_dict(self.settings),
                "run_id": self.run_id}


@dataclass(frozen=True)
class GridSpec:
    """A study grid: every combination of ``architectures``, ``datasets`` and ``seeds``, each
    run with ``settings`` (the ``profile`` they came from is kept as a label)."""

    name: str
    architectures: tuple[str, ...]
    datasets: tuple[str, ...]
    seeds: tuple[int, ...]
    profile: str
    settings: Any

    def __post_init__(self) -> None:
        for what in ("architectures", "datasets", "seeds"):
            values = tuple(getattr(self, what))
            if not values:
                raise CircuitVAEError(f"grid {self.name!r} has no {what}")
            if len(set(values)) != len(values):
                raise CircuitVAEError(f"grid {self.name!r} repeats an entry in {what}: {values}")
            object.__setattr__(self, what, values)
        bad_seeds = [s for s in self.seeds if not isinstance(s, int) or isinstance(s, bool)
                     or s < 0]
        if bad_seeds:
            raise CircuitVAEError(f"seeds must be non-negative integers, got {bad_seeds}")
        bad = [n for n in self.architectures + self.datasets
               if not isinstance(n, str) or not n or "__" in n or "/" in n
               or n.startswith("_") or n.endswith("_")]
        if bad:
            raise CircuitVAEError(f"names must be non-empty, may not contain '__' or '/' and "
                                  f"may not start or end with '_' (run ids join them with "
                                  f"'__'): {bad}")

    def settings_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (JSON-normalised: tuples become lists)."""
        return json.loads(json.dumps(settings_dict(self.settings)))

    def runs(self) -> Iterator[RunSpec]:
        """Every run, datasets outermost (runs of one dataset are adjacent)."""
        for dataset in self.datasets:
            for arch in self.architectures:
                for seed in self.seeds:
                    yield RunSpec(self.name, arch, dataset, int(seed), self.settings)

    def __len__(self) -> int:
        return len(self.architectures) * len(self.datasets) * len(self.seeds)

    def union(self, other: GridSpec) -> GridSpec:
        """This grid widened by ``other``'s architectures, datasets and seeds (this grid's
        order first, then the new values); name, profile and settings stay this grid's."""
        def merged(a: tuple[Any, ...], b: tuple[Any, ...]) -> tuple[Any, ...]:
            return tuple(dict.fromkeys((*a, *b)))

        return GridSpec(self.name, merged(self.architectures, other.architectures),
                        merged(self.datasets, other.datasets), merged(self.seeds, other.seeds),
                        self.profile, self.settings)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "architectures": list(self.architectures),
                "datasets": list(self.datasets), "seeds": list(self.seeds),
                "profile": self.profile, "settings": self.settings_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GridSpec:
        """A grid read back from ``study.json``: its settings are the stored plain mapping.
        Every entry must have its type as :meth:`to_dict` writes it (nothing is converted: a
        string of seeds is no list of seeds)."""
        if not isinstance(d, Mapping):
            raise CircuitVAEError(f"not a grid specification: a JSON object is needed, got "
                                  f"{type(d).__name__}")
        missing = [k for k in ("name", "architectures", "datasets", "seeds") if k not in d]
        if missing:
            raise CircuitVAEError(f"not a grid specification: no {', '.join(map(repr, missing))}")

        def wrong(key: str, what: str) -> CircuitVAEError:
            return CircuitVAEError(f"not a grid specification: {key!r} must be {what}, got "
                                   f"{d[key]!r}")

        for key in ("architectures", "datasets"):
            if not isinstance(d[key], list) or not all(isinstance(x, str) for x in d[key]):
                raise wrong(key, "a list of strings")
        if not isinstance(d["seeds"], list) or not all(
                isinstance(s, int) and not isinstance(s, bool) for s in d["seeds"]):
            raise wrong("seeds", "a list of integers")
        if not isinstance(d["name"], str):
            raise wrong("name", "a string")
        if not isinstance(d.get("profile", ""), str):  # absent in older folders
            raise wrong("profile", "a string")
        if not isinstance(d.get("settings") or {}, Mapping):
            raise wrong("settings", "a JSON object")
        return cls(name=d["name"], architectures=tuple(d["architectures"]),
                   datasets=tuple(d["datasets"]), seeds=tuple(d["seeds"]),
                   profile=d.get("profile", ""), settings=dict(d.get("settings") or {}))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)
