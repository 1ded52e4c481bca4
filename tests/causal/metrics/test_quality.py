"""Reconstruction MSE, downstream AUC and VQ code swaps against direct computations."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import circuitvae as cv
from circuitvae.protocol import Feature


def test_reconstruction_mse_and_per_type_breakdown(mlp):
    x = torch.randn(12, 6, generator=torch.Generator().manual_seed(0))
    x[:, 3:] = torch.eye(3)[torch.arange(12) % 3]  # a one-hot categorical in columns 3..5

    class Data:
        name = "mixed"
        features = [Feature("a", "numeric", (0,)), Feature("b", "numeric", (1,)),
                    Feature("c", "numeric", (2,)), Feature("cat", "categorical", (3, 4, 5))]
        test = cv.Split(x)
        train = cv.Split(x)

    res = cv.reconstruction(mlp, Data())
    err = (cv.run(mlp, x).output - x).double().numpy() ** 2
    assert res.value == pytest.approx(err.mean(), rel=1e-9)
    assert res.per_type["numeric"] == pytest.approx(err[:, :3].mean(), rel=1e-9)
    assert res.per_type["categorical"] == pytest.approx(err[:, 3:].mean(), rel=1e-9)
    np.testing.assert_allclose(res.per_element, err.mean(0), rtol=1e-9)


def test_reconstruction_images_per_pixel(conv_vae, fake_images):
    res = cv.reconstruction(conv_vae, fake_images)
    assert res.per_element.shape == (1, 4, 4) and res.per_type == {}
    assert res.value == pytest.approx(res.per_element.mean())


def _manual_auc(model, data, multiclass):
    mu = lambda s: cv.run(model, s.x, method="encode").output.mean.numpy()  # noqa: E731
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    clf.fit(mu(data.train), data.train.y)
    p = clf.predict_proba(mu(data.test))
    if multiclass:
        return roc_auc_score(data.test.y, p, multi_class="ovr", average="macro")
    return roc_auc_score(data.test.y, p[:, 1])


def test_downstream_auc_binary_and_multiclass(circuit_models, tabular, conv_vae, fake_images):
    res = cv.downstream_auc(circuit_models[0], tabular)
    assert not res.multiclass and res.value == pytest.approx(
        _manual_auc(circuit_models[0], tabular, False))
    assert res.value > 0.7  # the label shifts every column
    multi = cv.downstream_auc(conv_vae, fake_images)
    assert multi.multiclass and multi.n_classes == 4
    assert multi.value == pytest.approx(_manual_auc(conv_vae, fake_images, True))
    with pytest.raises(cv.CircuitVAEError, match="train and test"):
        cv.downstream_auc(conv_vae, torch.rand(3, 1, 4, 4))


def test_code_swap_equals_manual_loop(vq):
    x = torch.randn(6, 6, generator=torch.Generator().manual_seed(0))
    res = cv.code_swap(vq, x, n_entries=None)
    post = cv.run(vq, x, method="encode").output
    codes, book = post.codes, post.codebook.detach()
    base = cv.run(vq, book[codes].flatten(1), method="decode").output.double()
    for p in range(codes.shape[1]):
        vals = []
        for c in range(book.shape[0]):
            for i in range(len(x)):
                if codes[i, p] == c:
                    continue
                new = codes[i:i + 1].clone()
                new[0, p] = c
                out = cv.run(vq, book[new].flatten(1), method="decode").output.double()
                vals.append((out - base[i:i + 1]).pow(2).mean().sqrt().item())
        assert res.ces_per_position[p] == pytest.approx(np.mean(vals), rel=1e-6)
    chunked = cv.code_swap(vq, x, n_entries=None, max_batch_rows=5)
    np.testing.assert_allclose(chunked.ces_per_position, res.ces_per_position, rtol=1e-6)
    sub = cv.code_swap(vq, x, n_entries=2, seed=3)
    assert sub.entries.shape == (2, 2)
    with pytest.raises(cv.CircuitVAEError, match="continuous posterior"):
        cv.code_swap(cv.wrap(torch.nn.Linear(2, 2), encode=lambda t: t, decode=lambda t: t,
                             latent_dim=2), torch.randn(3, 2))


def test_downstream_auc_falls_back_to_a_factor_label(conv_vae, fake_images):
    with_y = cv.downstream_auc(conv_vae, fake_images).value
    fake_images.train.y = fake_images.test.y = None
    assert cv.downstream_auc(conv_vae, fake_images, label="row").value == pytest.approx(with_y)
    assert cv.downstream_auc(conv_vae, fake_images, label=0).value == pytest.approx(with_y)
    with pytest.raises(cv.CircuitVAEError, match="no y"):
        cv.downstream_auc(conv_vae, fake_images)  # no y and no "shape" factor
