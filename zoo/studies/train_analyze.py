"""The run of the papers' studies: load a zoo dataset, build and train a zoo model, analyse it.

:class:`TrainAnalyzeSettings` are the typed settings of the tabular and image studies, with the
profiles :data:`PROFILES`; :func:`train_and_analyze` is their task (one run);
:func:`prepare_data` checks every UCI file of a grid before its first run; :func:`paper_study`
assembles a study from these and the paper's grid and findings.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import time
from dataclasses import dataclass, field
from typing import Any

from circuitvae.metrics.adequacy import latent_activity
from circuitvae.metrics.analyze import METRIC_COLUMNS, analyze
from circuitvae.protocol import CircuitVAEError
from circuitvae.study import (
    FindingRule,
    GridSpec,
    ReportSpec,
    RunSpec,
    SettingsError,
    SkipRun,
    Study,
)
from circuitvae.study.settings import (
    apply_override_block,
    check_at_least,
    check_device_name,
    check_fields,
    check_override_block,
    require_device,
)

from ..data import SPECS, MissingDataError, ensure_files, load_dataset
from ..models import ARCHITECTURES, build
from ..training import train

#: dataset -> domain; the tabular paper's dSprites runs are its image reference
DOMAIN: dict[str, str] = {
    "adult": "tabular",
    "bank_marketing": "tabular",
    "german_credit": "tabular",
    "credit_default": "tabular",
    "planted": "tabular",
    "dsprites": "image",
    "shapes3d": "image",
    "mpi3d": "image",
    "celeba": "image",
    "smallnorb": "image",
}

#: analyze() arguments the task sets from its own settings (not through ``analysis``)
_SET_BY_TASK = {"n": "analysis_n", "seed": "the run's seed", "n_score_train": "score_n_train",
                "n_score_eval": "score_n_eval", "fgd_n_estimators": "fgd_n_estimators",
                "dci_n_estimators": "dci_n_estimators"}


@dataclass(frozen=True)
class TrainAnalyzeSettings:
    """Settings of one train-and-analyse run [our choice where the papers are silent].

    The defaults are the papers' settings (the ``paper`` profile): up to 100 epochs with early
    stopping patience 20 [paper], the full data, analysis on 1000 rows.
    """

    #: maximum training epochs
    epochs: int = 100
    #: early-stopping patience in epochs (None: train all ``epochs``)
    patience: int | None = 20
    #: training batch size (None: the trainer's default)
    batch_size: int | None = None
    #: seeded subsample of the training / test split (None: the loader's default)
    n_train: int | None = None
    n_test: int | None = None
    #: rows of the test split analysed
    analysis_n: int = 1000
    #: samples of the FactorVAE / BetaVAE scores
    score_n_train: int = 10000
    score_n_eval: int = 5000
    #: trees per gradient-boosting fit of FGD and DCI (scikit-learn's default 100)
    fgd_n_estimators: int = 100
    dci_n_estimators: int = 100
    #: fetch missing UCI files
    download: bool = True
    #: a data folder searched first
    data_root: str | None = None
    #: extra load_dataset() options (e.g. planted's n_factors)
    data_options: dict[str, Any] = field(default_factory=dict)
    #: architecture config overrides (e.g. {"beta": 8.0})
    model: dict[str, Any] = field(default_factory=dict)
    #: extra circuitvae.analyze() keyword arguments (e.g. {"metrics": "interventional"})
    analysis: dict[str, Any] = field(default_factory=dict)
    #: where the model trains and is analysed: "cpu", "cuda", "cuda:<n>" or "mps"
    device: str = "cpu"
    #: settings that replace the ones above on image datasets
    image: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_fields(self)
        check_at_least(self, ("epochs", "analysis_n", "score_n_train", "score_n_eval",
                              "fgd_n_estimators", "dci_n_estimators",
                              "patience", "batch_size", "n_train", "n_test"))
        check_override_block(self, "image")
        _check_analysis_keys(self.analysis)
        _check_model_keys(self.model)
        check_device_name(self.device)

    def for_dataset(self, dataset: str) -> TrainAnalyzeSettings:
        """The settings of a run on ``dataset``: ``image`` applied on image datasets."""
        return apply_override_block(self, "image", DOMAIN.get(dataset) == "image")


def _check_analysis_keys(analysis: dict[str, Any]) -> None:
    params = inspect.signature(analyze).parameters
    valid = [p for p in params if p not in ("model", "dataset", *_SET_BY_TASK)]
    for key in analysis:
        if key in _SET_BY_TASK:
            raise SettingsError(f"'analysis' may not set {key!r}: it comes from "
                                f"{_SET_BY_TASK[key]}")
        if key not in params:
            raise SettingsError(f"unknown analyze() argument {key!r} in 'analysis'; valid: "
                                + ", ".join(valid))


def _check_model_keys(model: dict[str, Any]) -> None:
    valid = sorted({f.name for cls in ARCHITECTURES.values()
             for f in dataclasses.fields(cls.config_class)}
                   - {"input_shape", "features"})
    unknown = sorted(k for k in model if k not in valid)
    if unknown:
        raise SettingsError(f"unknown model setting(s) {unknown} in 'model'; valid: "
                            + ", ".join(valid))


def _config_dict(model: Any) -> dict[str, Any]:
    cfg = getattr(model, "config", None)
    if dataclasses.is_dataclass(cfg):
        return {k: v for k, v in dataclasses.asdict(cfg).items() if k != "features"}
    return {}


def train_and_analyze(spec: RunSpec) -> dict[str, Any]:
    """Load the dataset, build and train ``spec.architecture`` with ``spec.seed``, run
    :func:`circuitvae.analyze`; return ``{"metrics", "config", "provenance", "analysis"}``.

    A dataset whose files are absent raises :class:`SkipRun` (the run is stored as skipped with
    the loader's message, which names the files and where they were looked for).
    """
    s: TrainAnalyzeSettings = spec.settings.for_dataset(spec.dataset)
    t0 = time.perf_counter()
    try:
        data = load_dataset(spec.dataset, s.data_root, s.download, seed=spec.seed,
                            n_train=s.n_train, n_test=s.n_test, **s.data_options)
    except MissingDataError as e:
        raise SkipRun(str(e)) from e
    t_data = time.perf_counter()

    model = build(spec.architecture, dataset=data, seed=spec.seed, **s.model).to(s.device)
    train_kw: dict[str, Any] = {"seed": spec.seed, "max_epochs": s.epochs}
    # patience None trains every epoch (the trainer's own default would be 20)
    train_kw["patience"] = s.patience if s.patience is not None else s.epochs
    if s.batch_size is not None:
        train_kw["batch_size"] = s.batch_size
    model = train(model, data, verbose=False, **train_kw)
    t_train = time.perf_counter()

    row = analyze(model, data, n=s.analysis_n, seed=spec.seed, n_score_train=s.score_n_train,
                  n_score_eval=s.score_n_eval, fgd_n_estimators=s.fgd_n_estimators,
                  dci_n_estimators=s.dci_n_estimators, **s.analysis)
    t_analyze = time.perf_counter()
    values = row.iloc[0].to_dict()
    metrics = {c: values.pop(c) for c in METRIC_COLUMNS if c in values}
    record = getattr(model, "training_record", {}) or {}
    adequacy = training_adequacy(model, data, seed=spec.seed)
    metrics.update({k: adequacy[k] for k in ADEQUACY_COLUMNS})
    return {
        "metrics": metrics,
        "adequacy": adequacy,
        "analysis": values,
        "config": {"model": _config_dict(model), "training": record.get("config", {}),
                   "epochs_run": record.get("epochs_run"),
                   "best_monitored_loss": record.get("best_monitored_loss")},
        "provenance": {"dataset": spec.dataset,
                       "data": getattr(data, "provenance", None),
                       "n_train": int(len(data.train.x)), "n_test": int(len(data.test.x))},
        "phases_s": {"data": t_data - t0, "train": t_train - t_data,
                     "analyze": t_analyze - t_train},
    }


#: the training-adequacy columns every run adds to its metrics (methods.md section 7)
ADEQUACY_COLUMNS = ("active_dims", "epochs_run", "train_loss", "val_loss")


def training_adequacy(model: Any, data: Any, *, seed: int = 0) -> dict[str, Any]:
    """How well a run trained (methods.md section 7): active latent dimensions on the test split
    (mean KL per dimension > 0.01 nats; NaN for a vector-quantized model, which has no Gaussian
    KL), epochs run, the last epoch's train and validation loss (``train_loss``, ``val_loss``),
    and the epoch whose weights the trainer restored and analysed (``best_epoch``, with its
    ``best_train_loss`` / ``best_val_loss``): the trainer's record of it (the lowest
    validation loss among the epochs whose losses are comparable, up to ``patience`` epochs
    before the last; the last epoch when none is comparable), else the lowest loss."""
    record = getattr(model, "training_record", None) or {}
    # a loaded checkpoint has its history in the record only
    history = list(getattr(model, "history", None) or record.get("history") or [])
    last = history[-1] if history else {}
    if record.get("best_epoch") is not None:  # the trainer's own choice
        best = next((h for h in history if h.get("epoch") == record["best_epoch"]), {})
    else:  # a model trained elsewhere: the lowest monitored loss
        monitored = "val_loss" if any("val_loss" in h for h in history) else "train_loss"
        best = min(history, key=lambda h: h.get(monitored, math.inf)) if history else {}
    out: dict[str, Any] = {
        "epochs_run": len(history),
        "train_loss": float(last.get("train_loss", math.nan)),
        "val_loss": float(last.get("val_loss", math.nan)),
        "best_epoch": int(best["epoch"]) if "epoch" in best else None,
        "best_train_loss": float(best.get("train_loss", math.nan)),
        "best_val_loss": float(best.get("val_loss", math.nan)),
    }
    try:
        activity = latent_activity(model, data, seed=seed)
    except CircuitVAEError as err:
        out.update(active_dims=math.nan, kl_per_dim=None, active_dims_note=str(err))
    else:
        out.update(active_dims=activity.active_dims,
                   kl_per_dim=[float(v) for v in activity.kl_per_dim],
                   active_threshold_nats=activity.threshold)
    return out


def prepare_data(grid: GridSpec) -> None:
    """Before the first run: check the device and make sure every UCI dataset of ``grid`` is on
    disk.

    A ``cuda`` (or ``mps``) device that torch cannot see stops the study at once.

    On a networked machine this downloads the missing UCI files once; offline, with the files
    neither in ``data_root`` nor ``$CIRCUITVAE_DATA`` nor the cache, it stops the study at once
    with one message naming every missing file and where to put it, instead of recording
    dozens of skipped runs. Image datasets are not checked: absent ones are skipped run by run
    and listed in the report.
    """
    require_device(grid.settings.device)
    problems = []
    for dataset in dict.fromkeys(grid.datasets):
        if dataset not in SPECS:
            continue
        s = grid.settings.for_dataset(dataset)
        try:
            ensure_files(dataset, s.data_root, s.download)
        except MissingDataError as err:
            problems.append(str(err))
    if problems:
        raise CircuitVAEError("the study needs data files that are missing:\n\n"
                              + "\n\n".join(problems))


PAPER = TrainAnalyzeSettings()
QUICK = TrainAnalyzeSettings(
    epochs=4, patience=None, n_train=2000, n_test=500, analysis_n=300, score_n_train=1000,
    score_n_eval=500, fgd_n_estimators=20, dci_n_estimators=20,
    # image runs: a latent sweep decodes analysis_n x d x k images; keep it small
    image={"analysis_n": 64, "score_n_train": 100, "score_n_eval": 50},
)
#: [our choice] the profile a 2-core CPU can run to convergence. Tabular runs exactly as the
#: paper profile (all rows, up to 100 epochs, early stopping patience 20). Image runs at the
#: largest size that fits about 10 minutes per run on 2 cores without posterior collapse, as
#: measured on dSprites (5,000 training images, 2 cores): at the papers' batch 256 both the VAE
#: (40 epochs) and the beta-VAE (40 epochs) stayed collapsed, 0 active dimensions and the mean
#: image as reconstruction; at batch 64 the beta-VAE leaves collapse at epoch 7 and has 4 active
#: dimensions by epoch 40, the VAE 9 by epoch 60. So batch 64, 40 epochs (about 5 minutes at
#: 7 s an epoch), the analysis on 300 rows with 1,000 / 500 score samples (about 3-4 minutes).
CPU = dataclasses.replace(PAPER, image={
    "n_train": 5000, "n_test": 1000, "batch_size": 64, "epochs": 40, "analysis_n": 300,
    "score_n_train": 1000, "score_n_eval": 500,
})
#: [our choice] ``quick``: a smoke run of the whole pipeline (its reports withhold verdicts);
#: ``cpu``: converged models on a CPU (see :data:`CPU`); ``paper``: the papers' settings, for a
#: GPU (``--device cuda``)
PROFILES = {"quick": QUICK, "cpu": CPU, "paper": PAPER}

#: the columns the papers' reports summarise (every modularity variant is listed)
REPORT_METRICS = (
    "ces_calibrated", "ces_fixed", "specificity", "modularity", "modularity_random", "fgd",
    "mse", "auc", "dci_disentanglement", "mig", "sap", "modularity_correlation",
    "modularity_decoder", "modularity_encoder", "modularity_latent", "modularity_ridgeway",
    "modularity_signed", "impute_rmse", "impute_accuracy", "anomaly_roc_auc",
)

#: the downstream tasks beside the logistic-regression AUC, against specificity and CES (the
#: review issue's item 4; methods.md section 11)
DOWNSTREAM_CORRELATIONS: tuple[tuple[str, str], ...] = tuple(
    (task, ref) for task in ("auc", "impute_rmse", "impute_accuracy", "anomaly_roc_auc")
    for ref in ("specificity", "ces_calibrated"))


#: does CES tell anything beyond reconstruction? (the review of the tabular paper asks; the
#: review issue's item 2) CES against each reference metric, given reconstruction MSE
CES_GIVEN_MSE: tuple[tuple[str, str, str], ...] = tuple(
    ("ces_calibrated", y, "mse") for y in ("auc", "specificity", "dci_disentanglement", "fgd"))

#: do specificity and CES tell anything about the downstream tasks beyond reconstruction?
#: (methods.md section 11: the same question as CES_GIVEN_MSE, asked of each task)
DOWNSTREAM_GIVEN_MSE: tuple[tuple[str, str, str], ...] = tuple(
    (x, task, "mse") for task in ("impute_rmse", "impute_accuracy", "anomaly_roc_auc")
    for x in ("specificity", "ces_calibrated"))


def paper_study(*, name: str, title: str, architectures: tuple[str, ...],
                datasets: tuple[str, ...], findings: tuple[FindingRule, ...],
                extra_datasets: tuple[str, ...] = ()) -> Study:
    """A study of one of the papers: its grid and findings with the shared settings, profiles,
    task, data preflight and report (seeds 42, 123, 456 [paper])."""
    return Study(
        name=name, title=title, architectures=architectures, datasets=datasets,
        extra_datasets=extra_datasets, seeds=(42, 123, 456),
        settings_type=TrainAnalyzeSettings, profiles=PROFILES, task=train_and_analyze,
        prepare=prepare_data, findings=findings,
        report=ReportSpec(metrics=REPORT_METRICS, headline="ces_calibrated",
                          scatters=(("ces_calibrated", "mse"), ("specificity", "auc")),
                          partials=CES_GIVEN_MSE + DOWNSTREAM_GIVEN_MSE,
                          correlations=DOWNSTREAM_CORRELATIONS),
    )
