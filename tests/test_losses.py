"""Each loss against a computation by hand on a tiny batch."""
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from imbalance_jax import losses

LOGITS = np.array([[2.0, 0.5, -1.0], [0.1, 0.3, 0.2], [-0.5, 1.5, 0.0]], np.float32)
LABELS = np.array([0, 2, 1])
COUNTS = np.array([100, 10, 1])
SETTINGS = types.SimpleNamespace(effective_beta=0.9999, focal_gamma=2.0, drw_fraction=0.5, ldam_max_margin=0.5,
                                 ldam_scale=30.0, logit_adjust_tau=1.0)


def _log_softmax(z):
    z = np.asarray(z, np.float64)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _ce(z):
    return -_log_softmax(z)[np.arange(3), LABELS]


def _loss(name, logits=LOGITS, step=100):
    """The loss as the study computes it (with its reduction: a weighted mean for the authors who use one)."""
    obj = losses.objective_for(name, COUNTS, SETTINGS, iterations=100)
    return float(losses.loss(jnp.asarray(logits), jnp.asarray(LABELS), obj, jnp.int32(step),
                             losses.get(name).weighted_mean))


def test_cross_entropy():
    assert _loss("cross_entropy") == pytest.approx(_ce(LOGITS).mean(), rel=1e-5)


def test_inverse_frequency_weights():
    w = 1 / COUNTS
    w = w * 3 / w.sum()
    assert _loss("weighted_ce") == pytest.approx((w[LABELS] * _ce(LOGITS)).mean(), rel=1e-5)


def test_effective_number_weights():
    w = (1 - 0.9999) / (1 - 0.9999 ** COUNTS)
    w = w * 3 / w.sum()
    assert np.allclose(losses.effective_number_weights(COUNTS, 0.9999), w)
    assert _loss("effective_number_ce") == pytest.approx((w[LABELS] * _ce(LOGITS)).mean(), rel=1e-5)


def test_focal():
    p = np.exp(-_ce(LOGITS))
    assert _loss("focal") == pytest.approx(((1 - p) ** 2 * _ce(LOGITS)).mean(), rel=1e-5)


def test_ldam_with_deferred_reweighting():
    margins = COUNTS ** -0.25
    margins = margins * 0.5 / margins.max()
    assert np.allclose(losses.ldam_margins(COUNTS, 0.5), margins)
    cosines = np.tanh(LOGITS)  # stand-ins for cosine logits in [-1, 1]
    z = 30 * (cosines - np.eye(3)[LABELS] * margins)
    w = losses.effective_number_weights(COUNTS, 0.9999)
    assert _loss("ldam_drw", 30 * cosines, step=10) == pytest.approx(_ce(z).mean(), rel=1e-5)  # before DRW
    # after DRW starts, as Cao et al.'s F.cross_entropy(s * output, target, weight=w): divided by the summed weights
    weighted = (w[LABELS] * _ce(z)).sum() / w[LABELS].sum()
    assert _loss("ldam_drw", 30 * cosines, step=50) == pytest.approx(weighted, rel=1e-5)
    # a batch of the majority class only (weight w[0] << 1): the weighted mean is its plain mean, where a
    # batch-size mean would scale the step down by w[0]
    obj = losses.objective_for("ldam_drw", COUNTS, SETTINGS, iterations=100)
    majority = jnp.zeros(3, jnp.int32)
    plain = losses.loss(jnp.asarray(LOGITS), majority, obj._replace(reweight_step=np.int32(10**6)), jnp.int32(50))
    assert float(losses.loss(jnp.asarray(LOGITS), majority, obj, jnp.int32(50), True)) == pytest.approx(float(plain))
    assert w[0] < 0.05 and float(losses.loss(jnp.asarray(LOGITS), majority, obj, jnp.int32(50))) == pytest.approx(
        w[0] * float(plain), rel=1e-5)


def test_reductions_follow_each_authors_code_value_and_gradient():
    """d loss / d logits on fixed logits: LDAM-DRW's weighted mean, Cui et al.'s batch-size mean."""
    onehot = np.eye(3)[LABELS]
    softmax = np.exp(_log_softmax(LOGITS))
    for name, weighted_mean in (("ldam_drw", True), ("effective_number_ce", False)):
        obj = losses.objective_for(name, COUNTS, SETTINGS, iterations=100)
        w = np.asarray(obj.class_weights, np.float64)[LABELS]
        z = np.asarray(LOGITS, np.float64) - onehot * np.asarray(obj.margins) * float(obj.logit_scale)
        p = np.exp(_log_softmax(z)) if name == "ldam_drw" else softmax
        denom = w.sum() if weighted_mean else len(LABELS)
        expected = w[:, None] * (p - onehot) / denom  # the gradient of sum(w * ce) / denom
        got = jax.grad(lambda x: losses.loss(x, jnp.asarray(LABELS), obj, jnp.int32(99),
                                             losses.get(name).weighted_mean))(jnp.asarray(LOGITS))
        assert np.allclose(np.asarray(got), expected, atol=1e-6), name
        assert (losses.get(name).weighted_mean) == weighted_mean


def test_logit_adjusted_and_balanced_softmax():
    prior = COUNTS / COUNTS.sum()
    expected = _ce(LOGITS + np.log(prior)).mean()
    assert _loss("logit_adjusted") == pytest.approx(expected, rel=1e-5)
    assert _loss("balanced_softmax") == pytest.approx(expected, rel=1e-5)


def test_cosine_logits():
    f = np.array([[3.0, 4.0]])
    k = np.array([[1.0, 0.0], [0.0, 2.0]])
    assert np.allclose(losses.cosine_logits(jnp.asarray(f), jnp.asarray(k)), [[0.6, 0.8]])


def test_unknown_loss():
    with pytest.raises(ValueError, match="loss='hinge'"):
        losses.objective_for("hinge", COUNTS, SETTINGS, 100)
