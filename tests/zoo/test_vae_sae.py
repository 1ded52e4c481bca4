"""The VAE-SAE: its sparsity schedule, Top-k, the L1 controller, AuxK and the trainer hooks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import circuitvae as cv
from circuitvae.metrics.sparsity import (
    encoder_site_and_means,
    site_activations,
    site_sparsity,
)
from circuitvae.protocol import CircuitVAEError
from circuitvae.zoo import SparsitySchedule, build, load, save, train
from circuitvae.zoo.models.sparsity_schedule import l1_controller_step
from circuitvae.zoo.models.vae_sae import TopK
from circuitvae.zoo.studies.train_analyze import training_adequacy

TINY = {"hidden": (32, 16), "latent_dim": 3, "sparse_units": 24, "k_start": 24, "k_end": 6,
        "schedule_epochs": 3}


def _model(**kw):
    return build("vae_sae", input_shape=(8,), seed=0, **{**TINY, **kw})


# ----------------------------------------------------------------------------- the schedule


def test_linear_schedule_runs_from_500_to_50_over_50_epochs():
    s = SparsitySchedule()
    assert (s.k(1), s.k(50), s.k(51), s.k(150)) == (500, 50, 50, 50)
    assert s.k(2) == round(500 - 450 / 49)
    assert [s.first_epoch_at_most(k) for k in (500, 400, 200, 50)] == [1, 12, 34, 50]
    assert not s.done(49) and s.done(50)


@pytest.mark.parametrize("shape", ["linear", "exponential", "cosine"])
def test_every_shape_is_monotone_with_the_same_end_points(shape):
    s = SparsitySchedule(shape=shape)
    ks = [s.k(e) for e in range(1, 60)]
    assert ks[0] == 500 and ks[49:] == [50] * 10
    assert all(a >= b for a, b in zip(ks, ks[1:], strict=False))


def test_exponential_and_cosine_values():
    assert SparsitySchedule(shape="exponential").k(25) == round(500 * 0.1 ** (24 / 49))
    cos = SparsitySchedule(k_start=100, k_end=20, epochs=5, shape="cosine")
    assert [cos.k(e) for e in range(1, 6)] == [100, round(20 + 80 * (1 + math.cos(math.pi / 4))
                                                          / 2), 60, 32, 20]


@pytest.mark.parametrize("kwargs, match", [
    ({"k_start": 10, "k_end": 20}, "must not exceed"),
    ({"epochs": 0}, "schedule epochs must be an integer >= 1"),
    ({"shape": "step"}, "shape must be one of"),
    ({"k_end": 1.5}, "schedule k_end must be an integer >= 1"),
])
def test_bad_schedules_are_named(kwargs, match):
    with pytest.raises(CircuitVAEError, match=match):
        SparsitySchedule(**kwargs)
    with pytest.raises(CircuitVAEError, match="epoch must be an integer >= 1"):
        SparsitySchedule().k(0)


def test_l1_controller_raises_lambda_above_target_and_lowers_it_below():
    assert l1_controller_step(1.0, 150.0, 100, 2.0) == pytest.approx(1.5)
    assert l1_controller_step(1.0, 50.0, 100, 2.0) == pytest.approx(0.5)
    assert l1_controller_step(1.0, 1000.0, 100, 2.0) == pytest.approx(2.0)  # clipped
    assert l1_controller_step(1.0, 0.0, 100, 2.0) == pytest.approx(0.5)
    with pytest.raises(CircuitVAEError, match="positive number"):
        l1_controller_step(0.0, 1.0, 1, 2.0)
    for mean_l0 in (float("nan"), -1.0):
        with pytest.raises(CircuitVAEError, match="mean_l0"):
            l1_controller_step(1.0, mean_l0, 100, 2.0)
    with pytest.raises(CircuitVAEError, match="max_step a finite number > 1"):
        l1_controller_step(1.0, 10.0, 100, float("inf"))


def test_schedule_takes_numpy_ints_and_checks_its_epoch_arguments():
    s = SparsitySchedule(np.int64(10), np.int64(2), np.int64(5))
    assert s.to_dict() == {"k_start": 10, "k_end": 2, "epochs": 5, "shape": "linear"}
    assert type(s.k_start) is int and s.k(np.int64(5)) == 2
    for bad in (None, "5", -1, 0, True):
        with pytest.raises(CircuitVAEError, match="epoch must be an integer >= 1"):
            s.done(bad)
    with pytest.raises(CircuitVAEError, match="k must be an integer"):
        s.first_epoch_at_most("5")
    assert s.done(5) and not s.done(4) and s.first_epoch_at_most(6) == 3


# ----------------------------------------------------------------------------- the model


def test_topk_keeps_the_k_largest_entries_of_each_row():
    a = torch.tensor([[0.1, 3.0, 2.0, 0.5], [4.0, 0.0, 1.0, 2.0]])
    layer = TopK(4, 2, enabled=True)
    assert torch.equal(layer(a), torch.tensor([[0.0, 3.0, 2.0, 0.0], [4.0, 0.0, 0.0, 2.0]]))
    assert torch.equal(TopK(4, 2, enabled=False)(a), a)


def test_sparse_site_is_hookable_and_has_k_active_units():
    model = _model().eval()
    assert "sparse" in {s.name for s in cv.site_table(model)}
    x = torch.randn(40, 8)
    model.sparse.k.fill_(5)
    res = site_sparsity(model, x, "sparse")
    assert res.acts.shape == (40, 24) and res.l0_mean <= 5
    # patching the sparse site with its own values changes nothing
    clean = model(x)
    cache = cv.run(model, x, capture=["sparse"]).cache
    with cv.patching(model, {"sparse": cache["sparse"]}):
        torch.testing.assert_close(model(x), clean)


def test_one_encode_pass_gives_the_site_activations_and_the_means():
    model = _model().eval()
    x = torch.randn(40, 8)
    acts, mu = encoder_site_and_means(model, x, "sparse", max_batch_rows=16)
    np.testing.assert_array_equal(acts, site_activations(model, x, "sparse"))
    with torch.no_grad():
        np.testing.assert_allclose(mu, model.encode(x).mean.numpy(), rtol=0, atol=1e-6)
    with pytest.raises(CircuitVAEError, match="did not run"):  # a decoder site never runs
        encoder_site_and_means(model, x, next(s.name for s in cv.site_table(model)
                                              if s.name.startswith("decoder")))


def test_training_follows_the_schedule_and_keeps_a_post_schedule_epoch():
    torch.manual_seed(0)
    x = torch.randn(200, 8)
    model = train(_model(), x, max_epochs=5, patience=100, verbose=False, seed=0)
    ks = [h["k"] for h in model.history]
    assert ks == [24, 15, 6, 6, 6]
    # the restored weights come from an epoch at or after the end of the schedule
    assert int(model.epochs_done) >= 3 and model.k == 6
    assert (model.sparse_code(x) > 0).sum(1).max() <= 6
    # the record and the studies' adequacy columns name that epoch, not a scheduled one
    record = model.training_record
    assert record["restored_best"] and record["best_epoch"] == int(model.epochs_done)
    model.history[0]["val_loss"] = -1.0  # were the scheduled epoch 1 the lowest loss
    assert training_adequacy(model, x)["best_epoch"] == record["best_epoch"] != 1
    history, model.history = model.history, None  # a loaded checkpoint: the record's history
    assert training_adequacy(model, x)["best_epoch"] == record["best_epoch"]
    model.history = history
    model.training_record = None  # a model trained elsewhere: the lowest loss
    assert training_adequacy(model, x)["best_epoch"] == 1


def test_training_shorter_than_the_schedule_keeps_the_last_weights():
    x = torch.randn(100, 8)
    model = train(_model(), x, max_epochs=2, verbose=False, seed=0)
    assert int(model.epochs_done) == 2 and model.k == 15
    assert model.training_record["best_epoch"] == 2
    assert model.training_record["restored_best"] is False
    # a second call continues the schedule from the model's own epoch count
    train(model, x, max_epochs=1, verbose=False, seed=0)
    assert int(model.epochs_done) == 3 and model.k == 6


def test_l1_adds_lambda_times_the_mean_row_sum_and_adapts_lambda():
    model = _model(sparsity="l1").train()
    x = torch.randn(64, 8)
    gen = torch.Generator().manual_seed(0)
    terms, _ = model.loss_terms(x, gen)
    l1 = model.sparse_code(x).sum(1).mean()
    torch.testing.assert_close(terms["l1"], l1)
    torch.testing.assert_close(terms["loss"], terms["recon"] + terms["kl"] + 1e-3 * l1)
    trained = train(_model(sparsity="l1"), torch.randn(200, 8), max_epochs=4, verbose=False,
                    seed=0)
    lams = [h["l1_lambda"] for h in trained.history]
    assert lams[0] == pytest.approx(1e-3) and len(set(lams)) > 1


def test_auxk_gives_dead_units_a_gradient_that_plain_topk_does_not():
    x = torch.randn(64, 8)
    grads = {}
    for auxk in (False, True):
        model = _model(auxk=auxk, auxk_k=8).train()
        model.sparse.k.fill_(2)
        with torch.no_grad():
            pre = model.sparse_act(model.sparse_in(model.encoder(x)))
            ever_top = torch.zeros(24, dtype=torch.bool)
            ever_top[pre.topk(2, dim=1).indices.unique()] = True
        dead = ~ever_top & (pre > 0).any(0)  # alive before Top-k, never in the top 2
        assert dead.any()
        model._dead.copy_(~ever_top)
        terms, _ = model.loss_terms(x)
        assert ("auxk" in terms) == auxk
        terms["loss"].backward()
        grads[auxk] = model.sparse_in.weight.grad[dead].abs().sum().item()
    assert grads[False] == 0.0 and grads[True] > 0.0


def test_checkpoint_keeps_k_and_the_epoch_count(tmp_path):
    x = torch.randn(100, 8)
    model = train(_model(), x, max_epochs=2, verbose=False, seed=0)
    back = load(save(model, tmp_path / "m"))
    assert back.k == model.k == 15 and int(back.epochs_done) == 2
    assert back.config.schedule_epochs == 3
    torch.testing.assert_close(back(x), model(x))


@pytest.mark.parametrize("kwargs, match", [
    ({"sparsity": "dense"}, "sparsity must be 'topk' or 'l1'"),
    ({"sparsity": "l1", "auxk": True}, "auxk is an ablation of the Top-k method"),
    ({"k_start": 30}, "k_start \\(30\\) exceeds sparse_units"),
    ({"sparse_units": True}, "sparse_units must be an integer >= 1"),
    ({"sparse_units": 24.0}, "sparse_units must be an integer >= 1"),
    ({"l1_init": 0.0}, "l1_init must be a finite number > 0"),
    ({"l1_init": float("inf")}, "l1_init must be a finite number > 0"),
    ({"l1_init": "a"}, "l1_init must be a finite number > 0"),
    ({"l1_max_step": 1.0}, "l1_max_step must be > 1"),
    ({"auxk": "yes"}, "auxk must be True or False"),
    ({"auxk": True, "auxk_k": 2.5}, "auxk_k must be an integer >= 1"),
    ({"auxk": True, "auxk_coef": float("inf")}, "auxk_coef must be a finite number > 0"),
])
def test_bad_configs_are_named(kwargs, match):
    with pytest.raises(CircuitVAEError, match=match):
        _model(**kwargs)


def test_topk_layer_checks_its_arguments_and_input():
    from circuitvae.zoo.models.vae_sae import TopK

    with pytest.raises(CircuitVAEError, match="k must be an integer >= 1"):
        TopK(10, -1, True)
    with pytest.raises(CircuitVAEError, match="units must be an integer >= 1"):
        TopK(0, 1, True)
    layer = TopK(10, 3, True)
    with pytest.raises(CircuitVAEError, match=r"TopK expects \(batch, 10\) activations"):
        layer(torch.randn(4, 7))
    with pytest.raises(CircuitVAEError, match=r"TopK expects \(batch, 10\) activations"):
        layer(torch.randn(10))
    out = layer(torch.arange(20.0).reshape(2, 10))
    assert (out != 0).sum(dim=1).tolist() == [3, 3] and out[0, 7:].tolist() == [7.0, 8.0, 9.0]
