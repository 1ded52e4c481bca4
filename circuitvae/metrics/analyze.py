"""Every metric for one model, as one tidy DataFrame row."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..interventions._batching import encode_all, hidden_sites
from ..interventions.input import activation_profiles, is_factor_dataset, manipulations
from ..interventions.latent import Scale, latent_sweep, offset_grid, sigma_eff
from ..protocol import CircuitVAEError, DiscretePosterior, check_vae, resolve_inputs
from .modularity import profile_modularity
from .specificity import group_effects, specificity_from_effects

NAN = float("nan")

#: The metric columns of :func:`analyze`, in order (settings and provenance columns follow).
METRIC_COLUMNS = (
    "ces_calibrated", "ces_fixed", "sigma_eff_mean", "specificity",
    "modularity", "modularity_random", "modularity_correlation", "modularity_signed",
    "modularity_encoder", "modularity_decoder", "modularity_latent", "modularity_ridgeway",
    "fgd", "fgd_correlation",
    "dci_disentanglement", "dci_completeness", "dci_informativeness", "mig", "sap",
    "factor_vae_score", "beta_vae_score",
    "mse", "mse_numeric", "mse_categorical", "auc",
    "vq_ces_swap", "vq_specificity_swap",
)

#: The steps of :func:`analyze` and the metric columns each one fills.
STEPS: dict[str, tuple[str, ...]] = {
    "ces": ("ces_calibrated", "ces_fixed", "sigma_eff_mean"),
    "specificity": ("specificity", "modularity_ridgeway", "modularity_latent"),
    "modularity": ("modularity", "modularity_encoder", "modularity_decoder", "modularity_signed"),
    "modularity_random": ("modularity_random",),
    "modularity_correlation": ("modularity_correlation",),
    "fgd": ("fgd", "fgd_correlation"),
    "dci/mig/sap": ("dci_disentanglement", "dci_completeness", "dci_informativeness", "mig",
                    "sap"),
    "factor_vae/beta_vae": ("factor_vae_score", "beta_vae_score"),
    "mse": ("mse", "mse_numeric", "mse_categorical"),
    "auc": ("auc",),
    "vq": ("vq_ces_swap", "vq_specificity_swap"),
}

#: ``metrics="interventional"``: the metrics that cost forward passes and arithmetic only, no
#: fitted estimator (FGD and DCI fit gradient-boosted trees, MIG and SAP histograms and
#: thresholds on factors, the FactorVAE/BetaVAE scores classifiers, AUC a logistic regression).
INTERVENTIONAL: tuple[str, ...] = (
    *STEPS["ces"], *STEPS["specificity"], *STEPS["modularity"], *STEPS["modularity_random"],
    *STEPS["modularity_correlation"], *STEPS["mse"], *STEPS["vq"],
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
    (:func:`~circuitvae.metrics.ces.ces`), specificity, circuit modularity with semantic
    (``modularity``), random and correlation groupings, signed profiles, encoder/decoder
    layers, latent level and the Ridgeway variant (:func:`~.modularity.modularity`); FGD with
    semantic and correlation groups (tabular); DCI, MIG, SAP on the test split's factors when
    present, FactorVAE and BetaVAE scores on factor datasets (``n_score_train`` /
    ``n_score_eval`` samples; lower them, ``fgd_n_estimators`` and ``dci_n_estimators``
    (trees per gradient-boosting fit, sklearn's 100 by default), for a quick run);
    reconstruction MSE with its numeric/categorical breakdown; downstream AUC; code-swap
    CES/specificity for a vector-quantized model (whose continuous metrics then run on z_e, as
    the papers report both). Shared work is done once: one calibrated sweep feeds CES,
    specificity, latent-level and Ridgeway modularity; one profile run feeds the layer
    variants.

    ``n_jobs`` runs the per-feature / per-factor tree fits of FGD and DCI in parallel threads
    (same numbers; leave it at 1 inside a multi-process study).

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
    wanted = select_metrics(metrics)
    row: dict[str, Any] = dict.fromkeys(METRIC_COLUMNS, NAN)
    skipped: list[str] = []

    def asked(step: str) -> bool:
        return not wanted.isdisjoint(STEPS[step])

    def attempt(names: str, fn: Callable[[], dict[str, float]], *,
                needed: bool | None = None) -> None:
        if not (asked(names) if needed is None else needed):
            return
        try:
            row.update({k: v for k, v in fn().items() if k in wanted})
        except Exception as err:  # noqa: BLE001 - a metric that fails is reported, not fatal
            if strict:
                raise
            skipped.append(f"{names}: {type(err).__name__}: {str(err)[:160]}")

    x = resolve_inputs(dataset, model, n=n, seed=seed)
    post = encode_all(model, x, max_batch_rows=max_batch_rows)
    discrete = isinstance(post, DiscretePosterior)
    d = post.mean.shape[1]
    sig = sigma_eff(posterior=post, scale=scale)
    state: dict[str, Any] = {}
    steps = tqdm(total=8, desc="analyze", disable=not verbose, leave=False)

    def sweeps() -> dict[str, float]:
        dec_sites = tuple(s.name for s in hidden_sites(model, "decoder"))
        cal = latent_sweep(model, post.mean, offset_grid(d, k, r, sig),
                           capture=dec_sites if asked("specificity") else (),
                           max_batch_rows=max_batch_rows, verbose=verbose)
        state["cal"], state["dec_sites"] = cal, dec_sites
        out = {"ces_calibrated": float(cal.rms.mean(axis=1).mean()),
               "sigma_eff_mean": float(sig.mean())}
        if "ces_fixed" in wanted:
            fix = latent_sweep(model, post.mean, offset_grid(d, k, r),
                               max_batch_rows=max_batch_rows, verbose=verbose)
            out["ces_fixed"] = float(fix.rms.mean(axis=1).mean())
        return out

    # one calibrated sweep feeds CES and specificity
    attempt("ces", sweeps, needed=asked("ces") or asked("specificity"))
    steps.update()

    def spec() -> dict[str, float]:
        from ..interventions.input import resolve_groups
        from .ridgeway import ridgeway_modularity

        cal = state["cal"]
        effects = group_effects(cal.sq, resolve_groups(dataset, None, cal.sq.shape[1],
                                                       seed=seed))
        out = {"specificity": specificity_from_effects(effects)[0]}
        rid = ridgeway_modularity(effects)
        out["modularity_ridgeway"] = float(getattr(rid, "value", rid))
        if state["dec_sites"]:
            acts = np.concatenate([cal.activations[s] for s in state["dec_sites"]], axis=1)
            out["modularity_latent"] = profile_modularity(acts)
        return out

    if "cal" in state:
        attempt("specificity", spec)
    steps.update()

    def modularities(groups: Any, column: str, variants: bool) -> Callable[[], dict]:
        def fn() -> dict[str, float]:
            xb, var = manipulations(model, dataset, groups, n=n, seed=seed)
            sites = hidden_sites(model, "all")
            prof = activation_profiles(model, xb, var, sites=[s.name for s in sites],
                                       max_batch_rows=max_batch_rows, verbose=verbose)
            out = {column: profile_modularity(prof.concatenated())}
            if variants:
                for part in ("encoder", "decoder"):
                    names = [s.name for s in sites if s.part == part]
                    out[f"modularity_{part}"] = (
                        profile_modularity(prof.concatenated(names)) if names else NAN
                    )
                if "modularity_signed" in wanted:
                    signed = activation_profiles(model, xb, var, sites=[s.name for s in sites],
                                                 profile="signed",
                                                 max_batch_rows=max_batch_rows)
                    out["modularity_signed"] = profile_modularity(signed.concatenated())
            return out
        return fn

    factor_data = is_factor_dataset(dataset)
    attempt("modularity", modularities(None, "modularity", True))
    steps.update()
    if not factor_data:
        attempt("modularity_random", modularities("random", "modularity_random", False))
        attempt("modularity_correlation",
                modularities("correlation", "modularity_correlation", False))
    steps.update()

    if getattr(dataset, "features", None):
        def fgds() -> dict[str, float]:
            from .fgd import fgd, fgd_regroup

            res = fgd(model, dataset, n=n, seed=seed, n_estimators=fgd_n_estimators,
                      n_jobs=n_jobs)
            out = {"fgd": float(res.value)}
            by_kind = getattr(dataset, "feature_groups", None)
            if callable(by_kind):  # same trees, other grouping: no refit
                corr = by_kind("correlation", seed)
                out["fgd_correlation"] = float(fgd_regroup(res, corr).value)
            return out

        attempt("fgd", fgds)
    steps.update()

    test = getattr(dataset, "test", None)
    if test is not None and getattr(test, "factors", None) is not None:
        def factor_metrics() -> dict[str, float]:
            from .dci import dci
            from .mig import mig
            from .sap import sap

            factors = np.asarray(test.factors)
            idx = np.arange(len(factors))
            if len(idx) > n:
                idx = np.sort(np.random.default_rng(seed).choice(len(idx), n, replace=False))
            codes = encode_all(model, resolve_inputs(test.x[idx], model),
                               max_batch_rows=max_batch_rows).mean.cpu().double().numpy()
            f = factors[idx]
            varying = [j for j in range(f.shape[1]) if len(np.unique(f[:, j])) > 1]
            f = f[:, varying]  # constant factors (dSprites colour) are dropped, as dlib does
            res = dci(codes, f, seed=seed, n_estimators=dci_n_estimators, n_jobs=n_jobs)
            return {"dci_disentanglement": float(res.disentanglement),
                    "dci_completeness": float(res.completeness),
                    "dci_informativeness": float(res.informativeness_test),
                    "mig": float(mig(codes, f).value),
                    "sap": float(sap(codes, f, seed=seed).value)}

        attempt("dci/mig/sap", factor_metrics)
    if factor_data:
        def scores() -> dict[str, float]:
            from ._ground_truth import representation_function
            from .beta_vae_score import beta_vae_score
            from .factor_vae_score import factor_vae_score

            rep = representation_function(model)
            fv = factor_vae_score(dataset, rep, seed=seed, n_train=n_score_train,
                                  n_eval=n_score_eval, n_variance_estimate=n_score_train)
            bv = beta_vae_score(dataset, rep, seed=seed, n_train=n_score_train,
                                n_eval=n_score_eval)
            return {"factor_vae_score": float(fv.value), "beta_vae_score": float(bv.value)}

        attempt("factor_vae/beta_vae", scores)
    steps.update()

    def mse() -> dict[str, float]:
        from .reconstruction import reconstruction

        res = reconstruction(model, dataset, n=n, seed=seed, max_batch_rows=max_batch_rows)
        return {"mse": res.value, "mse_numeric": res.per_type.get("numeric", NAN),
                "mse_categorical": res.per_type.get("categorical", NAN)}

    def auc() -> dict[str, float]:
        from .downstream import downstream_auc

        return {"auc": downstream_auc(model, dataset, n_train=n_auc_train, seed=seed,
                                      max_batch_rows=max_batch_rows).value}

    attempt("mse", mse)
    attempt("auc", auc)
    steps.update()
    if discrete:
        def vq() -> dict[str, float]:
            from .discrete import code_swap

            res = code_swap(model, dataset, n=n, seed=seed, n_entries=vq_entries,
                            max_batch_rows=max_batch_rows)
            return {"vq_ces_swap": res.ces, "vq_specificity_swap": res.specificity}

        attempt("vq", vq)
    steps.update()
    steps.close()
    row.update(_settings(model, dataset, n=int(x.shape[0]), seed=seed, r=r, k=k, scale=scale,
                         discrete=discrete, max_batch_rows=max_batch_rows,
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

    from .. import __version__

    return {
        "model": type(model).__name__,
        "dataset": str(getattr(dataset, "name", type(dataset).__name__)),
        "latent_dim": int(getattr(model, "latent_dim", -1)),
        "discrete": kw.pop("discrete"),
        **kw,
        "max_batch_rows": kw.get("max_batch_rows") or -1,
        "reduction": "rms",
        "circuitvae_version": __version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "sklearn_version": sklearn.__version__,
    }
