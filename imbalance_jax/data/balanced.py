"""Table 1's perfectly balanced subsets: each class capped at the same count by seeded subsampling."""
from typing import NamedTuple, Optional

import numpy as np

from imbalance_jax.data.loaders import DatasetError, class_names, load


class BalancedData(NamedTuple):
    """A balanced training and test set; labels are 0..num_classes-1."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    class_names: tuple = ()  # a name per label (folder names, TFDS or CIFAR-10 label names, or the digits)

    @property
    def n_max(self) -> int:
        """Examples of the largest training class (every class's, in a balanced set)."""
        return int(np.bincount(self.y_train, minlength=self.num_classes).max())


def balanced_indices(labels: np.ndarray, per_class: Optional[int], seed: int, key: str = "per_class",
                     split: str = "the split") -> np.ndarray:
    """Sorted indices holding the same number of examples of every class, drawn uniformly.

    per_class=None (or 0) takes the smallest class's count; a per_class above it is an error.
    """
    classes, counts = np.unique(labels, return_counts=True)
    smallest = int(counts.min())
    if not per_class:
        per_class = smallest
    if per_class < 1 or per_class > smallest:
        raise DatasetError(
            f"{key}={per_class} but the smallest class of {split} has {smallest} examples; "
            f"use a value from 1 to {smallest} (0 takes the smallest class's count)")
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in classes]
    return np.sort(np.concatenate(chosen))


def load_balanced(name: str, train_per_class: Optional[int], test_per_class: Optional[int],
                  seed: int = 0, prepare: bool = True) -> BalancedData:
    """Loads a dataset and cuts Table 1's balanced train and test sets from it (prepare=False: no download)."""
    x_train, y_train = load(name, "train", prepare)
    x_test, y_test = load(name, "test", prepare)
    if x_test.shape[1:] != x_train.shape[1:]:
        raise DatasetError(f"dataset={name!r}: test images are {x_test.shape[1:]} but training images "
                           f"{x_train.shape[1:]}; give both splits the same size and channels")
    classes = np.unique(y_train)
    if len(classes) < 2:
        raise DatasetError(f"dataset={name!r} has {len(classes)} class in its training split; a class imbalance "
                           "study needs two or more classes")
    untested = np.setdiff1d(classes, y_test)
    if len(untested):
        raise DatasetError(f"dataset={name!r}: the test split has no images of class {int(untested[0])} (of "
                           f"0..{len(classes) - 1}); give every class test images (its ROC AUC and recall are "
                           "undefined without them)")
    if not np.array_equal(classes, np.arange(len(classes))) or not np.isin(y_test, classes).all():
        raise DatasetError(
            f"dataset={name!r} labels must be 0..C-1 in both splits; found train {classes.tolist()} "
            f"and test {np.unique(y_test).tolist()}")
    train = balanced_indices(y_train, train_per_class, seed, "config.train_per_class", f"{name!r} train")
    test = balanced_indices(y_test, test_per_class, seed + 1, "config.test_per_class", f"{name!r} test")
    return BalancedData(x_train[train], y_train[train], x_test[test], y_test[test], len(classes),
                        class_names(name, len(classes)))


def check_classes(name: str, y_train: np.ndarray, y_test: np.ndarray, names: tuple = ()) -> int:
    """The number of classes C of a dataset studied as it is: labels 0..C-1, every class in both splits, at
    least two classes; anything else is one DatasetError naming the class and the fix."""
    for split, y in (("training", y_train), ("test", y_test)):
        if len(y) and (int(np.min(y)) < 0 or not np.issubdtype(np.asarray(y).dtype, np.integer)):
            bad = next(v for v in np.unique(y) if v < 0 or int(v) != v)
            raise DatasetError(f"dataset={name!r}: a {split} label is {bad!r}; labels must be whole numbers 0..C-1")
    num_classes = int(max(np.max(y_train, initial=-1), np.max(y_test, initial=-1))) + 1
    if num_classes < 2:
        raise DatasetError(f"dataset={name!r} has {max(num_classes, 0)} class; a study compares classes, so it "
                           "needs at least 2")
    label = lambda c: f"class {c}" + (f" ({names[c]!r})" if c < len(names) and names[c] != str(c) else "")  # noqa
    for split, y in (("training", y_train), ("test", y_test)):
        missing = np.flatnonzero(np.bincount(y, minlength=num_classes) == 0)
        if len(missing):
            raise DatasetError(f"dataset={name!r}: {label(int(missing[0]))} has no {split} image; every label "
                               f"0..{num_classes - 1} needs images in both splits: add some, or relabel without it")
    return num_classes


def load_as_is(name: str, test_per_class: Optional[int], seed: int = 0, prepare: bool = True) -> BalancedData:
    """A dataset with its own training split, every image of it (imbalance.as_is): only the test split is
    balanced, and only where test_per_class asks for it (0 keeps it as it is)."""
    x_train, y_train = load(name, "train", prepare)
    x_test, y_test = load(name, "test", prepare)
    if x_test.shape[1:] != x_train.shape[1:]:
        raise DatasetError(f"dataset={name!r}: test images are {x_test.shape[1:]} but training images "
                           f"{x_train.shape[1:]}; give both splits the same size and channels")
    num_classes = check_classes(name, y_train, y_test, class_names(name, int(max(y_train.max(), y_test.max())) + 1))
    test = balanced_indices(y_test, test_per_class, seed + 1) if test_per_class else np.arange(len(y_test))
    return BalancedData(x_train, y_train, x_test[test], y_test[test], num_classes, class_names(name, num_classes))
