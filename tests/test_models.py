import jax
import jax.numpy as jnp
import numpy as np

from imbalance_jax.models import LeNet5


def test_lenet5_shapes_match_table2():
    params = LeNet5().init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))["params"]
    shapes = {k: {n: v.shape for n, v in layer.items()} for k, layer in params.items()}
    assert shapes == {
        "conv1": {"kernel": (5, 5, 1, 20), "bias": (20,)},
        "conv2": {"kernel": (5, 5, 20, 50), "bias": (50,)},
        "fc1": {"kernel": (800, 500), "bias": (500,)},
        "fc2": {"kernel": (500, 10), "bias": (10,)},
    }


def test_caffe_xavier_init_and_zero_bias():
    params = LeNet5().init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))["params"]
    limit = np.sqrt(3 / 500)  # conv2: fan_in = 20 * 5 * 5
    kernel = np.asarray(params["conv2"]["kernel"])
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.95 * limit
    assert abs(kernel.std() - limit / np.sqrt(3)) < 0.05 * limit
    assert all(np.all(params[k]["bias"] == 0) for k in params)


def test_conv_lowerings_agree():
    x = jax.random.uniform(jax.random.key(1), (8, 28, 28, 1))
    im2col, xla = LeNet5(conv_impl="im2col"), LeNet5(conv_impl="xla")
    params = im2col.init(jax.random.key(0), x)
    a, b = im2col.apply(params, x), xla.apply(params, x)
    assert np.allclose(a, b, atol=1e-4, rtol=1e-4)
    bf16 = LeNet5(conv_impl="im2col", dtype=jnp.bfloat16).apply(params, x)
    assert np.allclose(a, bf16, atol=0.05 * float(jnp.abs(a).max()))
