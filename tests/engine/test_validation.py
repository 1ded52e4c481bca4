"""Inputs are checked once, at the door: one site validator, and an unchecked inner path."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

import circuitvae as cv
from circuitvae import hooks, protocol, sitemap
from circuitvae.interventions import activation_profiles, latent_sweep, offset_grid, responses
from circuitvae.sitemap import check_sites

EXPECTED = "unknown site 'decoder.9' in TinyVAE. Valid sites: encoder.0, encoder.1, encoder.2"


def _message(fn) -> str:
    with pytest.raises(cv.SiteError) as info:
        fn()
    return str(info.value)


def test_one_message_for_an_unknown_site_through_every_entry(tiny, batch, backend):
    x, xs = batch
    entries = {
        "run capture": lambda: cv.run(tiny, x, capture=["decoder.9"], backend=backend),
        "run patch": lambda: cv.run(tiny, x, patches={"decoder.9": torch.zeros(8)},
                                    backend=backend),
        "capture": lambda: cv.capture(tiny, ["decoder.9"]),
        "patching": lambda: cv.patching(tiny, {"decoder.9": torch.zeros(8)}),
        "patch": lambda: cv.patch(tiny, x, xs, site="decoder.9"),
        "path_patch": lambda: cv.path_patch(tiny, x, xs, {"decoder.0": None, "decoder.9": None}),
        "mediate": lambda: cv.mediate(tiny, x, xs, mediator="decoder.9"),
        "modularity sites=": lambda: cv.modularity(tiny, x, sites=["decoder.0", "decoder.9"]),
        "modularity latent": lambda: cv.modularity(tiny, x, level="latent", sites=["decoder.9"]),
        "latent_sweep": lambda: latent_sweep(tiny, x[:, :3], offset_grid(3, 3),
                                             capture=("decoder.9",)),
        "responses": lambda: responses(tiny, x, xs, sites=["decoder.9"]),
        "activation_profiles": lambda: activation_profiles(tiny, x, {"a": xs, "b": x},
                                                           sites=["decoder.9"]),
        "resolve_site": lambda: cv.hooks.resolve_site(tiny, "decoder.9"),
    }
    messages = {name: _message(fn) for name, fn in entries.items()}
    first = messages["run capture"]
    assert first.startswith(EXPECTED) and first.endswith("decoder.4, decoder")
    assert messages == dict.fromkeys(entries, first)


def test_unknown_sites_are_named_together_with_close_matches(tiny):
    with pytest.raises(cv.SiteError, match=r"^unknown sites 'a\.x', 'b' in TinyVAE\. Valid"):
        check_sites(tiny, ["encoder.0", "a.x", "b", "a.x"])
    with pytest.raises(cv.SiteError, match=r"'dec\.1' in TinyVAE\. Did you mean encoder\.1, "
                                           r"decoder\.1\? Valid sites: encoder\.0, "):
        cv.capture(tiny, "dec.1")
    check_sites(tiny, ["encoder.0", "hook_z"])  # known names pass


def test_models_without_a_site_table_validate_against_their_modules():
    model = cv.wrap(encode=lambda x: (x[:, :2], x[:, 2:4]), decode=lambda z: z,
                    module=torch.nn.Linear(1, 1), latent_dim=2)  # no input_shape
    with pytest.raises(cv.SiteError, match=r"unknown site 'nope' in WrappedVAE\. Valid sites: "):
        cv.capture(model, ["nope"])
    with cv.capture(model, ["hook_z"]) as cache:
        model.decode(torch.zeros(3, 2))
    assert cache["hook_z"].shape == (3, 2)


def _count(monkeypatch, module, name):
    """Count the calls of ``module.name`` from every circuitvae module that imported it."""
    calls = []
    original = getattr(module, name)

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    for mod in list(sys.modules.values()):
        if (getattr(mod, "__name__", "").startswith("circuitvae")
                and getattr(mod, name, None) is original):
            monkeypatch.setattr(mod, name, counting)
    return calls


def test_inner_passes_do_not_revalidate(tiny, monkeypatch):
    x = torch.randn(30, 6, generator=torch.Generator().manual_seed(0))
    cv.site_table(tiny)  # site discovery checks its own dry-run input; do it before counting
    checks = _count(monkeypatch, protocol, "as_tensor")
    lookups = _count(monkeypatch, sitemap, "check_sites")
    passes = _count(monkeypatch, hooks, "run_unchecked")
    cv.ces(tiny, x, k=3, max_batch_rows=7)  # 9 * 30 rows in chunks of 7: many passes
    assert len(passes) > 30
    assert len(checks) == 1  # the data, once, at the door
    assert lookups == []  # the sweep's passes validate no site names


def test_public_run_keeps_its_checks(tiny, monkeypatch):
    cv.site_table(tiny)
    checks = _count(monkeypatch, protocol, "as_tensor")
    sites = _count(monkeypatch, sitemap, "check_sites")
    cv.run(tiny, torch.zeros(2, 6), capture=["decoder.0"])
    assert len(checks) == 1 and len(sites) == 1
    with pytest.raises(cv.CircuitVAEError, match="NaN"):
        cv.run(tiny, torch.full((2, 6), float("nan")))


def test_public_entry_points_check_their_tensors(tiny):
    with pytest.raises(cv.CircuitVAEError, match=r"latent batch has shape \(4, 2\)"):
        latent_sweep(tiny, torch.zeros(4, 2), offset_grid(2, 3))
    with pytest.raises(cv.CircuitVAEError, match="variant 'g' contains NaN"):
        activation_profiles(tiny, torch.zeros(4, 6), {"g": torch.full((4, 6), float("nan"))})
    with pytest.raises(cv.CircuitVAEError, match=r"x has shape \(4, 5\)"):
        cv.sigma_eff(tiny, torch.zeros(4, 5))
    with pytest.raises(cv.NotAVAEError, match=r"Linear has no encode\(\) or decode\(\)"):
        cv.interventions.traversal(torch.nn.Linear(2, 2), torch.zeros(1, 2), np.zeros(2))


def test_unchecked_run_equals_checked_run(tiny, batch):
    x, _ = batch
    a = cv.run(tiny, x, capture=["decoder.1"])
    b = hooks.run_unchecked(tiny, x, capture=["decoder.1"])
    assert torch.equal(a.output, b.output)
    assert torch.equal(a.cache["decoder.1"], b.cache["decoder.1"])
