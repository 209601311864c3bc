"""The paper's samplers (Section 3.2): random minority oversampling and random majority undersampling, to
balance or to a reduced ratio (Section 4.5)."""
import numpy as np

from imbalance_jax.samplers import mechanics
from imbalance_jax.samplers import Sampler, register


def _oversampled_counts(counts, target_rho):
    counts = np.asarray(counts, np.int64)
    present = counts > 0
    target = int(round(counts[present].max() / target_rho))
    return np.where(present & (counts < target), target, counts)


def _undersampled_counts(counts, target_rho):
    counts = np.asarray(counts, np.int64)
    target = int(round(counts[counts > 0].min() * target_rho))
    return np.where(counts > target, target, counts)


register(Sampler("oversample", _oversampled_counts, mechanics.oversample))
register(Sampler("undersample", _undersampled_counts, mechanics.undersample))
