"""Each loss term against a value computed by hand (plain Python loops, float64)."""

from __future__ import annotations

import math

import pytest
import torch

from circuitvae.zoo import build
from circuitvae.zoo.models.factor_vae import permute_dims
from circuitvae.zoo.models.regularizers import (
    dip_ii_covariance,
    dip_penalty,
    kl_divergence,
    total_correlation,
)

MU = [[0.5, -1.0, 0.2], [0.1, 0.3, -0.4], [-0.7, 0.9, 1.1], [0.0, -0.2, 0.6]]
LOGVAR = [[-0.5, 0.2, 0.0], [0.1, -1.0, 0.3], [0.4, 0.0, -0.2], [-0.3, 0.5, 0.1]]
Z = [[0.3, -0.8, 0.5], [0.2, 0.1, -0.9], [-0.4, 1.2, 0.7], [0.1, 0.0, 0.2]]


def t(rows):
    return torch.tensor(rows, dtype=torch.float64)


def test_kl_closed_form():
    expected = 0.0
    for mu_row, lv_row in zip(MU, LOGVAR, strict=True):
        for m, lv in zip(mu_row, lv_row, strict=True):
            expected += 0.5 * (m * m + math.exp(lv) - 1.0 - lv)
    expected /= len(MU)
    assert float(kl_divergence(t(MU), t(LOGVAR))) == pytest.approx(expected, rel=1e-12)
    assert float(kl_divergence(torch.zeros(2, 3), torch.zeros(2, 3))) == 0.0


def test_dip_ii_covariance_penalty():
    b, d = len(MU), len(MU[0])
    means = [sum(MU[i][k] for i in range(b)) / b for k in range(d)]
    cov = [[sum((MU[i][k] - means[k]) * (MU[i][m] - means[m]) for i in range(b)) / b
            for m in range(d)] for k in range(d)]
    for k in range(d):
        cov[k][k] += sum(math.exp(LOGVAR[i][k]) for i in range(b)) / b
    off = sum(cov[k][m] ** 2 for k in range(d) for m in range(d) if k != m)
    diag = sum((cov[k][k] - 1.0) ** 2 for k in range(d))
    c = dip_ii_covariance(t(MU), t(LOGVAR))
    torch.testing.assert_close(c, t(cov))
    assert float(dip_penalty(c, 10.0, 3.0)) == pytest.approx(10.0 * off + 3.0 * diag, rel=1e-12)


def _log_normal(x, m, lv):
    return -0.5 * ((x - m) ** 2 / math.exp(lv) + lv + math.log(2 * math.pi))


def test_total_correlation_minibatch_estimate():
    b, d = len(Z), len(Z[0])
    total = 0.0
    for i in range(b):
        joint = [sum(_log_normal(Z[i][k], MU[j][k], LOGVAR[j][k]) for k in range(d))
                 for j in range(b)]
        log_qz = math.log(sum(math.exp(v) for v in joint))
        log_prod = 0.0
        for k in range(d):
            log_prod += math.log(sum(math.exp(_log_normal(Z[i][k], MU[j][k], LOGVAR[j][k]))
                                     for j in range(b)))
        total += log_qz - log_prod
    assert float(total_correlation(t(Z), t(MU), t(LOGVAR))) == pytest.approx(total / b,
                                                                            rel=1e-10)


