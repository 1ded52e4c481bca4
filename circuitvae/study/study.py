"""What a study is: a small object that declares its grid, profiles, settings, task and findings.

A study is a :class:`Study` instance, usually a module-level constant in its own module (the
papers' studies live in :mod:`circuitvae.zoo.studies`). The engine finds studies by name through
the ``circuitvae.studies`` entry-point group of installed packages (and :func:`register_study`
for studies defined at run time), so it never imports them by name. Adding a study is adding
one module and one entry point; see docs/study.md.

The interface:

* ``name``, ``title``: how it is called and what it reproduces;
* ``architectures``, ``datasets``, ``seeds``: the full grid; a run may use any subset, and
  ``extra_datasets`` (e.g. a synthetic set for smoke runs) may be named in a subset too;
* ``settings_type``: a frozen dataclass (see :mod:`circuitvae.study.settings`); ``profiles``:
  profile name -> an instance of it;
* ``task(spec: RunSpec) -> Mapping``: trains and analyses one run, in a worker process (it must
  be importable by name: a module-level function); raises :class:`SkipRun` when a run cannot be
  done;
* ``prepare(grid)`` (optional): called once before the first run (e.g. to check data files);
* ``findings``: the :class:`~circuitvae.study.findings.FindingRule` items its report judges;
* ``report``: which metric columns the report summarises and plots (:class:`ReportSpec`);
* ``withhold_verdicts``: profile -> the reason its reports show every finding's numbers but
  withhold the verdicts (e.g. a smoke-run profile whose models are barely trained);
* ``sections`` (optional): the study's own report sections (tables, figures) after the
  findings.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..protocol import CircuitVAEError
from .findings import FindingRule
from .grid import GridSpec, RunSpec
from .settings import field_types, make_settings

Task = Callable[[RunSpec], Mapping[str, Any]]
ENTRY_POINT_GROUP = "circuitvae.studies"


class SkipRun(Exception):  # noqa: N818 - it is a signal, not an error
    """Raised by a task when a run cannot be done (e.g. the dataset's files are absent).

    The run is stored with status ``skipped`` and the message as its reason.
    """


@dataclass(frozen=True)
class ReportSpec:
    """What the report shows besides the findings.

    ``metrics``: the metric columns summarised per architecture (means with bootstrap CIs),
    tested pairwise and drawn in the per-architecture panel; ``headline``: the column drawn one
    point per run per architecture; ``scatters``: (x, y) column pairs drawn one point per run;
    ``partials``: (x, y, control) triples reported as within-dataset correlations of x and y
    beside their partial correlation given the control (:func:`circuitvae.stats.
    partial_within`), e.g. whether CES tells anything about AUC beyond reconstruction MSE;
    ``correlations``: (x, y) pairs reported as within-dataset and pooled Pearson r with Fisher
    CIs (descriptive: no verdict rests on them), e.g. downstream tasks against specificity.
    """

    metrics: tuple[str, ...] = ()
    headline: str | None = None
    scatters: tuple[tuple[str, str], ...] = ()
    partials: tuple[tuple[str, str, str], ...] = ()
    correlations: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Study:
    """A reproducible study: its grid, profiles, typed settings, task and findings."""

    name: str
    title: str
    architectures: tuple[str, ...]
    datasets: tuple[str, ...]
    seeds: tuple[int, ...]
    settings_type: type
    profiles: Mapping[str, Any]
    task: Task
    prepare: Callable[[GridSpec], None] | None = None
    extra_datasets: tuple[str, ...] = ()
    findings: tuple[FindingRule, ...] = ()
    report: ReportSpec = field(default_factory=ReportSpec)
    default_profile: str = "quick"
    #: profile -> why a report of a store run with that profile withholds its verdicts
    withhold_verdicts: Mapping[str, str] = field(default_factory=dict)
    #: extra report sections: ``sections(ok_rows, out_folder, figures) -> markdown lines``,
    #: placed after the findings (e.g. a paper's table beside ours, study-specific figures
    #: written under ``out_folder / "figures"`` when ``figures`` is True)
    sections: Callable[[Any, Any, bool], list[str]] | None = None

    def __post_init__(self) -> None:
        field_types(self.settings_type)  # a frozen dataclass, or a clear error
        if not self.profiles:
            raise CircuitVAEError(f"study {self.name!r} declares no profile")
        wrong = [p for p, s in self.profiles.items() if not isinstance(s, self.settings_type)]
        if wrong:
            raise CircuitVAEError(f"study {self.name!r}: profile(s) {wrong} are not "
                                  f"{self.settings_type.__name__} instances")
        if self.default_profile not in self.profiles:
            raise CircuitVAEError(f"study {self.name!r}: default profile "
                                  f"{self.default_profile!r} is not among {list(self.profiles)}")
        unknown = [p for p in self.withhold_verdicts if p not in self.profiles]
        if unknown:
            raise CircuitVAEError(f"study {self.name!r}: withhold_verdicts names unknown "
                                  f"profile(s) {unknown}; profiles: {list(self.profiles)}")
        if not callable(self.task):
            raise CircuitVAEError(f"study {self.name!r}: task must be callable")
        if self.sections is not None and not callable(self.sections):
            raise CircuitVAEError(f"study {self.name!r}: sections must be callable")
        GridSpec(self.name, self.architectures, self.datasets, self.seeds,
                 self.default_profile, None)  # the full grid is a valid grid

    def settings(self, profile: str | None = None, **overrides: Any) -> Any:
        """The settings of ``profile`` (default: ``default_profile``) with ``overrides``
        applied; an unknown profile or setting, or a value of the wrong type, is an error."""
        profile = self.default_profile if profile is None else profile
        if profile not in self.profiles:
            raise CircuitVAEError(f"unknown profile {profile!r} of study {self.name!r}; "
                                  f"choose one of {', '.join(self.profiles)}")
        return make_settings(self.settings_type, self.profiles[profile], overrides,
                             study=self.name)

    def grid(self, profile: str | None = None, *, architectures: Sequence[str] | None = None,
             datasets: Sequence[str] | None = None, seeds: Sequence[int] | None = None,
             **overrides: Any) -> GridSpec:
        """The study's grid, or a subset of it, with checked settings.

        Every name is checked against the study before anything runs: an architecture, dataset
        or seed the study does not declare is an error that lists the valid ones.
        """
        profile = self.default_profile if profile is None else profile
        settings = self.settings(profile, **overrides)
        chosen = {"architectures": self._subset("architectures", architectures),
                  "datasets": self._subset("datasets", datasets),
                  "seeds": self._subset("seeds", seeds)}
        return GridSpec(self.name, chosen["architectures"], chosen["datasets"],
                        chosen["seeds"], profile, settings)

    def _subset(self, what: str, values: Sequence[Any] | None) -> tuple[Any, ...]:
        declared = tuple(getattr(self, what))
        if values is None:
            return declared
        if what == "datasets":
            declared += tuple(d for d in self.extra_datasets if d not in declared)
        values = tuple(values)
        if not values:
            raise CircuitVAEError(f"--{what} is empty; choose from {', '.join(map(str, declared))}")
        unknown = [v for v in values if v not in declared
                   or (what == "seeds" and isinstance(v, bool))]
        if unknown:
            raise CircuitVAEError(
                f"unknown {what[:-1]}(s) {', '.join(map(repr, unknown))} for study "
                f"{self.name!r}; valid {what}: {', '.join(map(str, declared))}"
            )
        return values


# --------------------------------------------------------------------------- registry

_REGISTERED: dict[str, Study] = {}


def register_study(study: Study) -> Study:
    """Make ``study`` known by name in this process (beside the installed entry points)."""
    if not isinstance(study, Study):
        raise CircuitVAEError(f"register_study expects a Study, got {type(study).__name__}")
    _REGISTERED[study.name] = study
    return study


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def available_studies() -> list[str]:
    """The names of every known study (installed entry points and registered studies)."""
    return sorted(set(_entry_points()) | set(_REGISTERED))


def get_study(study: Study | str) -> Study:
    """The study named ``study`` (a :class:`Study` is returned as it is)."""
    if isinstance(study, Study):
        return study
    if study in _REGISTERED:
        return _REGISTERED[study]
    eps = _entry_points()
    if study not in eps:
        known = ", ".join(available_studies()) or "none (is circuitvae installed?)"
        raise CircuitVAEError(f"unknown study {study!r}; known studies: {known}")
    try:
        obj = eps[study].load()
    except Exception as e:  # noqa: BLE001 - a broken plug-in is named, not a traceback
        raise CircuitVAEError(f"cannot load study {study!r} ({eps[study].value}): "
                              f"{type(e).__name__}: {e}") from e
    if not isinstance(obj, Study):
        raise CircuitVAEError(f"entry point {study!r} ({eps[study].value}) is a "
                              f"{type(obj).__name__}, not a circuitvae.study.Study")
    return obj
