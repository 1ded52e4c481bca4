"""Image datasets: dSprites grid and generator, and each reader on a tiny file in its format."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from circuitvae.protocol import CircuitVAEError
from circuitvae.zoo.data import DataError, MissingDataError, factor_bases, load_dataset
from circuitvae.zoo.data.dsprites import DSprites, expected_grid
from circuitvae.zoo.data.mpi3d import MPI3D
from circuitvae.zoo.data.shapes3d import Shapes3D


def test_factor_bases_match_dsprites_ordering():
    assert factor_bases((1, 3, 6, 40, 32, 32)).tolist() == [737280, 245760, 40960, 1024, 32, 1]


@pytest.fixture(scope="module")
def sprites():
    return load_dataset("dsprites", source="procedural", n_train=40, n_test=10, seed=1)


def test_procedural_dsprites_splits_and_grid(sprites):
    d = sprites
    assert d.provenance["source"] == "procedural"
    assert d.factor_sizes == (1, 3, 6, 40, 32, 32) and d.num_rows == 737280
    assert d.train.x.shape == (40, 1, 64, 64) and d.test.x.shape == (10, 1, 64, 64)
    assert set(torch.unique(d.train.x).tolist()) <= {0.0, 1.0}
    assert d.train.factors.shape == (40, 6) and np.array_equal(d.train.y, d.train.factors[:, 1])
    # the split images are the images of the split factors
    assert torch.equal(d.sample_observations_from_factors(d.train.factors), d.train.x)
    train_idx = set(d.index_of(d.train.factors).tolist())
    assert not train_idx & set(d.index_of(d.test.factors).tolist())


def test_index_of_round_trip(sprites):
    rng = np.random.default_rng(0)
    f = sprites.sample_factors(500, rng)
    assert f.shape == (500, 6)
    assert (f.max(0) < np.array(sprites.factor_sizes)).all() and f.min() >= 0
    np.testing.assert_array_equal(sprites.factors_of_index(sprites.index_of(f)), f)
    assert sprites.index_of([0, 2, 5, 39, 31, 31]).tolist() == [737279]
    assert sprites.index_of([0, 1, 0, 0, 0, 1]).tolist() == [245761]


def test_procedural_images_differ_across_factors(sprites):
    base = np.array([0, 0, 2, 5, 10, 12])
    x0 = sprites.sample_observations_from_factors(base)
    for k, new in [(1, 1), (1, 2), (2, 4), (3, 9), (4, 20), (5, 3)]:
        f = base.copy()
        f[k] = new
        assert not torch.equal(sprites.sample_observations_from_factors(f), x0), k
    # three distinct shapes at the same scale/orientation/position
    shapes = [base.copy() for _ in range(3)]
    for s, f in enumerate(shapes):
        f[1] = s
    areas = sprites.sample_observations_from_factors(np.stack(shapes)).sum((1, 2, 3))
    assert len(set(areas.tolist())) == 3
    # orientation 0 and 2 pi (first and last grid value) render the same image, as in dSprites
    f = base.copy()
    f[3] = 0
    g = base.copy()
    g[3] = 39
    assert torch.equal(sprites.sample_observations_from_factors(f),
                       sprites.sample_observations_from_factors(g))


def test_factor_errors(sprites):
    with pytest.raises(CircuitVAEError, match=r"factor 'scale' = 6 is outside 0\.\.5"):
        sprites.index_of([0, 0, 6, 0, 0, 0])
    with pytest.raises(CircuitVAEError, match=r"shape \(n, 6\)"):
        sprites.index_of([0, 0, 0])


SMALL = (1, 3, 2, 2, 2, 2)


def write_dsprites(path, compressed=True, classes=None):
    n = int(np.prod(SMALL))
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 2, size=(n, 64, 64), dtype=np.uint8)
    save = np.savez_compressed if compressed else np.savez
    save(path, imgs=imgs, latents_classes=expected_grid(SMALL) if classes is None else classes,
         latents_values=expected_grid(SMALL).astype(np.float64),
         metadata=np.array({"never": "unpickled"}, dtype=object))
    return imgs


@pytest.mark.parametrize("compressed", [True, False])
def test_dsprites_npz_reader(tmp_path, compressed):
    path = tmp_path / "d.npz"
    imgs = write_dsprites(path, compressed)
    d = DSprites(path, n_train=10, n_test=5, factor_sizes=SMALL, seed=2)
    assert d.provenance["source"] == "files"
    rows = np.array([47, 3, 3, 20])
    x = d.images(rows)
    np.testing.assert_array_equal(x[:, 0].numpy(), imgs[rows].astype(np.float32))
    f = d.factors_of_index(rows)
    assert torch.equal(d.sample_observations_from_factors(f), x)


def test_dsprites_npz_errors(tmp_path, no_env):
    path = tmp_path / "d.npz"
    write_dsprites(path, classes=expected_grid(SMALL)[::-1])
    with pytest.raises(DataError, match="latents_classes does not match"):
        DSprites(path, factor_sizes=SMALL, n_train=2, n_test=2)
    (tmp_path / "dsprites").mkdir()
    official = tmp_path / "dsprites" / "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
    write_dsprites(official)
    with pytest.raises(DataError, match=r"expected uint8 \(737280, 64, 64\)"):
        load_dataset("dsprites", root=tmp_path, source="file")
    official.write_bytes(official.read_bytes()[:2000])
    with pytest.raises(DataError, match="not a readable .npz"):
        load_dataset("dsprites", root=tmp_path, source="file")
    with pytest.raises(MissingDataError, match="dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"):
        load_dataset("dsprites", root=tmp_path / "nowhere", source="file")


def test_shapes3d_reader(tmp_path, no_env):
    import h5py

    sizes = (2, 2, 2, 2, 2, 3)
    n = int(np.prod(sizes))
    imgs = np.random.default_rng(1).integers(0, 256, size=(n, 64, 64, 3), dtype=np.uint8)
    path = tmp_path / "3dshapes.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=imgs)
        f.create_dataset("labels", data=np.zeros((n, 6)))
    d = Shapes3D(path, factor_sizes=sizes, n_train=8, n_test=4)
    assert d.train.x.shape == (8, 3, 64, 64) and d.train.x.dtype == torch.float32
    rows = d.index_of(d.train.factors)
    expected = imgs[rows].transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    np.testing.assert_allclose(d.train.x.numpy(), expected)
    (tmp_path / "shapes3d").mkdir()
    path.rename(tmp_path / "shapes3d" / "3dshapes.h5")
    with pytest.raises(DataError, match=r"expected uint8 \(480000, 64, 64, 3\)"):
        load_dataset("shapes3d", root=tmp_path)
    with pytest.raises(MissingDataError, match=r"3dshapes\.h5.*CIRCUITVAE_DATA"):
        load_dataset("shapes3d", root=tmp_path / "nowhere", source="file")


def test_mpi3d_reader(tmp_path, no_env):
    sizes = (2, 2, 1, 1, 1, 2, 3)
    n = int(np.prod(sizes))
    imgs = np.random.default_rng(2).integers(0, 256, size=(n, 64, 64, 3), dtype=np.uint8)
    np.savez(tmp_path / "m.npz", images=imgs)
    d = MPI3D(tmp_path / "m.npz", factor_sizes=sizes, n_train=10, n_test=4)
    f = np.array([[1, 0, 0, 0, 0, 1, 2], [0, 1, 0, 0, 0, 0, 0]])
    x = d.sample_observations_from_factors(f)
    expected = imgs[d.index_of(f)].transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    np.testing.assert_allclose(x.numpy(), expected)
    assert d.index_of(f).tolist() == [1 * 12 + 1 * 3 + 2, 6]
    with pytest.raises(MissingDataError, match=r"mpi3d_toy\.npz"):
        load_dataset("mpi3d", root=tmp_path)
    with pytest.raises(DataError, match="variant must be one of"):
        load_dataset("mpi3d", root=tmp_path, variant="cartoon")


def write_norb(directory, make_norb, part, rows):
    """rows: list of (category, instance, elevation, azimuth_class, lighting, pixel value)."""
    stem = {"training": "smallnorb-5x46789x9x18x6x2x96x96-training-",
            "testing": "smallnorb-5x01235x9x18x6x2x96x96-testing-"}[part]
    dat = np.zeros((len(rows), 2, 96, 96), dtype=np.uint8)
    for i, r in enumerate(rows):
        dat[i, 0] = r[5]
        dat[i, 1] = 255 - r[5]
    cat = np.array([r[0] for r in rows], dtype=np.int32)
    info = np.array([[r[1], r[2], 2 * r[3], r[4]] for r in rows], dtype=np.int32)
    for kind, arr in (("dat", dat), ("cat", cat), ("info", info)):
        (directory / f"{stem}{kind}.mat").write_bytes(make_norb(arr))


def test_smallnorb_reader(tmp_path, no_env, make_norb):
    d = tmp_path / "smallnorb"
    d.mkdir()
    write_norb(d, make_norb, "training", [(0, 4, 0, 0, 0, 10), (1, 6, 3, 17, 5, 20),
                                          (4, 9, 8, 5, 2, 30)])
    write_norb(d, make_norb, "testing", [(2, 0, 1, 1, 1, 40), (3, 5, 2, 9, 3, 50)])
    ds = load_dataset("smallnorb", root=tmp_path, n_train=3, n_test=2)
    assert ds.factor_sizes == (5, 10, 9, 18, 6) and ds.num_rows == 5
    assert ds.train.x.shape == (3, 1, 64, 64)
    f = np.array([[3, 5, 2, 9, 3], [1, 6, 3, 17, 5]])
    x = ds.sample_observations_from_factors(f)
    # first camera, constant images stay constant through the resize
    np.testing.assert_allclose(x[:, 0, 10, 10].numpy(), [50 / 255, 20 / 255], rtol=1e-5)
    np.testing.assert_allclose(x.std((1, 2, 3)).numpy(), 0, atol=1e-6)
    sampled = ds.sample_factors(50, np.random.default_rng(0))
    assert {tuple(r) for r in sampled} <= {tuple(r) for r in ds.factors_of_rows(np.arange(5))}
    with pytest.raises(CircuitVAEError, match="no image with factors"):
        ds.sample_observations_from_factors([0, 0, 0, 0, 0])
    dat = d / "smallnorb-5x46789x9x18x6x2x96x96-training-dat.mat"
    dat.write_bytes(dat.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_dataset("smallnorb", root=tmp_path, n_train=1, n_test=1)
    dat.write_bytes(b"\x00" * 64)
    with pytest.raises(DataError, match="bad magic"):
        load_dataset("smallnorb", root=tmp_path, n_train=1, n_test=1)
    with pytest.raises(MissingDataError, match="smallnorb-5x46789x9x18x6x2x96x96-training-dat"):
        load_dataset("smallnorb", root=tmp_path / "nowhere")


def test_celeba_reader(tmp_path, no_env):
    from PIL import Image

    d = tmp_path / "celeba"
    (d / "img_align_celeba").mkdir(parents=True)
    names = [f"Attr_{i}" for i in range(40)]
    rng = np.random.default_rng(3)
    table = rng.choice([-1, 1], size=(6, 40))
    table[5] = table[4]  # two images share one attribute vector
    lines = ["6", " ".join(names)]
    for i in range(6):
        Image.fromarray(np.full((218, 178, 3), 40 * i, dtype=np.uint8)).save(
            d / "img_align_celeba" / f"{i + 1:06d}.jpg")
        lines.append(f"{i + 1:06d}.jpg " + " ".join(f"{v:2d}" for v in table[i]))
    (d / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    ds = load_dataset("celeba", root=tmp_path, n_train=4, n_test=2)
    assert ds.factor_sizes == (2,) * 40 and ds.factor_names[3] == "Attr_3"
    assert ds.train.x.shape == (4, 3, 64, 64)
    np.testing.assert_array_equal(ds.factors_of_rows(np.arange(6)), (table > 0).astype(int))
    x = ds.sample_observations_from_factors((table[[2, 0]] > 0).astype(int))
    np.testing.assert_allclose(x.mean((1, 2, 3)).numpy(), [80 / 255, 0.0], atol=2 / 255)
    shared = ds.sample_observations_from_factors(np.repeat((table[[4]] > 0), 20, axis=0), 1)
    assert sorted({round(v * 255) for v in shared.mean((1, 2, 3)).tolist()}) == [160, 200]
    f = ds.sample_factors(30, 0)
    assert {tuple(r) for r in f} <= {tuple(r) for r in (table > 0).astype(int)}
    lines[0] = "7"
    (d / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="header says 7 images"):
        load_dataset("celeba", root=tmp_path)
    with pytest.raises(MissingDataError, match=r"list_attr_celeba\.txt"):
        load_dataset("celeba", root=tmp_path / "nowhere")


@pytest.mark.parametrize("name", ["../../secret.jpg", "/etc/passwd", "sub/000001.jpg",
                                  "..", "C:evil.jpg", "a\\b.jpg"])
def test_celeba_image_names_must_stay_inside_the_folder(tmp_path, no_env, name):
    d = tmp_path / "celeba"
    (d / "img_align_celeba").mkdir(parents=True)
    lines = ["1", " ".join(f"Attr_{i}" for i in range(40)), f"{name} " + " ".join(["1"] * 40)]
    (d / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 3: image name .* is not a plain file name"):
        load_dataset("celeba", root=tmp_path)


def test_too_many_rows_requested(tmp_path):
    np.savez(tmp_path / "m.npz", images=np.zeros((12, 64, 64, 3), dtype=np.uint8))
    with pytest.raises(CircuitVAEError, match="fewer than n_train \\+ n_test = 20"):
        MPI3D(tmp_path / "m.npz", factor_sizes=(2, 2, 1, 1, 1, 1, 3), n_train=15, n_test=5)


def test_dsprites_label_is_the_shape_factor():
    from circuitvae.zoo.data import load_dataset

    ds = load_dataset("dsprites", n_train=40, n_test=20, seed=3)
    shape = ds.factor_names.index("shape")
    for split in (ds.train, ds.test):
        assert split.y is not None and split.y.dtype == np.int64
        assert np.array_equal(split.y, split.factors[:, shape])


def test_legacy_random_state_is_accepted_and_deterministic():
    from circuitvae.zoo.data import load_dataset

    ds = load_dataset("dsprites", n_train=4, n_test=4, seed=0)
    a = ds.sample_factors(5, np.random.RandomState(7))
    b = ds.sample_factors(5, np.random.RandomState(7))
    assert np.array_equal(a, b)