def test_beta_tc_and_dip_losses_combine_terms(tiny, tabular):
    x = tabular[:16]
    for name, extra in (("beta_tc_vae", "tc"), ("dip_vae_ii", "dip")):
        model = build(name, input_shape=(6,), seed=0, **tiny(name))
        terms = model.loss(x, torch.Generator().manual_seed(0))
        weight = 5.0 if name == "beta_tc_vae" else 1.0
        torch.testing.assert_close(
            terms["loss"], terms["recon"] + terms["kl"] + weight * terms[extra]
        )
    beta = build("beta_vae", input_shape=(6,), seed=0, **tiny("beta_vae"))
    terms = beta.loss(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(terms["loss"], terms["recon"] + 4.0 * terms["kl"])


def test_mixed_and_bernoulli_reconstruction_by_hand(features):
    model = build("vae", input_shape=(6,), features=features, hidden=(4,), latent_dim=2)
    logits = torch.tensor([[0.5, -1.0, 1.0, 2.0, 0.0, 3.0]])
    x = torch.tensor([[1.0, 0.0, 0.0, 1.0, 0.0, 2.0]])
    log_z = math.log(math.exp(1.0) + math.exp(2.0) + math.exp(0.0))
    expected = 0.5 * (0.5 ** 2 + 1.0 ** 2 + 1.0 ** 2) + (log_z - 2.0)
    assert float(model.recon_loss(logits, x)) == pytest.approx(expected, rel=1e-6)
    img = build("vae", input_shape=(1, 16, 16), conv_channels=(2, 2, 2, 2), fc_hidden=4,
                latent_dim=2)
    lg = torch.linspace(-3, 3, 512).reshape(2, 1, 16, 16)
    xi = (torch.arange(512).reshape(2, 1, 16, 16) % 3 == 0).float()
    p = torch.sigmoid(lg.double())
    manual = -(xi * torch.log(p) + (1 - xi) * torch.log(1 - p)).sum() / 2
    assert float(img.recon_loss(lg, xi)) == pytest.approx(float(manual), rel=1e-5)


def test_factor_vae_density_ratio_and_discriminator_loss(tabular):
    model = build("factor_vae", input_shape=(6,), seed=0, hidden=(8,), latent_dim=3,
                  disc_layers=0)
    lin = model.discriminator[0]
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 2.0, -1.0], [0.5, 0.0, 1.0]]))
        lin.bias.copy_(torch.tensor([0.3, -0.2]))
    z = torch.tensor(Z, dtype=torch.float32)
    ratio = sum((r[0] + 2 * r[1] - r[2] + 0.3) - (0.5 * r[0] + r[2] - 0.2) for r in Z) / 4
    _, terms = model.regularizer(z, z, z, torch.tensor(0.0), None)
    assert terms["tc"].item() == pytest.approx(ratio, rel=1e-6)
    # with a constant discriminator the loss is -(0.5 log p0 + 0.5 log p1), whatever the shuffle
    with torch.no_grad():
        lin.weight.zero_()
        lin.bias.copy_(torch.tensor([1.0, -1.0]))
    p0 = math.exp(1.0) / (math.exp(1.0) + math.exp(-1.0))
    expected = -(0.5 * math.log(p0) + 0.5 * math.log(1 - p0))
    d_loss = model.discriminator_loss(z, torch.Generator().manual_seed(0))
    assert d_loss.item() == pytest.approx(expected, rel=1e-6)
    # the VAE loss adds gamma * tc
    terms = model.loss(tabular[:8], torch.Generator().manual_seed(0))
    torch.testing.assert_close(terms["loss"], terms["recon"] + terms["kl"] + 10.0 * terms["tc"])


def test_factor_vae_tc_term_gives_z_its_gradient_and_the_discriminator_none():
    model = build("factor_vae", input_shape=(6,), seed=0, hidden=(8,), latent_dim=3,
                  disc_hidden=16, disc_layers=2)
    z = torch.randn(12, 3, requires_grad=True)
    reg, _ = model.regularizer(z, z, z, torch.tensor(0.0), None)
    (grad_frozen,) = torch.autograd.grad(reg, z)
    logits = model.discriminator(z)  # the plain forward, weights requiring grad
    plain = model.config.gamma * (logits[:, 0] - logits[:, 1]).mean()
    (grad_plain,) = torch.autograd.grad(plain, z)
    assert torch.equal(grad_frozen, grad_plain)  # the same gradient, bit for bit
    reg, _ = model.regularizer(z, z, z, torch.tensor(0.0), None)
    reg.backward()
    assert all(p.grad is None and p.requires_grad for p in model.discriminator.parameters())


