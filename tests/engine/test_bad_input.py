"""Bad input gets a clear error that names the problem."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import circuitvae as cv


def test_wrong_input_shape(tiny):
    with pytest.raises(cv.CircuitVAEError, match=r"shape \(4, 5\), but TinyVAE expects \(N, 6\)"):
        cv.run(tiny, torch.zeros(4, 5))


@pytest.mark.parametrize("bad, word", [(float("nan"), "NaN"), (float("inf"), "Inf")])
def test_nan_and_inf(tiny, bad, word):
    x = torch.zeros(4, 6)
    x[2, 1] = bad
    with pytest.raises(cv.CircuitVAEError, match=f"contains {word} values in 1 row.*row 2"):
        cv.run(tiny, x)


def test_empty_batch(tiny):
    with pytest.raises(cv.CircuitVAEError, match="empty"):
        cv.protocol.check_input(tiny, np.zeros((0, 6)))


def test_non_numeric_input(tiny):
    with pytest.raises(cv.CircuitVAEError, match="must be a tensor or array"):
        cv.protocol.check_input(tiny, "abc")


def test_model_without_decode():
    class EncoderOnly(torch.nn.Module):
        def encode(self, x):
            return x, x

    with pytest.raises(cv.NotAVAEError, match=r"EncoderOnly has no decode\(\) method"):
        cv.wrap(EncoderOnly())
    with pytest.raises(cv.NotAVAEError, match=r"has no decode\(\)"):
        cv.run(EncoderOnly(), torch.zeros(2, 2))


def test_encode_returning_a_tuple_unwrapped():
    class Raw(torch.nn.Module):
        latent_dim = 2

        def encode(self, x):
            return x, x

        def decode(self, z):
            return z

    with pytest.raises(cv.NotAVAEError, match="returned tuple, not a circuitvae.Posterior"):
        cv.run(Raw(), torch.zeros(2, 2))


def test_latent_of_wrong_size(tiny):
    message = r"latent batch has shape \(2, 4\); TinyVAE decodes \(N, 3\)"
    with pytest.raises(cv.CircuitVAEError, match=message):
        cv.run(tiny, torch.zeros(2, 4), method="decode")


def test_unknown_backend_and_method(tiny, batch):
    x, _ = batch
    with pytest.raises(cv.CircuitVAEError, match="unknown backend 'jax'"):
        cv.run(tiny, x, backend="jax")
    with pytest.raises(cv.CircuitVAEError, match="unknown method 'sample'"):
        cv.run(tiny, x, method="sample")


def test_float64_and_integer_inputs_are_cast_to_the_model_dtype(tiny):
    x = np.random.default_rng(0).normal(size=(3, 6))
    out64 = cv.run(tiny, x).output
    assert out64.dtype == torch.float32
    torch.testing.assert_close(out64, cv.run(tiny, torch.as_tensor(x, dtype=torch.float32)).output)
    assert cv.run(tiny, np.ones((2, 6), dtype=np.int64)).output.dtype == torch.float32


def test_huge_finite_values_are_not_mistaken_for_inf(tiny):
    x = torch.full((3, 6), 3e38)  # finite, but the sum overflows to inf
    assert cv.protocol.check_input(tiny, x).shape == (3, 6)


def test_optional_attr_matches_getattr_without_raising(tiny):
    from circuitvae.protocol import optional_attr

    tiny.register_buffer("scale_buffer", torch.ones(1))
    for name in ("latent_dim", "encoder", "scale_buffer", "encode", "training", "nothing_here"):
        got, expected = optional_attr(tiny, name, "default"), getattr(tiny, name, "default")
        assert got is expected or got == expected, name  # bound methods are equal, not same
    wrapped = cv.wrap(encode=tiny.encode, decode=tiny.decode, module=tiny, latent_dim=3,
                      input_shape=(6,))
    assert optional_attr(wrapped, "nothing_here") is None
