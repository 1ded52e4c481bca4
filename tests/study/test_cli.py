import dataclasses
import json

import pytest

from circuitvae.cli import main
from circuitvae.study import ResultStore, register_study
from circuitvae.study import study as study_module
from circuitvae.zoo.studies import TABULAR


def _row(rid, status, error=None):
    arch, ds, seed = rid.split("__")
    return {"run_id": rid, "study": "tabular", "architecture": arch, "dataset": ds,
            "seed": int(seed), "status": status, "error": error,
            "metrics": {"mse": 1.0} if status == "ok" else {}}


def cli_task(spec):
    return {"ces_calibrated": spec.seed / 1000, "mse": 1.0}


@pytest.fixture
def fake_study(monkeypatch):
    """A study named 'clifake' (the tabular grid, a fake task), known to the CLI by name."""
    monkeypatch.setattr(study_module, "_REGISTERED", {})
    return register_study(dataclasses.replace(TABULAR, name="clifake", task=cli_task,
                                              prepare=None))


def test_status_prints_counts(tmp_path, tiny_grid, capsys):
    store = ResultStore(tmp_path)
    store.write_spec(tiny_grid)
    store.write_row(_row("vae__adult__42", "ok"))
    store.write_row(_row("vae__adult__123", "failed", "RuntimeError: boom"))
    assert main(["study", "status", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ok 1, failed 1, skipped 0, pending 2, total 4" in out
    assert "failed: vae__adult__123: RuntimeError: boom" in out


def test_status_of_a_non_study_is_an_error(tmp_path, capsys):
    assert main(["study", "status", str(tmp_path / "nothing")]) == 2
    assert "not a study folder" in capsys.readouterr().err


def test_report_of_a_missing_folder_is_an_error(tmp_path, capsys):
    assert main(["study", "report", str(tmp_path / "nothing")]) == 2
    assert "not a study folder" in capsys.readouterr().err


def test_run_and_report(tmp_path, fake_study, capsys):
    out = tmp_path / "study"
    rc = main(["study", "run", "clifake", "--out", str(out), "--architectures", "vae,beta_vae",
               "--datasets", "adult", "--seeds", "42,123", "--set", "epochs=1", "--quiet"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "4 run(s) done now (4 ok, 0 failed, 0 skipped)" in text
    assert (out / "report.md").is_file()
    spec = json.loads((out / "study.json").read_text())
    assert spec["settings"]["epochs"] == 1 and spec["seeds"] == [42, 123]
    assert spec["profile"] == "quick" and spec["name"] == "clifake"
    assert main(["study", "report", str(out), "--no-figures"]) == 0
    assert "report.md" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--set", "epoch=1"], "unknown setting(s) 'epoch' of study 'clifake'; valid settings: "
                           "epochs, patience"),
    (["--set", "epochs=1.9"], "setting 'epochs' must be int, got 1.9 (float)"),
    (["--set", "epochs={bad"], "setting 'epochs' must be int, got '{bad' (str)"),
    (["--architectures", "vea"], "unknown architecture(s) 'vea' for study 'clifake'; valid "
                                 "architectures: vae, beta_vae, factor_vae"),
    (["--datasets", "adlt"], "unknown dataset(s) 'adlt'"),
    (["--seeds", "7"], "unknown seed(s) 7 for study 'clifake'; valid seeds: 42, 123, 456"),
    (["--profile", "slow"], "unknown profile 'slow' of study 'clifake'"),
])
def test_bad_names_and_settings_fail_before_any_run(tmp_path, fake_study, capsys, args,
                                                     message):
    out = tmp_path / "study"
    assert main(["study", "run", "clifake", "--out", str(out), "--quiet", *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()  # nothing ran, nothing was written


def test_unknown_study_and_bad_seed_syntax(tmp_path, capsys):
    assert main(["study", "run", "audio", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert ("unknown study 'audio'; known studies: anomaly, beta_ablation, image, "
            "latent_ablation, sparsity, tabular") in err
    with pytest.raises(SystemExit):
        main(["study", "run", "tabular", "--out", str(tmp_path / "s"), "--seeds", "4x"])
    assert "--seeds expects comma-separated integers" in capsys.readouterr().err


def test_version_and_list(capsys):
    import circuitvae

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"circuitvae {circuitvae.__version__}"
    assert main(["study", "list"]) == 0
    out = capsys.readouterr().out
    assert "tabular: Reproduction of the tabular paper" in out and "75 runs" in out
    assert "image:" in out and "90 runs" in out and "profiles: quick, cpu, paper" in out


def test_help_describes_both_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "circuitvae study list|run|status|report`` and ``circuitvae analyze``." in out


def test_an_empty_folder_argument_is_refused(tmp_path, fake_study, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # "" used to mean the current folder: the study landed here
    for argv in (["study", "run", "clifake", "--out", "", "--quiet"], ["study", "status", ""],
                 ["study", "report", " "]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        assert "out: expects a folder path, got an empty string" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_file_as_the_study_folder_is_named(tmp_path, fake_study, capsys):
    f = tmp_path / "afile"
    f.write_text("x")
    assert main(["study", "run", "clifake", "--out", str(f), "--quiet"]) == 2
    assert f"out '{f}' is a file, not a study folder" in capsys.readouterr().err
    assert main(["study", "report", str(f)]) == 2
    assert f"{f} is not a study folder (it is not a folder)" in capsys.readouterr().err


GOOD_SPEC = {"name": "tabular", "architectures": ["vae"], "datasets": ["adult"], "seeds": [42],
             "profile": "quick", "settings": {}}


@pytest.mark.parametrize("text, message", [
    (json.dumps({**GOOD_SPEC, "seeds": "42"}), "'seeds' must be a list of integers, got '42'"),
    (json.dumps({**GOOD_SPEC, "seeds": [42.7]}), "'seeds' must be a list of integers"),
    (json.dumps({**GOOD_SPEC, "architectures": "vae"}),
     "'architectures' must be a list of strings, got 'vae'"),
    (json.dumps({**GOOD_SPEC, "name": 5}), "'name' must be a string, got 5"),
    (json.dumps({**GOOD_SPEC, "profile": None}), "'profile' must be a string, got None"),
    (json.dumps({**GOOD_SPEC, "settings": [1]}), "'settings' must be a JSON object"),
    (json.dumps(GOOD_SPEC).replace("[42]", "[Infinity]"), "'seeds' must be a list of integers"),
    ("[1, 2]", "a JSON object is needed, got list"),
])
@pytest.mark.parametrize("command", ["status", "report"])
def test_a_corrupt_study_json_is_named_not_converted(tmp_path, capsys, text, message, command):
    (tmp_path / "rows").mkdir()
    (tmp_path / "study.json").write_text(text)
    assert main(["study", command, str(tmp_path), *(["--no-figures"] * (command == "report"))]
                ) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'study.json'} is unreadable" in err and message in err


def test_a_folder_named_study_json_is_named(tmp_path, capsys):
    (tmp_path / "study.json").mkdir()
    assert main(["study", "status", str(tmp_path)]) == 2
    assert "study.json is unreadable (IsADirectoryError" in capsys.readouterr().err


def test_report_survives_a_row_whose_timing_is_no_mapping(tmp_path, tiny_grid, capsys):
    store = ResultStore(tmp_path)
    store.write_spec(tiny_grid)
    store.write_row({**_row("vae__adult__42", "ok"), "timing": [1, 2]})
    assert main(["study", "report", str(tmp_path), "--no-figures"]) == 0
    assert store.frame().loc[0, "timing"] == "[1, 2]"
