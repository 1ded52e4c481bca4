"""One conformance suite, run against every backend (torch hooks and nnsight)."""

from __future__ import annotations

import torch

import circuitvae as cv


def test_patching_nothing_equals_plain_forward(tiny, batch, backend):
    x, _ = batch
    plain = tiny.decode(tiny.encode(x).mean)
    out = cv.run(tiny, x, patches={}, backend=backend).output
    assert torch.equal(out, plain)


def test_patching_a_site_with_its_own_values_changes_nothing(tiny, batch, backend):
    x, _ = batch
    own = cv.run(tiny, x, capture=["decoder.1"], backend=backend)
    out = cv.run(tiny, x, patches={"decoder.1": own.cache["decoder.1"]}, backend=backend).output
    assert torch.equal(out, own.output)


def test_whole_site_patch_reproduces_source_output(tiny, batch, backend):
    base, source = batch
    for site in cv.sites(tiny):  # every site of a sequential net carries the whole state
        if site in ("fc_logvar", "hook_logvar"):
            continue  # the log-variance does not feed the deterministic reconstruction
        src = cv.run(tiny, source, capture=[site], backend=backend)
        out = cv.run(tiny, base, patches={site: src.cache[site]}, backend=backend).output
        torch.testing.assert_close(out, src.output, rtol=0, atol=1e-6, msg=site)


def test_unit_subset_patch_changes_only_those_units(tiny, batch, backend):
    base, source = batch
    src = cv.run(tiny, source, capture=["encoder.1"], backend=backend).cache["encoder.1"]
    run = cv.run(tiny, base, patches={"encoder.1": cv.Patch(src, units=[0, 3])},
                 capture=["encoder.1"], backend=backend)
    base_act = cv.run(tiny, base, capture=["encoder.1"], backend=backend).cache["encoder.1"]
    patched = run.cache["encoder.1"]
    assert torch.equal(patched[:, [0, 3]], src[:, [0, 3]])
    keep = [i for i in range(patched.shape[1]) if i not in (0, 3)]
    assert torch.equal(patched[:, keep], base_act[:, keep])


def test_per_row_masks_batch_many_interventions_in_one_pass(tiny, batch, backend):
    """Row i patches unit i only; equals i separate single-unit patches."""
    base, source = batch
    src = cv.run(tiny, source, capture=["decoder.1"], backend=backend).cache["decoder.1"]
    mask = torch.zeros(5, 8, dtype=torch.bool)
    mask[torch.arange(5), torch.arange(5)] = True
    batched = cv.run(tiny, base, patches={"decoder.1": cv.Patch(src, units=mask)},
                     backend=backend).output
    for i in range(5):
        single = cv.run(tiny, base[i : i + 1],
                        patches={"decoder.1": cv.Patch(src[i : i + 1], units=[i])},
                        backend=backend).output
        torch.testing.assert_close(batched[i : i + 1], single, rtol=0, atol=1e-6)


def test_function_patch_sees_the_batch(tiny, batch, backend):
    x, _ = batch
    seen = []

    def zero_second_half(out):
        seen.append(out.shape[0])
        out = out.clone()
        out[out.shape[0] // 2 :] = 0
        return out

    zeroed = cv.run(tiny, x, patches={"hook_z": zero_second_half}, backend=backend).output
    assert seen == [5]
    torch.testing.assert_close(zeroed[2:], tiny.decode(torch.zeros(3, 3)), rtol=0, atol=1e-6)


def test_channel_patch_on_conv(tiny_conv, backend):
    g = torch.Generator().manual_seed(0)
    base, source = torch.rand(3, 1, 16, 16, generator=g), torch.rand(3, 1, 16, 16, generator=g)
    src = cv.run(tiny_conv, source, capture=["encoder.1"], backend=backend).cache["encoder.1"]
    patched = cv.run(tiny_conv, base, patches={"encoder.1": cv.Patch(src, units=[2])},
                     capture=["encoder.1"], backend=backend).cache["encoder.1"]
    assert torch.equal(patched[:, 2], src[:, 2])
    out = cv.run(tiny_conv, base, patches={"encoder.1": src}, backend=backend).output
    torch.testing.assert_close(out, cv.reconstruct(tiny_conv, source), rtol=0, atol=1e-6)


def test_backends_give_identical_numbers(tiny, batch):
    nnsight = __import__("pytest").importorskip("nnsight")
    assert nnsight
    base, source = batch
    sites = ["encoder.1", "hook_mu", "decoder.3"]
    src = cv.run(tiny, source, capture=sites)
    patches = {"encoder.1": cv.Patch(src.cache["encoder.1"], units=[1, 2]),
               "decoder.3": lambda out: out * 0.5}
    a = cv.run(tiny, base, capture=sites, patches=patches, backend="torch")
    b = cv.run(tiny, base, capture=sites, patches=patches, backend="nnsight")
    assert torch.equal(a.output, b.output)
    for s in sites:
        assert torch.equal(a.cache[s], b.cache[s]), s


def test_encode_and_decode_methods(tiny, batch, backend):
    x, _ = batch
    post = cv.run(tiny, x, method="encode", capture=["hook_mu"], backend=backend)
    assert isinstance(post.output, cv.Posterior)
    assert torch.equal(post.output.mean, post.cache["hook_mu"])
    z = torch.randn(4, 3)
    dec = cv.run(tiny, z, method="decode", capture=["decoder.0"], backend=backend)
    assert torch.equal(dec.output, tiny.decode(z))


def test_site_that_does_not_run_is_an_error_on_every_backend(tiny, batch, backend):
    x, _ = batch
    import pytest

    with pytest.raises(cv.SiteError, match="did not run"):
        cv.run(tiny, x, method="encode", patches={"decoder.0": torch.zeros(8)}, backend=backend)
