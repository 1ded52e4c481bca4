import pytest

from circuitvae.protocol import CircuitVAEError
from circuitvae.study import GridSpec, SettingsError, run_id
from circuitvae.zoo.studies import IMAGE, TABULAR, TrainAnalyzeSettings


def test_paper_grids_have_the_papers_sizes():
    t, i = TABULAR.grid(), IMAGE.grid("paper")
    assert len(t) == len(list(t.runs())) == 75
    assert len(i) == len(list(i.runs())) == 90
    assert len({r.run_id for r in t.runs()}) == 75
    assert "vq_vae" in i.architectures and "vq_vae" not in t.architectures
    assert i.settings.patience == 20 and i.settings.analysis_n == 1000
    assert t.profile == "quick" and t.settings.epochs == 4


def test_run_id_and_overrides():
    assert run_id("beta_vae", "adult", 42) == "beta_vae__adult__42"
    g = TABULAR.grid("quick", epochs=1)
    spec = next(g.runs())
    assert spec.settings.epochs == 1 and spec.settings.n_train == 2000
    assert spec.run_id == f"{spec.architecture}__{spec.dataset}__{spec.seed}"
    assert TABULAR.grid("quick").settings.epochs == 4  # the profile itself is unchanged


def test_roundtrip_and_subset():
    g = IMAGE.grid("quick", architectures=["vae"], datasets=["dsprites"], seeds=[123, 42])
    back = GridSpec.from_dict(g.to_dict())
    assert back.to_dict() == g.to_dict() and back.settings_dict() == g.settings_dict()
    assert [r.run_id for r in g.runs()] == ["vae__dsprites__123", "vae__dsprites__42"]


def test_bad_grids():
    with pytest.raises(CircuitVAEError, match="repeats"):
        GridSpec("x", ("vae", "vae"), ("adult",), (1,), "quick", None)
    with pytest.raises(CircuitVAEError, match="no datasets"):
        GridSpec("x", ("vae",), (), (1,), "quick", None)
    with pytest.raises(CircuitVAEError, match="may not contain"):
        GridSpec("x", ("my__vae",), ("adult",), (1,), "quick", None)
    with pytest.raises(CircuitVAEError, match="may not start or end with '_'"):
        GridSpec("x", ("a_",), ("b",), (1,), "quick", None)  # a___b__1 would be ambiguous
    with pytest.raises(CircuitVAEError, match="non-negative integers"):
        GridSpec("x", ("vae",), ("adult",), (-1,), "quick", None)
    with pytest.raises(CircuitVAEError, match="not a grid"):
        GridSpec.from_dict({"name": "x"})


@pytest.mark.parametrize("kwargs, message", [
    ({"profile": "slow"},
     r"unknown profile 'slow' of study 'tabular'; choose one of quick, cpu, paper"),
    ({"architectures": ["vea"]},
     r"unknown architecture\(s\) 'vea' for study 'tabular'; valid architectures: vae, beta_vae"),
    ({"architectures": ["vq_vae"]}, r"unknown architecture\(s\) 'vq_vae'"),
    ({"datasets": ["adlt"]}, r"unknown dataset\(s\) 'adlt' .*valid datasets: adult"),
    ({"seeds": [7]}, r"unknown seed\(s\) 7 for study 'tabular'; valid seeds: 42, 123, 456"),
    ({"seeds": []}, r"--seeds is empty"),
])
def test_unknown_names_are_errors_that_list_the_valid_ones(kwargs, message):
    with pytest.raises(CircuitVAEError, match=message):
        TABULAR.grid(**kwargs)


def test_extra_datasets_may_be_chosen_but_are_not_in_the_grid():
    assert "planted" not in TABULAR.grid().datasets
    assert TABULAR.grid(datasets=["planted"]).datasets == ("planted",)


