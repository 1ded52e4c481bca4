"""The steps of :func:`~circuitvae.metrics.analyze.analyze`: each one reads the shared
:class:`~circuitvae.metrics.context.AnalysisContext` and returns its metric columns.

Every value equals the one of the metric's own function with the same settings (the tests check
it): the steps only reuse what the context already holds instead of drawing and encoding the
rows again.
"""

from __future__ import annotations

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


# --------------------------------------------------------------------------- when a step applies


def has_features(ctx: AnalysisContext) -> bool:
    """Tabular data with features (FGD)."""
    return features_of(ctx.dataset) is not None


def has_test_factors(ctx: AnalysisContext) -> bool:
    """A test split with ground-truth factors (DCI, MIG, SAP)."""
    return isinstance(ctx.dataset, DatasetLike) and factors_of(ctx.dataset.test) is not None


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
                      n_estimators=o.fgd_n_estimators, n_jobs=o.n_jobs)
    out = {"fgd": float(res.value)}
    if isinstance(ctx.dataset, GroupsFeatures):  # same trees, other grouping: no refit
        corr = ctx.dataset.feature_groups("correlation", o.seed)
        out["fgd_correlation"] = float(fgd_regroup(res, corr).value)
    return out


def factor_metrics(ctx: AnalysisContext) -> Values:
    """DCI, MIG and SAP of the encoded rows against the test split's factors."""
    from .dci import dci
    from .mig import mig
    from .sap import sap

    o = ctx.options
    test = ctx.dataset.test
    factors = np.asarray(factors_of(test))
    if len(factors) != int(test.x.shape[0]):
        raise CircuitVAEError(
            f"the test split has {int(test.x.shape[0])} rows but {len(factors)} rows of factors"
        )
    idx = sample_rows(len(factors), o.n, o.seed)  # the context's rows
    f = factors if idx is None else factors[idx]
    codes = ctx.posterior.mean.cpu().double().numpy()
    varying = [j for j in range(f.shape[1]) if len(np.unique(f[:, j])) > 1]
    f = f[:, varying]  # constant factors (dSprites colour) are dropped, as dlib does
    res = dci(codes, f, seed=o.seed, n_estimators=o.dci_n_estimators, n_jobs=o.n_jobs)
    return {"dci_disentanglement": float(res.disentanglement),
            "dci_completeness": float(res.completeness),
            "dci_informativeness": float(res.informativeness_test),
            "mig": float(mig(codes, f).value),
            "sap": float(sap(codes, f, seed=o.seed).value)}


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


def code_swaps(ctx: AnalysisContext) -> Values:
    """Code-swap CES and specificity of a vector-quantized model's encoded rows."""
    from .discrete import code_swap_of_rows

    o = ctx.options
    res = code_swap_of_rows(ctx.model, ctx.posterior, ctx.dataset, seed=o.seed,
                            n_entries=o.vq_entries, max_batch_rows=o.max_batch_rows)
    return {"vq_ces_swap": res.ces, "vq_specificity_swap": res.specificity}
