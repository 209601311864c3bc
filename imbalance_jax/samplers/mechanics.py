"""The mechanics of sampling: set-level draws as index lists, the fixed-shape index tables training walks, and
the on-device walks that give a batch's positions (imbalance_jax.samplers registers them as samplers).

Oversampling and undersampling return indices into the imbalanced set they are given; the trainer
only ever sees index tables, so one compiled step serves every imbalance setting and method.
"""
import contextlib
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


def _class_counts(labels):
    labels = np.asarray(labels)
    if labels.size == 0:
        raise ValueError("labels is empty; sampling needs at least one example")
    classes, counts = np.unique(labels, return_counts=True)
    return labels, classes, counts


def _check_target(target_rho):
    if not target_rho >= 1:
        raise ValueError(f"target_rho={target_rho} must be >= 1 (1 balances the classes fully)")


def _resized(members: np.ndarray, target: int, rng: np.random.Generator) -> list:
    """A class's examples grown to target by whole copies plus a random remainder, or cut to target."""
    n = len(members)
    if target <= n:
        return [rng.choice(members, target, replace=False)]
    extra = target - n
    return [members, np.tile(members, extra // n), rng.choice(members, extra % n, replace=False)]


def oversample(labels: np.ndarray, seed: int, target_rho: float = 1.0) -> np.ndarray:
    """Indices that replicate examples of each class below max_count / target_rho up to that size.

    Every original example is kept; a class grows by whole copies of itself plus a random
    draw without replacement for the remainder, so replication is as even as it can be.
    """
    _check_target(target_rho)
    labels, classes, counts = _class_counts(labels)
    target = int(round(counts.max() / target_rho))
    rng = np.random.default_rng(seed)
    out = []
    for c, n in zip(classes, counts):
        members = np.flatnonzero(labels == c)
        out += _resized(members, target, rng) if n < target else [members]
    return np.sort(np.concatenate(out))


def sqrt_sample(labels: np.ndarray, seed: int) -> np.ndarray:
    """Indices of a set of the same size in which class c has a share ~ sqrt(n_c) (square-root sampling)."""
    labels, classes, counts = _class_counts(labels)
    shares = np.sqrt(counts) / np.sqrt(counts).sum()
    targets = np.maximum(1, np.round(shares * len(labels)).astype(int))
    rng = np.random.default_rng(seed)
    out = []
    for c, target in zip(classes, targets):
        out += _resized(np.flatnonzero(labels == c), int(target), rng)
    return np.sort(np.concatenate(out))


def undersample(labels: np.ndarray, seed: int, target_rho: float = 1.0) -> np.ndarray:
    """Indices that keep a random min_count * target_rho examples of each class above that size."""
    _check_target(target_rho)
    labels, classes, counts = _class_counts(labels)
    target = int(round(counts.min() * target_rho))
    rng = np.random.default_rng(seed)
    out = []
    for c, n in zip(classes, counts):
        members = np.flatnonzero(labels == c)
        out.append(members if n <= target else rng.choice(members, target, replace=False))
    return np.sort(np.concatenate(out))


class IndexTable(NamedTuple):
    """Training sets of many networks in one fixed shape: rows padded to a common width."""

    indices: np.ndarray  # int32 [networks, width]; row i's first lengths[i] entries are its set
    lengths: np.ndarray  # int32 [networks]
    class_offsets: np.ndarray | None = None  # int32 [networks, classes]: where each class's block starts
    class_counts: np.ndarray | None = None  # int32 [networks, classes]


def index_table(index_sets: list[np.ndarray], width: int | None = None, labels: np.ndarray | None = None,
                num_classes: int | None = None) -> IndexTable:
    """Packs per-network index arrays (into the device dataset) into one padded IndexTable.

    Given the dataset's labels, each row is ordered by class and the class blocks are recorded,
    which class-aware sampling walks.
    """
    lengths = np.array([len(s) for s in index_sets], np.int32)
    if (lengths == 0).any():
        raise ValueError(f"network {int(np.argmin(lengths))} has an empty training set")
    width = int(lengths.max()) if width is None else width
    if lengths.max() > width:
        raise ValueError(f"width={width} is below the largest set ({lengths.max()}); pass a larger width")
    table = np.zeros((len(index_sets), width), np.int32)
    offsets = counts = None
    if labels is not None:
        index_sets = [s[np.argsort(labels[s], kind="stable")] for s in index_sets]
        counts = np.stack([np.bincount(labels[s], minlength=num_classes) for s in index_sets]).astype(np.int32)
        offsets = (np.cumsum(counts, axis=1) - counts).astype(np.int32)
    for row, s in zip(table, index_sets):
        row[: len(s)] = s
    return IndexTable(table, lengths, offsets, counts)


# --- per-epoch permutations computed on the device -------------------------------------------
# Each epoch walks a fresh pseudo-random permutation of the network's set. A keyed Feistel
# network permutes [0, 4^h) for the smallest 4^h >= n; cycle walking (re-applying it until the
# value lands below n) restricts it to a permutation of [0, n). It costs a few integer ops per
# example, so a batch's positions are computed inside the compiled step with no tables of orders.
# Every function takes `xp`: jax.numpy inside the compiled step, numpy in the host loader's worker
# processes (which must not start a JAX backend); both give the same integers.

_FEISTEL_ROUNDS = 4


def wrapping(xp):
    """uint32 products wrap by design; numpy warns when 0-d ones do."""
    return np.errstate(over="ignore") if xp is np else contextlib.nullcontext()


def mix32(x, xp=jnp):
    """A 32-bit integer hash (the lowbias32 finaliser)."""
    with wrapping(xp):
        x = x ^ (x >> 16)
        x = x * xp.uint32(0x7FEB352D)
        x = x ^ (x >> 15)
        x = x * xp.uint32(0x846CA68B)
        return x ^ (x >> 16)


def _feistel(x, half_bits, key, xp=jnp):
    mask = (xp.uint32(1) << half_bits) - xp.uint32(1)
    left, right = x >> half_bits, x & mask
    for r in range(_FEISTEL_ROUNDS):
        with wrapping(xp):
            f = mix32(right ^ mix32(key + xp.uint32((r * 0x9E3779B9) & 0xFFFFFFFF), xp), xp) & mask
        left, right = right, left ^ f
    return (left << half_bits) | right


def permute(positions, n, key, xp=jnp):
    """Applies a keyed pseudo-random permutation of [0, n) to positions (each < n); uint32 key."""
    n = xp.asarray(n).astype(xp.uint32)
    key = xp.asarray(key).astype(xp.uint32)
    bits = xp.ceil(xp.log2(xp.maximum(n, 2).astype(xp.float32))).astype(xp.uint32)
    half_bits = (bits + xp.uint32(1)) // xp.uint32(2)
    x = _feistel(xp.asarray(positions).astype(xp.uint32), half_bits, key, xp)

    def outside(x):
        return xp.any(x >= n)

    def again(x):
        return xp.where(x >= n, _feistel(x, half_bits, key, xp), x)

    if xp is jnp:
        x = jax.lax.while_loop(outside, again, x)
    else:
        while outside(x):
            x = again(x)
    return x.astype(xp.int32)


def batch_positions(step, batch_size: int, length, seed, xp=jnp):
    """Row positions of the batch at a training step: epoch e walks permutation e of [0, length).

    The walk is continuous across epochs, as a sequential reader's would be: the batch that
    crosses an epoch's end takes the remainder of one permutation and the start of the next.
    """
    flat = xp.asarray(step).astype(xp.uint32) * xp.uint32(batch_size) + xp.arange(batch_size, dtype=xp.uint32)
    length = xp.asarray(length).astype(xp.uint32)
    epoch, offset = flat // length, flat % length
    with wrapping(xp):
        key = mix32(xp.asarray(seed).astype(xp.uint32) * xp.uint32(0x85EBCA6B) + mix32(epoch, xp), xp)
    return permute(offset, length, key, xp)


def class_aware_positions(step, batch_size: int, class_offsets, class_counts, seed, xp=jnp):
    """Row positions of a class-balanced batch (Shen et al. 2016): classes in turn, each class's
    examples walked in a fresh permutation per pass over that class."""
    num_classes = class_counts.shape[0]
    flat = xp.asarray(step).astype(xp.uint32) * xp.uint32(batch_size) + xp.arange(batch_size, dtype=xp.uint32)
    cls = (flat % xp.uint32(num_classes)).astype(xp.int32)
    draw = flat // xp.uint32(num_classes)
    size = xp.maximum(class_counts[cls], 1).astype(xp.uint32)
    epoch, offset = draw // size, draw % size
    with wrapping(xp):
        key = mix32(xp.asarray(seed).astype(xp.uint32) * xp.uint32(0x27D4EB2F)
                     + mix32(epoch * xp.uint32(977) + cls.astype(xp.uint32), xp), xp)
    return class_offsets[cls] + permute(offset, size, key, xp)
