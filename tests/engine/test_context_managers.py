"""capture() and patching(): hooks are always removed; silent no-ops are errors."""

from __future__ import annotations

import pytest
import torch

import circuitvae as cv


def _n_hooks(model: torch.nn.Module) -> int:
    """Stand-ins left in front of a module's forward, plus torch hooks left registered."""
    return sum(("forward" in m.__dict__) + len(m._forward_hooks) for m in model.modules())


def test_capture_and_patch_as_context_managers(tiny, batch):
    base, source = batch
    with cv.capture(tiny, ["decoder.1", "hook_mu"]) as cache:
        src_out = cv.reconstruct(tiny, source)
    assert set(cache) == {"decoder.1", "hook_mu"}
    with cv.patching(tiny, {"decoder.1": cache["decoder.1"]}):
        out = cv.reconstruct(tiny, base)
    torch.testing.assert_close(out, src_out, rtol=0, atol=1e-6)
    assert _n_hooks(tiny) == 0


def test_hooks_removed_even_on_error(tiny, batch):
    x, _ = batch
    with pytest.raises(RuntimeError, match="boom"):
        with cv.capture(tiny, ["decoder.1"]), cv.patching(tiny, {"decoder.0": lambda o: o}):
            cv.reconstruct(tiny, x)
            raise RuntimeError("boom")
    assert _n_hooks(tiny) == 0
    with pytest.raises(cv.CircuitVAEError, match="must return a tensor of shape"):
        with cv.patching(tiny, {"decoder.0": lambda o: o[:, :2]}):
            cv.reconstruct(tiny, x)
    assert _n_hooks(tiny) == 0


def test_site_that_does_not_run_is_an_error(tiny, batch):
    x, _ = batch
    with pytest.raises(cv.SiteError, match="'decoder.0' were patched but did not run"):
        with cv.patching(tiny, {"decoder.0": torch.zeros(8)}):
            tiny.encode(x)
    with pytest.raises(cv.SiteError, match="'decoder.0' were captured but did not run"):
        with cv.capture(tiny, "decoder.0"):
            tiny.encode(x)
    with pytest.raises(cv.SiteError, match="has not run in this forward pass"):
        with cv.capture(tiny, ["encoder.0", "decoder.0"]) as cache:
            tiny.encode(x)
            cache["decoder.0"]


def test_unknown_site_lists_valid_names(tiny, batch):
    with pytest.raises(cv.SiteError, match=r"unknown site 'decoder\.9'.*Valid sites: encoder\.0"):
        with cv.patching(tiny, {"decoder.9": torch.zeros(8)}):
            pass


def test_bad_patch_shapes_are_named(tiny, batch):
    x, _ = batch
    message = r"patch value for site 'decoder.1' has shape \(3,\)"
    with pytest.raises(cv.CircuitVAEError, match=message):
        cv.run(tiny, x, patches={"decoder.1": torch.zeros(3)})
    with pytest.raises(cv.CircuitVAEError, match="unit mask for site 'decoder.1'"):
        cv.run(tiny, x, patches={"decoder.1": cv.Patch(torch.zeros(8),
                                                       units=torch.ones(2, 2, dtype=torch.bool))})
    with pytest.raises(cv.CircuitVAEError, match="out of range"):
        cv.run(tiny, x, patches={"decoder.1": cv.Patch(torch.zeros(8), units=[8])})


def test_broadcast_single_row_value(tiny, batch):
    x, _ = batch
    z = torch.tensor([0.5, -1.0, 2.0])
    out = cv.run(tiny, x, patches={"hook_z": z}).output
    torch.testing.assert_close(out, tiny.decode(z.expand(5, 3)), rtol=0, atol=1e-6)


def test_capture_of_a_patched_site_records_the_patch_and_unwinds(tiny, batch):
    x, _ = batch
    value = torch.full((5, 8), 0.25)
    with cv.patching(tiny, {"decoder.1": value}), cv.capture(tiny, ["decoder.1"]) as cache:
        cv.reconstruct(tiny, x)
    torch.testing.assert_close(cache["decoder.1"], value, rtol=0, atol=0)
    assert _n_hooks(tiny) == 0


def test_contexts_closed_out_of_order_restore_the_module(tiny, batch):
    x, source = batch
    clean = cv.reconstruct(tiny, x)
    outer = cv.patching(tiny, {"decoder.1": torch.zeros(8)})
    inner = cv.capture(tiny, ["decoder.1"])
    outer.__enter__()
    cache = inner.__enter__()
    cv.reconstruct(tiny, x)
    outer.__exit__(None, None, None)  # the patch goes first; the capture keeps working
    cv.reconstruct(tiny, source)
    torch.testing.assert_close(cache["decoder.1"], tiny.decoder[1](tiny.decoder[0](
        tiny.encode(source).mean)), rtol=0, atol=1e-6)
    inner.__exit__(None, None, None)
    assert _n_hooks(tiny) == 0
    torch.testing.assert_close(cv.reconstruct(tiny, x), clean, rtol=0, atol=0)


def test_user_hooks_and_own_forward_are_kept(tiny, batch):
    x, _ = batch
    seen = []
    handle = tiny.decoder[1].register_forward_hook(lambda _m, _i, out: seen.append(out.clone()))
    layer = tiny.decoder[0]
    original = layer.forward
    layer.forward = lambda z: original(z) * 2.0  # an instance-level forward of the user's
    own = layer.__dict__["forward"]
    try:
        with cv.patching(tiny, {"decoder.1": torch.ones(8)}):
            cv.reconstruct(tiny, x)
        torch.testing.assert_close(seen[-1], torch.ones(5, 8), rtol=0, atol=0)
        with cv.capture(tiny, ["decoder.0"]) as cache:
            cv.reconstruct(tiny, x)
        torch.testing.assert_close(cache["decoder.0"], original(tiny.encode(x).mean) * 2.0,
                                   rtol=0, atol=1e-6)
        assert layer.__dict__["forward"] is own
    finally:
        handle.remove()
        del layer.forward
    assert _n_hooks(tiny) == 0


class _InplaceReLUVAE(torch.nn.Module):
    """A decoder with ReLU(inplace=True) right after the patched site."""

    speaks_circuitvae = True

    def __init__(self) -> None:
        super().__init__()
        self.latent_dim, self.input_shape = 2, (3,)
        self.enc = torch.nn.Linear(3, 4)
        self.dec = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU(inplace=True),
                                       torch.nn.Linear(4, 3))

    def encode(self, x: torch.Tensor) -> cv.Posterior:
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return cv.Posterior(mu, logvar)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.dec(z)


def test_patch_value_survives_inplace_ops_downstream():
    torch.manual_seed(0)
    model = _InplaceReLUVAE().eval()
    x = torch.randn(5, 3)
    value = torch.tensor([-1.0, 2.0, -3.0, 4.0]).repeat(5, 1)  # the site's full shape
    kept = value.clone()
    first = cv.run(model, x, patches={"dec.0": value}).output
    torch.testing.assert_close(value, kept, rtol=0, atol=0)  # the ReLU did not write into it
    torch.testing.assert_close(cv.run(model, x, patches={"dec.0": value}).output, first,
                               rtol=0, atol=0)
    torch.testing.assert_close(first, model.dec[2](value.clamp(min=0)), rtol=0, atol=1e-6)
