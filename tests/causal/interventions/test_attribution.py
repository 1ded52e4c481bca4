"""Attribution patching: exact where the model is linear in the site, checked against patching."""

import numpy as np
import pytest
import torch

import circuitvae as cv
from circuitvae.hooks import Patch


def _exact_projection(model, xb, xs, site, unit):
    """m = <y_patched - y_base, (y_src - y_base)/||.||>, mean over pairs, by hand."""
    src = cv.run(model, xs, capture=[site]).cache[site]
    yb, ys = cv.reconstruct(model, xb).detach(), cv.reconstruct(model, xs).detach()
    yp = cv.run(model, xb, patches={site: Patch(src, [unit])}).output
    d = ys - yb
    d = d / d.norm(dim=1, keepdim=True)
    return float(((yp - yb) * d).sum(1).mean())


@pytest.mark.parametrize("site", ["encoder.0", "decoder.0"])
def test_exact_on_a_model_linear_in_the_site(linear_vae, xpair, site):
    xb, xs = (x[:, :5] for x in xpair)
    res = cv.attribution_patch(linear_vae, xb, xs, sites=[site], check="all",
                               outcome="output")
    np.testing.assert_allclose(res.scores[site], res.exact[site], atol=1e-6)
    assert res.rank_correlation[site] == pytest.approx(1.0)
    assert res.max_abs_error[site] < 1e-6
    for unit in range(3):
        assert res.exact[site][unit] == pytest.approx(
            _exact_projection(linear_vae, xb, xs, site, unit), abs=1e-6)


def test_linear_model_unit_scores_sum_to_the_whole_layer_patch(linear_vae, xpair):
    # patching the whole layer of a sequential net gives y_source: the projection is ||ys - yb||
    xb, xs = (x[:, :5] for x in xpair)
    res = cv.attribution_patch(linear_vae, xb, xs, sites=["decoder.0"], check=0)
    whole = np.linalg.norm(cv.reconstruct(linear_vae, xs).detach().numpy()
                           - cv.reconstruct(linear_vae, xb).detach().numpy(), axis=1).mean()
    assert res.scores["decoder.0"].sum() == pytest.approx(whole, rel=1e-5)


def test_first_order_exact_after_the_last_nonlinearity(mlp, xpair):
    # decoder.3 (a ReLU) feeds the linear output layer: the outcome is linear in it
    xb, xs = xpair
    res = cv.attribution_patch(mlp, xb, xs, sites=["decoder.3"], check="all")
    np.testing.assert_allclose(res.scores["decoder.3"], res.exact["decoder.3"], atol=1e-6)


def test_patching_nothing_changes_nothing(mlp, xpair):
    xb, _ = xpair
    res = cv.attribution_patch(mlp, xb, xb.clone(), check="all")
    for site in res.scores:
        assert np.all(res.scores[site] == 0) and np.all(res.exact[site] == 0)


def test_default_sites_are_the_hidden_layers_and_check_picks_the_largest(mlp, xpair):
    xb, xs = xpair
    res = cv.attribution_patch(mlp, xb, xs, check=3)
    assert list(res.scores) == ["encoder.1", "encoder.3", "decoder.1", "decoder.3"]
    for site, score in res.scores.items():
        order = np.argsort(-np.abs(score), kind="stable")[:3]
        np.testing.assert_array_equal(res.checked[site], order)
        assert np.isfinite(res.exact[site][order]).all()
        assert np.isnan(np.delete(res.exact[site], order)).all()
    assert res.outcome == "output" and res.n_pairs == len(xb)
    frame = res.to_frame()
    assert len(frame) == sum(len(s) for s in res.scores.values())
    assert res.top(2)["score"].abs().is_monotonic_decreasing


