"""Models that return the wrong thing: checked at the door of the public functions (the one
encode/decode path, circuitvae.interventions.batching), naming the method and the shapes."""

from __future__ import annotations

import pytest
import torch

import circuitvae as cv
from circuitvae import CircuitVAEError, NotAVAEError
from circuitvae.interventions.batching import decode_all, encode_all

CASES = [
    ("OneRowDecode", r"OneRowDecode\.decode on latents of shape \(16, 3\) returned \(1, 6\); "
                     r"expected a tensor with one row per latent row \(16, \.\.\.\)"),
    ("HalfDecode", r"HalfDecode\.decode on latents of shape \(16, 3\) returned \(8, 6\)"),
    ("ScalarDecode", r"ScalarDecode\.decode on latents of shape \(16, 3\) returned \(\)"),
    ("TupleDecode", r"TupleDecode\.decode on latents of shape \(16, 3\) returned tuple"),
    ("ExtraDimEncode", r"ExtraDimEncode\.encode on inputs of shape \(16, 6\) returned a "
                       r"posterior with mean \(16, 3, 1\), logvar \(16, 3, 1\); "
                       r"expected \(16, 3\)"),
    ("DropRowsEncode", r"DropRowsEncode\.encode on inputs of shape \(16, 6\) returned a "
                       r"posterior with mean \(15, 3\), logvar \(15, 3\); expected \(16, 3\)"),
    ("WrongWidthEncode", r"WrongWidthEncode\.encode .* mean \(16, 4\); expected \(16, 3\)"),
    ("MismatchedLogvar", r"MismatchedLogvar\.encode .* mean \(16, 3\), logvar \(16, 2\)"),
    ("NotAPosterior", r"NotAPosterior\.encode returned Tensor, not a circuitvae\.Posterior"),
]


@pytest.mark.parametrize(("cls", "match"), CASES, ids=[c for c, _ in CASES])
@pytest.mark.parametrize("fn", ["ces", "specificity", "modularity_latent", "analyze"])
def test_bad_returns(bad, x, cls, match, fn):
    model = getattr(bad, cls)()
    if fn == "modularity_latent":  # the site probe (2 rows) runs first and meets it there
        match = cls + r"\.(encode on inputs of shape \(2, 6\) returned|decode on latents of "\
            r"shape \(2, 3\) returned|encode returned Tensor)"
    with pytest.raises(NotAVAEError, match=match):
        if fn == "modularity_latent":
            cv.modularity(model, x, level="latent", k=3)
        elif fn == "analyze":
            cv.analyze(model, x, metrics=["ces"], k=3, strict=True)
        else:
            getattr(cv, fn)(model, x, k=3)


@pytest.mark.parametrize(("cls", "match"), CASES[4:], ids=[c for c, _ in CASES[4:]])
def test_bad_encode_in_sigma_eff(bad, x, cls, match):
    with pytest.raises(NotAVAEError, match=match):
        cv.sigma_eff(getattr(bad, cls)(), x)


def test_bad_decode_is_checked_per_chunk(bad, x):
    with pytest.raises(NotAVAEError,
                       match=r"decode on latents of shape \(4, 3\) returned \(1, 6\)"):
        cv.ces(bad.OneRowDecode(), x, k=3, max_batch_rows=4)


def test_dropped_rows_are_checked_per_chunk(bad, x):
    with pytest.raises(NotAVAEError, match=r"encode on inputs of shape \(5, 6\) .* \(4, 3\); "
                                           r"expected \(5, 3\)"):
        cv.ces(bad.DropRowsEncode(), x, k=3, max_batch_rows=5)


def test_encode_all_and_decode_all_check_directly(bad, x):
    with pytest.raises(NotAVAEError, match=r"expected \(16, 3\)"):
        encode_all(bad.ExtraDimEncode(), x)
    with pytest.raises(NotAVAEError, match=r"returned \(1, 6\)"):
        decode_all(bad.OneRowDecode(), torch.zeros(16, 3))


@pytest.mark.parametrize("cls", ["OneRowDecode", "ExtraDimEncode"])
def test_bad_returns_in_analyze_are_reported(bad, x, cls):
    try:
        df = cv.analyze(getattr(bad, cls)(), x, metrics=["ces"], k=3)
    except NotAVAEError as err:  # the encoding is shared by every step: it raises
        assert f"{cls}.encode" in str(err)
    else:  # a step that fails is reported in `skipped`
        assert f"NotAVAEError: {cls}.decode" in df["skipped"].iloc[0]


def test_errors_are_circuitvae_errors(bad, x):
    with pytest.raises(CircuitVAEError, match=r"OneRowDecode\.decode"):
        cv.ces(bad.OneRowDecode(), x, k=3)


def test_wrapped_encode_dropping_rows(x):
    tiny_mu = torch.nn.Linear(6, 3)
    model = cv.wrap(encode=lambda t: (tiny_mu(t)[:-1], tiny_mu(t)[:-1]), decode=lambda z: z,
                    module=tiny_mu, latent_dim=3, input_shape=(6,))
    with pytest.raises(NotAVAEError, match=r"\.encode on inputs of shape \(16, 6\) returned a "
                                           r"posterior with mean \(15, 3\)"):
        cv.ces(model, x, k=3)


def test_wrapped_decode_one_row(wrapped, x):
    base = wrapped.decode
    object.__setattr__(wrapped, "decode", lambda z: base(z)[:1])
    with pytest.raises(NotAVAEError, match=r"\.decode on latents of shape \(16, 3\) returned "
                                           r"\(1, 6\)"):
        cv.ces(wrapped, x, k=3)


def test_wrapped_model_works(wrapped, x):
    assert cv.ces(wrapped, x, k=3).value > 0