def test_permute_dims_shuffles_each_column_with_the_generator():
    z = torch.arange(40.0).reshape(10, 4)
    a = permute_dims(z, torch.Generator().manual_seed(1))
    b = permute_dims(z, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    for k in range(4):
        assert torch.equal(a[:, k].sort().values, z[:, k])
    assert not torch.equal(a, z)
    # columns are shuffled independently: rows are no longer the original rows
    assert not all(any(torch.equal(r, s) for s in z) for r in a)


def test_vq_codebook_and_commitment_terms(tabular):
    model = build("vq_vae", input_shape=(6,), seed=0, hidden=(8,), num_codes=4,
                  num_positions=2, embedding_dim=2)
    with torch.no_grad():
        model.quantizer.codebook.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0], [-1.0, 0.5],
                                                     [0.2, -0.7]]))
    x = tabular[:5]
    ze = model.encode(x).mean.detach().tolist()
    book = model.quantizer.codebook.detach().tolist()
    total = 0.0
    for row in ze:
        for p in range(2):
            v = row[2 * p:2 * p + 2]
            total += min(sum((v[i] - c[i]) ** 2 for i in range(2)) for c in book)
    terms = model.loss(x)
    assert terms["vq_commitment"].item() == pytest.approx(total / 5, rel=1e-5)
    assert terms["vq_codebook"].item() == pytest.approx(total / 5, rel=1e-5)
    torch.testing.assert_close(
        terms["loss"], terms["recon"] + terms["vq_codebook"] + 0.25 * terms["vq_commitment"]
    )
    assert "kl" not in terms


def test_vq_straight_through_gradient_reaches_encoder_not_codebook_from_recon(tabular):
    model = build("vq_vae", input_shape=(6,), seed=0, hidden=(8,), num_codes=4,
                  num_positions=2, embedding_dim=2)
    ze = model.encode(tabular[:5]).mean
    model.recon_loss(model.decode_logits(ze), tabular[:5]).backward()
    assert model.fc_z.weight.grad is not None and model.fc_z.weight.grad.abs().sum() > 0
    assert model.quantizer.codebook.grad is None


@pytest.mark.parametrize("blocks", [[(0, 1, 2), (5, 6), (9, 10, 11, 12)],  # numeric between
                                    [(0, 1), (2, 3, 4)],                   # no numeric column
                                    [(3, 1, 4)],                           # unordered block
                                    []])                                   # numeric only
def test_vectorised_mixed_nll_and_output_equal_the_per_block_loop(blocks):
    from circuitvae.zoo.models.likelihood import MixedOutput, mixed_nll

    n_cols = 14 if blocks and blocks[0] == (0, 1, 2) else 5
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(30, n_cols, generator=gen, dtype=torch.float64)
    for b in blocks:
        x[:, list(b)] = torch.nn.functional.one_hot(
            torch.randint(0, len(b), (30,), generator=gen), len(b)).double()
    logits = (5 * torch.randn(30, n_cols, generator=gen, dtype=torch.float64)).requires_grad_()
    numeric = [c for c in range(n_cols) if all(c not in b for b in blocks)]
    expected = 0.5 * ((x[:, numeric] - logits[:, numeric]) ** 2).sum(1)
    for b in blocks:
        expected = expected - (x[:, list(b)] * torch.log_softmax(logits[:, list(b)], 1)).sum(1)
    expected = expected.mean()
    got = mixed_nll(logits, x, blocks)
    assert float(got.detach()) == pytest.approx(float(expected.detach()), rel=1e-12)
    g_got, = torch.autograd.grad(got, logits)
    g_exp, = torch.autograd.grad(expected, logits)
    torch.testing.assert_close(g_got, g_exp, rtol=1e-10, atol=1e-12)
    out = MixedOutput(n_cols, blocks)(logits.detach())
    ref = logits.detach().clone()
    for b in blocks:
        ref[:, list(b)] = torch.softmax(ref[:, list(b)], 1)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
