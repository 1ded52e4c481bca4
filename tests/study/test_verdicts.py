"""Every finding's rule reaches each verdict it can give, on synthetic rows built for it.

The rows are built so that the statistics land clearly inside or outside each threshold of the
rules (methods spec section 7): a significant or non-significant direction, the paper's number
inside or outside our CI, enough runs or too few. A rule that stops testing what it says fails
here.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from circuitvae import stats
from circuitvae.study.findings import (
    DIRECTION_ONLY,
    NOT_COMPUTABLE,
    NOT_REPRODUCED,
    REPRODUCED,
    UNDERPOWERED,
    VERDICTS,
    FindingRule,
    Outcome,
    apply,
    evaluate,
    sensitivity,
)
from circuitvae.zoo.studies import IMAGE, TABULAR

RULES = {r.key: r for r in TABULAR.findings + IMAGE.findings}
EMPTY_PAIRS = pd.DataFrame(columns=stats.PAIRWISE_COLUMNS)


def _frame(recs: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame.from_records(recs)
    df["run_id"] = [f"{a}__{d}__{s}" for a, d, s in zip(df["architecture"], df["dataset"],
                                                         df["seed"], strict=True)]
    return df


# --------------------------------------------------------------------------- builders

def corr_rows(r: float, x: str, y: str, *, datasets=("adult", "bank_marketing", "german_credit"),
              per: int = 8, offsets: tuple[float, float] = (0.0, 0.0), seed: int = 0
              ) -> pd.DataFrame:
    """Runs whose within-dataset Pearson r(x, y) is exactly ``r``; each dataset's means are
    shifted by ``k * offsets`` (k = 0, 1, 2, ...), which moves the pooled r only."""
    rng = np.random.default_rng(seed)
    recs = []
    for k, ds in enumerate(datasets):
        u = rng.normal(size=per)
        u = (u - u.mean()) / np.linalg.norm(u - u.mean())
        e = rng.normal(size=per)
        e -= e.mean()
        e -= (e @ u) * u
        e /= np.linalg.norm(e)
        v = r * u + np.sqrt(1 - r * r) * e
        for i in range(per):
            recs.append({"architecture": f"arch{i % 5}", "dataset": ds, "seed": i,
                         x: 1.0 + u[i] + k * offsets[0], y: 1.0 + v[i] + k * offsets[1]})
    return _frame(recs)


def group_rows(metric: str, ratio: float, *, a_datasets=("adult", "german_credit"),
               b_datasets=("dsprites",), per_dataset: int = 6, archs=None, arch_column=None
               ) -> pd.DataFrame:
    """``metric`` on datasets a = ratio x on datasets b (0.2 +- 10% spread)."""
    recs = []
    for side, dss in (("a", a_datasets), ("b", b_datasets)):
        for ds in dss:
            for i in range(per_dataset):
                base = 0.2 * (1 + 0.1 * np.sin(1.7 * i + len(ds)))
                arch = archs[i % len(archs)] if archs else f"arch{i % 3}"
                recs.append({"architecture": arch, "dataset": ds, "seed": i,
                             metric: base * (ratio if side == "a" else 1.0)})
    return _frame(recs)


def adult_rows(fold: float, seeds: int) -> pd.DataFrame:
    recs = []
    for s in range(seeds):
        vae = 0.1 * (1 + 0.1 * np.sin(s))
        recs.append({"architecture": "vae", "dataset": "adult", "seed": s,
                     "ces_calibrated": vae})
        recs.append({"architecture": "beta_vae", "dataset": "adult", "seed": s,
                     "ces_calibrated": vae / fold * (1 + 0.05 * np.cos(3 * s))})
    recs.append({"architecture": "vae", "dataset": "german_credit", "seed": 0,
                 "ces_calibrated": 0.5})
    return _frame(recs)


def paired_rows(ratio: float, n: int) -> pd.DataFrame:
    recs = []
    for i in range(n):
        rand = 0.08 * (1 + 0.2 * np.sin(2.3 * i))
        recs.append({"architecture": f"arch{i % 5}", "dataset": ("adult", "bank_marketing")[i % 2],
                     "seed": i, "modularity_random": rand,
                     "modularity": rand * ratio * (1 + 0.01 * np.cos(i))})
    return _frame(recs)


ARCHS5 = ("vae", "beta_vae", "factor_vae", "beta_tc_vae", "dip_vae_ii")


def level_rows(levels: dict[str, dict[str, float]], *, archs=ARCHS5, datasets=("adult",
               "dsprites"), seeds=range(5)) -> pd.DataFrame:
    """One run per (arch, dataset, seed); metric m = levels[m][arch] + a small noise that
    depends on the level, not the architecture: equal levels give identical values (no
    difference at all), levels 1 apart differ with the same sign in every pair."""
    rng = np.random.default_rng(0)
    noise = {}
    recs = []
    for a, ds, s in itertools.product(archs, datasets, seeds):
        rec = {"architecture": a, "dataset": ds, "seed": s}
        for m, lv in levels.items():
            key = (m, lv[a], ds, s)
            if key not in noise:
                noise[key] = rng.uniform(0, 0.01)
            rec[m] = lv[a] + noise[key]
        recs.append(rec)
    return _frame(recs)


def lv(*values: float, archs=ARCHS5) -> dict[str, float]:
    return dict(zip(archs, values, strict=True))


DISTINCT, FLAT = lv(0, 1, 2, 3, 4), lv(0, 0, 0, 0, 0)


def vq_rows(ratio: float, vq_per_dataset: int = 3) -> pd.DataFrame:
    recs = []
    for ds in ("dsprites", "shapes3d"):
        for s in range(3):
            for a in ("vae", "beta_vae"):
                recs.append({"architecture": a, "dataset": ds, "seed": s,
                             "ces_calibrated": 0.1 * (1 + 0.1 * np.sin(s + len(a)))})
        for s in range(vq_per_dataset):
            recs.append({"architecture": "vq_vae", "dataset": ds, "seed": s,
                         "ces_calibrated": 0.1 * ratio * (1 + 0.1 * np.cos(s))})
    return _frame(recs)


def bottleneck_rows(mse_gap: float, ces_gap: float, *, datasets=("dsprites", "shapes3d"),
                    seeds=range(5)) -> pd.DataFrame:
    return level_rows({"mse": lv(1.0, 1.0 + mse_gap, 1.5, archs=("vae", "beta_vae",
                                                                  "factor_vae")),
                       "ces_calibrated": lv(1.0, 1.0 + ces_gap, 0.5,
                                            archs=("vae", "beta_vae", "factor_vae"))},
                      archs=("vae", "beta_vae", "factor_vae"), datasets=datasets, seeds=seeds)


def dominance_rows(ces: tuple, mse: tuple, **kw) -> pd.DataFrame:
    archs = ("vae", "beta_vae", "factor_vae")
    return level_rows({"ces_calibrated": lv(*ces, archs=archs), "mse": lv(*mse, archs=archs)},
                      archs=archs, datasets=("dsprites", "shapes3d"), **kw)


def _drop(df: pd.DataFrame, column: str) -> pd.DataFrame:
    return df.drop(columns=[column])


# (finding, verdict) -> rows
CASES = {
    # tabular
    ("modularity_domain", REPRODUCED): lambda: group_rows("modularity", 0.5),
    ("modularity_domain", DIRECTION_ONLY): lambda: group_rows("modularity", 0.1),
    ("modularity_domain", NOT_REPRODUCED): lambda: group_rows("modularity", 1.5),
    ("modularity_domain", UNDERPOWERED): lambda: group_rows("modularity", 0.5, per_dataset=3),
    ("modularity_domain", NOT_COMPUTABLE): lambda: group_rows("modularity", 0.5, b_datasets=()),
    ("betavae_ces_domain", REPRODUCED): lambda: group_rows(
        "ces_calibrated", 0.043 / 0.133, archs=("beta_vae",)),
    ("betavae_ces_domain", DIRECTION_ONLY): lambda: group_rows(
        "ces_calibrated", 0.03, archs=("beta_vae",)),
    ("betavae_ces_domain", NOT_REPRODUCED): lambda: group_rows(
        "ces_calibrated", 1.2, archs=("beta_vae",)),
    # the tabular grid's layout: 3 beta-VAE runs on dSprites
    ("betavae_ces_domain", UNDERPOWERED): lambda: group_rows(
        "ces_calibrated", 0.043 / 0.133, archs=("beta_vae",), per_dataset=3,
        a_datasets=("adult", "bank_marketing", "german_credit", "credit_default")),
    ("betavae_ces_domain", NOT_COMPUTABLE): lambda: group_rows(
        "ces_calibrated", 0.3, archs=("vae",)),
    ("betavae_adult_drop", REPRODUCED): lambda: adult_rows(260, 8),
    ("betavae_adult_drop", DIRECTION_ONLY): lambda: adult_rows(20, 8),
    ("betavae_adult_drop", NOT_REPRODUCED): lambda: adult_rows(0.5, 8),
    ("betavae_adult_drop", UNDERPOWERED): lambda: adult_rows(260, 3),  # the paper's 3 seeds
    ("betavae_adult_drop", NOT_COMPUTABLE): lambda: adult_rows(260, 8).query(
        "architecture != 'beta_vae'"),
    ("ces_mse", REPRODUCED): lambda: corr_rows(-0.886, "ces_calibrated", "mse"),
    ("ces_mse", DIRECTION_ONLY): lambda: corr_rows(-0.5, "ces_calibrated", "mse", per=20),
    # within-dataset positive while the dataset means make the pooled r strongly negative
    ("ces_mse", NOT_REPRODUCED): lambda: corr_rows(0.3, "ces_calibrated", "mse",
                                                   offsets=(5.0, -5.0)),
    ("ces_mse", UNDERPOWERED): lambda: corr_rows(-0.886, "ces_calibrated", "mse", per=6,
                                                 datasets=("adult", "bank_marketing")),
    ("ces_mse", NOT_COMPUTABLE): lambda: _drop(corr_rows(-0.886, "ces_calibrated", "mse"),
                                               "mse"),
    # 20 significant reference differences, CES misses the pair (dip_vae_ii, beta_tc_vae)
    ("ces_captures", REPRODUCED): lambda: level_rows(
        {"ces_calibrated": lv(0, 1, 2, 3, 3), "mse": DISTINCT, "dci_disentanglement": DISTINCT,
         "auc": FLAT, "fgd": FLAT, "specificity": FLAT,
         # not reference metrics: they must not count
         "ces_fixed": DISTINCT, "modularity": DISTINCT, "modularity_random": DISTINCT}),
    ("ces_captures", DIRECTION_ONLY): lambda: level_rows(
        {"ces_calibrated": DISTINCT, "mse": DISTINCT, "dci_disentanglement": DISTINCT,
         "fgd": DISTINCT, "auc": FLAT}),
    ("ces_captures", NOT_REPRODUCED): lambda: level_rows(
        {"ces_calibrated": FLAT, "mse": DISTINCT, "auc": DISTINCT}),
    ("ces_captures", UNDERPOWERED): lambda: level_rows(
        {"ces_calibrated": DISTINCT, "mse": DISTINCT}, datasets=("adult",), seeds=range(4)),
    ("ces_captures", NOT_COMPUTABLE): lambda: level_rows(
        {"ces_calibrated": DISTINCT, "modularity": DISTINCT}),
    ("specificity_auc", REPRODUCED): lambda: corr_rows(0.46, "specificity", "auc", per=30),
    ("specificity_auc", DIRECTION_ONLY): lambda: corr_rows(0.9, "specificity", "auc", per=20),
    ("specificity_auc", NOT_REPRODUCED): lambda: corr_rows(-0.46, "specificity", "auc", per=30),
    ("specificity_auc", UNDERPOWERED): lambda: corr_rows(0.46, "specificity", "auc", per=4),
    ("specificity_auc", NOT_COMPUTABLE): lambda: _drop(
        corr_rows(0.46, "specificity", "auc"), "specificity"),
    ("semantic_vs_random", REPRODUCED): lambda: paired_rows(0.099 / 0.080, 12),
    ("semantic_vs_random", DIRECTION_ONLY): lambda: paired_rows(3.0, 12),
    ("semantic_vs_random", NOT_REPRODUCED): lambda: paired_rows(0.8, 12),
    ("semantic_vs_random", UNDERPOWERED): lambda: paired_rows(0.099 / 0.080, 4),
    ("semantic_vs_random", NOT_COMPUTABLE): lambda: _drop(paired_rows(1.24, 12),
                                                          "modularity_random"),
    # image
    ("ces_dci_within", REPRODUCED): lambda: corr_rows(-0.5, "ces_calibrated",
                                                      "dci_disentanglement", per=20),
    ("ces_dci_within", NOT_REPRODUCED): lambda: corr_rows(
        0.5, "ces_calibrated", "dci_disentanglement", per=20, offsets=(3.0, -3.0)),
    ("ces_dci_within", UNDERPOWERED): lambda: corr_rows(-0.9, "ces_calibrated",
                                                        "dci_disentanglement", per=6),
    ("ces_dci_within", NOT_COMPUTABLE): lambda: _drop(
        corr_rows(-0.5, "ces_calibrated", "dci_disentanglement"), "dci_disentanglement"),
    ("betavae_bottleneck", REPRODUCED): lambda: bottleneck_rows(0.5, -0.3),
    ("betavae_bottleneck", NOT_REPRODUCED): lambda: bottleneck_rows(-0.5, -0.3),
    ("betavae_bottleneck", UNDERPOWERED): lambda: bottleneck_rows(0.5, -0.3,
                                                                  datasets=("dsprites",),
                                                                  seeds=range(4)),
    ("betavae_bottleneck", NOT_COMPUTABLE): lambda: bottleneck_rows(0.5, -0.3).query(
        "architecture != 'vae'"),
    # vae: best CES, worst MSE; factor_vae: best MSE, worst CES; beta_vae: beaten in both
    ("no_dominance", REPRODUCED): lambda: dominance_rows((3, 2, 1), (3, 2, 1)),
    # vae best in both metrics: it dominates
    ("no_dominance", NOT_REPRODUCED): lambda: dominance_rows((3, 2, 1), (1, 2, 3)),
    ("no_dominance", UNDERPOWERED): lambda: dominance_rows((3, 2, 1), (3, 2, 1),
                                                           seeds=range(2)),
    ("no_dominance", NOT_COMPUTABLE): lambda: _drop(dominance_rows((3, 2, 1), (3, 2, 1)),
                                                    "mse"),
    ("vq_ces_zero", REPRODUCED): lambda: vq_rows(0.001),
    ("vq_ces_zero", DIRECTION_ONLY): lambda: vq_rows(0.5),
    ("vq_ces_zero", NOT_REPRODUCED): lambda: vq_rows(1.3),
    ("vq_ces_zero", UNDERPOWERED): lambda: vq_rows(0.001, vq_per_dataset=1),
    ("vq_ces_zero", NOT_COMPUTABLE): lambda: vq_rows(0.001).query("architecture != 'vq_vae'"),
}

QUALITATIVE = {"ces_dci_within", "betavae_bottleneck", "no_dominance"}


def _judge(key: str, rows: pd.DataFrame, *, with_pairs: bool = True) -> Outcome:
    metrics = [c for c in rows.columns if c not in ("architecture", "dataset", "seed", "run_id")]
    pairs = stats.pairwise_table(rows, metrics) if with_pairs else EMPTY_PAIRS
    return apply(RULES[key], rows, pairs)


def test_every_finding_has_a_case_for_each_verdict_it_can_reach():
    assert len(TABULAR.findings) == 7 and len(IMAGE.findings) == 4
    for key in RULES:
        reachable = set(VERDICTS) - ({DIRECTION_ONLY} if key in QUALITATIVE else set())
        assert {v for k, v in CASES if k == key} == reachable, key


@pytest.mark.parametrize("key, expected", sorted(CASES), ids=lambda x: str(x))
def test_rule_reaches_verdict(key, expected):
    rows = CASES[(key, expected)]()
    out = _judge(key, rows)
    assert out.verdict == expected, out.ours
    if expected != NOT_COMPUTABLE:
        assert out.key_number and "not computable" not in out.ours
    else:
        assert out.ours.startswith("not computable")


@pytest.mark.parametrize("key", ["ces_captures", "betavae_bottleneck", "no_dominance"])
def test_pairwise_rules_recompute_missing_families(key):
    """Without a pairs table the check computes the families it needs from the rows."""
    for (k, expected), build in CASES.items():
        if k == key:
            rows = build()
            assert _judge(key, rows, with_pairs=False).verdict == expected, (k, expected)


def test_underpowered_still_shows_the_numbers():
    out = _judge("betavae_adult_drop", adult_rows(260, 3))
    assert out.verdict == UNDERPOWERED
    assert "fold drop" in out.ours and "3 paired seeds < 6 needed" in out.ours
    assert "within a factor 2" in out.ours and "beta-VAE" in out.ours


def test_correlations_report_pooled_and_within_and_the_within_decides():
    rows = corr_rows(0.3, "ces_calibrated", "mse", offsets=(5.0, -5.0))
    pooled = stats.correlation(rows, "ces_calibrated", "mse")
    assert pooled.r < -0.9 and pooled.p < 1e-3  # pooled alone would "reproduce"
    out = _judge("ces_mse", rows)
    assert out.verdict == NOT_REPRODUCED
    assert "within-dataset r=0.3 " in out.ours and f"pooled r={pooled.r:.3g}" in out.ours
    assert "paper's -0.886 outside our 95% CI" in out.ours


def test_captures_counts_reference_metrics_only():
    out = _judge("ces_captures", CASES[("ces_captures", REPRODUCED)]())
    assert "CES captures 18 of 20" in out.ours and out.key_number == "18 of 20"
    assert "absent" not in out.ours or "ces_fixed" not in out.ours
    lo, hi = stats.wilson_ci(18, 20)
    assert f"[{lo:.3g}, {hi:.3g}]" in out.ours and lo > 0.5 and lo < 9 / 11 < hi


def test_qualitative_findings_are_decided_by_direction_alone():
    for r in (-0.3, -0.5, -0.95):
        rows = corr_rows(r, "ces_calibrated", "dci_disentanglement", per=30)
        assert _judge("ces_dci_within", rows).verdict == REPRODUCED, r
    for gap in (0.1, 5.0):
        assert _judge("betavae_bottleneck", bottleneck_rows(gap, -gap)).verdict == REPRODUCED


@pytest.mark.parametrize("key, build", [
    ("modularity_domain", lambda: group_rows("modularity", 0.5, per_dataset=2,
                                             a_datasets=("adult",))),
    ("betavae_ces_domain", lambda: group_rows("ces_calibrated", 0.3, per_dataset=2,
                                              a_datasets=("adult",), archs=("beta_vae",))),
    ("betavae_adult_drop", lambda: adult_rows(260, 2).query("dataset == 'adult'")),
    ("ces_mse", lambda: corr_rows(-0.886, "ces_calibrated", "mse", per=2,
                                  datasets=("adult", "bank_marketing"))),
    ("ces_captures", lambda: level_rows({"ces_calibrated": lv(0, 1, archs=("vae", "beta_vae")),
                                         "mse": lv(0, 1, archs=("vae", "beta_vae"))},
                                        archs=("vae", "beta_vae"), datasets=("adult",),
                                        seeds=range(2))),
    ("specificity_auc", lambda: corr_rows(0.46, "specificity", "auc", per=4,
                                          datasets=("adult",))),
    ("semantic_vs_random", lambda: paired_rows(1.24, 4)),
    ("ces_dci_within", lambda: corr_rows(-0.5, "ces_calibrated", "dci_disentanglement",
                                         per=2, datasets=("dsprites", "shapes3d"))),
    ("betavae_bottleneck", lambda: bottleneck_rows(0.5, -0.3, datasets=("dsprites",),
                                                   seeds=range(2)).query(
                                                       "architecture != 'factor_vae'")),
    ("no_dominance", lambda: dominance_rows((3, 2, 1), (3, 2, 1), seeds=range(1)).query(
        "architecture != 'factor_vae'")),
    ("vq_ces_zero", lambda: vq_rows(0.001, vq_per_dataset=1).query(
        "architecture != 'beta_vae' and seed == 0")),
])
def test_a_four_run_subset_is_underpowered_never_not_reproduced(key, build):
    rows = build()
    assert len(rows) == 4
    out = _judge(key, rows)
    assert out.verdict == UNDERPOWERED, out.ours


def test_four_run_subsets_of_reproducing_rows_are_underpowered():
    """Every 4-run slice (first 4 runs of each (dataset, seed) order) of the reproducing
    tabular correlation cases is underpowered."""
    for key in ("ces_mse", "specificity_auc"):
        rows = CASES[(key, REPRODUCED)]()
        for start in range(0, len(rows) - 4, 4):
            assert _judge(key, rows.iloc[start:start + 4]).verdict == UNDERPOWERED


# --------------------------------------------------------------------------- the check API

def test_evaluate_accepts_old_checks_and_turns_errors_into_not_computable():
    rows = corr_rows(-0.886, "ces_calibrated", "mse")

    def old_true(rows, pairs):
        return "ours", True

    def old_none(rows, pairs):
        return "ours", None

    def boom(rows, pairs):
        raise ValueError("broken")

    def bad_verdict(rows, pairs):
        return "ours", "probably"

    def outcome(rows, pairs):
        return Outcome("numbers", DIRECTION_ONLY, "k", ("a",))

    rules = [FindingRule(n, n, "-", "-", f) for n, f in
             [("t", old_true), ("n", old_none), ("b", boom), ("v", bad_verdict),
              ("o", outcome)]]
    got = {f.key: f for f in evaluate(rules, rows, EMPTY_PAIRS, "s")}
    assert got["t"].status == REPRODUCED and got["n"].status == NOT_COMPUTABLE
    assert got["b"].status == NOT_COMPUTABLE and "ValueError: broken" in got["b"].ours
    assert got["v"].status == NOT_COMPUTABLE and "probably" in got["v"].ours
    assert got["o"].status == DIRECTION_ONLY and got["o"].runs == ("a",)
    assert got["o"].key_number == "k"
    with pytest.raises(ValueError, match="unknown verdict"):
        Outcome("x", "maybe")


def test_sensitivity_substitutes_each_variant_and_the_default_decides():
    rows = corr_rows(-0.886, "ces_calibrated", "mse")
    rows["ces_calibrated_total"] = 3.0 - rows["ces_calibrated"]  # r(total, mse) = +0.886
    found = evaluate(TABULAR.findings, rows, EMPTY_PAIRS)
    assert next(f for f in found if f.key == "ces_mse").status == REPRODUCED
    sens = [s for s in sensitivity(TABULAR.findings, rows, EMPTY_PAIRS, found)
            if s.key == "ces_mse"]
    assert [(s.variant, s.status) for s in sens] == [
        ("ces_calibrated", REPRODUCED), ("ces_calibrated_total", NOT_REPRODUCED),
        ("ces_calibrated_posterior", NOT_COMPUTABLE)]
    assert sens[0].is_default and not sens[1].is_default
    assert sens[1].key_number.startswith("within r=0.886")
    assert "ces_calibrated_posterior" in sens[2].key_number


def test_sensitivity_recomputes_a_pairwise_family_with_the_variant():
    rows = CASES[("ces_captures", REPRODUCED)]()
    alt = level_rows({"x": DISTINCT})
    rows["specificity_total"] = alt["x"].to_numpy()  # 10 more significant differences
    pairs = stats.pairwise_table(rows, ["ces_calibrated", "mse", "dci_disentanglement", "auc",
                                        "fgd", "specificity"])
    sens = {s.variant: s for s in sensitivity(TABULAR.findings, rows, pairs)
            if s.key == "ces_captures"}
    assert sens["ces_calibrated"].key_number == "18 of 20"
    assert sens["specificity_total"].key_number == "27 of 30"
    assert sens["specificity_posterior"].status == NOT_COMPUTABLE


def test_every_rule_states_its_thresholds_and_marks_its_choices():
    for r in RULES.values():
        assert "direction:" in r.rule and "[our choice]" in r.rule, r.key
        assert ("magnitude:" in r.rule) or ("no magnitude check" in r.rule), r.key
        assert any(s in r.rule for s in (">= 20 runs", ">= 6")), r.key


@pytest.mark.parametrize("key, thin_metric", [("ces_captures", "dci_disentanglement"),
                                              ("no_dominance", "auc")])
def test_a_metric_on_one_dataset_only_does_not_veto_the_verdict(key, thin_metric):
    """DCI exists on dSprites only in the tabular grid (AUC on dSprites only in the image
    grid): its comparisons have 3 pairs, and the rule leaves it out by name instead of calling
    the whole finding underpowered (review finding)."""
    case = CASES[(key, REPRODUCED)]()
    thin = case.copy()
    thin[thin_metric] = np.where(thin["dataset"] == thin["dataset"].iloc[0],
                                 np.arange(len(thin), dtype=float) % 3, np.nan)
    thin = thin[thin["seed"] < 3] if "seed" in thin else thin
    out = _judge(key, thin)
    assert out.verdict != UNDERPOWERED, out.ours
    assert thin_metric in out.ours and "pairs" in out.ours
