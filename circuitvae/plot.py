"""Figures for circuitvae results (the ``plot`` extra: ``pip install circuitvae[plot]``).

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global
state: nothing is shown, nothing leaks), so ``fig.savefig("name.png")`` writes it and a notebook
displays it. Inputs are plain numpy arrays, dicts and DataFrames; the result objects of
circuitvae are accepted too, read by attribute (``.effects``, ``.per_latent``, ``.per_layer``,
``.contributions``, ``.sites``...), so any object with those attributes works.

* :func:`traversal_grid`: decoded images along each latent, a (d x K) grid (images);
* :func:`traversal_curves`: output columns vs offset, one panel per latent (tabular);
* :func:`ces_heatmap`: output change per latent x feature group (or x sweep offset);
* :func:`ces_per_latent`: CES per latent, e.g. calibrated vs fixed-range, with sigma_eff;
* :func:`specificity_heatmap`: each latent's share of effect per group, with its specificity;
* :func:`modularity_per_layer`: circuit modularity per layer (one bar series per result);
* :func:`mediation_per_layer`: proportion mediated per layer (and TE / NIE / NDE norms);
* :func:`path_contributions`: path-patching contribution of each layer (norm and share);
* :func:`comparison_table`: pairwise architecture tests with Holm-Sidak significance marks;
* :func:`metric_by_architecture`, :func:`metric_scatter`, :func:`metric_means`: a study's
  result rows (one point per run, or means per architecture); :func:`study_figures` writes the
  figures of a study report.

matplotlib is imported inside the functions, so ``import circuitvae`` never needs it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .protocol import CircuitVAEError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

INSTALL_HINT = "circuitvae.plot needs matplotlib: pip install circuitvae[plot]"
MAX_TICKS = 40  # label at most this many rows/columns of a heatmap


def _figure(figsize: tuple[float, float]) -> Figure:
    """A pyplot-free Figure with an Agg canvas (so ``savefig`` works headless)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(INSTALL_HINT) from error
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _attr(obj: Any, *names: str) -> Any:
    """The first attribute of ``obj`` among ``names`` that is set, else None."""
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return None


def _names(given: Sequence[str] | None, n: int, prefix: str, what: str) -> list[str]:
    if given is None:
        return [f"{prefix}{i}" for i in range(n)]
    names = [str(g) for g in given]
    if len(names) != n:
        raise CircuitVAEError(f"{what} has {len(names)} names for {n} entries")
    return names


def _matrix(values: Any, what: str) -> np.ndarray:
    m = np.asarray(values, dtype=np.float64)
    if m.ndim != 2 or 0 in m.shape:
        raise CircuitVAEError(f"{what} must be a non-empty 2-D array, got shape {m.shape}")
    return m


def _ticks(ax: Axes, axis: str, labels: list[str]) -> None:
    n = len(labels)
    step = max(1, int(np.ceil(n / MAX_TICKS)))
    idx = np.arange(0, n, step)
    if axis == "x":
        crowded = n > 6 or sum(len(labels[i]) for i in idx) > 6 * len(idx)
        ax.set_xticks(idx, [labels[i] for i in idx], rotation=40 if crowded else 0,
                      ha="right" if crowded else "center", fontsize=8)
    else:
        ax.set_yticks(idx, [labels[i] for i in idx], fontsize=8)


def _short(value: float, _pos: Any = None) -> str:
    """A tick label without matplotlib's offset text (which collides with axis labels)."""
    return "0" if value == 0 else f"{value:.2g}"


def _heatmap(ax: Axes, m: np.ndarray, rows: list[str], cols: list[str], cmap: str,
             label: str, annotate: bool, cax: Axes | None = None) -> None:
    from matplotlib.ticker import FuncFormatter

    image = ax.imshow(m, aspect="auto", cmap=cmap, interpolation="nearest")
    _ticks(ax, "x", cols)
    _ticks(ax, "y", rows)
    if cax is not None:
        bar = ax.figure.colorbar(image, cax=cax, label=label)
    else:
        bar = ax.figure.colorbar(image, ax=ax, label=label, shrink=0.9)
    bar.formatter = FuncFormatter(_short)
    bar.update_ticks()
    if annotate and m.size <= 150:
        finite = m[np.isfinite(m)]
        mid = (finite.max() + finite.min()) / 2 if finite.size else 0.0
        for (i, j), v in np.ndenumerate(m):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=7,
                        color="white" if v < mid else "black")


# --------------------------------------------------------------------------- traversals


