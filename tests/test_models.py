import jax
import jax.numpy as jnp
import numpy as np
import pytest

from imbalance_jax.models import AllCNN, LeNet5, get_model
from imbalance_jax.models.layers import Conv


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
    for impl in ("taps", "taps/im2col", "im2col/xla"):
        assert np.allclose(a, LeNet5(conv_impl=impl).apply(params, x), atol=1e-4, rtol=1e-4), impl


def test_taps_lowering_matches_xla_with_several_input_channels_stride_and_padding():
    x = jax.random.normal(jax.random.key(2), (2, 9, 9, 3))
    layer = Conv(4, 3, "xla", stride=2, padding=1)
    params = layer.init(jax.random.key(0), x)
    params = jax.tree.map(lambda p: p + 0.1, params)  # a nonzero bias too
    ref = layer.apply(params, x)
    taps = Conv(4, 3, "taps", stride=2, padding=1).apply(params, x)
    assert ref.shape == taps.shape == (2, 5, 5, 4)
    assert np.allclose(ref, taps, atol=1e-5)


def test_bfloat16_keeps_activations_in_bf16_and_returns_fp32_logits():
    x = jax.random.uniform(jax.random.key(1), (4, 28, 28, 1))
    model = LeNet5(dtype=jnp.bfloat16)
    params = model.init(jax.random.key(0), x)
    assert jax.tree.leaves(params)[0].dtype == jnp.float32  # master weights stay fp32
    logits, state = model.apply(params, x, capture_intermediates=True, mutable=["intermediates"])
    assert logits.dtype == jnp.float32
    assert state["intermediates"]["conv1"]["__call__"][0].dtype == jnp.bfloat16
    assert state["intermediates"]["fc1"]["__call__"][0].dtype == jnp.bfloat16
    cifar = jax.random.uniform(jax.random.key(1), (2, 32, 32, 3))
    allcnn = AllCNN(dtype=jnp.bfloat16, conv_impl="im2col")
    assert allcnn.apply(allcnn.init(jax.random.key(0), cifar), cifar).dtype == jnp.float32


def test_auto_lowering_follows_backend_model_and_cohort_stepping(monkeypatch):
    from imbalance_jax.models import resolve_conv_impl

    assert resolve_conv_impl("auto", "allcnn", networks_per_vmap=1) == "im2col"  # this CPU: im2col everywhere
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert resolve_conv_impl("auto", "lenet5") == "im2col"
    assert resolve_conv_impl("auto", "allcnn") == "im2col"  # vmapped cuDNN convolutions are grouped ones
    assert resolve_conv_impl("auto", "allcnn", networks_per_vmap=1) == "xla"  # dense cuDNN, one network at a time
    assert resolve_conv_impl("auto", "resnet10") == "xla"
    assert get_model("allcnn", networks_per_vmap=1, conv_impl="auto").conv_impl == "xla"
    assert resolve_conv_impl("im2col", "allcnn", networks_per_vmap=1) == "im2col"  # an explicit choice stands


@pytest.mark.parametrize("model,impl", [("lenet5", "tap"), ("lenet5", "taps/im2col/xla"), ("allcnn", "taps/xla")])
def test_unknown_conv_lowering_is_one_line_error(model, impl):
    with pytest.raises(ValueError, match=f"conv_impl={impl!r} is unknown for {model}"):
        get_model(model, conv_impl=impl)
