"""Studies: grid spec -> runner (local processes or Ray) -> results store -> report.

Importing this package never imports the zoo; the default run function
(:func:`circuitvae.study.tasks.train_and_analyze`) imports it when a run starts.
"""

from __future__ import annotations

from .findings import FINDINGS, Finding, evaluate
from .grid import (
    IMAGE_ARCHITECTURES,
    IMAGE_DATASETS,
    PROFILES,
    SEEDS,
    TABULAR_ARCHITECTURES,
    TABULAR_DATASETS,
    GridSpec,
    RunSpec,
    image_grid,
    run_id,
    study_grid,
    subset,
    tabular_grid,
)
from .report import write_report
from .runner import SkipRun, StudySummary, execute_one, resolve_task, run_study
from .store import ResultStore, atomic_write_json

__all__ = [
    "FINDINGS",
    "IMAGE_ARCHITECTURES",
    "IMAGE_DATASETS",
    "PROFILES",
    "SEEDS",
    "TABULAR_ARCHITECTURES",
    "TABULAR_DATASETS",
    "Finding",
    "GridSpec",
    "ResultStore",
    "RunSpec",
    "SkipRun",
    "StudySummary",
    "atomic_write_json",
    "evaluate",
    "execute_one",
    "image_grid",
    "resolve_task",
    "run_id",
    "run_study",
    "study_grid",
    "subset",
    "tabular_grid",
    "write_report",
]
