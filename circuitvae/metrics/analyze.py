"""Every metric for one model, as one tidy DataFrame row.

:func:`analyze` is a table of steps (:data:`STEP_TABLE`) over one
:class:`~circuitvae.metrics.context.AnalysisContext`, which samples the rows, encodes them and
runs the calibrated sweep once for all the steps. The metric columns are named once, in
:data:`COLUMNS`; :data:`METRIC_COLUMNS`, :data:`STEPS` and :data:`INTERVENTIONAL` derive from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._version import __version__
from ..interventions.latent import Scale
from ..protocol import (
    CircuitVAEError,
    check_bool,
    check_choice,
    check_int,
    check_vae,
    dataset_name,
)
from . import steps
from ._importance import ESTIMATORS
from .context import AnalysisContext, AnalysisOptions
from .sweep_setup import check_sweep_args

NAN = float("nan")

#: Every metric column of :func:`analyze` in row order, with the step that fills it.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("ces_calibrated", "ces"), ("ces_fixed", "ces"), ("sigma_eff_mean", "ces"),
    ("ces_calibrated_total", "scales"), ("ces_calibrated_posterior", "scales"),
    ("specificity", "specificity"),
    ("specificity_total", "scales"), ("specificity_posterior", "scales"),
    ("modularity", "modularity"),
    ("modularity_random", "modularity_random"),
    ("modularity_correlation", "modularity_correlation"),
    ("modularity_signed", "modularity"), ("modularity_encoder", "modularity"),
    ("modularity_decoder", "modularity"),
    ("modularity_latent", "specificity"), ("modularity_ridgeway", "specificity"),
    ("fgd", "fgd"), ("fgd_correlation", "fgd"),
    ("dci_disentanglement", "dci/mig/sap"), ("dci_completeness", "dci/mig/sap"),
    ("dci_informativeness", "dci/mig/sap"), ("mig", "dci/mig/sap"), ("sap", "dci/mig/sap"),
    ("factor_vae_score", "factor_vae/beta_vae"), ("beta_vae_score", "factor_vae/beta_vae"),
    ("mse", "mse"), ("mse_numeric", "mse"), ("mse_categorical", "mse"),
    ("auc", "auc"),
    ("impute_rmse", "imputation"), ("impute_rmse_baseline", "imputation"),
    ("impute_accuracy", "imputation"), ("impute_accuracy_baseline", "imputation"),
    ("anomaly_roc_auc", "corruption"), ("anomaly_pr_auc", "corruption"),
    ("vq_ces_swap", "vq"), ("vq_specificity_swap", "vq"),
)


def _always(ctx: AnalysisContext) -> bool:
    return True


@dataclass(frozen=True)
class Step:
    """One step of :func:`analyze`: ``run`` reads the context and returns values of the step's
    columns (those of :data:`COLUMNS` that name it).

    The step runs when one of its columns is asked for, or one of the steps in ``shared_with``
    (it computes what they share), and ``applies`` to the data and model. ``interventional``:
    forward passes and arithmetic only, no fitted estimator.
    """

    name: str
    run: Callable[[AnalysisContext], Mapping[str, float]]
    applies: Callable[[AnalysisContext], bool] = _always
    shared_with: tuple[str, ...] = ()
    interventional: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for c, step in COLUMNS if step == self.name)


#: The steps of :func:`analyze`, in the order they run (and report in ``skipped``).
STEP_TABLE: tuple[Step, ...] = (
    Step("ces", steps.ces, shared_with=("specificity",), interventional=True),
    Step("specificity", steps.specificity, steps.has_calibrated_sweep, interventional=True),
    Step("scales", steps.scales, interventional=True),
    Step("modularity", steps.modularity, interventional=True),
    Step("modularity_random", steps.modularity_random, steps.swaps_groups, interventional=True),
    Step("modularity_correlation", steps.modularity_correlation, steps.swaps_groups,
         interventional=True),
    Step("fgd", steps.fgd, steps.has_features),
    Step("dci/mig/sap", steps.factor_metrics, steps.has_factors),
    Step("factor_vae/beta_vae", steps.sampling_scores, steps.samples_factors),
    Step("mse", steps.mse, interventional=True),
    Step("auc", steps.auc),
    Step("imputation", steps.imputation, steps.is_tabular),
    Step("corruption", steps.corruption, steps.is_tabular),
    Step("vq", steps.code_swaps, steps.is_discrete, interventional=True),
)

#: The metric columns of :func:`analyze`, in order (settings and provenance columns follow).
METRIC_COLUMNS: tuple[str, ...] = tuple(c for c, _ in COLUMNS)

#: The steps of :func:`analyze` and the metric columns each one fills.
STEPS: dict[str, tuple[str, ...]] = {step.name: step.columns for step in STEP_TABLE}

#: ``metrics="interventional"``: the metrics that cost forward passes and arithmetic only, no
#: fitted estimator (FGD and DCI fit gradient-boosted trees, MIG and SAP histograms and
#: thresholds on factors, the FactorVAE/BetaVAE scores classifiers, AUC a logistic regression).
INTERVENTIONAL: tuple[str, ...] = tuple(
    c for step in STEP_TABLE if step.interventional for c in step.columns
)


def select_metrics(metrics: str | Iterable[str]) -> frozenset[str]:
    """The metric columns asked for: ``"all"``, ``"interventional"``, or any mix of column
    names (:data:`METRIC_COLUMNS`) and step names (:data:`STEPS`). A column name selects that
    column alone; a step name that is no column (``"ces"``, ``"dci/mig/sap"``,
    ``"factor_vae/beta_vae"``, ``"vq"``) selects all of its columns."""
    if isinstance(metrics, str):
        metrics = [metrics]
    chosen: set[str] = set()
    for name in metrics:
        if name == "all":
            chosen.update(METRIC_COLUMNS)
        elif name == "interventional":
            chosen.update(INTERVENTIONAL)
        elif name in METRIC_COLUMNS:
            chosen.add(name)
        elif name in STEPS:
            chosen.update(STEPS[name])
        else:
            raise CircuitVAEError(
                f"unknown metric {name!r}; choose 'all', 'interventional', a step "
                f"({', '.join(STEPS)}) or a column ({', '.join(METRIC_COLUMNS)})"
            )
    if not chosen:
        raise CircuitVAEError("metrics is empty; pass 'all' (the default) or some metric names")
    return frozenset(chosen)


#: [our choice] named bundles of analyze() settings; ``fast`` swaps the tree model of FGD and
#: DCI for LightGBM (the interventional metrics are unchanged: they are already batched)
PRESETS: dict[str, dict[str, Any]] = {"default": {}, "fast": {"estimator": "lightgbm"}}


def analyze(
    model: Any,
    dataset: Any,
    *,
    n: int = 1000,
    seed: int = 0,
    r: float = 3.0,
    k: int = 11,
    scale: Scale = "means",
    n_score_train: int = 10000,
    n_score_eval: int = 5000,
    n_auc_train: int | None = 10000,
    vq_entries: int | None = 16,
    fgd_n_estimators: int = 100,
    dci_n_estimators: int = 100,
    estimator: str | None = None,
    preset: str = "default",
    max_batch_rows: int | None = None,
    n_jobs: int | None = None,
    metrics: str | Iterable[str] = "all",
    strict: bool = False,
    verbose: bool = False,
) -> pd.DataFrame:
    """All metrics of ``model`` on ``dataset`` as a one-row DataFrame (columns
    :data:`METRIC_COLUMNS`, then the settings, versions and ``skipped``).

    Every metric is the one of its own function with the same settings (``n`` rows of the test
    split drawn with ``seed``; sweep ``r``, ``k``, ``scale``): CES calibrated and fixed
    (:func:`~circuitvae.metrics.ces.ces`), and calibrated CES and specificity with sigma_eff at
    the scales ``"total"`` and ``"posterior"`` too (``ces_calibrated_total``, ...: the
    sensitivity of a finding to the scale, methods.md section 2), specificity, circuit
    modularity with semantic (``modularity``), random and correlation groupings, signed
    profiles, encoder/decoder layers, latent level and the Ridgeway variant
    (:func:`~.modularity.modularity`); FGD with semantic and correlation groups (tabular); DCI,
    MIG, SAP, FactorVAE and BetaVAE scores on factor datasets, each on its own ``n_score_train``
    / ``n_score_eval`` samples (fresh ground-truth samples, as disentanglement_lib; a dataset
    with factors on its test split only uses up to that many of its rows; lower them,
    ``fgd_n_estimators`` and ``dci_n_estimators`` (trees per gradient-boosting fit, sklearn's
    100 by default), for a quick run); reconstruction MSE with its numeric/categorical
    breakdown; downstream AUC; on tabular rows the downstream tasks of methods.md section 11
    (imputation RMSE / accuracy of 20% masked entries beside the mean / mode fill,
    :mod:`~circuitvae.metrics.imputation`; anomaly ROC / PR AUC of the reconstruction error on
    rows with 10% corrupted, :mod:`~circuitvae.metrics.corruption`); code-swap
    CES/specificity for a vector-quantized model (whose continuous metrics then run on z_e, as
    the papers report both). Shared work is done once:
    one calibrated sweep feeds CES, specificity, latent-level and Ridgeway modularity; one
    profile run feeds the layer variants.

    ``n_jobs`` runs the per-feature / per-factor tree fits of FGD and DCI in parallel threads
    (same numbers; leave it at 1 inside a multi-process study).

    ``estimator`` is the tree model of FGD and DCI: ``"sklearn"`` (the reference's gradient
    boosting, the default) or ``"lightgbm"`` (the same model family, histogram-based; 10-30x
    faster, numbers close but not identical: see ``docs/analyze.md``). ``preset`` bundles
    settings [our choice]: ``"default"`` (everything as above) or ``"fast"``
    (:data:`PRESETS`: ``estimator="lightgbm"``); an explicit ``estimator`` wins over the
    preset's. The row records the estimator used.

    ``metrics`` chooses what to compute: ``"all"`` (default), ``"interventional"`` (CES,
    specificity, every modularity, MSE and the VQ code swaps: forward passes and arithmetic, no
    fitted estimator, so the call costs about what its forward passes cost), or any mix of
    column names and step names (e.g. ``["ces", "fgd"]``; see :func:`select_metrics`). A step
    (:data:`STEPS`) runs when any of its columns is asked for; columns not asked for are NaN,
    and the ``metrics`` column records the choice. Each value is the same as in a full call.

    A metric that does not apply (no labels, no factors, no feature groups...) is NaN, and the
    ``skipped`` column says why; ``strict=True`` raises instead (for debugging).
    """
    check_vae(model)
    check_sweep_args(n=n, seed=seed, r=r, k=k, scale=scale, max_batch_rows=max_batch_rows,
                     verbose=verbose)
    for name, value, none_ok in (
        ("n_score_train", n_score_train, False), ("n_score_eval", n_score_eval, False),
        ("n_auc_train", n_auc_train, True), ("vq_entries", vq_entries, True),
        ("fgd_n_estimators", fgd_n_estimators, False),
        ("dci_n_estimators", dci_n_estimators, False),
    ):
        check_int(name, value, minimum=1, allow_none=none_ok)
    if n_jobs is not None and (check_int("n_jobs", n_jobs) == 0 or n_jobs < -1):
        raise CircuitVAEError(
            f"n_jobs must be None, an integer >= 1 or -1 (all cores), got {n_jobs!r}")
    check_bool("strict", strict)
    check_choice("preset", preset, tuple(PRESETS))
    if estimator is None:
        estimator = PRESETS[preset].get("estimator", "sklearn")
    check_choice("estimator", estimator, ESTIMATORS)
    if not isinstance(metrics, str) and not isinstance(metrics, Iterable):
        raise CircuitVAEError(
            f"metrics must be a name or a list of names, got {type(metrics).__name__}")
    wanted = select_metrics(metrics)
    options = AnalysisOptions(
        n=n, seed=seed, r=r, k=k, scale=scale, n_score_train=n_score_train,
        n_score_eval=n_score_eval, n_auc_train=n_auc_train, vq_entries=vq_entries,
        fgd_n_estimators=fgd_n_estimators, dci_n_estimators=dci_n_estimators,
        estimator=estimator, max_batch_rows=max_batch_rows, n_jobs=n_jobs, verbose=verbose,
    )

    def asked(step: str) -> bool:
        return not wanted.isdisjoint(STEPS[step])

    ctx = AnalysisContext(model, dataset, options, wanted, latent_profiles=asked("specificity"))
    row: dict[str, Any] = dict.fromkeys(METRIC_COLUMNS, NAN)
    skipped: list[str] = []
    for step in tqdm(STEP_TABLE, desc="analyze", disable=not verbose, leave=False):
        if not any(asked(name) for name in (step.name, *step.shared_with)):
            continue
        if not step.applies(ctx):
            continue
        try:
            values = step.run(ctx)
        except Exception as err:  # noqa: BLE001 - a metric that fails is reported, not fatal
            if strict:
                raise
            skipped.append(f"{step.name}: {type(err).__name__}: {str(err)[:160]}")
            continue
        row.update({c: v for c, v in values.items() if c in wanted and c in step.columns})
    row.update(_settings(model, dataset, n=ctx.n, seed=seed, r=r, k=k, scale=scale,
                         discrete=ctx.discrete, max_batch_rows=max_batch_rows,
                         estimator=estimator, preset=preset,
                         metrics=("all" if len(wanted) == len(METRIC_COLUMNS) else
                                  ",".join(c for c in METRIC_COLUMNS if c in wanted))))
    row["skipped"] = "; ".join(skipped)
    for key, value in row.items():
        if isinstance(value, float) and math.isinf(value):
            row[key] = NAN
    return pd.DataFrame([row])


def _settings(model: Any, dataset: Any, **kw: Any) -> dict[str, Any]:
    import sklearn
    import torch

    return {
        "model": type(model).__name__,
        "dataset": dataset_name(dataset),
        "latent_dim": int(getattr(model, "latent_dim", -1)),
        "discrete": kw.pop("discrete"),
        **kw,
        "max_batch_rows": kw.get("max_batch_rows") or -1,
        "reduction": "rms",
        "circuitvae_version": __version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "sklearn_version": sklearn.__version__,
        "lightgbm_version": _lightgbm_version() if kw.get("estimator") == "lightgbm" else "",
    }


def _lightgbm_version() -> str:
    import lightgbm

    return str(lightgbm.__version__)