def test_exact_check_matches_cv_patch_on_every_unit(mlp, xpair):
    xb, xs = xpair
    res = cv.attribution_patch(mlp, xb, xs, sites=["encoder.1"], check="all",
                               outcome="output", max_batch_rows=7)
    for unit in range(8):
        assert res.exact["encoder.1"][unit] == pytest.approx(
            _exact_projection(mlp, xb, xs, "encoder.1", unit), abs=1e-6)


def test_per_pair_scores_average_to_the_scores(mlp, xpair):
    xb, xs = xpair
    res = cv.attribution_patch(mlp, xb, xs, check=0)
    single = cv.attribution_patch(mlp, xb[:1], xs[:1], check=0)
    for site in res.scores:
        np.testing.assert_allclose(res.per_pair[site].mean(0), res.scores[site], rtol=1e-10)
        np.testing.assert_allclose(res.per_pair[site][0], single.scores[site], atol=1e-6)


def test_conv_channels_sum_their_positions(conv_vae):
    gen = torch.Generator().manual_seed(0)
    xb, xs = torch.rand(6, 1, 4, 4, generator=gen), torch.rand(6, 1, 4, 4, generator=gen)
    res = cv.attribution_patch(conv_vae, xb, xs, sites=["conv.0", "conv.1"], check="all")
    assert res.scores["conv.1"].shape == (3,) and res.outcome == "mean"
    # mu is linear in conv.1 (the ReLU's output, flattened into fc_mu): summing grad * delta
    # over a channel's 16 positions is exactly the effect of patching the whole channel
    np.testing.assert_allclose(res.scores["conv.1"], res.exact["conv.1"], atol=1e-6)
    assert np.isfinite(res.exact["conv.0"]).all()


def test_encoder_sites_use_the_mean_and_decoder_sites_refuse_it(mlp, xpair):
    xb, xs = xpair
    res = cv.attribution_patch(mlp, xb, xs, sites=["encoder.1"], check="all")
    assert res.outcome == "mean"
    with pytest.raises(cv.CircuitVAEError, match="outcome='mean'"):
        cv.attribution_patch(mlp, xb, xs, sites=["decoder.1"], outcome="mean")


def test_custom_metrics_with_and_without_the_pair_index(mlp, xpair):
    xb, xs = xpair

    def first_column(y):
        return y[:, 0]

    res = cv.attribution_patch(mlp, xb, xs, sites=["decoder.3"], metric=first_column,
                               check="all")
    np.testing.assert_allclose(res.scores["decoder.3"], res.exact["decoder.3"], atol=1e-6)
    assert res.metric == "first_column"
    target = torch.randn(len(xb), 6)
    res2 = cv.attribution_patch(mlp, xb, xs, sites=["decoder.1"], check="all",
                                metric=lambda y, pair: -((y - target[pair]) ** 2).sum(1))
    assert np.isfinite(res2.exact["decoder.1"]).all()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"check": -1}, "check"),
    ({"check": "some"}, "check"),
    ({"check": 2.5}, "check"),
    ({"metric": "l2"}, "metric must be 'projection'"),
    ({"metric": 3}, "metric must be 'projection' or a callable"),
    ({"metric": lambda y: y.sum()}, r"one value per row"),
    ({"metric": lambda y: y}, r"one value per row"),
    ({"sites": ["nope"]}, "unknown site"),
    ({"outcome": "logits"}, "outcome"),
])
def test_bad_arguments_are_named(mlp, xpair, kwargs, match):
    xb, xs = xpair
    with pytest.raises(cv.CircuitVAEError, match=match):
        cv.attribution_patch(mlp, xb, xs, **kwargs)


def test_bad_inputs_are_named(mlp, xpair):
    xb, xs = xpair
    with pytest.raises(cv.CircuitVAEError, match="same shape"):
        cv.attribution_patch(mlp, xb, xs[:3])
    with pytest.raises(cv.CircuitVAEError, match="empty|at least one"):
        cv.attribution_patch(mlp, xb[:0], xs[:0])
    bad = xb.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(cv.CircuitVAEError, match="NaN|finite"):
        cv.attribution_patch(mlp, bad, xs)


