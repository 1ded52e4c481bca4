"""Grid specifications of a study: architectures x datasets x seeds, with a profile.

A :class:`GridSpec` expands into :class:`RunSpec` items, one per run; each run is independent,
seeded, and named by its run id ``<architecture>__<dataset>__<seed>``.

Profiles [our choice]:

* ``quick``: few epochs on subsampled rows (``n_train`` 2000, ``n_test`` 500, 4 epochs, analysis
  on 300 rows, 64 for image datasets) for a fast smoke run of a whole grid on a CPU;
* ``paper``: the papers' settings (up to 100 epochs with early stopping patience 20 [paper],
  the full data, analysis on 1000 rows).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any

from ..protocol import CircuitVAEError

PROFILES: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "quick": MappingProxyType(
            {"epochs": 4, "patience": None, "n_train": 2000, "n_test": 500, "analysis_n": 300,
             "score_n_train": 1000, "score_n_eval": 500, "fgd_n_estimators": 20,
             "dci_n_estimators": 20,
             # image runs: a latent sweep decodes analysis_n x d x k images; keep it small
             "image": {"analysis_n": 64, "score_n_train": 100, "score_n_eval": 50}}
        ),
        "paper": MappingProxyType(
            {"epochs": 100, "patience": 20, "n_train": None, "n_test": None, "analysis_n": 1000,
             "score_n_train": 10000, "score_n_eval": 5000, "fgd_n_estimators": 100,
             "dci_n_estimators": 100,
             "image": {}}
        ),
    }
)

SEEDS: tuple[int, ...] = (42, 123, 456)
TABULAR_ARCHITECTURES = ("vae", "beta_vae", "factor_vae", "beta_tc_vae", "dip_vae_ii")
IMAGE_ARCHITECTURES = TABULAR_ARCHITECTURES + ("vq_vae",)
TABULAR_DATASETS = ("adult", "bank_marketing", "german_credit", "credit_default", "dsprites")
IMAGE_DATASETS = ("dsprites", "shapes3d", "mpi3d", "celeba", "smallnorb")


def run_id(architecture: str, dataset: str, seed: int) -> str:
    """The id of one run, also its file name in the store: ``<arch>__<dataset>__<seed>``."""
    return f"{architecture}__{dataset}__{int(seed)}"


@dataclass(frozen=True)
class RunSpec:
    """One run of a study: which model, which data, which seed, and its hyperparameters."""

    study: str
    architecture: str
    dataset: str
    seed: int
    hparams: Mapping[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return run_id(self.architecture, self.dataset, self.seed)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hparams"] = dict(self.hparams)
        d["run_id"] = self.run_id
        return d


@dataclass(frozen=True)
class GridSpec:
    """A study grid. ``hparams`` override the profile's settings for every run."""

    name: str
    architectures: tuple[str, ...]
    datasets: tuple[str, ...]
    seeds: tuple[int, ...] = SEEDS
    profile: str = "quick"
    hparams: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise CircuitVAEError(
                f"unknown profile {self.profile!r}; choose one of {sorted(PROFILES)}"
            )
        for what in ("architectures", "datasets", "seeds"):
            values = tuple(getattr(self, what))
            if not values:
                raise CircuitVAEError(f"grid {self.name!r} has no {what}")
            if len(set(values)) != len(values):
                raise CircuitVAEError(f"grid {self.name!r} repeats an entry in {what}: {values}")
            object.__setattr__(self, what, values)
        bad = [n for n in self.architectures + self.datasets if "__" in n or "/" in n]
        if bad:
            raise CircuitVAEError(f"names may not contain '__' or '/': {bad}")

    def settings(self) -> dict[str, Any]:
        """The profile's settings with this grid's overrides applied (a fresh copy).

    The ``image`` entry holds overrides applied to runs on image datasets.
    """
        return copy.deepcopy({**PROFILES[self.profile], **dict(self.hparams)})

    def runs(self) -> Iterator[RunSpec]:
        """Every run, datasets outermost (runs of one dataset are adjacent)."""
        settings = self.settings()
        for dataset in self.datasets:
            for arch in self.architectures:
                for seed in self.seeds:
                    yield RunSpec(self.name, arch, dataset, int(seed), dict(settings))

    def __len__(self) -> int:
        return len(self.architectures) * len(self.datasets) * len(self.seeds)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hparams"] = dict(self.hparams)
        d["settings"] = self.settings()
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GridSpec:
        return cls(
            name=d["name"],
            architectures=tuple(d["architectures"]),
            datasets=tuple(d["datasets"]),
            seeds=tuple(int(s) for s in d["seeds"]),
            profile=d.get("profile", "quick"),
            hparams=dict(d.get("hparams", {})),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def tabular_grid(profile: str = "quick", **overrides: Any) -> GridSpec:
    """The tabular paper's grid: 5 architectures x 5 datasets x 3 seeds = 75 runs [paper]."""
    return GridSpec("tabular", TABULAR_ARCHITECTURES, TABULAR_DATASETS, SEEDS, profile, overrides)


def image_grid(profile: str = "quick", **overrides: Any) -> GridSpec:
    """The image paper's grid: 6 architectures x 5 datasets x 3 seeds = 90 runs [paper]."""
    return GridSpec("image", IMAGE_ARCHITECTURES, IMAGE_DATASETS, SEEDS, profile, overrides)


STUDIES = {"tabular": tabular_grid, "image": image_grid}


def study_grid(name: str, profile: str = "quick", **overrides: Any) -> GridSpec:
    """A named study's grid (``"tabular"`` or ``"image"``)."""
    if name not in STUDIES:
        raise CircuitVAEError(f"unknown study {name!r}; choose one of {sorted(STUDIES)}")
    return STUDIES[name](profile, **overrides)


def subset(grid: GridSpec, architectures: Sequence[str] | None = None,
           datasets: Sequence[str] | None = None,
           seeds: Sequence[int] | None = None) -> GridSpec:
    """A smaller grid with the same name, profile and overrides."""
    return GridSpec(
        grid.name,
        tuple(architectures) if architectures else grid.architectures,
        tuple(datasets) if datasets else grid.datasets,
        tuple(int(s) for s in seeds) if seeds else grid.seeds,
        grid.profile,
        dict(grid.hparams),
    )
