import jax
import jax.numpy as jnp
import numpy as np

from imbalance_jax import checkpoint, train
from imbalance_jax.samplers import mechanics
from imbalance_jax.models import LeNet5

HP = train.TrainHParams(max_iter=20)


def _data():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 20).astype(np.int32)
    images = rng.integers(0, 60, (200, 28, 28, 1)).astype(np.uint8)
    images[np.arange(200), 2 + 2 * labels, 5] = 255  # a learnable mark per class
    return train.CohortData(jnp.asarray(images), jnp.asarray(labels))


def _plan(index_sets, seeds, finetune_last=None):
    table = mechanics.index_table(index_sets, width=200)
    n = len(index_sets)
    return train.CohortInputs(jnp.asarray(table.indices), jnp.asarray(table.lengths),
                            jnp.asarray(seeds, jnp.uint32), jnp.ones(n, jnp.float32),
                            jnp.asarray(finetune_last if finetune_last is not None else [False] * n))


def test_inv_schedule_is_caffes():
    assert np.isclose(train.learning_rate(HP, jnp.int32(0)), 0.01)
    assert np.isclose(train.learning_rate(HP, jnp.int32(10_000)), 0.01 * 2 ** -0.75)
    multistep = train.TrainHParams(lr_policy="multistep", base_lr=0.05, lr_gamma=0.1, lr_steps=(10, 20))
    assert np.allclose([train.learning_rate(multistep, jnp.int32(s)) for s in (9, 10, 25)], [0.05, 0.005, 0.0005])


def test_caffe_sgd_update_by_hand():
    """One step equals v = lr * (g + wd * w); w -= v, computed here with jax.grad directly."""
    model = LeNet5()
    data = _data()
    state = train.init_state(model, np.array([3]), (28, 28, 1))
    inputs = _plan([np.arange(200)], [3])
    idx = train.batch_indices(inputs, jnp.int32(0), HP.batch_size)
    step = jax.jit(train.make_train_step(model, HP))
    new_state, _ = step(state, idx, jax.random.key(0), data, inputs)

    params = jax.tree.map(lambda x: x[0], state["params"])
    x = data.images[idx[0]].astype(jnp.float32) / 255
    y = data.labels[idx[0]]
    def loss(p):
        return -jnp.mean(jax.nn.log_softmax(model.apply(p, x))[jnp.arange(len(y)), y])
    grads = jax.grad(loss)(params)
    expected = jax.tree.map(lambda w, g: w - 0.01 * (g + 5e-4 * w), params, grads)
    got = jax.tree.map(lambda x: x[0], new_state["params"])
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected)):
        assert np.allclose(a, b, atol=1e-6)


def test_network_in_cohort_equals_network_alone():
    model = LeNet5()
    data, chunk = _data(), train.make_train_chunk(model, HP)
    sets = [np.arange(0, 200, 2), np.arange(200), np.arange(50, 200)]
    cohort, _ = chunk(train.init_state(model, np.array([1, 2, 3]), (28, 28, 1)), data, _plan(sets, [1, 2, 3]), 15)
    alone, _ = chunk(train.init_state(model, np.array([2]), (28, 28, 1)), data, _plan(sets[1:2], [2]), 15)
    for a, b in zip(jax.tree.leaves(cohort["params"]), jax.tree.leaves(alone["params"])):
        assert np.allclose(a[1], b[0], atol=1e-5, rtol=1e-4)
    for a, b in zip(jax.tree.leaves(cohort["params"]), jax.tree.leaves(alone["params"])):
        assert not np.allclose(a[0], b[0], atol=1e-5)  # a different seed and set trains differently