def _decode_traversal(
    model: Any, x: Any, latents: Sequence[int] | None, values: Any, k: int, r: float,
    absolute: bool,
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Decode do(z_j = v) (or mu_j + v) for every chosen latent and value
    (:func:`circuitvae.interventions.latent.traversal`).

    Returns ``out`` ``(L, K, N, *output_shape)`` as float32, the values ``(L, K)`` and the
    latent indices.
    """
    from .interventions.latent import traversal

    grid = r * np.linspace(-1.0, 1.0, k) if values is None else np.asarray(values, np.float64)
    out = traversal(model, x, grid, latents=latents, absolute=absolute)
    chosen = list(range(out.shape[0])) if latents is None else [int(j) for j in latents]
    if grid.ndim == 1:
        grid = np.tile(grid, (len(chosen), 1))
    return out.astype(np.float32, copy=False), grid, chosen


def _as_image(out: np.ndarray, image_shape: tuple[int, ...] | None) -> np.ndarray:
    """One decoded row as an (H, W) or (H, W, 3|4) array in [0, 1].

    A 3-D row with 1, 3 or 4 leading channels is read as torch's (C, H, W), else as (H, W, C).
    """
    if image_shape is not None:
        out = out.reshape(image_shape)
    if out.ndim == 3 and out.shape[0] in (1, 3, 4):
        out = np.moveaxis(out, 0, -1)  # torch's (C, H, W) -> (H, W, C)
    if out.ndim == 3 and out.shape[-1] == 1:
        out = out[..., 0]
    if out.ndim not in (2, 3):
        raise CircuitVAEError(
            f"decoded rows have shape {out.shape}; pass image_shape=(H, W) or (C, H, W) to show "
            "them as images, or use traversal_curves for tabular models"
        )
    return np.clip(out, 0.0, 1.0)


def traversal_grid(
    model: Any,
    x: Any,
    *,
    latents: Sequence[int] | None = None,
    values: Any = None,
    k: int = 7,
    r: float = 3.0,
    absolute: bool = False,
    image_shape: tuple[int, ...] | None = None,
    cell: float = 1.0,
) -> Figure:
    """A (d x K) grid of decoded images: row j moves latent j through ``K`` values.

    ``x`` is one input (or a batch, of which the first row is used). The other latents stay at
    mu(x). ``values`` ``(K,)`` or ``(len(latents), K)`` are offsets added to mu_j(x)
    (``absolute=False``, the default) or the values of z_j themselves (``absolute=True``);
    default ``r * linspace(-1, 1, k)``. All ``d * K`` codes are decoded together
    (:func:`circuitvae.interventions.latent.traversal`). ``image_shape`` reshapes flat outputs;
    ``(C, H, W)`` outputs are shown as grey (C = 1) or colour (C = 3) images.
    """
    x = x[:1] if hasattr(x, "shape") and len(x.shape) > 1 else x
    out, grid, chosen = _decode_traversal(model, x, latents, values, k, r, absolute)
    n_lat, n_val = grid.shape
    fig = _figure((cell * n_val + 0.8, cell * n_lat + 0.4))
    axes = fig.subplots(n_lat, n_val, squeeze=False)
    for i in range(n_lat):
        for j in range(n_val):
            ax = axes[i, j]
            image = _as_image(out[i, j, 0], image_shape)
            ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(f"z{chosen[i]}", rotation=0, ha="right", va="center")
            if i == 0:
                ax.set_title(f"{grid[i, j]:+.2g}", fontsize=8)
    fig.suptitle("latent traversal (" + ("value" if absolute else "offset from mu") + ")",
                 fontsize=9)
    return fig


def traversal_curves(
    model: Any,
    x: Any,
    *,
    latents: Sequence[int] | None = None,
    columns: Sequence[int] | None = None,
    names: Sequence[str] | None = None,
    values: Any = None,
    k: int = 11,
    r: float = 3.0,
    absolute: bool = False,
    ncols: int = 4,
) -> Figure:
    """Tabular traversals: each output column vs the offset of each latent, averaged over ``x``.

    One panel per latent; one line per output column (``columns`` picks them, default all;
    ``names`` labels them). ``values``, ``k``, ``r`` and ``absolute`` are as in
    :func:`traversal_grid`. All ``d * K * N`` codes are decoded together.
    """
    out, grid, chosen = _decode_traversal(model, x, latents, values, k, r, absolute)
    mean = out.reshape(*out.shape[:3], -1).mean(axis=2)  # (L, K, P)
    n_out = mean.shape[-1]
    cols = list(range(n_out)) if columns is None else [int(c) for c in columns]
    if any(not 0 <= c < n_out for c in cols) or not cols:
        raise CircuitVAEError(f"columns must be indices in 0..{n_out - 1}")
    labels = _names(names, len(cols), "x", "names")
    n_lat = len(chosen)
    ncols = max(1, min(ncols, n_lat))
    nrows = int(np.ceil(n_lat / ncols))
    fig = _figure((3.0 * ncols + 1.5, 2.4 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    for i in range(nrows * ncols):
        ax = axes.flat[i]
        if i >= n_lat:
            ax.set_visible(False)
            continue
        for c, label in zip(cols, labels, strict=True):
            ax.plot(grid[i], mean[i, :, c], marker=".", label=label)
        ax.set_title(f"z{chosen[i]}", fontsize=9)
        ax.set_xlabel("value" if absolute else "offset", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("mean output")
    if len(cols) <= 20:
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right upper",
                   fontsize=7)
    return fig


# --------------------------------------------------------------------------- heatmaps


def ces_heatmap(
    effects: Any,
    *,
    latent_names: Sequence[str] | None = None,
    group_names: Sequence[str] | None = None,
    title: str | None = None,
    annotate: bool = True,
) -> Figure:
    """Output change per latent (rows) and feature group (columns), beside each latent's total.

    ``effects`` is a ``(d, G)`` array (e_{j,g}: mean squared output change of group g under the
    sweep of z_j), or a result with ``.effects`` (and ``.groups``), such as
    ``circuitvae.specificity(...)``. A result with ``.per_offset`` and ``.grid`` (a CES result)
    is shown as latent x sweep offset instead, with ``.per_latent`` as the total.
    """
    groups = group_names if group_names is not None else _attr(effects, "groups", "group_names")
    groups = getattr(groups, "names", groups)  # a ColumnGroups
    totals = None
    xlabel, label = "feature group", "mean squared output change"
    if _attr(effects, "effects") is not None:
        m = _matrix(effects.effects, "effects")
        totals = m.sum(axis=1)
    elif _attr(effects, "per_offset") is not None:
        m = _matrix(effects.per_offset, "per_offset")
        grid = _attr(effects, "grid")
        totals = np.asarray(_attr(effects, "per_latent"), dtype=np.float64)
        offsets = np.asarray(grid)[0] if grid is not None else np.arange(m.shape[1])
        groups = groups if group_names is not None else [f"{v:+.2g}" for v in offsets]
        xlabel, label = "offset (latent 0's grid)", "output change (RMS)"
    else:
        m = _matrix(effects, "effects")
        totals = m.sum(axis=1)
    rows = _names(latent_names, m.shape[0], "z", "latent_names")
    cols = _names(groups, m.shape[1], "g", "group_names")
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    fig = _figure((min(2.0 + 0.6 * m.shape[1], 14.0) + 3.0, 1.6 + 0.35 * m.shape[0]))
    ax, cax, ax_total = fig.subplots(1, 3, width_ratios=[4, 0.15, 1.2])
    _heatmap(ax, m, rows, cols, "viridis", label, annotate, cax=cax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("latent")
    ax_total.barh(np.arange(m.shape[0]), totals, color="tab:blue")
    ax_total.set_ylim(ax.get_ylim())
    ax_total.set_yticks(np.arange(m.shape[0]), [""] * m.shape[0])
    ax_total.xaxis.set_major_locator(MaxNLocator(2))
    ax_total.xaxis.set_major_formatter(FuncFormatter(_short))
    ax_total.set_xlabel("total per latent" if _attr(effects, "per_offset") is None
                        else "CES per latent")
    ax_total.grid(axis="x", alpha=0.3)
    fig.suptitle(title or "causal effect per latent", fontsize=10)
    return fig


def ces_per_latent(
    results: Any,
    *,
    log: bool = False,
    title: str | None = None,
) -> Figure:
    """CES of each latent as bars, one series per result, with sigma_eff when known.

    ``results`` is a mapping ``{label: result or (d,) array}`` (e.g. ``{"calibrated": cal,
    "fixed": fixed}``) or one of them. A result is read by ``.per_latent``; the first with
    ``.sigma_eff`` adds a panel of the effective scales, where Proposition 1 shows: fixed-range
    CES overstates latent j about 1 / sigma_eff_j-fold. ``log=True`` uses a log scale.
    """
    series = dict(results) if isinstance(results, Mapping) else {"": results}
    if not series:
        raise CircuitVAEError("results is empty; give at least one CES result or array")
    values = {}
    for label, r in series.items():
        v = np.asarray(_attr(r, "per_latent") if _attr(r, "per_latent") is not None else r,
                       dtype=np.float64)
        if v.ndim != 1 or v.size == 0:
            raise CircuitVAEError(f"per-latent CES of {label!r} must be 1-D, got shape {v.shape}")
        values[str(label)] = v
    d = {v.size for v in values.values()}
    if len(d) != 1:
        raise CircuitVAEError(f"results have different numbers of latents: {sorted(d)}")
    n = d.pop()
    sigma = next((np.asarray(r.sigma_eff, dtype=np.float64) for r in series.values()
                  if _attr(r, "sigma_eff") is not None), None)
    x = np.arange(n)
    fig = _figure((max(4.5, 0.5 * n * len(values) + 2.0), 5.4 if sigma is not None else 3.2))
    axes = fig.subplots(2 if sigma is not None else 1, 1, squeeze=False, sharex=True)[:, 0]
    width = 0.8 / len(values)
    for i, (label, v) in enumerate(values.items()):
        axes[0].bar(x + (i - (len(values) - 1) / 2) * width, v, width, label=label or None)
    axes[0].set_ylabel("CES")
    if log:
        axes[0].set_yscale("log")
    if len(values) > 1:
        axes[0].legend(fontsize=7)
    axes[0].grid(axis="y", alpha=0.3)
    if sigma is not None:
        axes[1].bar(x, sigma, color="tab:gray")
        axes[1].set_ylabel("sigma_eff")
        axes[1].grid(axis="y", alpha=0.3)
    axes[-1].set_xticks(x, [f"z{j}" for j in range(n)], fontsize=8)
    axes[-1].set_xlabel("latent")
    axes[0].set_title(title or "causal effect strength per latent", fontsize=10)
    return fig


def specificity_heatmap(
    effects: Any,
    *,
    per_latent: Any = None,
    latent_names: Sequence[str] | None = None,
    group_names: Sequence[str] | None = None,
    title: str | None = None,
    annotate: bool = True,
) -> Figure:
    """Each latent's share of effect per group, p_{j,g} = e_{j,g} / sum_g e_{j,g}, with its
    specificity 1 - H(p_j) / log G beside it.

    ``effects`` is a ``(d, G)`` array or a result with ``.effects``, ``.per_latent`` and
    ``.groups`` (``circuitvae.specificity``). Without ``per_latent`` the specificity is computed
    from the shares. Latents with no effect at all are shown empty.
    """
    m = _matrix(_attr(effects, "effects") if _attr(effects, "effects") is not None else effects,
                "effects")
    if per_latent is None:
        per_latent = _attr(effects, "per_latent")
    groups = group_names if group_names is not None else _attr(effects, "groups", "group_names")
    groups = getattr(groups, "names", groups)
    totals = m.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(totals > 0, m / totals, np.nan)
        if per_latent is None:
            logs = np.where(shares > 0, np.log(np.where(shares > 0, shares, 1.0)), 0.0)
            entropy = -(np.nan_to_num(shares) * logs).sum(axis=1)
            per_latent = np.where(totals[:, 0] > 0,
                                  1.0 - entropy / np.log(m.shape[1]) if m.shape[1] > 1 else 1.0,
                                  np.nan)
    spec = np.asarray(per_latent, dtype=np.float64).reshape(-1)
    if spec.shape[0] != m.shape[0]:
        raise CircuitVAEError(f"per_latent has {spec.shape[0]} values for {m.shape[0]} latents")
    rows = _names(latent_names, m.shape[0], "z", "latent_names")
    cols = _names(groups, m.shape[1], "g", "group_names")
    fig = _figure((min(2.0 + 0.45 * m.shape[1], 14.0) + 2.0, 1.2 + 0.35 * m.shape[0]))
    ax, ax_spec = fig.subplots(1, 2, width_ratios=[4, 1], sharey=True)
    _heatmap(ax, shares, rows, cols, "magma", "share of the latent's effect", annotate)
    ax.set_xlabel("feature group")
    ax.set_ylabel("latent")
    ax_spec.barh(np.arange(m.shape[0]), np.nan_to_num(spec), color="tab:orange")
    ax_spec.set_xlim(0.0, 1.0)
    ax_spec.set_xlabel("specificity")
    ax_spec.grid(axis="x", alpha=0.3)
    value = _attr(effects, "value")
    head = title or "intervention specificity"
    fig.suptitle(head if value is None else f"{head} (model: {float(value):.3f})", fontsize=10)
    return fig


# --------------------------------------------------------------------------- per layer


def _per_layer(result: Any) -> dict[str, float]:
    per_layer = _attr(result, "per_layer")
    if per_layer is None:
        per_layer = result
    if hasattr(per_layer, "to_dict"):  # a pandas Series
        per_layer = per_layer.to_dict()
    if not isinstance(per_layer, Mapping) or not per_layer:
        raise CircuitVAEError(
            "per-layer values must be a non-empty {layer: value} mapping, a Series or a result "
            f"with .per_layer; got {type(per_layer).__name__}"
        )
    return {str(k): float(v) for k, v in per_layer.items()}


def modularity_per_layer(
    results: Any,
    *,
    title: str | None = None,
) -> Figure:
    """Circuit modularity of each layer as bars, the model value as a dashed line.

    ``results`` is one result with ``.per_layer`` (and ``.value``), a ``{layer: value}`` mapping
    or Series, or a mapping ``{label: result}`` to compare several (e.g. semantic vs random
    grouping) as grouped bars.
    """
    if isinstance(results, Mapping) and results and all(
        _attr(v, "per_layer") is not None or isinstance(v, Mapping) for v in results.values()
    ):
        series = {str(label): r for label, r in results.items()}
    else:
        series = {"": results}
    tables = {label: _per_layer(r) for label, r in series.items()}
    layers: list[str] = []
    for table in tables.values():
        layers += [name for name in table if name not in layers]
    x = np.arange(len(layers))
    width = 0.8 / len(tables)
    fig = _figure((max(4.0, 0.6 * len(layers) + 2.0), 3.2))
    ax = fig.subplots()
    for i, (label, table) in enumerate(tables.items()):
        heights = [table.get(name, np.nan) for name in layers]
        bars = ax.bar(x + (i - (len(tables) - 1) / 2) * width, heights, width,
                      label=label or None)
        value = _attr(series[label], "value")
        if value is not None:
            ax.axhline(float(value), linestyle="--", linewidth=1, color=bars.patches[0].get_fc(),
                       label=f"{label} model value".strip())
    ax.set_xticks(x, layers, rotation=45 if len(layers) > 4 else 0, ha="right"
                  if len(layers) > 4 else "center", fontsize=8)
    ax.set_ylabel("modularity")
    ax.set_xlabel("layer")
    ax.grid(axis="y", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    ax.set_title(title or "circuit modularity per layer", fontsize=10)
    return fig


def mediation_per_layer(mediation: Any, *, title: str | None = None) -> Figure:
    """Proportion mediated (|NIE| / |TE|) per layer, and the effect norms when known.

    ``mediation`` is a result with ``.sites`` and ``.proportions`` (``mediation_by_layer``; its
    ``.saturated`` / ``.message`` are printed on the figure), a mapping ``{site: result}`` of
    single mediation results (with ``.te_norm``, ``.nie_norm``, ``.nde_norm``, ``.proportion``),
    or a mapping ``{site: proportion}``.
    """
    norms: dict[str, np.ndarray] = {}
    message = ""
    if _attr(mediation, "proportions") is not None:
        sites = [str(s) for s in mediation.sites]
        proportions = np.asarray(mediation.proportions, dtype=np.float64)
        if getattr(mediation, "saturated", False):
            message = str(getattr(mediation, "message", "saturated"))
    elif isinstance(mediation, Mapping) and mediation:
        sites = [str(s) for s in mediation]
        items = list(mediation.values())
        if all(_attr(v, "proportion") is not None for v in items):
            proportions = np.array([float(v.proportion) for v in items])
            for name in ("te_norm", "nie_norm", "nde_norm"):
                if all(_attr(v, name) is not None for v in items):
                    norms[name[:-5].upper()] = np.array([float(getattr(v, name)) for v in items])
        else:
            proportions = np.asarray(items, dtype=np.float64)
    else:
        raise CircuitVAEError(
            "mediation must be a result with .sites/.proportions or a {site: result} mapping, "
            f"got {type(mediation).__name__}"
        )
    if proportions.shape != (len(sites),):
        raise CircuitVAEError(f"{len(sites)} sites but proportions of shape {proportions.shape}")
    x = np.arange(len(sites))
    rows = (2 if norms else 1) + (1 if message else 0)
    heights = [3.0] * (2 if norms else 1) + ([0.9] if message else [])
    fig = _figure((max(5.5, 0.7 * len(sites) + 2.5), sum(heights) + 0.6))
    grid = fig.subplots(rows, 1, squeeze=False, height_ratios=heights)[:, 0]
    axes = grid[: 2 if norms else 1]
    if norms:
        axes[1].sharex(axes[0])
    axes[0].bar(x, proportions, color="tab:purple")
    axes[0].axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
    axes[0].set_ylabel("proportion mediated")
    axes[0].grid(axis="y", alpha=0.3)
    if norms:
        width = 0.8 / len(norms)
        for i, (name, vals) in enumerate(norms.items()):
            axes[1].bar(x + (i - (len(norms) - 1) / 2) * width, vals, width, label=name)
        axes[1].set_ylabel("mean effect norm")
        axes[1].legend(fontsize=7)
        axes[1].grid(axis="y", alpha=0.3)
    axes[-1].set_xticks(x, sites, rotation=45 if len(sites) > 4 else 0,
                        ha="right" if len(sites) > 4 else "center", fontsize=8)
    axes[-1].set_xlabel("mediator (layer)")
    axes[0].set_title(title or "causal mediation per layer", fontsize=10)
    if message:  # in its own row, below the axis labels
        import textwrap

        note = grid[-1]
        note.axis("off")
        width = int(fig.get_figwidth() * 15)  # characters of 7-pt text across the figure
        note.text(0.0, 1.0, textwrap.fill(message, width), fontsize=7, va="top", ha="left",
                  transform=note.transAxes)
    return fig


def path_contributions(
    contributions: Any,
    *,
    sites: Sequence[str] | None = None,
    shares: Any = None,
    title: str | None = None,
) -> Figure:
    """The telescoping path-patching decomposition: each layer's contribution c_l.

    ``contributions`` is a result with ``.norms`` (mean ||c_l|| over pairs), ``.shares``
    (projection of c_l on the total effect; they sum to 1) and ``.sites`` (``path_patch``), or
    an array ``(L, ...)`` of c_l (norms are taken over the trailing axes, averaged over pairs
    when there are two or more) with ``sites`` naming the layers.
    """
    norms = _attr(contributions, "norms")
    if shares is None:
        shares = _attr(contributions, "shares")
    if sites is None:
        sites = _attr(contributions, "sites")
    if norms is None:
        c = np.asarray(_attr(contributions, "contributions") if
                       _attr(contributions, "contributions") is not None else contributions,
                       dtype=np.float64)
        if c.ndim == 0 or c.shape[0] == 0:
            raise CircuitVAEError(f"contributions must be (L, ...), got shape {c.shape}")
        if c.ndim == 1:
            norms = np.abs(c)
        elif c.ndim == 2:
            norms = np.linalg.norm(c, axis=1)
        else:
            norms = np.linalg.norm(c.reshape(c.shape[0], c.shape[1], -1), axis=2).mean(axis=1)
    norms = np.asarray(norms, dtype=np.float64).reshape(-1)
    names = _names(sites, norms.shape[0], "layer ", "sites")
    x = np.arange(len(names))
    fig = _figure((max(4.5, 0.7 * len(names) + 2.5), 5.4 if shares is not None else 3.2))
    axes = fig.subplots(2 if shares is not None else 1, 1, squeeze=False, sharex=True)[:, 0]
    axes[0].bar(x, norms, color="tab:green")
    axes[0].set_ylabel("mean ||c_l||")
    axes[0].grid(axis="y", alpha=0.3)
    if shares is not None:
        s = np.asarray(shares, dtype=np.float64).reshape(-1)
        if s.shape != norms.shape:
            raise CircuitVAEError(f"{norms.shape[0]} layers but {s.shape[0]} shares")
        axes[1].bar(x, s, color=np.where(s >= 0, "tab:green", "tab:red"))
        axes[1].axhline(0.0, color="black", linewidth=0.6)
        axes[1].set_ylabel("share of total effect")
        axes[1].grid(axis="y", alpha=0.3)
    axes[-1].set_xticks(x, names, rotation=45 if len(names) > 4 else 0,
                        ha="right" if len(names) > 4 else "center", fontsize=8)
    axes[-1].set_xlabel("layer (forward order)")
    axes[0].set_title(title or "path-patching contribution per layer", fontsize=10)
    return fig


# --------------------------------------------------------------------------- statistics


def significance_mark(p_adj: float) -> str:
    """``***`` p < .001, ``**`` p < .01, ``*`` p < .05, ``""`` otherwise (and for NaN)."""
    if not np.isfinite(p_adj):
        return ""
    return "***" if p_adj < 0.001 else "**" if p_adj < 0.01 else "*" if p_adj < 0.05 else ""


def comparison_table(
    pairwise: pd.DataFrame,
    *,
    metrics: Sequence[str] | None = None,
    ncols: int = 3,
    title: str | None = None,
) -> Figure:
    """Pairwise architecture comparisons, one (arch x arch) panel per metric.

    ``pairwise`` is a tidy DataFrame with one row per test: ``metric``, the two architectures
    (``a``/``b`` as ``circuitvae.stats.pairwise_table`` writes them, or ``arch_a``/``arch_b``),
    ``p_adj`` and ``reject`` (``statistic``, ``p``, ``median_diff`` or ``mean_a``/``mean_b``
    are used when present). Cell (row a, column b) shows the Holm-Sidak adjusted p-value with
    ``*``/``**``/``***`` marks; rejected tests are coloured by direction (red: a > b, blue:
    a < b), the others grey.
    """
    cols = set(getattr(pairwise, "columns", []))
    a_col = "a" if "a" in cols else "arch_a"
    b_col = "b" if "b" in cols else "arch_b"
    missing = [c for c in ("metric", a_col, b_col, "p_adj", "reject") if c not in cols]
    if missing:
        raise CircuitVAEError(
            f"pairwise table lacks column(s) {missing}; expected metric, a/b (or arch_a/arch_b), "
            f"p_adj, reject; have {sorted(cols)}"
        )
    if len(pairwise) == 0:
        raise CircuitVAEError("pairwise table is empty; nothing to plot")
    chosen = list(dict.fromkeys(pairwise["metric"])) if metrics is None else list(metrics)
    absent = [m for m in chosen if m not in set(pairwise["metric"])]
    if absent:
        raise CircuitVAEError(f"metric(s) {absent} not in the pairwise table")
    archs = sorted(set(pairwise[a_col]) | set(pairwise[b_col]), key=str)
    index = {a: i for i, a in enumerate(archs)}
    n = len(archs)
    ncols = max(1, min(ncols, len(chosen)))
    nrows = int(np.ceil(len(chosen) / ncols))
    side = 0.55 * n + 1.2
    fig = _figure((side * ncols, side * nrows + 0.4))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    from matplotlib.colors import ListedColormap

    cmap = ListedColormap(["#d9d9d9", "#f4f4f4", "#d6604d", "#4393c3"])
    for panel, metric in enumerate(chosen):
        ax = axes.flat[panel]
        codes = np.ones((n, n))  # 1: untested, 0: not significant, 2: a > b, 3: a < b
        text = [["" for _ in archs] for _ in archs]
        for _, row in pairwise[pairwise["metric"] == metric].iterrows():
            i, j = index[row[a_col]], index[row[b_col]]
            p_adj = float(row["p_adj"])
            direction = _direction(row)
            for (u, v, sign) in ((i, j, direction), (j, i, -direction)):
                codes[u, v] = (2 if sign > 0 else 3 if sign < 0 else 0) if bool(row["reject"]) \
                    else 0
                text[u][v] = (f"{p_adj:.2g}" if np.isfinite(p_adj) else "n/a") + \
                    significance_mark(p_adj)
        ax.imshow(codes, cmap=cmap, vmin=0, vmax=3, interpolation="nearest")
        for (u, v), label in np.ndenumerate(np.array(text, dtype=object)):
            if label:
                ax.text(v, u, label, ha="center", va="center", fontsize=6)
        ax.set_xticks(range(n), archs, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(n), archs, fontsize=7)
        ax.set_title(str(metric), fontsize=9)
    for panel in range(len(chosen), nrows * ncols):
        axes.flat[panel].set_visible(False)
    fig.suptitle(title or "pairwise Wilcoxon, Holm-Sidak adjusted p\n(significant: red row > "
                 "column, blue row < column)", fontsize=8)
    return fig


def _direction(row: Any) -> int:
    """+1 when a > b, -1 when a < b, 0 when unknown."""
    for name in ("median_diff",):
        if name in row and np.isfinite(float(row[name])):
            return int(np.sign(float(row[name])))
    if "mean_a" in row and "mean_b" in row:
        diff = float(row["mean_a"]) - float(row["mean_b"])
        if np.isfinite(diff):
            return int(np.sign(diff))
    return 0


__all__ = [
    "ces_heatmap",
    "ces_per_latent",
    "comparison_table",
    "mediation_per_layer",
    "modularity_per_layer",
    "path_contributions",
    "significance_mark",
    "specificity_heatmap",
    "traversal_curves",
    "traversal_grid",
]


# --------------------------------------------------------------------------- study results


def _palette(names: Sequence[str]) -> dict[str, Any]:
    """A distinct colour per name (tab10, or tab20 beyond 10 names)."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {n: cmap(i % cmap.N) for i, n in enumerate(names)}


def natural_key(name: Any) -> tuple:
    """Sort key that orders the numbers inside names by value: ``beta0.5 < beta2 < beta16``
    (a plain sort puts ``beta16`` before ``beta2``)."""
    parts = re.split(r"(\d+(?:\.\d+)?)", str(name))
    return tuple((0, float(p), "") if i % 2 else (1, 0.0, p) for i, p in enumerate(parts))


def _architectures_and_datasets(rows: pd.DataFrame) -> tuple[list[Any], list[Any]]:
    """The architectures (in :func:`natural_key` order) and datasets (sorted) of study rows."""
    if not len(rows):
        return [], []
    return (sorted(rows["architecture"].dropna().unique(), key=natural_key),
            sorted(rows["dataset"].dropna().unique()))


def _no_data(ax: Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"no data: {what}", ha="center", va="center", transform=ax.transAxes)


def metric_by_architecture(rows: pd.DataFrame, metric: str) -> Figure:
    """One point per run of ``metric`` for each architecture, coloured by dataset."""
    import pandas as pd

    fig = _figure((7, 4))
    ax = fig.add_subplot()
    archs, datasets = _architectures_and_datasets(rows)
    colors = _palette(datasets)
    if metric in rows.columns and archs:
        labelled: set[str] = set()
        offsets = dict(zip(datasets, np.linspace(-0.25, 0.25, len(datasets))
                           if len(datasets) > 1 else [0.0], strict=True))
        for i, a in enumerate(archs):
            for d, g in rows[rows["architecture"] == a].groupby("dataset"):
                y = pd.to_numeric(g[metric], errors="coerce")
                jitter = np.linspace(-0.04, 0.04, len(y)) if len(y) > 1 else np.zeros(1)
                ax.scatter(i + offsets[d] + jitter, y, s=18, color=colors[d],
                           label=None if d in labelled else d)
                labelled.add(d)
        ax.set_xticks(range(len(archs)), archs)
        values = pd.to_numeric(rows[metric], errors="coerce").dropna()
        if len(values) and (values > 0).all() and values.max() / values.min() > 100:
            ax.set_yscale("log")  # collapsed and trained runs differ by orders of magnitude
        ax.set_ylabel(metric + (" (log scale)" if ax.get_yscale() == "log" else ""))
        ax.legend(fontsize=7)
    else:
        _no_data(ax, metric)
    ax.set_title(f"{metric} per architecture (one point per run)")
    return fig


def metric_scatter(rows: pd.DataFrame, x: str, y: str) -> Figure:
    """``y`` against ``x``, one point per run, coloured by dataset, with the within-dataset
    Pearson r (dataset means removed: what the findings judge) and the pooled r beside it."""
    import pandas as pd

    from . import stats

    fig = _figure((5, 4))
    ax = fig.add_subplot()
    if x in rows.columns and y in rows.columns and len(rows):
        colors = _palette(sorted(rows["dataset"].dropna().unique()))
        for d, g in rows.groupby("dataset"):
            ax.scatter(pd.to_numeric(g[x], errors="coerce"), pd.to_numeric(g[y], errors="coerce"),
                       s=18, color=colors[d], label=d)
        r = stats.correlation(rows, x, y)
        w = stats.within_correlation(rows, x, y)
        ax.set_title(f"{x} vs {y} (n={r.n})\nwithin-dataset r={w.r:.3f}, pooled r={r.r:.3f}",
                     fontsize=9)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.legend(fontsize=7)
    else:
        _no_data(ax, f"{x} / {y}")
    return fig


def metric_means(rows: pd.DataFrame, metrics: Sequence[str]) -> Figure:
    """Each metric's mean per architecture and dataset, one small bar panel per metric: a
    group of bars per architecture, one bar per dataset (coloured as in the other study
    figures). Datasets are never pooled: their scales differ."""
    import pandas as pd

    n = max(1, len(metrics))
    ncol = min(4, n)
    nrow = int(np.ceil(n / ncol))
    fig = _figure((3.2 * ncol, 2.6 * nrow + 0.3))
    axes = fig.subplots(nrow, ncol, squeeze=False)
    archs, datasets = _architectures_and_datasets(rows)
    colors = _palette(datasets)
    width = 0.8 / max(1, len(datasets))
    for ax, m in zip(axes.ravel(), metrics, strict=False):
        if m not in rows.columns or not archs:
            _no_data(ax, m)
            continue
        means = (pd.to_numeric(rows[m], errors="coerce")
                 .groupby([rows["architecture"], rows["dataset"]]).mean())
        for j, d in enumerate(datasets):
            heights = [means.get((a, d), np.nan) for a in archs]
            ax.bar(np.arange(len(archs)) + (j - (len(datasets) - 1) / 2) * width, heights,
                   width=width, color=colors[d], label=d)
        ax.set_xticks(range(len(archs)), archs, rotation=45, fontsize=6)
        ax.set_title(m, fontsize=8)
    if not metrics:
        _no_data(axes[0, 0], "no metric")
    elif datasets:
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside upper center",
                   ncol=min(len(datasets), 6), fontsize=7, frameon=False)
    for ax in axes.ravel()[len(metrics):]:
        ax.axis("off")
    return fig


