"""Evaluation metrics of Section 3.4, in jax so they run where the probabilities are."""
import jax
import jax.numpy as jnp


def binary_auc(scores: jax.Array, positive: jax.Array) -> jax.Array:
    """ROC AUC of scores for a boolean positive mask (Mann-Whitney U, ties counted one half).

    Ranks are kept as exact integers (twice the average rank), so the result matches
    scikit-learn's trapezoidal AUC to float rounding, ties included.
    """
    n = scores.shape[0]
    ordered = jnp.sort(scores)
    twice_rank = (jnp.searchsorted(ordered, scores, side="left")
                  + jnp.searchsorted(ordered, scores, side="right") + 1)
    num_pos = jnp.sum(positive, dtype=jnp.int32)
    num_neg = n - num_pos
    twice_u = jnp.sum(jnp.where(positive, twice_rank, 0)) - num_pos * (num_pos + 1)
    return twice_u.astype(jnp.float32) / (2.0 * num_pos.astype(jnp.float32) * num_neg.astype(jnp.float32))


def per_class_auc(scores: jax.Array, labels: jax.Array) -> jax.Array:
    """One-vs-rest ROC AUC of every class: scores [n, classes], labels [n] -> [classes] (numpy or jax inputs)."""
    scores, labels = jnp.asarray(scores), jnp.asarray(labels)  # a numpy array cannot meet a traced class index
    classes = jnp.arange(scores.shape[-1])
    return jax.vmap(lambda c: binary_auc(scores[:, c], labels == c))(classes)


def multiclass_auc(scores: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean over classes of the one-vs-rest ROC AUC (Provost & Domingos, as the paper uses)."""
    return jnp.mean(per_class_auc(scores, labels))


def accuracy(scores: jax.Array, labels: jax.Array) -> jax.Array:
    """Fraction of examples whose highest score is their label."""
    return jnp.mean(jnp.argmax(scores, axis=-1) == labels)


def per_class_recall(scores: jax.Array, labels: jax.Array) -> jax.Array:
    """Recall of every class: the fraction of its examples predicted as it."""
    hits = jax.nn.one_hot(labels, scores.shape[-1]) * (jnp.argmax(scores, -1) == labels)[:, None]
    return hits.sum(0) / jnp.maximum(jax.nn.one_hot(labels, scores.shape[-1]).sum(0), 1)


def per_class_precision(scores: jax.Array, labels: jax.Array) -> jax.Array:
    """Precision of every class: the fraction of the examples predicted as it that are it (0 if none is)."""
    predicted = jax.nn.one_hot(jnp.argmax(scores, -1), scores.shape[-1])
    hits = (predicted * jax.nn.one_hot(labels, scores.shape[-1])).sum(0)
    return hits / jnp.maximum(predicted.sum(0), 1)


def macro_f1(scores: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean over classes of F1 (a class never predicted and never present counts 0)."""
    num_classes = scores.shape[-1]
    predicted = jax.nn.one_hot(jnp.argmax(scores, -1), num_classes)
    actual = jax.nn.one_hot(labels, num_classes)
    true_pos = (predicted * actual).sum(0)
    denominator = predicted.sum(0) + actual.sum(0)
    return jnp.mean(jnp.where(denominator > 0, 2 * true_pos / jnp.maximum(denominator, 1), 0.0))


def threshold(probs: jax.Array, prior: jax.Array) -> jax.Array:
    """Thresholding with prior class probabilities (Section 2.2): probs / prior, per class."""
    return probs / prior