@pytest.mark.parametrize("overrides, message", [
    ({"epoch": 2}, r"unknown setting\(s\) 'epoch' of study 'tabular'; valid settings: epochs, "),
    ({"epochs": 1.9}, r"setting 'epochs' must be int, got 1.9 \(float\)"),
    ({"epochs": "{bad"}, r"setting 'epochs' must be int, got '\{bad' \(str\)"),
    ({"epochs": True}, r"setting 'epochs' must be int, got True \(bool\)"),
    ({"epochs": 0}, r"setting 'epochs' must be >= 1, got 0"),
    ({"patience": "none"}, r"setting 'patience' must be int or None"),
    ({"download": 1}, r"setting 'download' must be bool"),
    ({"model": [1]}, r"setting 'model' must be dict"),
    ({"model": {"betaa": 2.0}}, r"unknown model setting\(s\) \['betaa'\] in 'model'; valid: "),
    ({"analysis": {"metric": "all"}}, r"unknown analyze\(\) argument 'metric' in 'analysis'"),
    ({"analysis": {"n": 10}}, r"'analysis' may not set 'n': it comes from analysis_n"),
    ({"image": {"epoch": 1}}, r"unknown setting\(s\) \['epoch'\] in 'image'"),
    ({"image": {"analysis_n": 6.5}}, r"setting 'image.analysis_n' must be int"),
])
def test_bad_settings_are_errors(overrides, message):
    with pytest.raises(SettingsError, match=message):
        TABULAR.grid("quick", **overrides)


def test_settings_types_are_normalised():
    s = TABULAR.settings("quick", model={"beta": 8}, patience=None)
    assert s.model == {"beta": 8} and s.patience is None
    with pytest.raises(Exception, match="frozen|cannot assign"):
        s.epochs = 3  # type: ignore[misc]


def test_image_settings_apply_to_image_datasets_only():
    s = TABULAR.settings("quick")
    adult, dsprites = s.for_dataset("adult"), s.for_dataset("dsprites")
    assert adult.analysis_n == 300 and adult.image == {}  # consumed either way
    assert dsprites.analysis_n == s.image["analysis_n"] == 64 and dsprites.image == {}
    assert isinstance(dsprites, TrainAnalyzeSettings)


def test_study_machinery_does_not_import_the_zoo():
    import subprocess
    import sys

    code = ("import sys, circuitvae, circuitvae.study, circuitvae.stats, circuitvae.cli; "
            "from circuitvae.study import available_studies; available_studies(); "
            "print('circuitvae.zoo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_the_cpu_profile_trains_tabular_runs_as_the_paper_does():
    cpu, paper = TABULAR.settings("cpu"), TABULAR.settings("paper")
    adult, paper_adult = cpu.for_dataset("adult"), paper.for_dataset("adult")
    assert adult == paper_adult  # all rows, 100 epochs, patience 20, the paper's analysis
    d = cpu.for_dataset("dsprites")
    assert (d.batch_size, d.epochs, d.n_train, d.analysis_n) == (64, 40, 5000, 300)
    assert d.patience == 20 and "cpu" not in TABULAR.withhold_verdicts


@pytest.mark.parametrize("change, message", [
    ({"seeds": "42"}, r"'seeds' must be a list of integers, got '42'"),  # was seeds 4 and 2
    ({"seeds": [42.7]}, r"'seeds' must be a list of integers"),  # was seed 42
    ({"seeds": [True]}, r"'seeds' must be a list of integers"),  # was seed 1
    ({"seeds": [float("inf")]}, r"'seeds' must be a list of integers"),  # was OverflowError
    ({"architectures": "vae"}, r"'architectures' must be a list of strings, got 'vae'"),
    ({"datasets": [1]}, r"'datasets' must be a list of strings, got \[1\]"),
    ({"name": 5}, r"'name' must be a string, got 5"),
    ({"profile": None}, r"'profile' must be a string, got None"),
    ({"settings": "abc"}, r"'settings' must be a JSON object, got 'abc'"),
])
def test_from_dict_converts_nothing(change, message):
    d = {**IMAGE.grid("quick", architectures=["vae"], datasets=["dsprites"],
                      seeds=[42]).to_dict(), **change}
    with pytest.raises(CircuitVAEError, match=message):
        GridSpec.from_dict(d)
    with pytest.raises(CircuitVAEError, match="a JSON object is needed, got list"):
        GridSpec.from_dict([1, 2])
    with pytest.raises(CircuitVAEError, match="no 'seeds'"):
        GridSpec.from_dict({"name": "x", "architectures": ["a"], "datasets": ["b"]})


def test_from_dict_takes_a_folder_without_profile_or_settings():
    g = GridSpec.from_dict({"name": "x", "architectures": ["a"], "datasets": ["b"],
                            "seeds": [1], "settings": None})
    assert g.profile == "" and g.settings == {}
