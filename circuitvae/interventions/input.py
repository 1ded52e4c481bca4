"""Level 1, input manipulation: change one factor or feature group, record what responds.

* tabular: :func:`swap_group` replaces a feature group's columns with those of another random
  row of X (seeded), keeping the rest;
* images: :func:`resample_factor` resamples one ground-truth factor through the dataset's
  ``sample_factors`` / ``sample_observations_from_factors``, keeping the others;
* :func:`random_grouping` is the control: groups of the same sizes from shuffled columns;
* :func:`responses` records the change of mu, of every hidden activation and of x_hat;
* :func:`activation_profiles` gives the per-unit activation-change profiles a_g that
  circuit modularity correlates.

Groups are resolved by :func:`resolve_groups` from a dataset (``group_columns(kind, seed)``,
``features``/``groups``: the capabilities of :mod:`circuitvae.protocol`) or an explicit mapping
name -> columns, validated as a partition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from ..hooks import run_unchecked
from ..protocol import (
    CircuitVAEError,
    ColumnGroups,
    GroupsColumns,
    check_input,
    column_groups,
    factor_names_of,
    feature_groups_of,
    features_of,
    is_factor_dataset,
    resolve_inputs,
)
from ..sitemap import check_sites, site_table
from .batching import chunk_rows, chunks, hidden_sites

GroupSpec = str | Mapping[str, Sequence[int]] | ColumnGroups | None

# --------------------------------------------------------------------------- groups


def random_grouping(groups: ColumnGroups, n_columns: int, seed: int = 0) -> ColumnGroups:
    """The control grouping: groups with the sizes of ``groups``, filled with shuffled columns."""
    perm = np.random.default_rng(seed).permutation(n_columns)
    out: dict[str, list[int]] = {}
    start = 0
    for i, cols in enumerate(groups.columns):
        out[f"random_{i}"] = sorted(int(c) for c in perm[start:start + len(cols)])
        start += len(cols)
    return column_groups(out, n_columns)


def _feature_blocks(data: Any) -> dict[str, list[int]] | None:
    features = features_of(data)
    if features is None:
        return None
    return {f.name: list(f.columns) for f in features}


def _semantic_from_features(data: Any) -> dict[str, list[int]] | None:
    blocks = _feature_blocks(data)
    named = feature_groups_of(data)
    if blocks is None or named is None:
        return None
    out: dict[str, list[int]] = {}
    for gname, feats in named.items():
        cols: list[int] = []
        for f in feats:
            if f not in blocks:
                raise CircuitVAEError(f"group {gname!r} names unknown feature {f!r}")
            cols.extend(blocks[f])
        out[gname] = cols
    return out


def resolve_groups(
    data: Any, groups: GroupSpec, n_columns: int, *, seed: int = 0, default: str = "semantic"
) -> ColumnGroups:
    """Turn a grouping spec into a validated partition of ``n_columns`` columns.

    ``groups`` is a mapping name -> columns, a :class:`ColumnGroups`, or a string:
    ``"semantic"``, ``"correlation"``, ``"random"`` (asked of ``data.group_columns(kind, seed)``
    when the dataset offers it; else built from ``data.features``/``data.groups``, random being
    :func:`random_grouping` of the semantic sizes), ``"features"`` (one group per feature, a
    categorical's one-hot block counted once) or ``"elements"`` (every column its own group).
    ``None`` uses ``default`` when the data has features, else ``"elements"``.
    Groups that overlap or do not cover the columns are rejected.
    """
    if groups is None:
        has_features = features_of(data) is not None or isinstance(data, GroupsColumns)
        groups = default if has_features else "elements"
    if isinstance(groups, ColumnGroups):
        return column_groups(dict(zip(groups.names, groups.columns, strict=True)), n_columns)
    if isinstance(groups, Mapping):
        return column_groups(groups, n_columns)
    if not isinstance(groups, str):
        raise CircuitVAEError(
            f"groups must be a mapping name -> columns or a string, got {type(groups).__name__}"
        )
    if groups == "elements":
        return column_groups({str(i): [i] for i in range(n_columns)}, n_columns)
    if groups == "features":
        blocks = _feature_blocks(data)
        if blocks is None:
            raise CircuitVAEError("groups='features' needs a dataset with .features")
        return column_groups(blocks, n_columns)
    if groups not in ("semantic", "correlation", "random"):
        raise CircuitVAEError(
            f"unknown grouping {groups!r}; choose semantic, correlation, random, features, "
            "elements or pass a mapping name -> columns"
        )
    if isinstance(data, GroupsColumns):
        got = data.group_columns(groups, seed)
        return resolve_groups(data, got, n_columns, seed=seed)
    semantic = _semantic_from_features(data)
    if semantic is None:
        raise CircuitVAEError(
            f"groups={groups!r} needs a dataset with feature groups (group_columns(), or "
            ".features and .groups); this data has none. Pass a mapping name -> columns"
        )
    sem = column_groups(semantic, n_columns)
    if groups == "semantic":
        return sem
    if groups == "random":
        return random_grouping(sem, n_columns, seed)
    raise CircuitVAEError(
        "groups='correlation' needs a dataset offering group_columns('correlation', seed)"
    )


# --------------------------------------------------------------------------- manipulations


def partner_rows(n: int, seed: int = 0) -> np.ndarray:
    """For each row i a random other row (never i itself when n > 1), seeded."""
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return (np.arange(n) + rng.integers(1, n, size=n)) % n


def swap_group(x: Tensor, columns: Sequence[int], seed: int = 0) -> Tensor:
    """``x`` with ``columns`` replaced by those of a random other row of ``x`` (seeded)."""
    partner = torch.as_tensor(partner_rows(x.shape[0], seed), device=x.device)
    cols = torch.as_tensor(list(columns), dtype=torch.long, device=x.device)
    out = x.clone()
    out[:, cols] = x[partner][:, cols]
    return out


def resample_factor(
    data: Any, factor: int, n: int, seed: int = 0, *, base_factors: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, Any, Any]:
    """Pairs differing only in ground-truth factor ``factor``.

    Returns ``(factors, factors_prime, x, x_prime)``; ``factors_prime[:, factor]`` is a value
    different from ``factors[:, factor]`` drawn uniformly among the others [our choice: the
    factor always changes], the other factors are kept. Observations come from
    ``data.sample_observations_from_factors(factors, rng)`` with a numpy Generator ``rng``.
    """
    rng = np.random.default_rng(seed)
    sizes = np.asarray(data.factor_sizes)
    base = (
        np.asarray(data.sample_factors(n, rng)) if base_factors is None else base_factors
    )
    prime = base.copy()
    size = int(sizes[factor])
    if size > 1:
        prime[:, factor] = (base[:, factor] + rng.integers(1, size, size=len(base))) % size
    x = data.sample_observations_from_factors(base, rng)
    x_prime = data.sample_observations_from_factors(prime, rng)
    return base, prime, x, x_prime


def manipulations(
    model: Any,
    data: Any,
    groups: GroupSpec = None,
    *,
    n: int | None = 1000,
    seed: int = 0,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The base inputs X and, per factor/group, the manipulated inputs X'_g.

    Factor datasets (``sample_factors`` ...) with ``groups`` ``None``/``"factors"`` or a list of
    factor indices: one variant per ground-truth factor, from a common base sample
    (:func:`factor_manipulations`). Otherwise tabular: X = ``n`` rows of the test split, one
    variant per group of :func:`resolve_groups` (the swap of that group with a random other
    row, :func:`group_manipulations`).
    """
    if uses_factors(data, groups):
        return factor_manipulations(model, data, groups, n=n, seed=seed)
    x = resolve_inputs(data, model, n=n, seed=seed)
    return x, group_manipulations(x, data, groups, seed=seed)


def uses_factors(data: Any, groups: Any) -> bool:
    """Whether :func:`manipulations` resamples ground-truth factors for this grouping."""
    return is_factor_dataset(data) and (
        groups in (None, "factors") or (isinstance(groups, Sequence) and not isinstance(
            groups, str))
    )


def factor_manipulations(
    model: Any, data: Any, groups: Any = None, *, n: int | None = 1000, seed: int = 0
) -> tuple[Tensor, dict[str, Tensor]]:
    """Base observations of ``n`` sampled factor rows and, per factor (all, or the indices in
    ``groups``), the observations with that factor resampled (:func:`resample_factor`)."""
    sizes = list(data.factor_sizes)
    which = range(len(sizes)) if groups in (None, "factors") else list(groups)
    names = factor_names_of(data) or [f"factor_{i}" for i in range(len(sizes))]
    rng = np.random.default_rng(seed)
    base = np.asarray(data.sample_factors(n or 1000, rng))
    variants: dict[str, Tensor] = {}
    x = None
    for f in which:
        _, _, xb, xp = resample_factor(data, int(f), len(base), seed + 1 + int(f),
                                       base_factors=base)
        if x is None:
            x = resolve_inputs(xb, model)
        variants[names[int(f)]] = resolve_inputs(xp, model)
    assert x is not None
    return x, variants


def group_manipulations(
    x: Tensor, data: Any, groups: GroupSpec = None, *, seed: int = 0
) -> dict[str, Tensor]:
    """Per group of :func:`resolve_groups` over the columns of the tabular rows ``x`` (already
    checked), ``x`` with that group's columns swapped with another row's (seed ``seed + i``)."""
    if x.ndim != 2:
        raise CircuitVAEError(
            "feature-group swaps need tabular (N, columns) inputs; for images pass a dataset "
            "with ground-truth factors (sample_factors / sample_observations_from_factors)"
        )
    if groups is None and features_of(data) is None and not isinstance(data, GroupsColumns):
        raise CircuitVAEError(
            "input manipulation needs groups of columns, and this data declares none (no "
            "features= and groups=, no ground-truth factors). Pass groups= (a mapping name -> "
            "columns), declare them with circuitvae.Dataset(..., features=..., groups=...), "
            "or opt in to one group per column with groups='elements'"
        )
    cg = resolve_groups(data, groups, int(np.prod(x.shape[1:])), seed=seed)
    return {
        name: swap_group(x, cols, seed + i)
        for i, (name, cols) in enumerate(zip(cg.names, cg.columns, strict=True))
    }


# --------------------------------------------------------------------------- responses


@dataclass(frozen=True)
class Responses:
    """Changes caused by an input manipulation, one row per input pair (numpy).

    ``mu``: ``(N, d)`` mu(x') - mu(x); ``output``: ``(N, *out)`` x_hat' - x_hat;
    ``activations``: site -> ``(N, *unit_shape)`` change of the site's output.
    """

    mu: np.ndarray
    output: np.ndarray
    activations: dict[str, np.ndarray]


def responses(
    model: Any,
    x: Any,
    x_prime: Any,
    *,
    sites: Sequence[str] | None = None,
    max_batch_rows: int | None = None,
) -> Responses:
    """The response of mu, of every hidden activation and of x_hat to ``x -> x_prime``.

    ``sites`` defaults to the hidden sites (:func:`hidden_sites`, encoder and decoder).
    """
    x = resolve_inputs(x, model, n=None)
    xp = resolve_inputs(x_prime, model, n=None)
    if x.shape != xp.shape:
        raise CircuitVAEError(f"x {tuple(x.shape)} and x_prime {tuple(xp.shape)} differ in shape")
    names = [s.name for s in hidden_sites(model)] if sites is None else list(sites)
    check_sites(model, names)
    both = torch.cat([x, xp])
    mus, outs, acts = [], [], {name: [] for name in names}
    size = chunk_rows(max_batch_rows, model, int(np.prod(x.shape[1:])))
    for s in chunks(both.shape[0], size):
        mus.append(run_unchecked(model, both[s], method="encode").output.mean)
        res = run_unchecked(model, both[s], capture=names)
        outs.append(res.output)
        for name in names:
            acts[name].append(res.cache[name])
    n = x.shape[0]

    def diff(parts: list[Tensor]) -> np.ndarray:
        t = torch.cat(parts)
        return (t[n:] - t[:n]).cpu().numpy()

    return Responses(diff(mus), diff(outs), {k: diff(v) for k, v in acts.items()})


@dataclass(frozen=True)
class Profiles:
    """Activation-change profiles: ``per_site[site]`` is ``(G, units)``, row g = a_g there."""

    groups: tuple[str, ...]
    sites: tuple[str, ...]
    per_site: dict[str, np.ndarray]
    profile: str

    def concatenated(self, sites: Sequence[str] | None = None) -> np.ndarray:
        """``(G, total units)``: the profiles of ``sites`` (default all) side by side."""
        names = self.sites if sites is None else sites
        return np.concatenate([self.per_site[s] for s in names], axis=1)


def activation_profiles(
    model: Any,
    x: Tensor,
    variants: Mapping[str, Tensor],
    *,
    sites: Sequence[str] | None = None,
    profile: Literal["abs", "signed"] = "abs",
    max_batch_rows: int | None = None,
    verbose: bool = False,
) -> Profiles:
    """a_g = mean over rows of |act(x'_g) - act(x)| per hidden unit (``profile="abs"``), or the
    mean signed change (``"signed"``), for every variant g. All variants are stacked along the
    batch dimension and run in chunks of ``max_batch_rows`` rows.

    ``x``, every variant and ``sites`` are checked here, once; the passes are
    :func:`activation_profiles_unchecked`.
    """
    x = check_input(model, x)
    checked = {g: check_input(model, v, name=f"variant {g!r}") for g, v in variants.items()}
    if sites is not None:
        check_sites(model, sites)
    return activation_profiles_unchecked(model, x, checked, sites=sites, profile=profile,
                                         max_batch_rows=max_batch_rows, verbose=verbose)


def activation_profiles_unchecked(
    model: Any,
    x: Tensor,
    variants: Mapping[str, Tensor],
    *,
    sites: Sequence[str] | None = None,
    profile: Literal["abs", "signed"] = "abs",
    max_batch_rows: int | None = None,
    verbose: bool = False,
) -> Profiles:
    """:func:`activation_profiles` on inputs already checked (on the model's device in its
    dtype) and valid ``sites``: what the metrics call."""
    if profile not in ("abs", "signed"):
        raise CircuitVAEError(f"profile must be 'abs' or 'signed', got {profile!r}")
    names = [s.name for s in hidden_sites(model)] if sites is None else list(sites)
    if not names:
        raise CircuitVAEError("no hidden sites to profile")
    n = x.shape[0]
    keys = list(variants)
    if any(variants[g].shape[0] != n for g in keys):
        raise CircuitVAEError("every variant must have as many rows as x")
    units = {s.name: s.n_units for s in site_table(model)}
    captured = sum(units[name] for name in names) + int(np.prod(x.shape[1:]))
    # One pass holds a chunk of base rows and the same rows of every variant, so all captured
    # activations of a chunk stay under the memory budget and nothing spans chunks.
    size = max(1, chunk_rows(max_batch_rows, model, captured) // (len(keys) + 1))
    acc = {name: torch.zeros(len(keys), units[name], dtype=torch.float64, device=x.device)
           for name in names}
    for s in chunks(n, size, verbose=verbose, desc="input manipulations"):
        rows = s.stop - s.start
        batch = torch.cat([x[s], *(variants[g][s] for g in keys)])
        res = run_unchecked(model, batch, capture=names)
        for name in names:
            act = res.cache[name].flatten(1)
            delta = act[rows:].reshape(len(keys), rows, -1) - act[:rows].unsqueeze(0)
            if profile == "abs":
                delta = delta.abs_()
            # summed in the model's dtype (pairwise) per chunk, accumulated in float64
            acc[name] += delta.sum(1).double()
    return Profiles(
        groups=tuple(keys),
        sites=tuple(names),
        per_site={k: (v / n).cpu().numpy() for k, v in acc.items()},
        profile=profile,
    )


__all__ = [
    "Profiles",
    "Responses",
    "activation_profiles",
    "activation_profiles_unchecked",
    "factor_manipulations",
    "group_manipulations",
    "is_factor_dataset",
    "manipulations",
    "partner_rows",
    "random_grouping",
    "resample_factor",
    "resolve_groups",
    "responses",
    "swap_group",
    "uses_factors",
]