def test_networks_stepped_in_groups_equal_the_vmapped_cohort():
    model = LeNet5()
    data = _data()
    sets = [np.arange(0, 200, 2), np.arange(200), np.arange(50, 200)]
    inputs = _plan(sets, [1, 2, 3], finetune_last=[False, True, False])
    results = {}
    for group in (0, 1, 2):  # all at once, one by one, and groups of 2 (3 networks: a remainder of 1)
        chunk = train.make_train_chunk(model, train.TrainHParams(max_iter=20, networks_per_vmap=group))
        results[group], metrics = chunk(train.init_state(model, np.array([1, 2, 3]), (28, 28, 1)), data, inputs, 6)
        assert metrics["loss"].shape == (3,)
    for group in (1, 2):
        for a, b in zip(jax.tree.leaves(results[0]["params"]), jax.tree.leaves(results[group]["params"])):
            assert np.allclose(a, b, atol=1e-5, rtol=1e-4), group


def test_negative_networks_per_vmap_is_refused():
    import pytest

    with pytest.raises(ValueError, match="networks_per_vmap=-1"):
        train.TrainHParams(networks_per_vmap=-1)


def test_training_learns_and_finetune_last_freezes_the_rest():
    model = LeNet5()
    data, chunk = _data(), train.make_train_chunk(model, HP)
    start = train.init_state(model, np.array([4, 4]), (28, 28, 1))
    before = jax.tree.map(np.asarray, start["params"])
    state, metrics = chunk(start, data, _plan([np.arange(200)] * 2, [4, 4], [False, True]), 20)
    after = state["params"]["params"]
    for layer in ("conv1", "conv2", "fc1"):
        for name in ("kernel", "bias"):
            assert np.array_equal(after[layer][name][1], before["params"][layer][name][1])
        assert not np.array_equal(after[layer]["kernel"][0], before["params"][layer]["kernel"][0])
    assert not np.array_equal(after["fc2"]["kernel"][1], before["params"]["fc2"]["kernel"][1])
    assert float(metrics["loss"][0]) < np.log(10)


def test_checkpoint_round_trip_is_bit_exact(tmp_path):
    model = LeNet5()
    state = train.init_state(model, np.array([5, 6]), (28, 28, 1))
    state, _ = train.make_train_chunk(model, HP)(state, _data(), _plan([np.arange(200)] * 2, [5, 6]), 3)
    expected = jax.tree.map(np.asarray, state)
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), state)
    saved = checkpoint.CohortCheckpoints(str(tmp_path / "c"))
    saved.save(3, state, {"note": "x"})
    saved.close()
    again = checkpoint.CohortCheckpoints(str(tmp_path / "c"))
    restored, meta = again.restore(abstract)
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(expected)):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert meta == {"note": "x", "step": 3, "complete": False, "checksum": checkpoint.checksum(expected)}
    assert again.latest_step() == 3
    again.close()


def test_finetune_layers_from_the_config_and_the_bias_learning_rate_multiplier():
    model = LeNet5()
    data = _data()
    start = train.init_state(model, np.array([4, 4]), (28, 28, 1))
    before = jax.tree.map(np.asarray, start["params"]["params"])
    hp = train.TrainHParams(max_iter=20, finetune_layers=("fc1", "fc2"))
    state, _ = train.make_train_chunk(model, hp)(start, data, _plan([np.arange(200)] * 2, [4, 4], [False, True]), 5)
    after = state["params"]["params"]
    assert not np.array_equal(after["fc1"]["kernel"][1], before["fc1"]["kernel"][1])  # fc1 now fine-tuned too
    assert np.array_equal(after["conv2"]["kernel"][1], before["conv2"]["kernel"][1])

    def first_step(bias_lr_mult):
        hp = train.TrainHParams(max_iter=20, bias_lr_mult=bias_lr_mult, weight_decay=0.0)
        fresh = train.init_state(model, np.array([4]), (28, 28, 1))
        moved, _ = train.make_train_chunk(model, hp)(fresh, data, _plan([np.arange(200)], [4]), 1)
        return {k: np.asarray(moved["params"]["params"]["fc1"][k][0]) - before["fc1"][k][0] for k in ("kernel", "bias")}
    once, twice = first_step(1.0), first_step(2.0)
    assert np.allclose(twice["bias"], 2 * once["bias"], rtol=1e-4, atol=1e-9)  # Caffe's lr_mult on biases
    assert np.allclose(twice["kernel"], once["kernel"], rtol=1e-5, atol=1e-9)
