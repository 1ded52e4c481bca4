"""save/load round trips exactly; corrupted checkpoints give clear errors."""

from __future__ import annotations

import json

import pytest
import torch

from circuitvae.zoo import CheckpointError, build, load, save, train

ARCHS = ("vae", "beta_vae", "factor_vae", "beta_tc_vae", "dip_vae_ii", "vq_vae")


@pytest.mark.parametrize("name", ARCHS)
def test_round_trip_is_exact(name, tiny, features, tabular, tmp_path):
    model = build(name, input_shape=(6,), features=features, seed=3, **tiny(name)).eval()
    save(model, tmp_path / "ckpt")
    back = load(tmp_path / "ckpt")
    assert type(back) is type(model) and back.config == model.config
    assert not back.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, back.state_dict()[k]), k
    assert torch.equal(back(tabular), model(tabular))
    meta = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert meta["architecture"] == name
    assert meta["config"]["features"][2] == {"name": "colour", "kind": "categorical",
                                             "columns": [2, 3, 4]}
    assert {"circuitvae", "torch", "safetensors"} <= set(meta["versions"])


def test_conv_round_trip_and_training_record(tiny, images, tmp_path):
    model = build("vq_vae", input_shape=(1, 64, 64), seed=0, **tiny("vq_vae", "conv"))
    model = train(model, images, max_epochs=1, batch_size=4, val_fraction=0.25, verbose=False,
                  checkpoint=tmp_path / "run")
    back = load(tmp_path / "run")
    assert torch.equal(back.decode(back.encode(images).mean),
                       model.decode(model.encode(images).mean))
    assert back.training_record["history"][0]["epoch"] == 1
    assert back.training_record["config"]["seed"] == 42


def test_corrupted_checkpoints_raise_clear_errors(tiny, tmp_path):
    model = build("vae", input_shape=(6,), seed=0, **tiny("vae"))
    folder = save(model, tmp_path / "c")
    weights, config = folder / "model.safetensors", folder / "config.json"
    good_json = config.read_text()

    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load(folder)
    weights.write_bytes(data)

    config.write_text(good_json[:-20])
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load(folder)
    meta = json.loads(good_json)
    config.write_text(json.dumps({**meta, "architecture": "gan"}))
    with pytest.raises(CheckpointError, match="unknown architecture 'gan'"):
        load(folder)
    del meta["config"]
    config.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="lacks the key\\(s\\) config"):
        load(folder)
    meta = json.loads(good_json)
    meta["config"]["latent_dim"] = 5
    config.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="does not match the architecture"):
        load(folder)
    with pytest.raises(CheckpointError, match="no config.json"):
        load(tmp_path / "missing")