class _InPlaceAfterSite(torch.nn.Module):
    """A site whose output a later op changes in place (h.add_(1))."""

    speaks_circuitvae = True

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.latent_dim, self.input_shape = 2, (4,)
        self.enc, self.dec = torch.nn.Linear(4, 2), torch.nn.Linear(2, 5)
        self.hid = torch.nn.Linear(2, 5)
        self.out = torch.nn.Linear(5, 4)
        self.eval()

    def encode(self, x):
        return cv.Posterior(self.enc(x), None)

    def decode(self, z):
        h = self.hid(z)
        h.add_(1.0)  # changes the site's output after it was recorded
        return self.out(torch.tanh(h))


def test_exact_check_uses_the_source_activation_before_later_in_place_ops():
    model = _InPlaceAfterSite()
    gen = torch.Generator().manual_seed(1)
    xb, xs = torch.randn(6, 4, generator=gen), torch.randn(6, 4, generator=gen)
    res = cv.attribution_patch(model, xb, xs, sites=["hid"], check="all")
    src = model.hid(model.enc(xs)).detach()  # the true source activation
    base_z = model.enc(xb).detach()
    yb, ys = cv.reconstruct(model, xb).detach(), cv.reconstruct(model, xs).detach()
    d = (ys - yb) / (ys - yb).norm(dim=1, keepdim=True)
    for unit in range(5):
        with torch.no_grad():
            h = model.hid(base_z)
            h[:, unit] = src[:, unit]
            yp = model.out(torch.tanh(h + 1.0))
        assert res.exact["hid"][unit] == pytest.approx(float(((yp - yb) * d).sum(1).mean()),
                                                         abs=1e-6)


def test_runs_inside_no_grad_and_names_inference_mode(mlp, xpair):
    xb, xs = xpair
    with torch.no_grad():
        res = cv.attribution_patch(mlp, xb, xs, sites=["decoder.3"], check=2)
    assert np.isfinite(res.scores["decoder.3"]).all()
    with torch.inference_mode(), pytest.raises(cv.CircuitVAEError, match="inference_mode"):
        cv.attribution_patch(mlp, xb, xs)


def test_exact_check_on_a_3d_site_whose_rows_equal_its_channels():
    class Seq(torch.nn.Module):  # a Conv1d site with output (B, C=4, L=4)
        speaks_circuitvae = True

        def __init__(self):
            super().__init__()
            torch.manual_seed(2)
            self.latent_dim, self.input_shape = 3, (1, 4)
            self.conv = torch.nn.Conv1d(1, 4, 3, padding=1)
            self.mu = torch.nn.Linear(16, 3)
            self.dec = torch.nn.Linear(3, 4)
            self.eval()

        def encode(self, x):
            return cv.Posterior(self.mu(torch.tanh(self.conv(x)).flatten(1)), None)

        def decode(self, z):
            return self.dec(z).reshape(-1, 1, 4)

    model = Seq()
    gen = torch.Generator().manual_seed(3)
    xb, xs = torch.randn(4, 1, 4, generator=gen), torch.randn(4, 1, 4, generator=gen)
    res = cv.attribution_patch(model, xb, xs, sites=["conv"], check="all", outcome="output",
                               max_batch_rows=8)
    src = model.conv(xs).detach()
    yb, ys = cv.reconstruct(model, xb).detach(), cv.reconstruct(model, xs).detach()
    d = (ys - yb).flatten(1)
    d = d / d.norm(dim=1, keepdim=True)
    for c in range(4):
        with cv.patching(model, {"conv": cv.Patch(src, [c])}):
            yp = cv.reconstruct(model, xb).detach()
        assert res.exact["conv"][c] == pytest.approx(
            float(((yp - yb).flatten(1) * d).sum(1).mean()), abs=1e-6)
