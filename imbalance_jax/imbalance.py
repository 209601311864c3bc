"""Imbalanced class-count distributions (Section 3.1) and seeded subsampling of a balanced set."""
import numpy as np


def _check_rho(rho):
    if not rho >= 1:
        raise ValueError(f"rho={rho} must be >= 1 (max class count / min class count)")


def step_counts(num_classes: int, n_max: int, rho: float, mu: float) -> np.ndarray:
    """Per-class counts of step imbalance, minority classes first.

    round(mu * num_classes) classes get max(1, round(n_max / rho)) examples, the rest n_max.
    >>> step_counts(10, 5000, 10, 0.5).tolist()
    [500, 500, 500, 500, 500, 5000, 5000, 5000, 5000, 5000]
    """
    _check_rho(rho)
    if not 0 < mu < 1:
        raise ValueError(f"mu={mu} must lie strictly between 0 and 1 (fraction of minority classes)")
    num_minority = mu * num_classes
    if abs(num_minority - round(num_minority)) > 1e-6:
        raise ValueError(
            f"mu={mu} gives {num_minority:g} minority classes of {num_classes}; "
            f"use a multiple of 1/{num_classes}")
    _check_n_max(n_max)
    counts = np.full(num_classes, n_max, np.int64)
    counts[: int(round(num_minority))] = max(1, int(round(n_max / rho)))
    return counts


def linear_counts(num_classes: int, n_max: int, rho: float) -> np.ndarray:
    """Per-class counts of linear imbalance: from max(1, round(n_max / rho)) up to n_max in equal steps.

    >>> linear_counts(10, 5000, 10).tolist()
    [500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000]
    """
    _check_rho(rho)
    _check_n_max(n_max)
    if num_classes < 2:
        raise ValueError(f"num_classes={num_classes} must be at least 2 for linear imbalance")
    smallest = max(1, int(round(n_max / rho)))
    return np.round(np.linspace(smallest, n_max, num_classes)).astype(np.int64)


def exponential_counts(num_classes: int, n_max: int, rho: float) -> np.ndarray:
    """Per-class counts of exponential (long-tail) imbalance, rising to n_max: n_max * rho^(-(C-1-c)/(C-1)).

    As CIFAR-10-LT (Cui et al. 2019; Cao et al. 2019), listed smallest first like the other shapes.
    >>> exponential_counts(10, 5000, 100).tolist()[:3]
    [50, 83, 139]
    """
    _check_rho(rho)
    _check_n_max(n_max)
    if num_classes < 2:
        raise ValueError(f"num_classes={num_classes} must be at least 2 for exponential imbalance")
    exponents = (num_classes - 1 - np.arange(num_classes)) / (num_classes - 1)
    return np.maximum(1, np.round(n_max * np.power(float(rho), -exponents))).astype(np.int64)


def _check_n_max(n_max):
    if n_max < 1:
        raise ValueError(f"n_max={n_max} must be a positive number of examples per class")


def assign_counts(counts: np.ndarray, order: str, seed: int, forced_minority=()) -> np.ndarray:
    """Maps counts (minority first) to labels: label c gets the returned value [c].

    order='random' shuffles which labels are minority with the seed (the MNIST protocol), always
    taking the forced_minority labels first (ImageNet's classes with fewer than n_max images);
    order='lowest' gives the first counts to the lowest labels (the CIFAR-10 protocol).
    """
    counts = np.asarray(counts)
    if order == "lowest":
        return counts.copy()
    if order == "random":
        labels = np.random.default_rng(seed).permutation(len(counts))
        if len(forced_minority):
            forced = np.isin(labels, forced_minority)
            labels = np.concatenate([labels[forced], labels[~forced]])
        by_label = np.empty_like(counts)
        by_label[labels] = counts
        return by_label
    raise ValueError(f"order={order!r} must be 'random' or 'lowest'")


def subsample(labels: np.ndarray, counts: np.ndarray, seed: int) -> np.ndarray:
    """Sorted indices into labels holding exactly counts[c] examples of class c, drawn uniformly."""
    labels = np.asarray(labels)
    counts = np.asarray(counts)
    rng = np.random.default_rng(seed)
    chosen = []
    for c, n in enumerate(counts.tolist()):
        members = np.flatnonzero(labels == c)
        if n < 0:
            raise ValueError(f"counts[{c}]={n} is negative; counts are numbers of examples")
        if n > len(members):
            raise ValueError(
                f"counts[{c}]={n} but class {c} has only {len(members)} examples; lower n_max or rho")
        chosen.append(rng.choice(members, n, replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)


def minority_classes(counts_by_label: np.ndarray) -> list[int]:
    """Labels whose count is below the largest (all labels but the top one for linear imbalance)."""
    counts_by_label = np.asarray(counts_by_label)
    return np.flatnonzero(counts_by_label < counts_by_label.max()).tolist()
