"""The default run function of a study: build, train and analyse one zoo model.

This is the only study module that uses the zoo, and it imports it inside the function, so
``import circuitvae`` and ``import circuitvae.study`` never import :mod:`circuitvae.zoo`.

Settings read from :attr:`RunSpec.hparams` (the profile plus overrides, see
:data:`circuitvae.study.grid.PROFILES`): ``epochs`` (max epochs), ``patience`` (early stopping;
None = no early stopping within ``epochs``), ``n_train``/``n_test`` (seeded subsample, None = the
loader's default), ``analysis_n`` (rows analysed), ``score_n_train``/``score_n_eval``
(FactorVAE/BetaVAE score samples), ``fgd_n_estimators``, ``dci_n_estimators``,
``download`` (fetch missing UCI files,
default True), ``data_root``, ``data_options`` (a dict of extra :func:`load_dataset` options,
e.g. planted's ``n_factors``), ``model`` (a dict of architecture config overrides) and
``analysis`` (a dict of extra :func:`circuitvae.analyze` keyword arguments); ``image`` (a dict
of the settings above that replace the others on image datasets).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from .columns import DOMAIN
from .runner import SkipRun


def _config_dict(model: Any) -> dict[str, Any]:
    cfg = getattr(model, "config", None)
    if dataclasses.is_dataclass(cfg):
        return {k: v for k, v in dataclasses.asdict(cfg).items() if k != "features"}
    return {}


def run_settings(spec: Any) -> dict[str, Any]:
    """The settings of one run: ``spec.hparams`` with its ``image`` entry applied on image
    datasets (and removed)."""
    hp = dict(spec.hparams)
    image_overrides = dict(hp.pop("image", None) or {})
    if DOMAIN.get(spec.dataset) == "image":
        hp.update(image_overrides)
    return hp


def train_and_analyze(spec: Any) -> dict[str, Any]:
    """Load the dataset, build and train ``spec.architecture`` with ``spec.seed``, run
    :func:`circuitvae.analyze`; return ``{"metrics", "config", "provenance", "analysis"}``.

    A dataset whose files are absent raises :class:`SkipRun` (the run is stored as skipped with
    the loader's message, which names the files and where they were looked for).
    """
    from ..metrics.analyze import METRIC_COLUMNS, analyze
    from ..zoo import build, train
    from ..zoo.data import MissingDataError, load_dataset
    hp = run_settings(spec)
    t0 = time.perf_counter()
    try:
        data = load_dataset(spec.dataset, hp.get("data_root"), hp.get("download", True),
                            seed=spec.seed, n_train=hp.get("n_train"), n_test=hp.get("n_test"),
                            **dict(hp.get("data_options") or {}))
    except MissingDataError as e:
        raise SkipRun(str(e)) from e
    t_data = time.perf_counter()

    model = build(spec.architecture, dataset=data, seed=spec.seed, **dict(hp.get("model") or {}))
    train_kw: dict[str, Any] = {"seed": spec.seed, "max_epochs": int(hp["epochs"])}
    if hp.get("patience") is not None:
        train_kw["patience"] = int(hp["patience"])
    if hp.get("batch_size") is not None:
        train_kw["batch_size"] = int(hp["batch_size"])
    model = train(model, data, verbose=False, **train_kw)
    t_train = time.perf_counter()

    row = analyze(model, data, n=int(hp.get("analysis_n", 1000)), seed=spec.seed,
                  n_score_train=int(hp.get("score_n_train", 10000)),
                  n_score_eval=int(hp.get("score_n_eval", 5000)),
                  fgd_n_estimators=int(hp.get("fgd_n_estimators", 100)),
                  dci_n_estimators=int(hp.get("dci_n_estimators", 100)),
                  **dict(hp.get("analysis") or {}))
    t_analyze = time.perf_counter()
    values = row.iloc[0].to_dict()
    metrics = {c: values.pop(c) for c in METRIC_COLUMNS if c in values}
    record = getattr(model, "training_record", {}) or {}
    return {
        "metrics": metrics,
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


def prepare_data(grid: Any) -> None:
    """Before the first run: make sure every downloadable (UCI) dataset of ``grid`` is on disk.

    On a networked machine this downloads the missing UCI files once; offline, with the files
    neither in ``data_root`` nor ``$CIRCUITVAE_DATA`` nor the cache, it stops the study at once
    with one message naming every missing file and where to put it, instead of recording
    dozens of skipped runs. Image datasets are not checked: absent ones are skipped run by run
    and listed in the report.
    """
    from ..protocol import CircuitVAEError
    from ..zoo.data import SPECS, MissingDataError, ensure_files

    problems = []
    seen: set[str] = set()
    for spec in grid.runs():
        if spec.dataset in seen or spec.dataset not in SPECS:
            continue
        seen.add(spec.dataset)
        hp = run_settings(spec)
        try:
            ensure_files(spec.dataset, hp.get("data_root"), hp.get("download", True))
        except MissingDataError as err:
            problems.append(str(err))
    if problems:
        raise CircuitVAEError("the study needs data files that are missing:\n\n"
                              + "\n\n".join(problems))


train_and_analyze.prepare = prepare_data  # type: ignore[attr-defined]

