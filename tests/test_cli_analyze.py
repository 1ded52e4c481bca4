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


def test_bad_numbers_and_outputs_are_refused_before_the_model_loads(tmp_path, capsys):
    import pytest

    for flag, value, message in (("--seed", "-1", "argument --seed: expects an integer >= 0"),
                                 ("--n", "0", "argument --n: expects an integer >= 1")):
        with pytest.raises(SystemExit) as exit_:
            main(["analyze", str(tmp_path), "--dataset", "planted", flag, value])
        assert exit_.value.code == 2 and message in capsys.readouterr().err
    for out, message in (("row.txt", "row.txt must end in .csv or .json"),
                         ("no/row.csv", "its folder"), ("dir.csv", "is a folder")):
        (tmp_path / "dir.csv").mkdir(exist_ok=True)
        rc = main(["analyze", str(tmp_path / "none"), "--dataset", "planted", "--out",
                   str(tmp_path / out)])
        assert rc == 2 and message in capsys.readouterr().err  # not "does not exist" yet
    assert main(["analyze", "", "--dataset", "planted"]) == 2
    assert "checkpoint is empty" in capsys.readouterr().err
