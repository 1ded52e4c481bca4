"""Benchmark datasets for the zoo: ``load_dataset(name, root=None, download=True, ...)``.

Tabular (:class:`TabularDataset`): ``adult``, ``bank_marketing``, ``german_credit``,
``credit_default`` (original UCI files, sha256-verified, downloaded when missing) and the
synthetic ``planted``. Images (:class:`ImageDataset`): ``dsprites`` (official npz, else an
exact-grid procedural generator), ``shapes3d``, ``mpi3d``, ``smallnorb``, ``celeba`` (official
files only). See docs/data.md.
"""

from __future__ import annotations

import os
from typing import Any

from circuitvae.protocol import CircuitVAEError

from .breast_cancer import load_breast_cancer_anomaly
from .celeba import CelebA, load_celeba
from .dsprites import DSprites, load_dsprites
from .files import (
    ENV_VAR,
    ChecksumError,
    DataError,
    MissingDataError,
    cache_dir,
    fetch,
    search_dirs,
)
from .images import ImageDataset, factor_bases
from .mpi3d import MPI3D, load_mpi3d
from .mri import AnomalyDataset, load_brats, load_mri_standin
from .planted import load_planted
from .shapes3d import Shapes3D, load_shapes3d
from .smallnorb import SmallNORB, load_smallnorb
from .tabular import TabularDataset
from .uci import SPECS, load_uci

TABULAR = ("adult", "bank_marketing", "german_credit", "credit_default", "planted")
IMAGES = ("dsprites", "shapes3d", "mpi3d", "smallnorb", "celeba")
#: brain-MRI anomaly sets (the ``mri`` extra): the offline stand-in and the BraTS2020 reader
MRI = ("mri_standin", "brats2020")
#: anomaly-detection sets: the MRI sets and scikit-learn's breast-cancer data
ANOMALY = (*MRI, "breast_cancer")
DATASETS = TABULAR + IMAGES + ANOMALY


def load_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    download: bool = True,
    *,
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
    **options: Any,
) -> TabularDataset | ImageDataset:
    """Load a benchmark dataset by name.

    ``root``: a data directory searched first (layout ``<root>/<name>/<file>``), then
    ``$CIRCUITVAE_DATA``, then the user cache. ``download``: fetch missing UCI files from the
    official archive (tabular only; image files must be placed by hand). ``seed``: the split and
    subsample seed. ``n_train``/``n_test``: seeded subsample sizes (tabular: default all rows;
    images: default 5000/1000; planted: rows generated). ``options``: ``verify=False`` (UCI:
    accept files whose sha256 differs), ``source`` (dsprites: "auto"|"file"|"procedural"),
    ``variant`` (mpi3d: "toy"|"realistic"|"real"), planted's generator parameters.
    """
    common = {"seed": seed, "n_train": n_train, "n_test": n_test}
    key = name.lower().replace("-", "_")
    if key in SPECS:
        return load_uci(key, root=root, download=download, **common, **_only(key, options,
                                                                            "verify"))
    if key == "planted":
        return load_planted(**common, **options)
    if key == "dsprites":
        return load_dsprites(root=root, **common, **_only(key, options, "source"))
    if key == "shapes3d":
        return load_shapes3d(root=root, **common, **_only(key, options, "source"))
    if key == "mri_standin":
        return load_mri_standin(**common, **_only(key, options, "size", "lesion_fraction"))
    if key == "brats2020":
        return load_brats(root, **common, **_only(key, options, "size"))
    if key == "breast_cancer":
        return load_breast_cancer_anomaly(**common, **_only(key, options, "train_fraction"))
    if key == "mpi3d":
        return load_mpi3d(root=root, **common, **_only(key, options, "variant"))
    if key == "smallnorb":
        return load_smallnorb(root=root, **common, **_only(key, options))
    if key == "celeba":
        return load_celeba(root=root, **common, **_only(key, options))
    raise CircuitVAEError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def ensure_files(
    name: str, root: str | os.PathLike | None = None, download: bool = True
) -> list[str]:
    """Make sure the files of dataset ``name`` are on disk (downloading UCI files if allowed),
    without parsing them; return their paths. Datasets without files (planted, procedural
    dSprites) return ``[]``. Raises :class:`MissingDataError` naming the files and where to put
    them. A study calls this for every dataset before its first run."""
    key = name.lower().replace("-", "_")
    if key in SPECS:
        return [str(p) for p, _, _ in fetch(key, SPECS[key].files, root=root, download=download)]
    if key not in DATASETS:
        raise CircuitVAEError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return []


def _only(name: str, options: dict[str, Any], *allowed: str) -> dict[str, Any]:
    extra = sorted(set(options) - set(allowed))
    if extra:
        raise CircuitVAEError(f"{name} does not take option(s) {extra}; it takes "
                              f"{list(allowed) or 'none'}")
    return options


__all__ = [
    "CelebA",
    "ChecksumError",
    "DATASETS",
    "DSprites",
    "DataError",
    "ENV_VAR",
    "IMAGES",
    "MRI",
    "ANOMALY",
    "AnomalyDataset",
    "ImageDataset",
    "MPI3D",
    "MissingDataError",
    "Shapes3D",
    "SmallNORB",
    "TABULAR",
    "TabularDataset",
    "cache_dir",
    "ensure_files",
    "factor_bases",
    "load_brats",
    "load_breast_cancer_anomaly",
    "load_dataset",
    "load_mri_standin",
    "search_dirs",
]
