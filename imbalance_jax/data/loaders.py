"""Loaders by name: `digits` (embedded), `idx:<dir>` (MNIST-format files), and TFDS datasets."""
import gzip
import os
import zipfile
import zlib

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


def load(name: str, split: str, prepare: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Returns (images uint8 [n, h, w, c], labels int32 [n]) of a dataset split (prepare=False: a TFDS dataset
    not prepared yet is a DatasetError instead of a download)."""
    if split not in SPLITS:
        raise DatasetError(f"split={split!r} is not one of {SPLITS}; pass 'train' or 'test'")
    if name == "digits":
        return _load_digits(split)
    if name.startswith("idx:"):
        return _load_idx_dir(name[len("idx:"):], split)
    if name.startswith("cifar:"):
        return _load_cifar_dir(name[len("cifar:"):], split)
    if name.startswith("npz:"):
        return _load_npz(name[len("npz:"):], split)
    if name.startswith("folder:"):
        return _load_folder(name[len("folder:"):], split)
    if name in TFDS_NAMES:
        return _load_tfds(name, split, prepare)
    raise DatasetError(
        f"dataset={name!r} is unknown; use 'digits', 'idx:<dir>', 'cifar:<dir>', 'npz:<file>', "
        f"'folder:<dir>[,<test dir>][@<size>]' or one of {', '.join(TFDS_NAMES)}")


def class_names(name: str, num_classes: int) -> tuple:
    """The classes' names: a folder dataset's sub-folders, CIFAR-10's and TFDS's label names, else the labels
    as digits ('0', '1', ...)."""
    names = None
    if name.startswith("folder:"):
        names = _folder_layout(name[len("folder:"):].rsplit("@", 1)[0])[1]
    elif name.startswith("cifar:"):
        path = os.path.join(name[len("cifar:"):], "batches.meta")
        if os.path.exists(path):
            import pickle

            with open(path, "rb") as f:
                names = [n.decode() if isinstance(n, bytes) else n
                         for n in pickle.load(f, encoding="bytes")[b"label_names"]]
    elif name.startswith("npz:") and os.path.exists(name[len("npz:"):]):
        with np.load(name[len("npz:"):]) as f:
            names = [str(n) for n in f["class_names"]] if "class_names" in f else None
    elif name in TFDS_NAMES:
        names = _tfds_label_names(name)
    names = list(names or [])
    return tuple(names) if len(names) == num_classes else tuple(str(c) for c in range(num_classes))


def _tfds_label_names(name):
    """A TFDS dataset's label names from its metadata, or None where it cannot be read without preparing it."""
    try:
        import tensorflow_datasets as tfds  # imported here: only TFDS datasets pay for it

        source = tfds.data_source(name, split="train", data_dir=os.environ.get("TFDS_DATA_DIR"), download=False)
        return list(source.dataset_info.features["label"].names)
    except Exception:  # noqa: BLE001 - names are a nicety; the labels as digits stand in
        return None


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
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DatasetError(f"{path} could not be read ({e}); the file is truncated or corrupt, copy it again") from e
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


def _checked(images, labels, where, split):
    """Images as uint8 [n, h, w, c] and labels 0..C-1 with every class present, or a DatasetError."""
    images, labels = np.asarray(images), np.asarray(labels)
    if labels.ndim != 1:
        raise DatasetError(f"{where} {split}: labels are shaped {labels.shape}; give one label per image, [n] "
                           "(e.g. labels.reshape(-1))")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim == 4 and images.shape[1] in (1, 3) and images.shape[3] not in (1, 3):
        raise DatasetError(f"{where} {split}: images {images.shape} look channels-first; give [n, h, w, c] "
                           "(e.g. images.transpose(0, 2, 3, 1))")

    if images.ndim != 4 or len(images) != len(labels):
        raise DatasetError(f"{where} {split}: images {images.shape} and labels {labels.shape} do not match; "
                           "give images [n, h, w(, c)] and labels [n]")
    if images.dtype != np.uint8:
        raise DatasetError(f"{where} {split}: images are {images.dtype}; store them as uint8 pixels 0..255")
    if labels.size == 0 or not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise DatasetError(f"{where} {split}: labels must be integers 0..C-1; found "
                           f"{labels.dtype} from {labels.min() if labels.size else 'nothing'}")
    missing = np.flatnonzero(np.bincount(labels) == 0)
    if len(missing):
        raise DatasetError(f"{where} {split}: class {int(missing[0])} has no images; labels must be 0..C-1 "
                           "with every class present")
    return np.ascontiguousarray(images), labels.astype(np.int32)


def _load_npz(path, split):
    """An .npz with arrays x_train, y_train, x_test, y_test (and optionally class_names)."""
    if not os.path.exists(path):
        raise DatasetError(f"dataset='npz:{path}': no such file; give an .npz with x_train, y_train, x_test, y_test")
    try:
        archive = np.load(path)
        if not hasattr(archive, "files"):
            raise DatasetError(f"dataset='npz:{path}' holds one array, not an .npz archive; save x_train, "
                               "y_train, x_test, y_test with numpy.savez")
        with archive as f:
            keys = (f"x_{split}", f"y_{split}")
            if not all(k in f for k in keys):
                raise DatasetError(f"dataset='npz:{path}' lacks {' or '.join(k for k in keys if k not in f)}; "
                                   "save x_train, y_train, x_test, y_test")
            images, labels = f[keys[0]], f[keys[1]]
    except DatasetError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:  # not an archive, or arrays of objects
        raise DatasetError(f"dataset='npz:{path}' cannot be read as an .npz of numeric arrays ({e}); save "
                           "x_train, y_train, x_test, y_test as uint8 images and integer labels with "
                           "numpy.savez") from None
    images, labels = _checked(images, labels, f"dataset='npz:{path}'", split)
    if split == "test":
        train_classes = int(np.load(path)["y_train"].max()) + 1
        if labels.max() >= train_classes:
            raise DatasetError(f"dataset='npz:{path}' test: label {int(labels.max())} is outside the training "
                               f"classes 0..{train_classes - 1}")
    return images, labels


FOLDER_TEST_FRACTION = 0.2
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def _load_folder(spec, split):
    """folder:<dir>[,<test dir>][@<size>]: a sub-folder of images per class (sorted names are labels 0..C-1).

    Without a test folder, a seeded stratified split holds out FOLDER_TEST_FRACTION of each class.
    @<size> resizes every image to size x size; without it, all images must share one size.
    """
    size = None
    if "@" in spec:
        spec, size_text = spec.rsplit("@", 1)
        if not size_text.isdigit() or int(size_text) < 1:
            raise DatasetError(f"dataset='folder:{spec}@{size_text}': the size must be a whole number of pixels")
        size = int(size_text)
    train_dir, classes, test_dir, test_classes = _folder_layout(spec)
    if test_dir:
        directory, names = (test_dir, test_classes) if split == "test" else (train_dir, classes)
        return _read_class_images(directory, names, size, classes)
    images, labels = _read_class_images(train_dir, classes, size, classes)
    counts = np.bincount(labels, minlength=len(classes))
    if counts.min() < 2:
        raise DatasetError(f"dataset='folder:{spec}': class folder {classes[int(counts.argmin())]!r} has "
                           f"{int(counts.min())} image; each class needs two or more (one is held out for testing)")
    keep = held_out(labels, len(classes))
    return images[keep if split == "test" else ~keep], labels[keep if split == "test" else ~keep]


def _folder_layout(spec):
    """(train dir, its class names, test dir or '', the test dir's class names) of a folder: spec."""
    train_dir, _, test_dir = spec.partition(",")
    classes = _class_folders(train_dir)
    test_classes = _class_folders(test_dir) if test_dir else []
    unknown = sorted(set(test_classes) - set(classes))
    if unknown:
        raise DatasetError(f"dataset='folder:{spec}': test class {unknown[0]!r} is not a training class "
                           f"(training classes: {', '.join(classes)})")
    return train_dir, classes, test_dir, test_classes


def held_out(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """The seeded stratified test mask of a folder without a test folder: FOLDER_TEST_FRACTION of each class."""
    rng = np.random.default_rng(0)
    test = np.zeros(len(labels), bool)
    for c in range(num_classes):
        members = rng.permutation(np.flatnonzero(labels == c))
        test[members[:max(1, int(round(FOLDER_TEST_FRACTION * len(members))))]] = True
    return test


def folder_files(spec: str) -> dict:
    """{split: (image paths, labels)} of folder:<dir>[,<test dir>] without reading an image (streamed studies)."""
    if "@" in spec:
        raise DatasetError(f"dataset='folder:{spec}': a streamed folder is resized by stream.resize and "
                           "stream.crop; drop the @<size>")
    train_dir, classes, test_dir, test_classes = _folder_layout(spec)
    paths, labels = _class_files(train_dir, classes, classes)
    if test_dir:
        return {"train": (paths, labels), "test": _class_files(test_dir, test_classes, classes)}
    test = held_out(labels, len(classes))
    return {"train": (paths[~test], labels[~test]), "test": (paths[test], labels[test])}


def _class_files(directory, classes, label_names):
    """(paths, labels) of every image in the class folders, in sorted order."""
    paths, labels = [], []
    for name in classes:
        folder = os.path.join(directory, name)
        files = sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_SUFFIXES))
        if not files:
            raise DatasetError(f"dataset='folder:{directory}': class folder {name!r} has no images "
                               f"({', '.join(IMAGE_SUFFIXES)})")
        paths += [os.path.join(folder, f) for f in files]
        labels += [label_names.index(name)] * len(files)
    return np.array(paths), np.array(labels, np.int32)


