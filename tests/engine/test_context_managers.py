"""capture() and patching(): hooks are always removed; silent no-ops are errors."""

from __future__ import annotations

import pytest
import torch

import circuitvae as cv


def _n_hooks(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


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
