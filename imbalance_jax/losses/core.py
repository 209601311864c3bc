"""The one parametrised loss every network trains with, so all losses share a compiled step.

Every network carries an Objective (a pytree of per-class arrays and scalars, saved with its
checkpoint); cross-entropy is its neutral setting, and each registered loss (imbalance_jax.losses) is a
setting of it.
"""
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Objective(NamedTuple):
    """One network's loss parameters (numpy or jax arrays; a leading network axis in a cohort)."""

    class_weights: np.ndarray  # [C]: weight of an example of class c (from reweight_step on)
    reweight_step: np.ndarray  # []: iteration from which class_weights apply (0: always)
    focal_gamma: np.ndarray  # []
    margins: np.ndarray  # [C]: subtracted from the true class's (unscaled) logit
    logit_scale: np.ndarray  # []: s, multiplies cosine logits
    cosine: np.ndarray  # [] bool: logits are s * cos(features, class weights)
    logit_adjust: np.ndarray  # [C]: added to the logits in training only


def neutral(num_classes: int) -> Objective:
    """Plain cross-entropy."""
    return Objective(np.ones(num_classes, np.float32), np.int32(0), np.float32(0), np.zeros(num_classes, np.float32),
                     np.float32(1), np.bool_(False), np.zeros(num_classes, np.float32))


def inverse_frequency_weights(counts: np.ndarray) -> np.ndarray:
    """w_c ~ 1 / n_c, normalised to sum to the number of classes."""
    w = 1.0 / np.asarray(counts, np.float64)
    return (w * len(w) / w.sum()).astype(np.float32)


def effective_number_weights(counts: np.ndarray, beta: float) -> np.ndarray:
    """w_c ~ (1 - beta) / (1 - beta^n_c) (Cui et al. 2019), normalised to sum to the number of classes."""
    w = (1.0 - beta) / (1.0 - np.power(beta, np.asarray(counts, np.float64)))
    return (w * len(w) / w.sum()).astype(np.float32)


def ldam_margins(counts: np.ndarray, max_margin: float) -> np.ndarray:
    """m_c ~ n_c^(-1/4), scaled so the largest margin is max_margin (Cao et al. 2019)."""
    m = np.power(np.asarray(counts, np.float64), -0.25)
    return (m * max_margin / m.max()).astype(np.float32)


def loss(logits: jax.Array, labels: jax.Array, obj: Objective, step: jax.Array,
         weighted_mean: jax.Array = False) -> jax.Array:
    """Loss of a batch: logits [B, C] (already s * cos for cosine networks), labels [B]; the weighted
    sum over the batch divided by the batch size, or with weighted_mean by the summed weights."""
    onehot = jax.nn.one_hot(labels, logits.shape[-1])
    z = logits - onehot * obj.margins * obj.logit_scale + obj.logit_adjust
    log_p = jnp.sum(onehot * jax.nn.log_softmax(z), axis=-1)
    # (1 - p)^gamma with the base kept off zero, so gamma = 0 has a finite gradient everywhere.
    focal = jnp.power(jnp.maximum(1.0 - jnp.exp(log_p), 1e-12), obj.focal_gamma)
    weights = jnp.where(step >= obj.reweight_step, obj.class_weights[labels], 1.0)
    return jnp.sum(weights * focal * -log_p) / jnp.where(weighted_mean, jnp.sum(weights), labels.shape[0])


def cosine_logits(features: jax.Array, kernel: jax.Array) -> jax.Array:
    """cos(features, each class's weight vector): [B, D] x [D, C] -> [B, C]."""
    f = features / jnp.maximum(jnp.linalg.norm(features, axis=-1, keepdims=True), 1e-12)
    w = kernel / jnp.maximum(jnp.linalg.norm(kernel, axis=0, keepdims=True), 1e-12)
    return f @ w
