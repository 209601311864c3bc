"""Appendix A's re-splits: the balanced train and test sets pooled and drawn again, stratified and seeded.

Split 0 is the dataset's own train/test split; split k > 0 keeps every class's train and test
counts and draws which images go where from the pool, so a network of split k sees other
training images and is scored on other test images than its twin of split 0.
"""
import numpy as np

from imbalance_jax.data.balanced import BalancedData


def resplit(data: BalancedData, split: int, seed: int) -> BalancedData:
    """The balanced data of train/test split `split` (0: data itself)."""
    if split == 0:
        return data
    x = np.concatenate([data.x_train, data.x_test])
    y = np.concatenate([data.y_train, data.y_test])
    train_counts = np.bincount(data.y_train, minlength=data.num_classes)
    rng = np.random.default_rng([seed, split])
    train, test = [], []
    for label in range(data.num_classes):
        pool = rng.permutation(np.flatnonzero(y == label))
        train.append(pool[:train_counts[label]])
        test.append(pool[train_counts[label]:])
    train, test = np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
    return BalancedData(x[train], y[train], x[test], y[test], data.num_classes, data.class_names)
