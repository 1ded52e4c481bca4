"""circuitvae.plot: every figure renders, and shows the numbers it is given."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

import circuitvae as cv
from circuitvae import plot


def _decode(model, z):
    return cv.run(model, torch.as_tensor(z, dtype=torch.float32), method="decode").output.numpy()


def test_traversal_grid_shows_each_decoded_code_in_one_decode_call(image_vae, render, monkeypatch):
    x = torch.rand(4, 1, 8, 8)
    values = np.array([-2.0, 0.0, 1.5])
    calls = []
    decode = image_vae.decode
    cv.site_table(image_vae)  # site discovery (a dry run, cached) before counting
    monkeypatch.setattr(image_vae, "decode", lambda z: calls.append(len(z)) or decode(z))
    fig = plot.traversal_grid(image_vae, x, values=values, absolute=True)
    assert calls == [3 * 3]  # d * K codes, one call
    render(fig, "grid")
    mu = cv.run(image_vae, x[:1], method="encode").output.mean.numpy()
    axes = np.array(fig.axes).reshape(3, 3)
    for j in range(3):
        for k, v in enumerate(values):
            z = mu.copy()
            z[0, j] = v
            shown = axes[j, k].images[0].get_array()
            np.testing.assert_allclose(shown, _decode(image_vae, z)[0, 0], atol=1e-6)


def test_traversal_grid_offsets_and_latent_subset(image_vae, render):
    x = torch.rand(1, 1, 8, 8)
    fig = plot.traversal_grid(image_vae, x, latents=[2], k=4, r=1.0)
    render(fig)
    mu = cv.run(image_vae, x, method="encode").output.mean.numpy()
    assert len(fig.axes) == 4
    z = mu.copy()
    z[0, 2] += 1.0  # last column: offset +r
    np.testing.assert_allclose(fig.axes[3].images[0].get_array(), _decode(image_vae, z)[0, 0],
                               atol=1e-6)
    with pytest.raises(cv.CircuitVAEError, match=r"latents must be indices in 0..2"):
        plot.traversal_grid(image_vae, x, latents=[3])
    with pytest.raises(cv.CircuitVAEError, match=r"values has shape \(2, 2\)"):
        plot.traversal_grid(image_vae, x, latents=[0], values=np.zeros((2, 2)))


def test_traversal_grid_shows_colour_images_channels_last(rgb_vae, render):
    x = torch.rand(1, 3, 4, 4)
    fig = plot.traversal_grid(rgb_vae, x, k=2, values=[0.0, 1.0], absolute=True)
    render(fig, "rgb")
    mu = cv.run(rgb_vae, x, method="encode").output.mean.numpy()
    z = mu.copy()
    z[0, 1] = 1.0
    shown = fig.axes[3].images[0].get_array()  # latent 1, value 1.0
    assert shown.shape == (4, 4, 3)
    np.testing.assert_allclose(shown, np.moveaxis(_decode(rgb_vae, z)[0], 0, -1), atol=1e-6)


def test_traversal_grid_refuses_tabular_outputs(tabular_vae):
    with pytest.raises(cv.CircuitVAEError, match="traversal_curves"):
        plot.traversal_grid(tabular_vae, torch.rand(2, 5))


def test_traversal_curves_plot_the_mean_output_per_offset(tabular_vae, render):
    x = torch.randn(6, 5)
    fig = plot.traversal_curves(tabular_vae, x, columns=[0, 3], names=["age", "hours"], k=5)
    render(fig, "curves")
    mu = cv.run(tabular_vae, x, method="encode").output.mean.numpy()
    offsets = 3.0 * np.linspace(-1, 1, 5)
    line = fig.axes[1].lines[1]  # latent 1, column 3
    np.testing.assert_allclose(line.get_xdata(), offsets)
    expected = []
    for v in offsets:
        z = mu.copy()
        z[:, 1] += v
        expected.append(_decode(tabular_vae, z)[:, 3].mean())
    np.testing.assert_allclose(line.get_ydata(), expected, atol=1e-6)
    with pytest.raises(cv.CircuitVAEError, match="columns must be indices in 0..4"):
        plot.traversal_curves(tabular_vae, x, columns=[5])
    with pytest.raises(cv.CircuitVAEError, match="names has 1 names for 2 entries"):
        plot.traversal_curves(tabular_vae, x, columns=[0, 1], names=["a"])


def test_ces_heatmap_from_array_and_results(render):
    effects = np.array([[0.5, 0.1, 0.0], [0.0, 0.2, 0.3]])
    fig = plot.ces_heatmap(effects, group_names=["age", "job", "money"])
    render(fig, "ces")
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), effects)
    totals = [bar.get_width() for bar in fig.axes[2].patches]  # axes: heatmap, colour bar, totals
    np.testing.assert_allclose(totals, effects.sum(axis=1))
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["age", "job", "money"]

    spec_like = SimpleNamespace(effects=effects, groups=("a", "b", "c"), per_latent=None)
    fig = plot.ces_heatmap(spec_like)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["a", "b", "c"]

    grid = np.tile(np.linspace(-1, 1, 4), (2, 1))
    ces_like = SimpleNamespace(per_offset=np.arange(8.0).reshape(2, 4), grid=grid,
                               per_latent=np.array([1.0, 5.0]))
    fig = plot.ces_heatmap(ces_like)
    render(fig, "ces_offsets")
    np.testing.assert_allclose([b.get_width() for b in fig.axes[2].patches], [1.0, 5.0])
    with pytest.raises(cv.CircuitVAEError, match="non-empty 2-D array"):
        plot.ces_heatmap(np.zeros(3))


def test_ces_per_latent_compares_results(render):
    cal = SimpleNamespace(per_latent=np.array([0.5, 0.001]), sigma_eff=np.array([0.9, 0.02]))
    fig = plot.ces_per_latent({"calibrated": cal, "fixed": np.array([0.6, 0.05])}, log=True)
    render(fig, "ces_bars")
    heights = sorted(p.get_height() for p in fig.axes[0].patches)
    np.testing.assert_allclose(heights, [0.001, 0.05, 0.5, 0.6])
    np.testing.assert_allclose([p.get_height() for p in fig.axes[1].patches], [0.9, 0.02])
    assert fig.axes[0].get_yscale() == "log"
    with pytest.raises(cv.CircuitVAEError, match=r"different numbers of latents: \[2, 3\]"):
        plot.ces_per_latent({"a": np.ones(2), "b": np.ones(3)})


def test_specificity_heatmap_computes_specificity_from_shares(render):
    effects = np.array([[2.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    fig = plot.specificity_heatmap(effects)
    render(fig, "spec")
    shares = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(shares[:2], [[1.0, 0.0], [0.5, 0.5]])
    assert np.ma.getmaskarray(shares)[2].all()  # a latent with no effect is shown empty
    spec = [bar.get_width() for bar in fig.axes[1].patches]
    np.testing.assert_allclose(spec, [1.0, 0.0, 0.0], atol=1e-12)  # 1 - H/log 2

    result = SimpleNamespace(effects=effects, per_latent=np.array([0.9, 0.1, np.nan]),
                             groups=("x", "y"), value=0.7)
    fig = plot.specificity_heatmap(result)
    np.testing.assert_allclose([b.get_width() for b in fig.axes[1].patches], [0.9, 0.1, 0.0])
    assert "0.700" in fig.get_suptitle()
    with pytest.raises(cv.CircuitVAEError, match="per_latent has 2 values for 3 latents"):
        plot.specificity_heatmap(effects, per_latent=[1.0, 0.0])


def test_modularity_per_layer_one_and_several(render):
    result = SimpleNamespace(per_layer={"encoder.1": 0.4, "decoder.1": 0.2}, value=0.3)
    fig = plot.modularity_per_layer(result)
    render(fig, "mod")
    ax = fig.axes[0]
    np.testing.assert_allclose([p.get_height() for p in ax.patches], [0.4, 0.2])
    assert ax.lines[0].get_ydata()[0] == pytest.approx(0.3)

    fig = plot.modularity_per_layer({"semantic": result, "random": {"encoder.1": 0.1,
                                                                    "decoder.1": 0.05}})
    render(fig, "mod2")
    np.testing.assert_allclose(sorted(p.get_height() for p in fig.axes[0].patches),
                               [0.05, 0.1, 0.2, 0.4])
    with pytest.raises(cv.CircuitVAEError, match="non-empty"):
        plot.modularity_per_layer({})


def test_mediation_per_layer_from_layer_result_and_mapping(render):
    layers = SimpleNamespace(sites=("encoder.1", "hook_z", "decoder.1"),
                             proportions=np.array([1.0, 1.0, 1.0]), saturated=True,
                             message="saturated: every layer mediates everything")
    fig = plot.mediation_per_layer(layers)
    render(fig, "med")
    np.testing.assert_allclose([p.get_height() for p in fig.axes[0].patches], [1.0, 1.0, 1.0])
    assert any("saturated" in t.get_text() for ax in fig.axes for t in ax.texts)

    single = {
        "decoder.0": SimpleNamespace(te_norm=2.0, nie_norm=1.0, nde_norm=1.5, proportion=0.5),
        "decoder.2": SimpleNamespace(te_norm=2.0, nie_norm=0.5, nde_norm=1.8, proportion=0.25),
    }
    fig = plot.mediation_per_layer(single)
    render(fig, "med2")
    np.testing.assert_allclose([p.get_height() for p in fig.axes[0].patches], [0.5, 0.25])
    assert len(fig.axes[1].patches) == 6  # TE, NIE, NDE per site
    with pytest.raises(cv.CircuitVAEError, match="mediation must be"):
        plot.mediation_per_layer([1.0])


def test_path_contributions_from_result_and_raw_array(render):
    c = np.random.default_rng(0).normal(size=(3, 4, 5))  # (L, N, P)
    fig = plot.path_contributions(c, sites=["a", "b", "c"])
    render(fig, "path")
    expected = np.linalg.norm(c, axis=2).mean(axis=1)
    np.testing.assert_allclose([p.get_height() for p in fig.axes[0].patches], expected)

    result = SimpleNamespace(contributions=c, norms=np.array([1.0, 2.0, 0.5]),
                             shares=np.array([0.7, 0.5, -0.2]), sites=("a", "b", "c"))
    fig = plot.path_contributions(result)
    render(fig, "path2")
    np.testing.assert_allclose([p.get_height() for p in fig.axes[1].patches], [0.7, 0.5, -0.2])
    with pytest.raises(cv.CircuitVAEError, match="sites has 2 names for 3 entries"):
        plot.path_contributions(c, sites=["a", "b"])


def _pairwise(a="a", b="b"):
    return pd.DataFrame({
        "metric": ["ces", "ces", "ces", "mse"],
        a: ["vae", "vae", "beta_vae", "vae"],
        b: ["beta_vae", "factor_vae", "factor_vae", "beta_vae"],
        "statistic": [0.0, 3.0, 10.0, 1.0],
        "p": [0.001, 0.2, 0.5, 0.01],
        "p_adj": [0.004, 0.36, 0.5, 0.0004],
        "reject": [True, False, False, True],
        "median_diff": [0.3, 0.1, -0.1, -2.0],
    })


def test_comparison_table_marks_and_colours(render):
    fig = plot.comparison_table(_pairwise())
    render(fig, "table")
    ces_ax, mse_ax = fig.axes[0], fig.axes[1]
    labels = {t.get_text() for t in ces_ax.texts}
    assert {"0.004**", "0.36", "0.5"} <= labels
    assert "0.0004***" in {t.get_text() for t in mse_ax.texts}
    archs = sorted(["vae", "beta_vae", "factor_vae"])
    codes = ces_ax.images[0].get_array()
    v, bv = archs.index("vae"), archs.index("beta_vae")
    assert codes[v, bv] == 2 and codes[bv, v] == 3  # vae > beta_vae, significant
    assert codes[v, archs.index("factor_vae")] == 0  # tested, not significant
    assert codes[v, v] == 1  # untested
    fig = plot.comparison_table(_pairwise("arch_a", "arch_b"), metrics=["mse"])
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 1


def test_comparison_table_bad_input():
    with pytest.raises(cv.CircuitVAEError, match=r"lacks column\(s\) \['p_adj'\]"):
        plot.comparison_table(_pairwise().drop(columns="p_adj"))
    with pytest.raises(cv.CircuitVAEError, match=r"metric\(s\) \['auc'\] not in"):
        plot.comparison_table(_pairwise(), metrics=["auc"])
    with pytest.raises(cv.CircuitVAEError, match="empty"):
        plot.comparison_table(_pairwise().iloc[:0])


def test_significance_marks():
    assert [plot.significance_mark(p) for p in (0.0005, 0.005, 0.04, 0.05, float("nan"))] == [
        "***", "**", "*", "", ""]


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install circuitvae\[plot\]"):
        plot.ces_heatmap(np.ones((2, 2)))


def test_metric_scatter_titles_the_within_dataset_and_the_pooled_r():
    from circuitvae import stats

    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"dataset": np.repeat(["a", "b"], 10), "x": rng.normal(size=20),
                         "y": rng.normal(size=20)})
    rows.loc[rows.dataset == "b", ["x", "y"]] += 5  # a pooled r made by the dataset offset
    fig = plot.metric_scatter(rows, "x", "y")
    title = fig.axes[0].get_title()
    w, p = stats.within_correlation(rows, "x", "y"), stats.correlation(rows, "x", "y")
    assert f"within-dataset r={w.r:.3f}" in title and f"pooled r={p.r:.3f}" in title
    assert p.r > 0.9 > abs(w.r)


def test_metric_means_draws_one_bar_per_architecture_and_dataset():
    rows = pd.DataFrame({"architecture": ["vae", "vae", "vae", "beta_vae"],
                         "dataset": ["adult", "adult", "dsprites", "adult"],
                         "mse": [1.0, 3.0, 100.0, 5.0]})
    fig = plot.metric_means(rows, ["mse", "absent"])
    panel, missing = fig.axes[0], fig.axes[1]
    heights = sorted(p.get_height() for p in panel.patches if np.isfinite(p.get_height()))
    # adult: vae 2 (mean of 1 and 3), beta_vae 5; dsprites: vae 100; never the pooled 34.67
    assert heights == [2.0, 5.0, 100.0]
    assert [t.get_text() for t in missing.texts] == ["no data: absent"]
    assert sorted(t.get_text() for t in fig.legends[0].get_texts()) == ["adult", "dsprites"]


def test_natural_key_orders_numbers_by_value():
    names = ["beta16", "beta2", "beta0.5", "vae", "beta1", "latent32", "latent4"]
    assert sorted(names, key=plot.natural_key) == [
        "beta0.5", "beta1", "beta2", "beta16", "latent4", "latent32", "vae"]
