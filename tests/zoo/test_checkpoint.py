"""save/load round trips exactly; corrupted checkpoints give clear errors."""

from __future__ import annotations

import json

import pytest
import torch

from circuitvae.zoo import CheckpointError, build, load, save, train

ARCHS = ("vae", "beta_vae", "factor_vae", "beta_tc_vae", "dip_vae_ii", "vq_vae", "vae_sae",
         "bayes_attention_vae")


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
    with pytest.raises(CheckpointError, match="modified or corrupted"):
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
    with pytest.raises(CheckpointError, match="wrong shape or dtype"):
        load(folder)
    with pytest.raises(CheckpointError, match="no config.json"):
        load(tmp_path / "missing")


def _checkpoint(tiny, tmp_path, name="beta_vae"):
    folder = save(build(name, input_shape=(6,), seed=0, **tiny(name)), tmp_path / "c")
    return folder, folder / "model.safetensors", folder / "config.json"


def test_the_weights_hash_is_recorded_and_checked(tiny, tmp_path):
    folder, weights, config = _checkpoint(tiny, tmp_path)
    meta = json.loads(config.read_text())
    import hashlib

    assert meta["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    data = bytearray(weights.read_bytes())
    data[-100:] = bytes(100)  # 100 overwritten bytes of weights, same length
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="the weights were modified or corrupted"):
        load(folder)


def test_a_missing_config_field_is_an_error_not_a_default(tiny, tmp_path):
    folder, _, config = _checkpoint(tiny, tmp_path)
    meta = json.loads(config.read_text())
    del meta["config"]["beta"]
    config.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"lacks the field\(s\) beta of BetaVAEConfig"):
        load(folder)


@pytest.mark.parametrize("field, value, message", [
    ("hidden", "abc", "config setting 'hidden' must be tuple"),
    ("beta", "4", "config setting 'beta' must be float"),
    ("latent_dim", 2.5, "config setting 'latent_dim' must be int or None"),
])
def test_config_values_of_the_wrong_type_are_named(tiny, tmp_path, field, value, message):
    folder, _, config = _checkpoint(tiny, tmp_path)
    meta = json.loads(config.read_text())
    meta["config"][field] = value
    config.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=message):
        load(folder)


def test_a_null_config_is_named(tiny, tmp_path):
    folder, _, config = _checkpoint(tiny, tmp_path)
    meta = json.loads(config.read_text())
    config.write_text(json.dumps({**meta, "config": None}))
    with pytest.raises(CheckpointError, match="'config' must be an object"):
        load(folder)


def test_an_edited_architecture_does_not_load_as_the_other_class(tiny, tmp_path):
    # a VAE and a beta-VAE have the same tensors: only the recorded architecture tells them apart
    folder, _, config = _checkpoint(tiny, tmp_path, "vae")
    meta = json.loads(config.read_text())
    meta["architecture"] = "beta_vae"
    meta["config"]["beta"] = 4.0
    config.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="holds 'vae' weights, but config.json says "
                                              "'beta_vae'"):
        load(folder)


def test_tensors_of_the_wrong_dtype_are_errors(tiny, tmp_path):
    from safetensors.torch import load_file, save_file

    folder, weights, config = _checkpoint(tiny, tmp_path, "vae")
    state = {k: v.double() for k, v in load_file(str(weights)).items()}
    save_file(state, str(weights), metadata={"architecture": "vae"})
    meta = json.loads(config.read_text())
    import hashlib

    meta["weights_sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    config.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="wrong shape or dtype.*torch.float64"):
        load(folder)


def test_an_older_checkpoint_without_a_hash_loads_with_a_warning(tiny, tmp_path):
    folder, _, config = _checkpoint(tiny, tmp_path)
    meta = json.loads(config.read_text())
    del meta["weights_sha256"]
    config.write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match="records no weights_sha256"):
        load(folder)


def test_a_float64_model_round_trips(tiny, tmp_path):
    model = build("vae", input_shape=(6,), seed=0, **tiny("vae")).double()
    back = load(save(model, tmp_path / "c"))
    assert next(back.parameters()).dtype == torch.float64
    for k, v in model.state_dict().items():
        assert torch.equal(v, back.state_dict()[k]), k
