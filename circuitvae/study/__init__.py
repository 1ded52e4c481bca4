"""Studies: a study object -> grid -> runner (local processes or Ray) -> results store -> report.

This package is the generic machinery and knows no paper: the papers' studies are plug-ins
(:mod:`circuitvae.zoo.studies`), found by name through the ``circuitvae.studies`` entry points.
Importing it never imports the zoo.
"""

from __future__ import annotations

from .findings import (
    DIRECTION_ONLY,
    NOT_COMPUTABLE,
    NOT_REPRODUCED,
    REPRODUCED,
    UNDERPOWERED,
    WITHHELD,
    Finding,
    FindingRule,
    NotComputable,
    Outcome,
    evaluate,
)
from .grid import GridSpec, RunSpec, run_id
from .report import write_report
from .runner import StudySummary, execute_one, run_study
from .settings import SettingsError, make_settings, settings_dict
from .store import ResultStore, atomic_write_json, atomic_write_text
from .study import (
    ReportSpec,
    SkipRun,
    Study,
    available_studies,
    get_study,
    register_study,
)

__all__ = [
    "DIRECTION_ONLY",
    "NOT_COMPUTABLE",
    "NOT_REPRODUCED",
    "REPRODUCED",
    "UNDERPOWERED",
    "WITHHELD",
    "Finding",
    "FindingRule",
    "GridSpec",
    "NotComputable",
    "Outcome",
    "ReportSpec",
    "ResultStore",
    "RunSpec",
    "SettingsError",
    "SkipRun",
    "Study",
    "StudySummary",
    "atomic_write_json",
    "atomic_write_text",
    "available_studies",
    "evaluate",
    "execute_one",
    "get_study",
    "make_settings",
    "register_study",
    "run_id",
    "run_study",
    "settings_dict",
    "write_report",
]
