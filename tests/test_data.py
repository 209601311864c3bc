import gzip

import numpy as np
import pytest

from imbalance_jax import data
from imbalance_jax.data.loaders import read_idx


def _write_idx(path, array, type_code=0x08):
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = header + array.astype(">u1").tobytes()
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(payload)


@pytest.fixture
def idx_dir(tmp_path):
    rng = np.random.default_rng(0)
    for split, n, gz in (("train", 40, True), ("t10k", 20, False)):
        suffix = ".gz" if gz else ""
        _write_idx(str(tmp_path / f"{split}-images-idx3-ubyte{suffix}"), rng.integers(0, 256, (n, 28, 28)))
        _write_idx(str(tmp_path / f"{split}-labels-idx1-ubyte{suffix}"), np.arange(n) % 4)
    return tmp_path


def test_idx_reader_round_trip(tmp_path):
    array = np.random.default_rng(1).integers(0, 256, (3, 5, 7)).astype(np.uint8)
    for name in ("a.gz", "b"):
        _write_idx(str(tmp_path / name), array)
        assert np.array_equal(read_idx(str(tmp_path / name)), array)


def test_idx_reader_rejects_truncated_file(tmp_path):
    path = str(tmp_path / "x")
    _write_idx(path, np.zeros((3, 4, 4)))
    with open(path, "rb") as f:
        content = f.read()
    with open(path, "wb") as f:
        f.write(content[:-5])
    with pytest.raises(data.DatasetError, match="truncated"):
        read_idx(path)


def test_idx_dataset_gz_and_raw(idx_dir):
    x, y = data.load(f"idx:{idx_dir}", "train")
    assert x.shape == (40, 28, 28, 1) and x.dtype == np.uint8 and y.dtype == np.int32
    x, y = data.load(f"idx:{idx_dir}", "test")
    assert x.shape == (20, 28, 28, 1) and y.tolist() == (np.arange(20) % 4).tolist()


def test_missing_idx_dir_is_one_line_error(tmp_path):
    with pytest.raises(data.DatasetError, match="no such folder") as e:
        data.load(f"idx:{tmp_path}/nope", "train")
    assert "\n" not in str(e.value)
    with pytest.raises(data.DatasetError, match="train-images-idx3-ubyte"):
        data.load(f"idx:{tmp_path}", "train")


def test_unknown_dataset_and_split():
    with pytest.raises(data.DatasetError, match="dataset='imagenette'"):
        data.load("imagenette", "train")
    with pytest.raises(data.DatasetError, match="split='val'"):
        data.load("digits", "val")


def test_digits_shapes_and_balance():
    x, y = data.load("digits", "train")
    assert x.shape[1:] == (28, 28, 1) and x.dtype == np.uint8 and x.max() == 255
    xt, yt = data.load("digits", "test")
    assert np.bincount(yt).tolist() == [30] * 10
    assert len(x) + len(xt) == 1797
    balanced = data.load_balanced("digits", None, None)
    assert np.bincount(balanced.y_train).tolist() == [balanced.n_max] * 10
    assert np.bincount(balanced.y_test).tolist() == [30] * 10


def test_balanced_cap_is_seeded_and_checked():
    labels = np.repeat(np.arange(3), [10, 12, 15])
    a = data.balanced_indices(labels, 8, seed=0)
    assert np.bincount(labels[a]).tolist() == [8, 8, 8]
    assert np.array_equal(a, data.balanced_indices(labels, 8, seed=0))
    assert not np.array_equal(a, data.balanced_indices(labels, 8, seed=1))
    with pytest.raises(data.DatasetError, match="per_class=11"):
        data.balanced_indices(labels, 11, seed=0)


def test_tfds_dataset_under_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=12):
        x, y = data.load("mnist", "train")
    assert x.shape == (12, 28, 28, 1) and x.dtype == np.uint8 and y.shape == (12,)


def _png(path, array):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_npz_dataset_and_its_errors(tmp_path):
    rng = np.random.default_rng(0)
    arrays = dict(x_train=rng.integers(0, 255, (30, 8, 8), dtype=np.uint8), y_train=np.arange(30) % 3,
                  x_test=rng.integers(0, 255, (9, 8, 8), dtype=np.uint8), y_test=np.arange(9) % 3)
    np.savez(tmp_path / "ok.npz", **arrays)
    x, y = data.load(f"npz:{tmp_path}/ok.npz", "train")
    assert x.shape == (30, 8, 8, 1) and y.tolist() == (np.arange(30) % 3).tolist()
    np.savez(tmp_path / "gap.npz", **{**arrays, "y_train": np.where(arrays["y_train"] == 1, 2, arrays["y_train"])})
    with pytest.raises(data.DatasetError, match="class 1 has no images"):
        data.load(f"npz:{tmp_path}/gap.npz", "train")
    np.savez(tmp_path / "range.npz", **{**arrays, "y_test": np.arange(9) % 4})
    with pytest.raises(data.DatasetError, match="label 3 is outside the training classes 0..2"):
        data.load(f"npz:{tmp_path}/range.npz", "test")
    np.savez(tmp_path / "float.npz", **{**arrays, "x_train": arrays["x_train"] / 255.0})
    with pytest.raises(data.DatasetError, match="uint8"):
        data.load(f"npz:{tmp_path}/float.npz", "train")


def test_folder_dataset_split_resize_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    for c, name in enumerate(("cat", "dog")):
        for i in range(10):
            _png(tmp_path / "imgs" / name / f"{i}.png", rng.integers(0, 255, (12, 12, 3), dtype=np.uint8))
    x, y = data.load(f"folder:{tmp_path}/imgs", "train")
    xt, yt = data.load(f"folder:{tmp_path}/imgs", "test")
    assert x.shape == (16, 12, 12, 3) and np.bincount(y).tolist() == [8, 8] and np.bincount(yt).tolist() == [2, 2]
    x, _ = data.load(f"folder:{tmp_path}/imgs@6", "train")
    assert x.shape[1:] == (6, 6, 3)
    _png(tmp_path / "imgs" / "dog" / "big.png", rng.integers(0, 255, (20, 16, 3), dtype=np.uint8))
    with pytest.raises(data.DatasetError, match="add @<size>"):
        data.load(f"folder:{tmp_path}/imgs", "train")
    (tmp_path / "imgs" / "empty").mkdir()
    with pytest.raises(data.DatasetError, match="'empty' has no images"):
        data.load(f"folder:{tmp_path}/imgs@6", "train")


def test_unprepared_tfds_dataset_is_one_line(tmp_path, monkeypatch):
    pytest.importorskip("tensorflow_datasets")
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    with pytest.raises(data.DatasetError, match="dataset='cifar10' is not prepared") as e:
        data.load("cifar10", "train")
    assert "\n" not in str(e.value) and "tfds-prepare" in str(e.value)
