"""The optax chains: Caffe's SGD equal to its formula, the schedules equal to Caffe's and optax's."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from imbalance_jax import optim, train
from imbalance_jax.models import LeNet5


def _caffe_sgd_by_hand(params, grads_seq, lr_fn, lr_scale, mult, momentum=0.9, wd=5e-4):
    """The first version's update: v = m v + (lr_t s mask) (g + wd w); w -= v."""
    velocity = jax.tree.map(jnp.zeros_like, params)
    for t, grads in enumerate(grads_seq):
        lr = lr_fn(jnp.int32(t)) * lr_scale
        velocity = jax.tree.map(lambda v, g, p, m: momentum * v + (lr * m) * (g + wd * p), velocity, grads, params, mult)
        params = jax.tree.map(lambda p, v: p - v, params, velocity)
    return params


def test_caffe_sgd_chain_equals_the_hand_written_update_over_100_steps():
    rng = np.random.default_rng(0)
    params = {"conv": {"kernel": jnp.asarray(rng.normal(size=(5, 5, 1, 4)), jnp.float32)},
              "fc": {"kernel": jnp.asarray(rng.normal(size=(8, 3)), jnp.float32), "bias": jnp.zeros(3)}}
    grads_seq = [jax.tree.map(lambda p: jnp.asarray(rng.normal(size=p.shape), jnp.float32), params)
                 for _ in range(100)]
    mult = {"conv": {"kernel": 0.0}, "fc": {"kernel": 1.0, "bias": 1.0}}  # the conv layer frozen
    lr_fn = optim.schedule("inv", 0.01, 100, 1e-4, 0.75)
    expected = _caffe_sgd_by_hand(params, grads_seq, lr_fn, 0.1, mult)
    optimizer = optim.make_optimizer("caffe_sgd", lr_fn, 0.9, 5e-4)(0.1, mult)
    state, got = optimizer.init(params), params
    for grads in grads_seq:
        updates, state = optimizer.update(grads, state, got)
        got = optax.apply_updates(got, updates)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert np.array_equal(got["conv"]["kernel"], params["conv"]["kernel"])  # frozen stays as it was


def test_schedules_follow_caffe_and_optax():
    t = jnp.arange(0, 1000, 100)
    np.testing.assert_allclose(optim.schedule("inv", 0.01, 1000, 1e-4, 0.75)(t), 0.01 * (1 + 1e-4 * t) ** -0.75,
                               rtol=1e-6)
    np.testing.assert_allclose(optim.schedule("poly", 0.1, 1000, power=1.0)(t), 0.1 * (1 - t / 1000), rtol=1e-6)
    multistep = optim.schedule("multistep", 0.05, 1000, gamma=0.1, steps=(200, 500))
    np.testing.assert_allclose([multistep(jnp.int32(s)) for s in (199, 200, 499, 500)], [0.05, 0.005, 0.005, 0.0005],
                               rtol=1e-6)
    warm = optim.schedule("warmup_multistep", 0.1, 1000, gamma=0.01, steps=(600, 800), warmup_steps=100)
    assert float(warm(jnp.int32(0))) == pytest.approx(0.001, rel=1e-5) and float(warm(jnp.int32(100))) == pytest.approx(0.1, rel=1e-5)
    assert float(warm(jnp.int32(700))) == pytest.approx(0.001, rel=1e-5) and float(warm(jnp.int32(900))) == pytest.approx(1e-5, rel=1e-5)
    cosine = optim.schedule("warmup_cosine", 0.1, 1000, warmup_steps=100)
    assert float(cosine(jnp.int32(100))) == pytest.approx(0.1, rel=1e-5) and float(cosine(jnp.int32(1000))) == pytest.approx(0, abs=1e-7)
    with pytest.raises(ValueError, match="train.lr_policy='cosine' is unknown"):
        optim.schedule("cosine", 0.1, 1000)


@pytest.mark.parametrize("name", ["sgd_nesterov", "adamw"])
def test_other_optimizers_train_a_cohort_in_the_compiled_step(name):
    model, hp = LeNet5(), train.TrainHParams(optimizer=name, lr_policy="warmup_cosine", warmup_steps=2,
                                             base_lr=1e-3, max_iter=6)
    data = train.CohortData(jnp.asarray(np.random.default_rng(0).integers(0, 255, (64, 28, 28, 1)), jnp.uint8),
                            jnp.asarray(np.arange(64) % 10, jnp.int32))
    plan = train.CohortPlan(jnp.tile(jnp.arange(64), (2, 1)), jnp.array([64, 64]), jnp.array([1, 2], jnp.uint32),
                            jnp.array([1.0, 0.5]), jnp.array([False, True]))
    start = train.init_state(model, np.array([1, 2]), (28, 28, 1), hp=hp)
    before = jax.tree.map(np.asarray, start["params"]["params"])
    state, metrics = train.make_train_chunk(model, hp)(start, data, plan, 6)
    after = state["params"]["params"]
    assert np.isfinite(metrics["loss"]).all()
    assert not np.array_equal(after["conv1"]["kernel"][0], before["conv1"]["kernel"][0])
    assert np.array_equal(after["conv1"]["kernel"][1], before["conv1"]["kernel"][1])  # fine-tuning: frozen
    assert not np.array_equal(after["fc2"]["kernel"][1], before["fc2"]["kernel"][1])
