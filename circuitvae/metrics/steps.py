"""The steps of :func:`~circuitvae.metrics.analyze.analyze`: each one reads the shared
:class:`~circuitvae.metrics.context.AnalysisContext` and returns its metric columns.

Every value equals the one of the metric's own function with the same settings (the tests check
it): the steps only reuse what the context already holds instead of drawing and encoding the
rows again.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..interventions.input import activation_profiles_unchecked, resolve_groups
from ..protocol import (
    CircuitVAEError,
    DatasetLike,
    GroupsFeatures,
    factors_of,
    features_of,
    is_factor_dataset,
    sample_rows,
)
from .ces import ces_of_sweep
from .context import AnalysisContext
from .modularity import profile_modularity
from .specificity import group_effects, specificity_from_effects

NAN = float("nan")
Values = dict[str, float]

#: the sigma_eff scales besides the default whose CES and specificity every analysis reports
VARIANT_SCALES = ("total", "posterior")


# --------------------------------------------------------------------------- when a step applies


def has_features(ctx: AnalysisContext) -> bool:
    """Tabular data with features (FGD)."""
    return features_of(ctx.dataset) is not None


def has_factors(ctx: AnalysisContext) -> bool:
    """A factor dataset, or a test split with ground-truth factors (DCI, MIG, SAP)."""
    return is_factor_dataset(ctx.dataset) or (
        isinstance(ctx.dataset, DatasetLike) and factors_of(ctx.dataset.test) is not None)


def samples_factors(ctx: AnalysisContext) -> bool:
    """A factor dataset (FactorVAE and BetaVAE scores)."""
    return is_factor_dataset(ctx.dataset)


def swaps_groups(ctx: AnalysisContext) -> bool:
    """Not a factor dataset: the input manipulations swap feature groups (random and
    correlation groupings)."""
    return not is_factor_dataset(ctx.dataset)


def has_calibrated_sweep(ctx: AnalysisContext) -> bool:
    """The calibrated sweep ran (the ``ces`` step computes it)."""
    return ctx.computed("calibrated")


def is_tabular(ctx: AnalysisContext) -> bool:
    """Rows of columns (N, D) of a dataset with a train split (imputation and corruption
    detection: the fill values are training means and modes)."""
    return ctx.x.ndim == 2 and isinstance(ctx.dataset, DatasetLike)


def is_discrete(ctx: AnalysisContext) -> bool:
    """A vector-quantized model (code swaps)."""
    return ctx.discrete


# --------------------------------------------------------------------------- steps


def ces(ctx: AnalysisContext) -> Values:
    """CES of the calibrated and the fixed-range sweep (:func:`~circuitvae.metrics.ces.ces`)."""
    o = ctx.options

    def value(stats: Any, calibrated: bool) -> float:
        return ces_of_sweep(stats, ctx.sigma_eff, calibrated=calibrated, scale=o.scale,
                            reduction="rms", n=ctx.n, seed=o.seed, r=o.r, k=o.k).value

    out = {"ces_calibrated": value(ctx.calibrated, True),
           "sigma_eff_mean": float(ctx.sigma_eff.mean())}
    if "ces_fixed" in ctx.wanted:
        out["ces_fixed"] = value(ctx.fixed, False)
    return out


def scales(ctx: AnalysisContext) -> Values:
    """CES and specificity with sigma_eff at the other documented scales, for the sensitivity
    of every finding to that choice [methods.md section 2]: ``ces_calibrated_<scale>`` and
    ``specificity_<scale>`` for ``scale`` in :data:`VARIANT_SCALES` (the analysis' own scale
    reuses its sweep)."""
    o = ctx.options
    out: Values = {}
    groups = None
    failed = []
    for scale in VARIANT_SCALES:
        wanted = {f"ces_calibrated_{scale}", f"specificity_{scale}"} & ctx.wanted
        if not wanted:
            continue
        try:
            stats, sig = ctx.calibrated_at(scale)
        except CircuitVAEError as err:  # e.g. "posterior" of an encoder without log-variance
            failed.append(f"{scale}: {err}")
            continue
        if f"ces_calibrated_{scale}" in ctx.wanted:
            out[f"ces_calibrated_{scale}"] = ces_of_sweep(
                stats, sig, calibrated=True, scale=scale, reduction="rms", n=ctx.n,
                seed=o.seed, r=o.r, k=o.k).value
        if f"specificity_{scale}" in ctx.wanted:
            if groups is None:
                groups = resolve_groups(ctx.dataset, None, stats.sq.shape[1], seed=o.seed)
            out[f"specificity_{scale}"] = specificity_from_effects(
                group_effects(stats.sq, groups))[0]
    if failed and not out:
        raise CircuitVAEError("; ".join(failed))
    if failed:  # the other scale's values are kept; the reason goes into `skipped`
        warnings.warn("scales: " + "; ".join(failed), UserWarning, stacklevel=2)
    return out


def specificity(ctx: AnalysisContext) -> Values:
    """Specificity and the Ridgeway modularity of the calibrated sweep's effects, and the
    latent-level modularity of its decoder activations."""
    from .ridgeway import ridgeway_modularity

    cal = ctx.calibrated
    groups = resolve_groups(ctx.dataset, None, cal.sq.shape[1], seed=ctx.options.seed)
    effects = group_effects(cal.sq, groups)
    out = {"specificity": specificity_from_effects(effects)[0],
           "modularity_ridgeway": ridgeway_modularity(effects).value}
    if ctx.decoder_sites:
        acts = np.concatenate([cal.activations[s] for s in ctx.decoder_sites], axis=1)
        out["modularity_latent"] = profile_modularity(acts)
    return out


def _modularity(ctx: AnalysisContext, groups: Any, column: str, *,
                variants: bool = False) -> Values:
    """Circuit modularity of the activation profiles of ``groups``; with ``variants`` also per
    part (encoder, decoder) and of the signed profiles."""
    o = ctx.options
    x, manipulated = ctx.manipulations(groups)
    sites = ctx.hidden_sites
    names = [s.name for s in sites]
    prof = activation_profiles_unchecked(ctx.model, x, manipulated, sites=names,
                                         max_batch_rows=o.max_batch_rows, verbose=o.verbose)
    out = {column: profile_modularity(prof.concatenated())}
    if variants:
        for part in ("encoder", "decoder"):
            in_part = [s.name for s in sites if s.part == part]
            out[f"modularity_{part}"] = (
                profile_modularity(prof.concatenated(in_part)) if in_part else NAN
            )
        if "modularity_signed" in ctx.wanted:
            signed = activation_profiles_unchecked(ctx.model, x, manipulated, sites=names,
                                                   profile="signed",
                                                   max_batch_rows=o.max_batch_rows)
            out["modularity_signed"] = profile_modularity(signed.concatenated())
    return out


def modularity(ctx: AnalysisContext) -> Values:
    """Modularity of the default (semantic, or factor) grouping, per part and signed."""
    return _modularity(ctx, None, "modularity", variants=True)


def modularity_random(ctx: AnalysisContext) -> Values:
    """Modularity of the random control grouping."""
    return _modularity(ctx, "random", "modularity_random")


def modularity_correlation(ctx: AnalysisContext) -> Values:
    """Modularity of the correlation grouping."""
    return _modularity(ctx, "correlation", "modularity_correlation")


def fgd(ctx: AnalysisContext) -> Values:
    """FGD of the semantic feature groups, and of the correlation groups from the same trees."""
    from .fgd import DEFAULT_BATCH_SIZE, fgd_groups, fgd_of_rows, fgd_regroup

    o = ctx.options
    features, groups = fgd_groups(ctx.dataset)
    codes = ctx.encoding(DEFAULT_BATCH_SIZE).mean
    res = fgd_of_rows(ctx.x, codes, features, groups, seed=o.seed,
                      n_estimators=o.fgd_n_estimators, estimator=o.estimator, n_jobs=o.n_jobs)
    out = {"fgd": float(res.value)}
    if isinstance(ctx.dataset, GroupsFeatures):  # same trees, other grouping: no refit
        corr = ctx.dataset.feature_groups("correlation", o.seed)
        out["fgd_correlation"] = float(fgd_regroup(res, corr).value)
    return out


def factor_metrics(ctx: AnalysisContext) -> Values:
    """DCI, MIG and SAP on their own samples: ``n_score_train`` training and ``n_score_eval``
    test points [paper: disentanglement_lib's study sizes, 10000 / 5000].

    A ground-truth dataset (a factor sampler) draws fresh factors and renders them, as
    disentanglement_lib does; a dataset with factors on its test split only takes up to
    ``n_score_train + n_score_eval`` rows of it (seeded), split in that proportion. MIG uses the
    training points (as the reference); DCI and SAP train on them and score on the test points.
    Factors constant over the training points (dSprites' colour) are dropped, as dlib does.
    """
    from ._ground_truth import random_state, representation_function, sample_codes
    from .dci import dci
    from .mig import mig
    from .sap import sap

    o = ctx.options
    if is_factor_dataset(ctx.dataset):
        rep = representation_function(ctx.model)
        rs = random_state(o.seed)
        codes, f = sample_codes(ctx.dataset, rep, o.n_score_train, rs)
        codes_test, f_test = sample_codes(ctx.dataset, rep, o.n_score_eval, rs)
    else:
        codes, f, codes_test, f_test = _test_split_factor_codes(ctx)
    varying = [j for j in range(f.shape[1]) if len(np.unique(f[:, j])) > 1]
    f, f_test = f[:, varying], f_test[:, varying]
    res = dci(codes, f, codes_test=codes_test, factors_test=f_test, seed=o.seed,
              n_estimators=o.dci_n_estimators, estimator=o.estimator, n_jobs=o.n_jobs)
    return {"dci_disentanglement": float(res.disentanglement),
            "dci_completeness": float(res.completeness),
            "dci_informativeness": float(res.informativeness_test),
            "mig": float(mig(codes, f).value),
            "sap": float(sap(codes, f, codes_test=codes_test, factors_test=f_test,
                             seed=o.seed).value)}


def _test_split_factor_codes(ctx: AnalysisContext) -> tuple[np.ndarray, ...]:
    """Codes and factors of up to ``n_score_train + n_score_eval`` seeded test-split rows, cut
    into a training and a test part in the proportion ``n_score_train : n_score_eval``."""
    from ._ground_truth import encode_means

    o = ctx.options
    test = ctx.dataset.test
    factors = np.asarray(factors_of(test))
    if len(factors) != int(test.x.shape[0]):
        raise CircuitVAEError(
            f"the test split has {int(test.x.shape[0])} rows but {len(factors)} rows of factors"
        )
    total = o.n_score_train + o.n_score_eval
    idx = sample_rows(len(factors), total, o.seed)
    idx = np.arange(len(factors)) if idx is None else idx
    if len(idx) < 4:
        raise CircuitVAEError(f"DCI, MIG and SAP need at least 4 rows with factors, got "
                              f"{len(idx)}")
    n_train = min(len(idx) - 1, max(2, round(len(idx) * o.n_score_train / total)))
    order = np.random.default_rng([o.seed, 11]).permutation(idx)
    tr, te = np.sort(order[:n_train]), np.sort(order[n_train:])
    codes = encode_means(ctx.model, test.x[tr])
    codes_test = encode_means(ctx.model, test.x[te])
    return codes, factors[tr], codes_test, factors[te]


def sampling_scores(ctx: AnalysisContext) -> Values:
    """The FactorVAE and BetaVAE scores (their own samples of the factor dataset)."""
    from ._ground_truth import representation_function
    from .beta_vae_score import beta_vae_score
    from .factor_vae_score import factor_vae_score

    o = ctx.options
    rep = representation_function(ctx.model)
    fv = factor_vae_score(ctx.dataset, rep, seed=o.seed, n_train=o.n_score_train,
                          n_eval=o.n_score_eval, n_variance_estimate=o.n_score_train)
    bv = beta_vae_score(ctx.dataset, rep, seed=o.seed, n_train=o.n_score_train,
                        n_eval=o.n_score_eval)
    return {"factor_vae_score": float(fv.value), "beta_vae_score": float(bv.value)}


def mse(ctx: AnalysisContext) -> Values:
    """Reconstruction MSE of the rows, with the numeric/categorical breakdown."""
    from .reconstruction import reconstruction_of_rows

    res = reconstruction_of_rows(ctx.model, ctx.x, features_of(ctx.dataset),
                                 max_batch_rows=ctx.options.max_batch_rows)
    return {"mse": res.value, "mse_numeric": res.per_type.get("numeric", NAN),
            "mse_categorical": res.per_type.get("categorical", NAN)}


def auc(ctx: AnalysisContext) -> Values:
    """Downstream AUC (its own train and test rows)."""
    from .downstream import downstream_auc

    o = ctx.options
    return {"auc": downstream_auc(ctx.model, ctx.dataset, n_train=o.n_auc_train, seed=o.seed,
                                  max_batch_rows=o.max_batch_rows).value}


def imputation(ctx: AnalysisContext) -> Values:
    """Imputation RMSE / accuracy of 20% masked entries of the rows, beside the mean / mode
    fill (:mod:`~circuitvae.metrics.imputation`)."""
    from ..protocol import check_input
    from .imputation import imputation_of_rows

    o = ctx.options
    x_train = check_input(ctx.model, ctx.dataset.train.x, name="train.x")
    res = imputation_of_rows(ctx.model, ctx.x, x_train, features_of(ctx.dataset), seed=o.seed,
                             max_batch_rows=o.max_batch_rows)
    return {"impute_rmse": res.rmse, "impute_rmse_baseline": res.rmse_baseline,
            "impute_accuracy": res.accuracy, "impute_accuracy_baseline": res.accuracy_baseline}


def corruption(ctx: AnalysisContext) -> Values:
    """Anomaly ROC AUC / PR AUC of the reconstruction error on the rows with 10% corrupted
    (:mod:`~circuitvae.metrics.corruption`)."""
    from .corruption import corruption_detection_of_rows, detection_groups

    o = ctx.options
    res = corruption_detection_of_rows(ctx.model, ctx.x,
                                       detection_groups(ctx.dataset, ctx.x.shape[1]),
                                       seed=o.seed, max_batch_rows=o.max_batch_rows)
    return {"anomaly_roc_auc": res.roc_auc, "anomaly_pr_auc": res.pr_auc}


def code_swaps(ctx: AnalysisContext) -> Values:
    """Code-swap CES and specificity of a vector-quantized model's encoded rows."""
    from .discrete import code_swap_of_rows

    o = ctx.options
    res = code_swap_of_rows(ctx.model, ctx.posterior, ctx.dataset, seed=o.seed,
                            n_entries=o.vq_entries, max_batch_rows=o.max_batch_rows)
    return {"vq_ces_swap": res.ces, "vq_specificity_swap": res.specificity}
