"""Loaders by name: `digits` (embedded), `idx:<dir>` (MNIST-format files), and TFDS datasets."""
import gzip
import os

import numpy as np

SPLITS = ("train", "test")
TFDS_NAMES = ("mnist", "fashion_mnist", "cifar10")
DIGITS_TEST_PER_CLASS = 30
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DatasetError(ValueError):
    """A dataset that cannot be loaded; the message says which one and what to do."""


def load(name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Returns (images uint8 [n, h, w, c], labels int32 [n]) of a dataset split."""
    if split not in SPLITS:
        raise DatasetError(f"split={split!r} is not one of {SPLITS}; pass 'train' or 'test'")
    if name == "digits":
        return _load_digits(split)
    if name.startswith("idx:"):
        return _load_idx_dir(name[len("idx:"):], split)
    if name.startswith("cifar:"):
        return _load_cifar_dir(name[len("cifar:"):], split)
    if name in TFDS_NAMES:
        return _load_tfds(name, split)
    raise DatasetError(
        f"dataset={name!r} is unknown; use 'digits', 'idx:<dir>', 'cifar:<dir>' or one of {', '.join(TFDS_NAMES)}")


def _load_digits(split):
    """scikit-learn's 8x8 digits drawn MNIST-style: 20x20 glyph centred in a 28x28 frame."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.stack([
        np.asarray(Image.fromarray((img * (255 / 16)).astype(np.uint8)).resize((20, 20), Image.BILINEAR))
        for img in digits.images])
    images = np.pad(images, ((0, 0), (4, 4), (4, 4)))[..., None]
    labels = digits.target.astype(np.int32)
    # A fixed split: the first DIGITS_TEST_PER_CLASS examples of each class (after a seeded
    # shuffle) are the test set, the rest the training set.
    order = np.random.default_rng(0).permutation(len(labels))
    rank_in_class = np.empty(len(labels), np.int64)
    for c in np.unique(labels):
        members = order[labels[order] == c]
        rank_in_class[members] = np.arange(len(members))
    in_test = rank_in_class < DIGITS_TEST_PER_CLASS
    keep = in_test if split == "test" else ~in_test
    return np.ascontiguousarray(images[keep]), labels[keep]


def read_idx(path: str) -> np.ndarray:
    """Reads one IDX file (gzipped or raw) into a numpy array of its stored type and shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DatasetError(f"{path} is not an IDX file (bad magic number); give MNIST-format files")
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if data[2] not in dtypes:
        raise DatasetError(f"{path} has IDX type code {data[2]:#x}, which is not in the IDX format")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(dtypes[data[2]])
    offset = 4 + 4 * ndim
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - offset != expected:
        raise DatasetError(
            f"{path} holds {len(data) - offset} bytes of data but its header says {expected}; "
            "the file is truncated or corrupt, copy it again")
    return np.frombuffer(data, dtype, offset=offset).reshape(shape)


def _find(directory, stem):
    for candidate in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        path = os.path.join(directory, candidate)
        if os.path.exists(path):
            return path
    raise DatasetError(
        f"dataset='idx:{directory}' has no {stem}[.gz]; point idx: at a folder of MNIST-format files "
        "(e.g. apt-get install dataset-fashion-mnist, then idx:/usr/share/datasets/fashion-mnist)")


def _load_idx_dir(directory, split):
    if not os.path.isdir(directory):
        raise DatasetError(
            f"dataset='idx:{directory}': no such folder; give a folder of MNIST-format IDX files")
    images_stem, labels_stem = _IDX_FILES[split]
    images = read_idx(_find(directory, images_stem))
    labels = read_idx(_find(directory, labels_stem))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetError(
            f"dataset='idx:{directory}' {split}: images {images.shape} and labels {labels.shape} do not "
            "match; expected [n, h, w] images and [n] labels")
    return np.ascontiguousarray(images.astype(np.uint8)[..., None]), labels.astype(np.int32)


def _load_cifar_dir(directory, split):
    """CIFAR-10's python version: data_batch_1..5 and test_batch pickles (as in cifar-10-python.tar.gz)."""
    import pickle

    files = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    images, labels = [], []
    for file in files:
        path = os.path.join(directory, file)
        if not os.path.exists(path):
            raise DatasetError(
                f"dataset='cifar:{directory}' has no {file}; point cifar: at the extracted "
                "cifar-10-batches-py folder")
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        data = np.asarray(batch[b"data"], np.uint8)
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(batch[b"labels"], np.int32))
    return np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels)


def _load_tfds(name, split):
    try:
        import tensorflow_datasets as tfds  # imported here: only TFDS datasets pay for it
    except ImportError as e:
        raise DatasetError(f"dataset={name!r} needs tensorflow-datasets ({e}); run `uv sync`") from e
    data_dir = os.environ.get("TFDS_DATA_DIR")
    try:
        source = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
    except Exception as not_prepared:  # noqa: BLE001 - every failure here gets the same advice
        try:
            builder = tfds.builder(name, data_dir=data_dir)
            builder.download_and_prepare(
                download_config=tfds.download.DownloadConfig(
                    file_format=tfds.core.file_adapters.FileFormat.ARRAY_RECORD))
            source = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
        except Exception as e:  # noqa: BLE001
            first_line = (str(e) or type(e).__name__).strip().splitlines()[0][:200]
            raise DatasetError(
                f"dataset={name!r} is not prepared in {data_dir or '~/tensorflow_datasets'} and preparing "
                f"it failed ({first_line}); prepare it once with network access and `uv sync --extra "
                f"tfds-prepare`, set TFDS_DATA_DIR, or use idx:<dir> for MNIST-format files"
            ) from not_prepared
    records = [source[i] for i in range(len(source))]
    images = np.stack([np.asarray(r["image"], np.uint8) for r in records])
    labels = np.asarray([r["label"] for r in records], np.int32)
    if images.ndim == 3:
        images = images[..., None]
    return images, labels