def _class_folders(directory):
    if not os.path.isdir(directory):
        raise DatasetError(f"dataset='folder:{directory}': no such folder; give a folder with a sub-folder per class")
    classes = sorted(d for d in os.listdir(directory) if os.path.isdir(os.path.join(directory, d)))
    if len(classes) < 2:
        raise DatasetError(f"dataset='folder:{directory}' has {len(classes)} class folders; give one sub-folder of "
                           "images per class, at least two")
    return classes


def _memory_bytes() -> int:
    """The machine's memory in bytes (a large number where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**50


SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")


def eight_bit(image):
    """A 16-bit greyscale image scaled to 8 bits (PIL's convert('L') would clip every value above 255 to white);
    other images as they are."""
    from PIL import Image

    if image.mode not in ("I", *SIXTEEN_BIT):
        return image
    pixels = np.asarray(image).astype(np.float64)
    if pixels.size and (pixels.min() < 0 or pixels.max() > 65535):
        raise ValueError(f"{image.mode} pixels from {pixels.min():g} to {pixels.max():g} are not 16-bit greyscale")
    return Image.fromarray(np.round(pixels / 257).astype(np.uint8), "L")


def _read_class_images(directory, classes, size, label_names):
    from PIL import Image

    images, first_shape = [], None
    mode = None
    paths, labels = _class_files(directory, classes, label_names)
    if size is not None:
        needed, memory = len(paths) * size * size * 3, _memory_bytes()
        if needed > memory // 2:
            raise DatasetError(f"dataset='folder:{directory}@{size}': {len(paths):,} images of {size}x{size} take "
                               f"{needed / 2**30:,.1f} GiB, more than half of this machine's "
                               f"{memory / 2**30:,.1f} GiB; give a smaller @<size>")
    for path in paths:
        file = os.path.relpath(path, directory)
        try:
            with Image.open(path) as image:
                mode = mode or ("L" if image.mode in ("L", "1", "I", *SIXTEEN_BIT) else "RGB")
                image = eight_bit(image).convert(mode)
                if size is not None:
                    image = image.resize((size, size), Image.BILINEAR)
                array = np.asarray(image, np.uint8)
        except (OSError, SyntaxError, ValueError) as e:  # PIL's errors for unreadable images
            raise DatasetError(f"dataset='folder:{directory}': {file} is not a readable image ({e}); "
                               "delete or replace it") from e
        if first_shape is None:
            first_shape = (array.shape, os.path.basename(path))
        elif array.shape != first_shape[0]:
            raise DatasetError(
                f"dataset='folder:{directory}': {file} is {array.shape[:2]} but {first_shape[1]} is "
                f"{first_shape[0][:2]}; add @<size> to the dataset name to resize, e.g. folder:{directory}@32")
        images.append(array)
    return _checked(np.stack(images), labels, f"dataset='folder:{directory}'", "")


def _load_tfds(name, split, prepare=True):
    try:
        import tensorflow_datasets as tfds  # imported here: only TFDS datasets pay for it
    except ImportError as e:
        raise DatasetError(f"dataset={name!r} needs tensorflow-datasets ({e}); run `uv sync`") from e
    data_dir = os.environ.get("TFDS_DATA_DIR")
    try:
        source = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
    except Exception as not_prepared:  # noqa: BLE001 - every failure here gets the same advice
        if not prepare:
            raise DatasetError(f"dataset={name!r} is not prepared in {data_dir or '~/tensorflow_datasets'}; "
                               "nothing is downloaded without a run") from not_prepared
        try:
            builder = tfds.builder(name, data_dir=data_dir)
            builder.download_and_prepare(file_format="array_record")  # what tfds.data_source reads
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
