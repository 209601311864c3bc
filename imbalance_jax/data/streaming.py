"""Datasets too large for device memory (ImageNet): images read, resized and cropped on the host.

The imbalanced subset and the samplers still decide which examples are read: a BatchStream walks
the same index tables and per-epoch permutations as the on-device path, prepares K steps of
batches on worker threads while the device trains on the previous K, and hands them to
`train.make_stream_chunk`. Training crops are random with a random horizontal flip; evaluation
takes the single centre crop (Section 3.3.3).
"""
import concurrent.futures
from typing import NamedTuple

import jax
import numpy as np
from PIL import Image

from imbalance_jax import samplers
from imbalance_jax.data.balanced import balanced_indices, check_classes
from imbalance_jax.data.loaders import DatasetError, class_names, eight_bit, folder_files


class ImageSource:
    """Random access to one split of a TFDS image dataset: labels up front, images on demand."""

    def __init__(self, name: str, split: str, data_dir: str | None = None):
        try:
            import tensorflow_datasets as tfds  # imported here: only streaming datasets pay for it
        except ImportError as e:
            raise DatasetError(f"dataset={name!r} needs tensorflow-datasets ({e}); run `uv sync`") from e
        try:
            builder_splits = tfds.builder(name, data_dir=data_dir).info.splits
            if split == "test" and "test" not in builder_splits and "validation" in builder_splits:
                split = "validation"  # ImageNet's labelled held-out split
            self._source = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
        except Exception as e:  # noqa: BLE001 - every failure here gets the same advice
            first_line = (str(e) or type(e).__name__).strip().splitlines()[0][:200]
            raise DatasetError(
                f"dataset={name!r} split {split!r} is not prepared ({first_line}); prepare it once with "
                f"`uv sync --extra tfds-prepare` (ImageNet: put the tar files in the TFDS manual dir) "
                f"and set TFDS_DATA_DIR") from e
        self.labels = self._read_labels(tfds, name, split, data_dir)

    def _read_labels(self, tfds, name, split, data_dir):
        try:  # without decoding the images, when TFDS can
            source = tfds.data_source(name, split=split, data_dir=data_dir, download=False,
                                      decoders={"image": tfds.decode.SkipDecoding()})
            return np.asarray([source[i]["label"] for i in range(len(source))], np.int32)
        except Exception:  # noqa: BLE001 - e.g. mock data, which cannot skip decoding
            return np.asarray([self._source[i]["label"] for i in range(len(self._source))], np.int32)

    def __len__(self) -> int:
        return len(self.labels)

    def image(self, index: int) -> np.ndarray:
        """The decoded image [h, w, 3] uint8."""
        image = np.asarray(self._source[int(index)]["image"], np.uint8)
        return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


class FolderSource:
    """Random access to image files (a streamed `folder:` dataset): labels up front, images on demand."""

    def __init__(self, paths, labels: np.ndarray):
        self.paths, self.labels = np.asarray(paths), np.asarray(labels, np.int32)

    def __len__(self) -> int:
        return len(self.labels)

    def image(self, index: int) -> np.ndarray:
        """The decoded image [h, w, 3] uint8."""
        path = str(self.paths[int(index)])
        try:
            with Image.open(path) as image:
                return np.asarray(eight_bit(image).convert("RGB"))
        except (OSError, SyntaxError, ValueError) as e:  # PIL's errors for unreadable images
            raise DatasetError(f"{path} is not a readable image ({e}); delete or replace it") from e


def _sources(name: str) -> tuple:
    """The (train, test) sources of a streamed dataset: a TFDS name or folder:<dir>[,<test dir>]."""
    if name.startswith("folder:"):
        files = folder_files(name[len("folder:"):])
        return FolderSource(*files["train"]), FolderSource(*files["test"])
    return ImageSource(name, "train"), ImageSource(name, "test")


