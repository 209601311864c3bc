"""Samplers the long-tail literature adopted since the paper: square-root sampling (class shares ~ sqrt(n_c),
Mahajan et al. 2018) and class-aware sampling (every batch class-balanced, Shen et al. 2016)."""
import numpy as np

from imbalance_jax.samplers import mechanics
from imbalance_jax.samplers import BatchRule, Sampler, register


def _sqrt_counts(counts, target_rho):
    counts = np.asarray(counts, np.int64)
    shares = np.sqrt(counts) / np.sqrt(counts).sum()
    return np.where(counts > 0, np.maximum(1, np.round(shares * counts.sum()).astype(np.int64)), 0)


def _class_aware(step, batch_size, length, seed, class_offsets, class_counts, total_steps, xp):
    return mechanics.class_aware_positions(step, batch_size, class_offsets, class_counts, seed, xp)


register(BatchRule("class_aware", _class_aware))
register(Sampler("class_aware", batches="class_aware", method="class_aware_sampling", label="Class-aware sampling"))
register(Sampler("sqrt", _sqrt_counts, lambda labels, seed, target_rho: mechanics.sqrt_sample(labels, seed),
                 method="sqrt_sampling", label="Square-root sampling"))