def study_figures(rows: pd.DataFrame, metrics: Sequence[str], fig_dir: Any, *,
                  headline: str | None = None,
                  scatters: Sequence[tuple[str, str]] = ()) -> list[str]:
    """Write a study report's figures into ``fig_dir``; return their file names.

    ``<headline>_by_architecture.png`` (:func:`metric_by_architecture`), ``<x>_vs_<y>.png`` per
    scatter pair (:func:`metric_scatter`) and ``metrics_by_architecture.png``
    (:func:`metric_means` of ``metrics``). Each file is written atomically.
    """
    figures: list[tuple[str, Figure]] = []
    if headline is not None:
        figures.append((f"{headline}_by_architecture.png", metric_by_architecture(rows, headline)))
    figures += [(f"{x}_vs_{y}.png", metric_scatter(rows, x, y)) for x, y in scatters]
    figures.append(("metrics_by_architecture.png", metric_means(rows, metrics)))
    return save_figures(figures, fig_dir)


def save_figures(figures: Sequence[tuple[str, Figure]], fig_dir: Any) -> list[str]:
    """Write each ``(file name, figure)`` into ``fig_dir`` (created if needed) as a PNG at
    100 dpi, atomically (a temporary moved into place); return the file names."""
    import os
    import tempfile
    from pathlib import Path

    fig_dir = Path(fig_dir)
    fig_dir.mkdir(parents=True, exist_ok=True)
    for name, fig in figures:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp.png", dir=fig_dir)
        os.close(fd)
        try:
            fig.savefig(tmp, dpi=100)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a figure is for readers
            os.replace(tmp, fig_dir / name)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return [name for name, _ in figures]


def new_figure(figsize: tuple[float, float]) -> Figure:
    """An empty pyplot-free figure (constrained layout, Agg canvas) for custom report
    figures; matplotlib is the ``plot`` extra."""
    return _figure(figsize)
