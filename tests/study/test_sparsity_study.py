"""The sparsification study: every finding reaches each verdict; the task and report run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from circuitvae.protocol import CircuitVAEError
from circuitvae.study import ResultStore, RunSpec, run_study, write_report
from circuitvae.study.findings import (
    DIRECTION_ONLY,
    NOT_REPRODUCED,
    REPRODUCED,
    UNDERPOWERED,
    apply,
)
from circuitvae.zoo.models import SparsitySchedule
from circuitvae.zoo.studies import SPARSITY
from circuitvae.zoo.studies.sparsity import (
    FINDINGS,
    TAU_SUFFIX,
    StudyTracker,
    dead_column,
    run_sparsity,
)

RULES = {r.key: r for r in FINDINGS}
SEEDS = (42, 123, 456)
EMPTY = pd.DataFrame()


def frame(dead: dict[tuple[str, str], float], *, ref: float = 0.05, seeds=SEEDS,
          jitter: float = 0.004, **columns: float) -> pd.DataFrame:
    """One row per (method, dataset, seed): dead rates at k=50 near ``dead[cell]`` (every
    threshold), the reference dead rate ``ref`` and constant ``columns``."""
    rows = []
    for (arch, ds), value in dead.items():
        for i, seed in enumerate(seeds):
            v = value + jitter * (i - 1)
            row = {"run_id": f"{arch}__{ds}__{seed}", "architecture": arch, "dataset": ds,
                   "seed": seed, dead_column("ref"): ref + 0.001 * i, **columns}
            row.update({dead_column("k50", t): v for t in TAU_SUFFIX})
            rows.append(row)
    return pd.DataFrame(rows)


SEED_LIKE = {("topk", "dsprites"): 0.344, ("topk", "shapes3d"): 0.627,
             ("l1", "dsprites"): 0.417, ("l1", "shapes3d"): 0.906}


def verdict(key: str, rows: pd.DataFrame) -> str:
    return apply(RULES[key], rows, EMPTY).verdict


@pytest.mark.parametrize("key", ["topk_dead", "l1_dead"])
def test_dead_levels_reach_every_verdict(key):
    assert verdict(key, frame(SEED_LIKE)) == REPRODUCED
    far = {c: v / 3 for c, v in SEED_LIKE.items()}
    assert verdict(key, frame(far)) == DIRECTION_ONLY
    assert verdict(key, frame(SEED_LIKE, ref=0.95)) == NOT_REPRODUCED
    assert verdict(key, frame(SEED_LIKE, seeds=(42, 123))) == UNDERPOWERED


def test_shapes3d_more_dead_reaches_every_verdict():
    rule = "shapes3d_more_dead"
    assert verdict(rule, frame({("topk", "dsprites"): 0.2, ("topk", "shapes3d"): 0.36,
                                ("l1", "dsprites"): 0.3, ("l1", "shapes3d"): 0.66})) == REPRODUCED
    assert verdict(rule, frame({("topk", "dsprites"): 0.1, ("topk", "shapes3d"): 0.6,
                                ("l1", "dsprites"): 0.1, ("l1", "shapes3d"): 0.9})) \
        == DIRECTION_ONLY
    assert verdict(rule, frame({("topk", "dsprites"): 0.5, ("topk", "shapes3d"): 0.4,
                                ("l1", "dsprites"): 0.5, ("l1", "shapes3d"): 0.4})) \
        == NOT_REPRODUCED
    assert verdict(rule, frame({("topk", "dsprites"): 0.2, ("topk", "shapes3d"): 0.36})) \
        == UNDERPOWERED  # 3 pairs


def test_l1_worse_reaches_every_verdict():
    rule = "l1_worse"
    assert verdict(rule, frame(SEED_LIKE)) == REPRODUCED
    assert verdict(rule, frame({("topk", "dsprites"): 0.1, ("topk", "shapes3d"): 0.1,
                                ("l1", "dsprites"): 0.5, ("l1", "shapes3d"): 0.9})) \
        == DIRECTION_ONLY
    swapped = {(("l1" if a == "topk" else "topk"), d): v for (a, d), v in SEED_LIKE.items()}
    assert verdict(rule, frame(swapped)) == NOT_REPRODUCED
    assert verdict(rule, frame(SEED_LIKE, seeds=(42, 123))) == UNDERPOWERED


def test_threshold_robust_reaches_every_verdict():
    rule = "threshold_robust"
    assert verdict(rule, frame(SEED_LIKE)) == REPRODUCED
    broken = frame(SEED_LIKE)
    broken.loc[broken["architecture"] == "l1", dead_column("k50", "0.01")] = 0.0
    assert verdict(rule, broken) == NOT_REPRODUCED
    assert verdict(rule, frame(SEED_LIKE, seeds=(42, 123))) == UNDERPOWERED


def _with(rows: pd.DataFrame, **values) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    out = rows.copy()
    for name, (mean, sd) in values.items():
        out[name] = mean + sd * rng.standard_normal(len(out))
    return out


def test_mig_stable_reaches_every_verdict():
    base = frame(SEED_LIKE)
    assert verdict("mig_stable", _with(base, mig_change=(0.0, 0.01), mig_ref=(0.3, 0),
                                       mig_k50=(0.3, 0))) == REPRODUCED
    assert verdict("mig_stable", _with(base, mig_change=(-0.2, 0.01), mig_ref=(0.3, 0),
                                       mig_k50=(0.1, 0))) == NOT_REPRODUCED
    small = frame({("topk", "dsprites"): 0.3})
    assert verdict("mig_stable", _with(small, mig_change=(0.0, 0.01), mig_ref=(0.3, 0),
                                       mig_k50=(0.3, 0))) == UNDERPOWERED


def test_mig_context_flags_a_band_wider_than_the_mig():
    from circuitvae.zoo.studies.sparsity_report import mig_context

    base = frame(SEED_LIKE)
    low = "\n".join(mig_context(base.assign(mig_ref=0.02, mig_k50=0.04, mig_final=0.04)))
    assert "largest MIG at the reference epoch, at k = 50 or at the end is 0.040" in low
    assert "in 12 of 12 runs MIG stays below" in low
    assert "MIG at k = 50 is 2.00x [2.00, 2.00]" in low
    assert '"MIG does not fall while units die"' in low
    high = "\n".join(mig_context(base.assign(mig_ref=0.3, mig_k50=0.3, mig_final=0.3)))
    assert "in 0 of 12 runs" in high and "1.00x" in high and "does not fall" not in high
    assert "No Top-k or L1 run" in mig_context(base)[2]


def test_auxk_section_shows_means_per_dataset_and_tests_pairs():
    from circuitvae.zoo.studies.sparsity_report import auxk_section

    cells = {("topk", "dsprites"): 0.5, ("topk_auxk", "dsprites"): 0.4,
             ("topk", "shapes3d"): 0.7, ("topk_auxk", "shapes3d"): 0.6}
    rows = frame(cells, jitter=0.0)
    rows["recon_final"] = np.where(rows["dataset"] == "shapes3d", 4000.0, 50.0)
    md = "\n".join(auxk_section(rows))
    line = next(x for x in md.splitlines() if x.startswith("| dead at k=50 |"))
    assert "dSprites 0.5; Shapes3D 0.7 | dSprites 0.4; Shapes3D 0.6 | -0.1 | 6 |" in line
    recon = next(x for x in md.splitlines() if x.startswith("| val recon NLL"))
    assert "dSprites 50; Shapes3D 4000" in recon and "2025" not in recon  # never pooled


def test_dead_origin_splits_the_k50_dead_units_by_when_they_died():
    import json

    from circuitvae.zoo.studies.sparsity_report import dead_origin

    def snaps(start, ref, end):
        return json.dumps({"k500": {"dead": {"0.0": start}}, "ref": {"dead": {"0.0": ref}},
                           "end": {"dead": {"0.0": end}}})

    rows = frame({("topk", "dsprites"): 0.3}, seeds=(1, 2))
    # units 0-3 dead at k = 50: 0 and 1 dead from epoch 1, 2 dead from the reference epoch,
    # 3 alive at the reference epoch (killed by the schedule); unit 9 dead early, revived
    rows["snapshots"] = [snaps([0, 1, 9], [0, 1, 2], [0, 1, 2, 3])] * 2
    md = "\n".join(dead_origin(rows))
    assert "| Top-k | dSprites | 50.0 +- 0.0 (n=2) | 75.0 +- 0.0 (n=2) | 25.0 +- 0.0 (n=2) |" in md
    assert "No run stores" in "\n".join(dead_origin(rows.drop(columns="snapshots")))


def test_no_revival_reaches_every_verdict():
    base = frame(SEED_LIKE, dead_final=0.5)
    assert verdict("no_revival", base.assign(revived=0.0)) == REPRODUCED
    assert verdict("no_revival", base.assign(revived=0.3)) == NOT_REPRODUCED
    assert verdict("no_revival", frame({("l1", "dsprites"): 0.4}, dead_final=0.4)
                   .assign(revived=0.0)) == UNDERPOWERED


def test_findings_on_missing_columns_are_not_computable():
    rows = pd.DataFrame({"run_id": ["a"], "architecture": ["topk"], "dataset": ["dsprites"],
                         "seed": [1]})
    for rule in FINDINGS:
        assert apply(rule, rows, EMPTY).verdict == "not computable"


def test_tracker_landmarks_follow_the_schedule():
    import torch

    tracker = StudyTracker(torch.zeros(4, 1, 64, 64), np.array([[0, 1], [0, 2], [0, 1], [0, 0]]),
                           SparsitySchedule(), 150)
    assert tracker.landmarks == {1: ["k500"], 34: ["k200"], 50: ["k50", "end"], 12: ["ref"],
                                 150: ["final"]}
    assert tracker.factor_columns == [1]  # the constant factor is left out
    with pytest.raises(CircuitVAEError, match="total_epochs must be an integer >= 50"):
        StudyTracker(torch.zeros(4, 1, 64, 64), np.zeros((4, 2)), SparsitySchedule(), 49)
    with pytest.raises(CircuitVAEError, match="finite numbers"):
        StudyTracker(torch.zeros(2, 1, 64, 64), np.array([[0, np.nan], [1, 2]]),
                     SparsitySchedule(), 150)


TINY = {"schedule_epochs": 2, "extended_epochs": 1, "k_start": 16, "k_end": 4,
        "sparse_units": 16, "n_train": 48, "n_test": 24, "n_eval": 24, "batch_size": 16,
        "model": {"conv_channels": [4, 4, 8, 8], "fc_hidden": 16, "latent_dim": 3}}


def test_one_run_tracks_every_epoch_and_its_landmarks():
    spec = RunSpec("sparsity", "topk", "dsprites", 42, SPARSITY.settings("quick", **TINY))
    out = run_sparsity(spec)
    assert [h["k"] for h in out["history"]] == [16, 4, 4]
    assert set(out["snapshots"]) == {"k500", "k200", "k50", "ref", "end", "final"}
    assert (out["snapshots"]["end"]["epoch"], out["snapshots"]["final"]["epoch"]) == (2, 3)
    m = out["metrics"]
    assert m["l0_k50"] <= 4 and 0 <= m[dead_column("k50")] <= 1
    assert 0 <= m["revived"] <= 1 or np.isnan(m["revived"])
    assert m["epochs_run"] == 3 and out["provenance"]["n_eval"] == 24


def test_tiny_study_report_has_the_seed_table_and_figures(tmp_path):
    grid = SPARSITY.grid("quick", architectures=("topk", "l1"), datasets=("dsprites",),
                         seeds=(42,), **TINY)
    s = run_study(SPARSITY, grid, tmp_path, progress=False)
    assert (s.ok, s.failed) == (2, 0)
    row = ResultStore(tmp_path).read_rows()["l1__dsprites__42"]
    assert len(row["history"]) == 3 and "l1_lambda" in row["history"][0]
    md = write_report(tmp_path).read_text()
    assert "## The seed's table beside ours" in md and "34.4 +- 0.9" in md
    assert "Verdicts withheld" in md  # a quick-profile store
    for name in ("dead_vs_k.png", "density_histograms.png", "mig_vs_epoch.png"):
        assert (tmp_path / "figures" / name).stat().st_size > 1000
    assert json.loads((tmp_path / "study.json").read_text())["name"] == "sparsity"
