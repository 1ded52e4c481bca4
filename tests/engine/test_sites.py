"""Site discovery: names in forward order, parts, shapes."""

from __future__ import annotations

import pytest
import torch

import circuitvae as cv


def test_sites_in_forward_order_with_parts(tiny):
    table = cv.site_table(tiny)
    names = [s.name for s in table]
    assert names.index("encoder.0") < names.index("encoder.2") < names.index("hook_mu")
    assert names.index("hook_mu") < names.index("hook_z") < names.index("decoder.0")
    parts = {s.name: s.part for s in table}
    assert parts["encoder.0"] == "encoder" and parts["decoder.4"] == "decoder"
    assert parts["fc_mu"] == parts["hook_mu"] == parts["hook_z"] == "latent"
    assert [s.index for s in table] == list(range(len(table)))
    assert {s.name: s.shape for s in table}["decoder.0"] == (8,)
    phases = {s.name: s.phase for s in table}
    assert phases["encoder.0"] == phases["hook_mu"] == "encode"
    assert phases["hook_z"] == phases["decoder.0"] == "decode"
    assert cv.sites(tiny, part="latent") == [s.name for s in table if s.part == "latent"]


def test_sites_of_conv_model_have_per_row_shapes(tiny_conv):
    shapes = {s.name: s.shape for s in cv.site_table(tiny_conv)}
    assert shapes["encoder.0"] == (4, 8, 8)
    assert shapes["decoder.5"] == (1, 16, 16)


def test_sites_need_an_input_shape_or_example():
    model = cv.wrap(encode=lambda x: (x[:, :2], x[:, 2:4]), decode=lambda z: z,
                    module=torch.nn.Linear(1, 1), latent_dim=2)
    with pytest.raises(cv.CircuitVAEError, match="has no `input_shape` and has seen no input"):
        cv.sites(model)
    assert "hook_z" in cv.sites(model, example=torch.zeros(2, 4))


def test_dry_run_leaves_training_mode_and_batchnorm_stats_untouched():
    torch.manual_seed(0)
    bn = torch.nn.BatchNorm1d(3)
    model = cv.wrap(encode=lambda x: (bn(x), x), decode=lambda z: z, module=bn, input_shape=(3,),
                    latent_dim=3)
    model.train()
    before = bn.running_mean.clone()
    cv.sites(model)
    assert model.training and torch.equal(bn.running_mean, before)


@pytest.mark.parametrize("bad", [None, 3, ("encoder", 1)])
def test_a_site_name_that_is_not_a_str_is_named(tiny, bad):
    from circuitvae.sitemap import check_sites

    with pytest.raises(cv.SiteError, match="a site name must be a str"):
        check_sites(tiny, [bad])


def test_one_site_name_as_a_str_is_one_site(tiny):
    from circuitvae.sitemap import check_sites

    with pytest.raises(cv.SiteError, match="unknown site 'nope'"):
        check_sites(tiny, "nope")
