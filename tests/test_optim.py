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
        velocity = jax.tree.map(lambda v, g, p, m: momentum * v + (lr * m) * (g + wd * p), velocity, grads, params,
                                mult)
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
    assert float(warm(jnp.int32(0))) == pytest.approx(0.001, rel=1e-5)
    assert float(warm(jnp.int32(100))) == pytest.approx(0.1, rel=1e-5)
    assert float(warm(jnp.int32(700))) == pytest.approx(0.001, rel=1e-5)
    assert float(warm(jnp.int32(900))) == pytest.approx(1e-5, rel=1e-5)
    cosine = optim.schedule("warmup_cosine", 0.1, 1000, warmup_steps=100)
    assert float(cosine(jnp.int32(100))) == pytest.approx(0.1, rel=1e-5)
    assert float(cosine(jnp.int32(1000))) == pytest.approx(0, abs=1e-7)
    with pytest.raises(ValueError, match="train.lr_policy='cosine' is unknown"):
        optim.schedule("cosine", 0.1, 1000)


@pytest.mark.parametrize("name", ["sgd_nesterov", "adamw"])
def test_other_optimizers_train_a_cohort_in_the_compiled_step(name):
    model, hp = LeNet5(), train.TrainHParams(optimizer=name, lr_policy="warmup_cosine", warmup_steps=2,
                                             base_lr=1e-3, max_iter=6)
    data = train.CohortData(jnp.asarray(np.random.default_rng(0).integers(0, 255, (64, 28, 28, 1)), jnp.uint8),
                            jnp.asarray(np.arange(64) % 10, jnp.int32))
    inputs = train.CohortInputs(jnp.tile(jnp.arange(64), (2, 1)), jnp.array([64, 64]), jnp.array([1, 2], jnp.uint32),
                            jnp.array([1.0, 0.5]), jnp.array([False, True]))
    start = train.init_state(model, np.array([1, 2]), (28, 28, 1), hp=hp)
    before = jax.tree.map(np.asarray, start["params"]["params"])
    state, metrics = train.make_train_chunk(model, hp)(start, data, inputs, 6)
    after = state["params"]["params"]
    assert np.isfinite(metrics["loss"]).all()
    assert not np.array_equal(after["conv1"]["kernel"][0], before["conv1"]["kernel"][0])
    assert np.array_equal(after["conv1"]["kernel"][1], before["conv1"]["kernel"][1])  # fine-tuning: frozen
    assert not np.array_equal(after["fc2"]["kernel"][1], before["fc2"]["kernel"][1])


def test_crt_as_its_authors_ran_it_decays_by_a_cosine_from_the_base_lr():
    from imbalance_jax import cohort, design as plan_lib
    from configs import longtail

    config = longtail.get_config()
    hp = train.TrainHParams(base_lr=0.1, max_iter=90, lr_policy="inv")
    network = plan_lib.Network("s/crt", "s", "step", 10.0, 0.5, 0, 0, (5, 5), "crt", ("crt",), base_lr=0.1)
    assert (cohort.lr_scale(network, config, hp), cohort.lr_span(network, config, hp)) == (0.1, 0)  # the study's
    config.crt_schedule = "kang2020"
    assert (cohort.lr_scale(network, config, hp), cohort.lr_span(network, config, hp)) == (1.0, 10)  # 10 of 90
    transform = optim.scale_by_network_lr(train.learning_rate_schedule(hp), 1.0, None, jnp.int32(10))
    state = transform.init(None)
    seen = []
    for _ in range(12):
        update, state = transform.update(jnp.ones(()), state)
        seen.append(float(update))
    expected = [0.1 * 0.5 * (1 + np.cos(np.pi * min(t / 10, 1))) for t in range(12)]
    assert np.allclose(seen, expected, atol=1e-7) and seen[10:] == [0.0, 0.0]
    baseline = plan_lib.Network("s/baseline", "s", "step", 10.0, 0.5, 0, 0, (5, 5), "baseline", ("baseline",),
                                base_lr=0.1)
    assert cohort.lr_span(baseline, config, hp) == 0  # only cRT follows its authors' schedule


def test_caffe_sgd_chain_is_caffes_numpy_solver_with_a_changing_learning_rate():
    """Caffe's SGDSolver in plain numpy: lr_t = base (1 + gamma t)^-power; v = m v + lr_t mult (g + wd w); w -= v."""
    base, gamma, power, momentum, wd, steps = 0.05, 0.2, 0.75, 0.9, 5e-3, 30  # lr falls ~6x over the steps
    rng = np.random.default_rng(7)
    w0 = {"a": rng.normal(size=(4, 3)), "b": rng.normal(size=3), "frozen": rng.normal(size=2)}
    mult = {"a": 1.0, "b": 2.0, "frozen": 0.0}  # a bias at Caffe's lr_mult 2, a frozen layer
    grads = [{k: rng.normal(size=v.shape) for k, v in w0.items()} for _ in range(steps)]
    w, v = {k: x.copy() for k, x in w0.items()}, {k: np.zeros_like(x) for k, x in w0.items()}
    for t in range(steps):
        lr = base * (1 + gamma * t) ** -power
        for k in w:
            v[k] = momentum * v[k] + lr * mult[k] * (grads[t][k] + wd * w[k])
            w[k] = w[k] - v[k]
    to32 = lambda tree: {k: jnp.asarray(x, jnp.float32) for k, x in tree.items()}  # noqa: E731
    optimizer = optim.make_optimizer("caffe_sgd", optim.schedule("inv", base, steps, gamma, power), momentum, wd)
    chain = optimizer(1.0, mult)
    got, state = to32(w0), chain.init(to32(w0))
    for g in grads:
        updates, state = chain.update(to32(g), state, got)
        got = optax.apply_updates(got, updates)
    for k in w:
        np.testing.assert_allclose(got[k], w[k], rtol=1e-5, atol=1e-6, err_msg=k)
    assert np.array_equal(got["frozen"], to32(w0)["frozen"])
    # optax.sgd's momentum (the lr outside the velocity) is another solver once the lr changes
    sgd = optax.chain(optax.add_decayed_weights(wd), optax.sgd(optim.schedule("inv", base, steps, gamma, power),
                                                               momentum))
    other, state = to32(w0), sgd.init(to32(w0))
    for g in grads:
        updates, state = sgd.update(to32(g), state, other)
        other = optax.apply_updates(other, updates)
    assert np.abs(np.asarray(other["a"]) - w["a"]).max() > 1e-3
