"""Tabular loaders: real UCI files when available, generated files in the same format otherwise."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from circuitvae.protocol import CircuitVAEError, column_groups
from circuitvae.zoo.data import (
    ChecksumError,
    DataError,
    MissingDataError,
    TabularDataset,
    files,
    load_dataset,
)
from circuitvae.zoo.data.tabular import correlation_clusters, correlation_ratio, cramers_v

UCI = ["adult", "bank_marketing", "german_credit", "credit_default"]


def check_layout(d: TabularDataset) -> None:
    """Shapes, finite values, one-hot blocks and that every grouping partitions the columns."""
    n_cols = sum(len(f.columns) for f in d.features)
    assert d.train.x.shape[1] == d.test.x.shape[1] == n_cols == len(d.column_names)
    assert d.train.x.dtype == torch.float32
    for split in (d.train, d.test):
        assert torch.isfinite(split.x).all()
        assert set(np.unique(split.y)) <= {0, 1}
        assert len(split.y) == len(split)
    for f in d.features:
        if f.kind == "categorical":
            block = d.train.x[:, list(f.columns)]
            assert torch.all(block.sum(1) == 1), f.name
            assert set(torch.unique(block).tolist()) <= {0.0, 1.0}
            assert torch.all(d.test.x[:, list(f.columns)].sum(1) <= 1)
    for kind in ("semantic", "correlation", "random"):
        groups = d.group_columns(kind, seed=3)
        assert len(column_groups(groups, n_cols)) == len(groups)
    assert d.feature_columns() == {f.name: list(f.columns) for f in d.features}


@pytest.mark.parametrize("name", UCI)
def test_real_uci_subsample(real_data, name):
    d = load_dataset(name, download=False, n_train=400, n_test=150)
    assert (len(d.train), len(d.test)) == (400, 150)
    check_layout(d)
    names = [f.name for f in d.features]
    expected = {"adult": 14, "bank_marketing": 15, "german_credit": 20, "credit_default": 23}
    assert len(names) == expected[name]
    assert d.label_name not in names
    dropped = {"bank_marketing": "duration", "credit_default": "ID"}.get(name)
    assert dropped not in names
    assert all(f["verified"] and f["origin"] == "local" for f in d.provenance["files"])
    sums = dict(line.split()[::-1] for line in
                (real_data / "SHA256SUMS").read_text().splitlines() if line.strip())
    for f in d.provenance["files"]:
        assert sums[f["file"]] == f["sha256"]


def test_real_adult_official_split_and_label_balance(real_data):
    d = load_dataset("adult", download=False)
    assert (len(d.train), len(d.test)) == (32561, 16281)
    assert int(d.train.y.sum()) == 7841 and int(d.test.y.sum()) == 3846
    check_layout(d)
    num = [f.columns[0] for f in d.features if f.kind == "numeric"]
    train_mean = d.train.x[:, num].double().mean(0)
    assert torch.allclose(train_mean, torch.zeros(len(num), dtype=torch.float64), atol=1e-5)
    assert torch.allclose(d.train.x[:, num].double().std(0, unbiased=False),
                          torch.ones(len(num), dtype=torch.float64), atol=1e-4)
    assert (d.test.x[:, num].double().mean(0).abs() > 1e-4).all()
    wc = d.feature("workclass")
    missing_col = d.column_names.index("workclass=missing")
    assert missing_col in wc.columns
    assert int(d.train.x[:, missing_col].sum()) == 1836
    assert int(d.test.x[:, missing_col].sum()) == 963


def test_real_german_stratified_split(real_data):
    d = load_dataset("german_credit", download=False, seed=1)
    assert (len(d.train), len(d.test)) == (800, 200)
    assert int(d.train.y.sum()) == 240 and int(d.test.y.sum()) == 60
    again = load_dataset("german_credit", download=False, seed=1)
    assert torch.equal(d.train.x, again.train.x)
    other = load_dataset("german_credit", download=False, seed=2)
    assert not torch.equal(d.train.x, other.train.x)


def test_generated_adult_preprocessing(no_env, adult_dir):
    d = load_dataset("adult", root=adult_dir, verify=False)
    assert (len(d.train), len(d.test)) == (6, 3)
    assert d.train.y.tolist() == [0, 1, 0, 0, 1, 1] and d.test.y.tolist() == [0, 1, 0]
    check_layout(d)
    assert d.provenance["files"][0]["verified"] is False
    # stats come from the train rows only
    ages = np.array([39, 50, 38, 53, 28, 37], dtype=np.float64)
    assert d.encoding.stats["age"] == pytest.approx((ages.mean(), ages.std()))
    col = d.feature("age").columns[0]
    expected = (np.array([25, 44, 18]) - ages.mean()) / ages.std()
    np.testing.assert_allclose(d.test.x[:, col].numpy(), expected, rtol=1e-5)
    # '?' is its own category; the test-only 'Never-worked' / 'Peru' get all-zero blocks
    assert "workclass=missing" in d.column_names
    assert "workclass=Never-worked" not in d.column_names
    assert d.test.x[1, list(d.feature("workclass").columns)].sum() == 0
    assert d.test.x[1, list(d.feature("native-country").columns)].sum() == 0
    # test cells unseen in the 6 train rows: occupation/relationship of row 0; workclass,
    # education, country of row 1; education, relationship of row 2
    assert d.provenance["unseen_test_categories"] == 7


def test_semantic_groups_cover_features(no_env, adult_dir):
    d = load_dataset("adult", root=adult_dir, verify=False)
    assert set(d.groups) == {"demographics", "education", "work", "capital", "household"}
    members = sorted(m for g in d.groups.values() for m in g)
    assert members == sorted(f.name for f in d.features)


def test_random_grouping_seeded_and_sized(no_env, adult_dir):
    d = load_dataset("adult", root=adult_dir, verify=False)
    a, b = d.feature_groups("random", seed=5), d.feature_groups("random", seed=5)
    assert a == b
    assert [len(v) for v in a.values()] == [len(v) for v in d.groups.values()]
    assert d.feature_groups("random", seed=6) != a
    with pytest.raises(CircuitVAEError, match="unknown grouping kind"):
        d.group_columns("alphabetical")


def test_random_column_groups_have_the_semantic_column_counts(no_env, adult_dir):
    """The random control draws column groups of the semantic groups' sizes from shuffled
    columns (methods.md section 1), not whole features into the semantic feature counts."""
    d = load_dataset("adult", root=adult_dir, verify=False)
    semantic = d.group_columns("semantic")
    random = d.group_columns("random", seed=5)
    assert [len(v) for v in random.values()] == [len(v) for v in semantic.values()]
    assert sorted(c for v in random.values() for c in v) == list(range(d.n_columns))
    assert random == d.group_columns("random", seed=5) != d.group_columns("random", seed=6)
    # some random group cuts through a categorical's one-hot block: column-level, not features
    blocks = [set(f.columns) for f in d.features if f.kind == "categorical"]
    assert any(0 < len(set(v) & blk) < len(blk) for v in random.values() for blk in blocks)


def test_bad_semantic_groups_rejected(no_env, adult_dir):
    d = load_dataset("adult", root=adult_dir, verify=False)
    with pytest.raises(CircuitVAEError, match="features in no semantic group"):
        TabularDataset(d.name, d.train, d.test, d.features, {"a": ["age"]}, d.label_name,
                       d.provenance, d.encoding)
    with pytest.raises(CircuitVAEError, match="unknown feature 'height'"):
        TabularDataset(d.name, d.train, d.test, d.features, {"a": ["height"]}, d.label_name,
                       d.provenance, d.encoding)


def test_subsample_is_seeded(no_env, tmp_path, make_bank_csv):
    (tmp_path / "bank_marketing").mkdir()
    (tmp_path / "bank_marketing" / "bank-full.csv").write_text(make_bank_csv(80))
    d = load_dataset("bank_marketing", root=tmp_path, verify=False, n_train=20, n_test=5)
    e = load_dataset("bank_marketing", root=tmp_path, verify=False, n_train=20, n_test=5)
    assert (len(d.train), len(d.test)) == (20, 5)
    assert torch.equal(d.train.x, e.train.x)
    assert "duration" not in d.column_names
    with pytest.raises(CircuitVAEError, match="n_train must be >= 1"):
        load_dataset("bank_marketing", root=tmp_path, verify=False, n_train=0)


# --------------------------------------------------------------------------- embedded copies


@pytest.mark.parametrize("name", ["adult", "german_credit", "bank_marketing", "credit_default"])
def test_embedded_copies_are_the_original_files(only_embedded, name):
    from circuitvae.zoo.data import SPECS

    for spec in SPECS[name].files:
        path, _, origin = files.fetch(name, [spec], download=False)[0]
        assert origin == "embedded" and files.sha256_file(path) == spec.sha256
        assert path == files.cache_dir() / spec.subdir / spec.filename
        again = files.fetch(name, [spec], download=False)[0]
        assert again[0] == path and again[2] == "local"  # decompressed once, then cached


def test_embedded_dataset_loads_offline(only_embedded):
    d = load_dataset("german_credit", download=False, seed=0)
    assert (len(d.train) + len(d.test)) == 1000
    assert d.provenance["files"][0]["origin"] == "embedded"
    assert d.provenance["files"][0]["verified"] is True


def test_corrupt_embedded_copy_is_named(only_embedded, tmp_path, monkeypatch):
    import lzma

    bad = tmp_path / "embedded"
    (bad / "german_credit").mkdir(parents=True)
    (bad / "german_credit" / "german.data.xz").write_bytes(lzma.compress(b"A11 6 A34\n"))
    monkeypatch.setattr(files, "EMBEDDED_DIR", bad)
    with pytest.raises(ChecksumError, match=r"embedded copy .*german\.data\.xz decompresses to"):
        load_dataset("german_credit", download=False)
    (bad / "german_credit" / "german.data.xz").write_bytes(b"not xz at all")
    with pytest.raises(ChecksumError, match="embedded copy .* is corrupt"):
        load_dataset("german_credit", download=False)


def test_attribution_ships_with_the_files():
    text = (files.EMBEDDED_DIR / "ATTRIBUTION.md").read_text()
    assert "CC BY 4.0" in text
    for author in ("Becker", "Kohavi", "Hofmann", "Moro", "Yeh"):
        assert author in text


# --------------------------------------------------------------------------- file errors


def test_missing_file_names_file_and_places(no_env, tmp_path):
    with pytest.raises(MissingDataError, match=r"german\.data.*CIRCUITVAE_DATA") as err:
        load_dataset("german_credit", root=tmp_path, download=False)
    assert str(tmp_path / "german_credit") in str(err.value)
    assert "download=False" in str(err.value)


def test_failed_download_is_clear(no_env, tmp_path):
    with pytest.raises(MissingDataError, match=r"adult\.data.*adult\.test.*Downloading https"):
        load_dataset("adult", root=tmp_path, download=True)


def test_truncated_file(real_data, no_env, tmp_path):
    (tmp_path / "german_credit").mkdir()
    data = (real_data / "german_credit" / "german.data").read_bytes()
    (tmp_path / "german_credit" / "german.data").write_bytes(data[: len(data) // 2])
    with pytest.raises(ChecksumError, match=r"truncated: 39896 bytes, expected 79793"):
        load_dataset("german_credit", root=tmp_path)


def test_truncated_generated_file(no_env, tmp_path):
    (tmp_path / "german_credit").mkdir()
    (tmp_path / "german_credit" / "german.data").write_bytes(b"A11 6 A34\n")
    with pytest.raises(ChecksumError, match="truncated"):
        load_dataset("german_credit", root=tmp_path)


def test_checksum_mismatch(no_env, tmp_path):
    (tmp_path / "german_credit").mkdir()
    (tmp_path / "german_credit" / "german.data").write_bytes(b"x" * 79793)
    with pytest.raises(ChecksumError, match="sha256 .* expected b21f3d81"):
        load_dataset("german_credit", root=tmp_path)


def test_download_extracts_nested_zip_and_caches(data_env, no_env, tmp_path, monkeypatch,
                                                 make_zip, make_bank_csv):
    real_file = None if data_env is None else data_env / "bank_marketing" / "bank-full.csv"
    if real_file is not None and real_file.is_file():
        csv, verify = real_file.read_bytes(), True
    else:
        csv, verify = make_bank_csv(50).encode(), False
    outer = make_zip({"bank.zip": make_zip({"bank-full.csv": csv, "bank.csv": b""}),
                      "bank-additional.zip": b"PK"})
    urls = []

    def fake_download(url, dest):
        urls.append(url)
        dest.write_bytes(outer)

    monkeypatch.setattr(files, "download_url", fake_download)
    d = load_dataset("bank_marketing", root=tmp_path / "empty", verify=verify, n_train=30,
                     n_test=10)
    assert urls == ["https://archive.ics.uci.edu/static/public/222/bank+marketing.zip"]
    cached = files.cache_dir() / "bank_marketing" / "bank-full.csv"
    assert cached.read_bytes() == csv
    assert d.provenance["files"][0]["origin"] == "downloaded"
    again = load_dataset("bank_marketing", root=tmp_path / "empty", download=False,
                         verify=verify, n_train=30, n_test=10)
    assert again.provenance["files"][0]["origin"] == "local"


def test_download_with_wrong_member_checksum_is_not_cached(no_env, tmp_path, monkeypatch,
                                                          make_zip):
    blob = make_zip({"german.data": b"A11 6\n", "Index": b""})
    monkeypatch.setattr(files, "download_url", lambda url, dest: dest.write_bytes(blob))
    with pytest.raises(ChecksumError, match="changed upstream"):
        load_dataset("german_credit", root=tmp_path)
    assert not (files.cache_dir() / "german_credit" / "german.data").exists()


def test_wrong_format_is_clear(no_env, tmp_path):
    (tmp_path / "german_credit").mkdir()
    (tmp_path / "german_credit" / "german.data").write_text("A11 6 A34\nA12 48 A32\n")
    with pytest.raises(DataError, match="3 fields per record, expected 21"):
        load_dataset("german_credit", root=tmp_path, verify=False)


def test_real_file_found_via_env_after_root(real_data, tmp_path):
    shutil.copy(real_data / "german_credit" / "german.data", tmp_path / "german.data")
    d = load_dataset("german_credit", root=tmp_path, download=False)
    assert len(d.train) == 800


# --------------------------------------------------------------------------- associations


def test_association_measures_closed_form():
    a = np.array([0, 0, 1, 1] * 5)
    assert cramers_v(a, a) == pytest.approx(1.0)
    assert cramers_v(a, np.array([0, 1] * 10)) == pytest.approx(0.0)
    # eta: group means 1 and 3 around 2, total SS 4*1 + ... -> sqrt(between / total)
    codes = np.array([0, 0, 1, 1])
    vals = np.array([0.0, 2.0, 2.0, 4.0])
    assert correlation_ratio(codes, vals) == pytest.approx(np.sqrt(4.0 / 8.0))
    assoc = np.array([[1, 0.9, 0.1], [0.9, 1, 0.2], [0.1, 0.2, 1]])
    assert correlation_clusters(assoc, 0.5).tolist() == [0, 0, 1]
    assert correlation_clusters(assoc, 0.95).tolist() == [0, 1, 2]


def test_planted_correlation_clusters_recover_factor_groups():
    d = load_dataset("planted", n_train=2000, n_test=200, seed=3)
    found = sorted(sorted(v) for v in d.feature_groups("correlation").values())
    assert found == sorted(sorted(v) for v in d.groups.values())


def test_correlation_grouping_is_cached_until_the_train_split_changes():
    d = load_dataset("planted", n_train=600, n_test=50, seed=3)
    first = d.feature_groups("correlation")
    assert d.feature_groups("correlation") == first
    x = d.train.x
    d.train.x[:, :] = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    shuffled = d.feature_groups("correlation")  # in-place change: recomputed
    assert shuffled != first  # independent noise breaks the planted clusters
    d.train.x = x.clone()
    assert d.feature_groups("correlation") == shuffled  # same values in a new tensor


def test_planted_factors_and_reproducibility():
    d = load_dataset("planted", n_train=300, n_test=100, seed=4, n_factors=3, factor_bins=5)
    check_layout(d)
    assert d.provenance["source"] == "procedural"
    assert d.train.factors.shape == (300, 3) and d.factor_sizes == (5, 5, 5)
    assert d.train.factors.min() >= 0 and d.train.factors.max() <= 4
    # classes are monotone bins of the raw factor values
    u, f = d.factor_values["train"][:, 0], d.train.factors[:, 0]
    assert np.all(np.diff(f[np.argsort(u)]) >= 0)
    np.testing.assert_array_equal(d.train.y, (d.factor_values["train"][:, :2].sum(1) > 0))
    assert torch.equal(d.train.x, load_dataset("planted", n_train=300, n_test=100, seed=4,
                                               n_factors=3, factor_bins=5).train.x)
    assert set(d.groups) == {"factor_0", "factor_1", "factor_2"}
    with pytest.raises(CircuitVAEError, match="noise must be >= 0"):
        load_dataset("planted", noise=-1)


def test_load_dataset_rejects_unknown_names_and_options(tmp_path):
    with pytest.raises(CircuitVAEError, match="unknown dataset 'mnist'"):
        load_dataset("mnist")
    with pytest.raises(CircuitVAEError, match=r"does not take option\(s\) \['variant'\]"):
        load_dataset("adult", root=tmp_path, variant="toy")


@pytest.mark.parametrize(("name", "positives", "total"), [
    ("bank_marketing", 5289, 45211), ("german_credit", 300, 1000),
    ("credit_default", 6636, 30000),
])
def test_real_label_balance_and_stratification(real_data, name, positives, total):
    d = load_dataset(name, download=False)
    assert len(d.train) + len(d.test) == total and len(d.test) == -(-total // 5)  # ceil(0.2 n)
    assert int(d.train.y.sum()) + int(d.test.y.sum()) == positives
    assert abs(d.test.y.mean() - positives / total) < 1 / len(d.test)
    assert d.provenance["unseen_test_categories"] == 0
