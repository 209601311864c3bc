import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, roc_auc_score

from imbalance_jax import metrics


def _sklearn_multiclass_auc(scores, labels):
    return np.mean([roc_auc_score(labels == c, scores[:, c]) for c in range(scores.shape[1])])


def test_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    for trial in range(5):
        labels = rng.integers(0, 5, 700)
        scores = np.round(rng.random((700, 5)), 1).astype(np.float32)  # many ties
        scores[:, 2] += 0.3 * (labels == 2)  # one informative class
        ours = float(metrics.multiclass_auc(jnp.asarray(scores), jnp.asarray(labels)))
        assert abs(ours - _sklearn_multiclass_auc(scores, labels)) < 1e-6


def test_auc_extremes():
    labels = jnp.array([0, 0, 1, 1])
    perfect = jnp.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.1, 0.9]])
    assert float(metrics.multiclass_auc(perfect, labels)) == 1.0
    assert float(metrics.multiclass_auc(jnp.full((4, 2), 0.5), labels)) == 0.5


def test_accuracy_and_recall():
    labels = jnp.array([0, 1, 1, 2])
    scores = jnp.array([[1.0, 0, 0], [0, 1.0, 0], [1.0, 0, 0], [0, 0, 1.0]])
    assert float(metrics.accuracy(scores, labels)) == 0.75
    assert np.allclose(metrics.per_class_recall(scores, labels), [1.0, 0.5, 1.0])


def test_threshold_keeps_auc_and_can_change_accuracy():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(3), 100)
    logits = rng.normal(size=(300, 3)) + np.eye(3)[labels]
    logits[:, 0] += 1.5  # a network biased towards the majority class 0
    probs = jnp.asarray(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), jnp.float32)
    prior = jnp.array([0.8, 0.1, 0.1])
    thresholded = metrics.threshold(probs, prior)
    assert np.allclose(thresholded, probs / prior)
    assert abs(float(metrics.multiclass_auc(thresholded, labels)) - float(metrics.multiclass_auc(probs, labels))) < 1e-6
    assert float(metrics.accuracy(thresholded, labels)) > float(metrics.accuracy(probs, labels))


def test_macro_f1_matches_sklearn():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 4, 300)
    scores = rng.random((300, 4)).astype(np.float32)
    scores[:, 3] = 0  # class 3 never predicted
    expected = f1_score(labels, scores.argmax(1), average="macro", labels=range(4), zero_division=0)
    assert abs(float(metrics.macro_f1(jnp.asarray(scores), jnp.asarray(labels))) - expected) < 1e-6


def test_per_class_precision_matches_sklearn():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, 300)
    scores = rng.random((300, 4)).astype(np.float32)
    scores[:, 3] = 0  # class 3 never predicted: precision 0, as scikit-learn's zero_division=0
    expected = precision_score(labels, scores.argmax(1), average=None, labels=range(4), zero_division=0)
    assert np.allclose(np.asarray(metrics.per_class_precision(scores, labels)), expected, atol=1e-6)


def test_metrics_take_the_numpy_arrays_a_user_passes():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(4), 60)
    labels = np.arange(60) % 4
    expected = roc_auc_score(labels, probs, multi_class="ovr", average="macro")
    assert float(metrics.multiclass_auc(probs, labels)) == pytest.approx(expected, abs=1e-6)
    assert float(metrics.accuracy(probs, labels)) == pytest.approx(np.mean(probs.argmax(1) == labels))