def resize_shorter_side(image: np.ndarray, size: int) -> np.ndarray:
    """Resizes so the shorter side is `size`, keeping the aspect ratio."""
    h, w = image.shape[:2]
    scale = size / min(h, w)
    new = (max(size, round(w * scale)), max(size, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(new, Image.BILINEAR))


def random_crop_flip(image: np.ndarray, crop: int, rng: np.random.Generator) -> np.ndarray:
    """A random crop x crop patch, mirrored with probability one half."""
    h, w = image.shape[:2]
    top, left = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
    patch = image[top:top + crop, left:left + crop]
    return patch[:, ::-1] if rng.random() < 0.5 else patch


def center_crop(image: np.ndarray, crop: int) -> np.ndarray:
    """The central crop x crop patch."""
    h, w = image.shape[:2]
    top, left = (h - crop) // 2, (w - crop) // 2
    return image[top:top + crop, left:left + crop]


def training_crop(data: "StreamData", position: int, seed: int, step: int, slot: int) -> np.ndarray:
    """The training image at a position of the set, resized and randomly cropped and flipped; the crop is
    a function of (network seed, step, slot in the batch), so every loader gives the same batches."""
    image = resize_shorter_side(data.train.image(data.train_index[position]), data.resize)
    return random_crop_flip(image, data.crop, np.random.default_rng([seed, step, slot]))


class StreamData(NamedTuple):
    """A streamed training and test set: positions in the (capped) sets map to source indices."""

    train: ImageSource
    train_index: np.ndarray  # source index of each training example
    y_train: np.ndarray
    test: ImageSource
    test_index: np.ndarray
    y_test: np.ndarray
    num_classes: int
    n_max: int
    resize: int
    crop: int
    class_names: tuple = ()

    @property
    def input_shape(self) -> tuple:
        """Shape of one model input."""
        return (self.crop, self.crop, 3)


class TestImages:
    """The test set's centre crops, read lazily in slices (what predict asks for)."""

    def __init__(self, data: StreamData, workers: int = 8):
        self.data = data
        self.pool = concurrent.futures.ThreadPoolExecutor(workers)

    def __len__(self) -> int:
        return len(self.data.y_test)

    def __getitem__(self, positions: slice) -> np.ndarray:
        def one(p):
            image = self.data.test.image(self.data.test_index[p])
            return center_crop(resize_shorter_side(image, self.data.resize), self.data.crop)
        return np.stack(list(self.pool.map(one, range(len(self))[positions])))


class BatchStream:
    """Batches of a streaming cohort, K steps at a time, prepared ahead on worker threads
    (`stream.loader='threads'`; grain_stream.GrainStream gives the same batches from processes)."""

    def __init__(self, data: StreamData, inputs, batch_size: int, workers: int = 8):
        self.data, self.batch_size = data, batch_size
        self.inputs = host_inputs(inputs)
        self.pool = concurrent.futures.ThreadPoolExecutor(workers)
        self.ahead = concurrent.futures.ThreadPoolExecutor(1)
        self._next = None

    def positions(self, step: int, num_steps: int) -> np.ndarray:
        """Positions in the training set of K steps of batches: [K, N, B], the on-device sampler's own."""
        networks = range(len(self.inputs.lengths))
        return np.array([[network_positions(self.inputs, step + k, n, self.batch_size) for n in networks]
                         for k in range(num_steps)])

    def _load(self, step, num_steps):
        positions = self.positions(step, num_steps)

        def one(args):
            (k, n, b), p = args
            return training_crop(self.data, p, int(self.inputs.seeds[n]), step + k, b)

        flat = list(self.pool.map(one, np.ndenumerate(positions)))
        images = np.stack(flat).reshape(*positions.shape, self.data.crop, self.data.crop, 3)
        return images, self.data.y_train[positions]

    def chunk(self, step: int, num_steps: int, next_num_steps: int = 0):
        """K steps of (images [K, N, B, crop, crop, 3], labels [K, N, B]); starts reading the next K."""
        if self._next is not None and self._next[0] == (step, num_steps):
            result = self._next[1].result()
        else:
            result = self._load(step, num_steps)
        self._next = None
        if next_num_steps:
            key = (step + num_steps, next_num_steps)
            self._next = (key, self.ahead.submit(self._load, *key))
        return result

    def close(self) -> None:
        """Stops the worker threads (a read ahead in flight finishes first: it uses the pool)."""
        self.ahead.shutdown()
        self.pool.shutdown()


def host_inputs(inputs):
    """A cohort inputs as numpy arrays: host loaders walk it without a JAX device (grain's workers start none)."""
    return jax.tree.map(np.asarray, inputs)


def network_positions(inputs, step: int, network: int, batch_size: int) -> np.ndarray:
    """Positions in the training set of one network's batch at a step, from a cohort's host inputs: the on-device
    sampler's walk in numpy (samplers.network_batch, tested equal)."""
    rules = () if inputs.batch_rules is None else (
        inputs.batch_rules[network], inputs.class_offsets[network], inputs.class_counts[network],
        1 if inputs.total_steps is None else inputs.total_steps[network])
    return samplers.network_batch(inputs.table[network], inputs.lengths[network], inputs.seeds[network], step,
                                  batch_size, *rules, xp=np)


def load_stream(name: str, n_max: int, test_per_class: int | None, resize: int, crop: int,
                seed: int = 0, as_is: bool = False) -> StreamData:
    """Opens a TFDS image dataset or an image folder for streaming: training classes capped at n_max, a
    balanced test set (as_is: every image of both splits, as the dataset holds them)."""
    train, test = _sources(name)
    if as_is:
        classes = np.arange(check_classes(name, train.labels, test.labels))
        train_index = np.arange(len(train.labels))
        n_max = int(np.bincount(train.labels).max())
        test_index = (balanced_indices(test.labels, test_per_class, seed + 1) if test_per_class
                      else np.arange(len(test.labels)))
        return StreamData(train, train_index, train.labels[train_index], test, test_index, test.labels[test_index],
                          len(classes), n_max, resize, crop, class_names(name, len(classes)))
    classes = np.unique(train.labels)
    if not np.array_equal(classes, np.arange(len(classes))):
        raise DatasetError(f"dataset={name!r} training labels must be 0..C-1; found {len(classes)} distinct labels")
    rng = np.random.default_rng(seed)
    train_index = np.sort(np.concatenate([
        rng.choice(np.flatnonzero(train.labels == c), min(n_max, int((train.labels == c).sum())), replace=False)
        for c in classes]))
    test_index = balanced_indices(test.labels, test_per_class, seed + 1)
    return StreamData(train, train_index, train.labels[train_index], test, test_index, test.labels[test_index],
                      len(classes), n_max, resize, crop, class_names(name, len(classes)))
