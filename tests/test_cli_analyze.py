"""circuitvae analyze CHECKPOINT --dataset NAME: every metric of one saved model."""

from __future__ import annotations

import json

from circuitvae.cli import main
from circuitvae.zoo import build, save, train
from circuitvae.zoo.data import load_dataset


def test_analyze_a_saved_zoo_model(tmp_path, capsys):
    data = load_dataset("planted", seed=0)
    model = train(build("vae", dataset=data, seed=0), data, seed=0, max_epochs=1, verbose=False)
    save(model, tmp_path / "model")
    out = tmp_path / "row.json"
    rc = main(["analyze", str(tmp_path / "model"), "--dataset", "planted", "--n", "40",
               "--metrics", "interventional", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "ces_calibrated" in printed and "specificity" in printed
    row = json.loads(out.read_text())
    assert row["n"] == 40 and row["dataset"] == "planted" and row["ces_calibrated"] > 0


def test_analyze_errors_are_named(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "none"), "--dataset", "adult"]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["analyze", str(tmp_path / "empty"), "--dataset", "adult"]) == 2
    assert "no installed reader can load" in capsys.readouterr().err
