"""The Pallas convolutions (interpret mode on the CPU) equal the im2col path: LeNet-5's conv2 (the
implicit GEMM and its input-gradient kernel reading the unpadded output gradient) and conv1 (the
one-channel outer-product kernel), outputs and both gradients (Pallas' own kernels and XLA's), fp32 and
bf16, odd cohort and batch sizes, inside LeNet-5; and every kernel lowers to Triton IR for NVIDIA GPUs
(checked here, without a GPU)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from imbalance_jax.models import get_model
from imbalance_jax.models.layers import im2col_conv
from imbalance_jax.models import pallas_conv as pallas_conv_module
from imbalance_jax.models.pallas_conv import ROWS, TILE, _conv1_forward, _input_grad, pallas_conv

# LeNet-5's two convolutions: (input h, w, cin), (kh, kw, cin, cout)
CONV1, CONV2 = ((28, 28, 1), (5, 5, 1, 20)), ((12, 12, 20), (5, 5, 20, 50))
TRITON = "__gpu$xla.gpu.triton"


def _close(got, expected, tol):
    got, expected = got.astype(jnp.float32), expected.astype(jnp.float32)
    assert float(jnp.abs(got - expected).max()) <= tol * float(jnp.abs(expected).max())


# batches: 5 and TILE + 1 leave the last tile and the last ROWS positions part-empty; 1 image of conv2
# (144 positions) is fewer than ROWS; 5 images of conv1 (2880 positions, 12 chunks) make its kernel
# gradient's 8 programs loop twice, the last ones over chunks past the end
@pytest.mark.parametrize("dtype,tol", [(jnp.float32, 1e-4), (jnp.bfloat16, 5e-2)])
@pytest.mark.parametrize("layer,networks,batch,xla_grads", [
    (CONV2, 3, 5, False), (CONV2, 1, TILE + 1, False), (CONV2, 1, 1, False), (CONV2, 3, 5, True),
    (CONV1, 3, 5, False), (CONV1, 1, TILE + 1, False), (CONV1, 3, 5, True)],
    ids=lambda v: {CONV1: "conv1", CONV2: "conv2"}.get(v) if isinstance(v, tuple) else None)
def test_pallas_conv_equals_im2col_with_gradients(dtype, tol, layer, networks, batch, xla_grads):
    (h, w, cin), kernel_shape = layer
    rng = np.random.default_rng(networks * batch)
    x = jnp.asarray(rng.normal(size=(networks, batch, h, w, cin)), jnp.float32)
    kernel = jnp.asarray(rng.normal(size=(networks, *kernel_shape)) * 0.05, jnp.float32)
    pallas = jax.vmap(lambda a, k: pallas_conv(a, k, dtype, None, xla_grads))
    im2col = jax.vmap(lambda a, k: im2col_conv(a, k, dtype))

    def outputs_and_grads(conv):  # one compile each, not op by op (interpret mode compiles slowly)
        def loss(a, k):
            return jnp.sum(jnp.sin(conv(a, k).astype(jnp.float32)))
        return jax.jit(lambda a, k: (conv(a, k), jax.grad(loss, (0, 1))(a, k)))(x, kernel)

    (got, grads), (expected, expected_grads) = outputs_and_grads(pallas), outputs_and_grads(im2col)
    assert got.shape == expected.shape == (networks, batch, h - 4, w - 4, kernel_shape[-1]) and got.dtype == dtype
    _close(got, expected, tol)
    for g, e in zip(grads, expected_grads):
        assert g.shape == e.shape and g.dtype == e.dtype
        _close(g, e, tol)


def test_the_input_gradient_reads_the_output_gradient_unpadded():
    grad = jax.ShapeDtypeStruct((TILE + 1, 8, 8, 50), jnp.bfloat16)
    kernel = jax.ShapeDtypeStruct((5, 5, 20, 50), jnp.float32)
    jaxpr = jax.make_jaxpr(lambda g, k: _input_grad(g, k, jnp.bfloat16, True))(grad, kernel).jaxpr
    [call] = [e for e in jaxpr.eqns if e.primitive.name == "pallas_call"]
    assert [v.aval.shape for v in call.invars] == [((TILE + 1) * 64, 50), (25, 64, 32)]  # taps padded, grad not
    assert [v.aval.shape for v in call.outvars] == [((TILE + 1) * 144, 20)]
    assert -(-(TILE + 1) * 144 // ROWS) == call.params["grid_mapping"].grid[0]


def test_the_row_kernels_write_only_their_positions_and_channels(monkeypatch):
    # The interpreter drops what a block writes past the array, where a card would overwrite the next
    # rows or memory past the array: hand each row kernel an output exactly as large as its padded
    # blocks (the interpreter fills it with NaN) and check that only the real positions and channels change.
    pallas_call, outputs = pallas_conv_module.pl.pallas_call, []

    def whole_blocks(kernel, *, out_shape, out_specs, **kwargs):
        (total, width), (rows, padded_width) = out_shape.shape, out_specs.block_shape
        blocks = jax.ShapeDtypeStruct((-(-total // rows) * rows, padded_width), out_shape.dtype)
        call = pallas_call(kernel, out_shape=blocks, out_specs=out_specs, **kwargs)

        def run(*args):
            outputs.append((call(*args), total, width))
            return outputs[-1][0][:total, :width]
        return run
    monkeypatch.setattr(pallas_conv_module.pl, "pallas_call", whole_blocks)
    rng = np.random.default_rng(0)
    _conv1_forward(jnp.asarray(rng.normal(size=(1, 28, 28, 1)), jnp.float32),  # 576 positions: 3 blocks
                   jnp.asarray(rng.normal(size=(5, 5, 1, 20)), jnp.float32), jnp.float32, True)
    _input_grad(jnp.asarray(rng.normal(size=(TILE + 1, 8, 8, 50)), jnp.float32),  # 432 positions: 2 blocks
                jnp.asarray(rng.normal(size=(5, 5, 20, 50)), jnp.float32), jnp.float32, True)
    assert len(outputs) == 2
    for out, total, width in outputs:
        assert out.shape[0] > total and out.shape[1] > width
        assert not jnp.isnan(out[:total, :width]).any()
        assert jnp.isnan(out[total:]).all() and jnp.isnan(out[:, width:]).all()


@pytest.mark.parametrize("layer,kernels", [(CONV1, 2), (CONV2, 3)], ids=["conv1", "conv2"])
def test_the_kernels_and_their_gradients_lower_to_triton_for_nvidia_gpus(layer, kernels):
    (h, w, cin), kernel_shape = layer
    x = jax.ShapeDtypeStruct((3, 9, h, w, cin), jnp.bfloat16)
    kernel = jax.ShapeDtypeStruct((3, *kernel_shape), jnp.float32)

    def loss(a, k):  # a cohort of 3 networks, an odd batch: the shapes the kernels must pad or mask
        out = jax.vmap(lambda a1, k1: pallas_conv(a1, k1, jnp.bfloat16, False))(a, k)
        return jnp.sum(out.astype(jnp.float32) ** 2)
    exported = jax.export.export(jax.jit(jax.grad(loss, (0, 1))), platforms=["cuda"],
                                 disabled_checks=[jax.export.DisabledSafetyCheck.custom_call(TRITON)])(x, kernel)
    # conv2: forward, input gradient, kernel gradient; conv1: forward, kernel gradient (its dx is XLA's)
    assert exported.mlir_module().count(f"@{TRITON}") == kernels


def _lenet5_params(x, networks, seed=1):
    """Random LeNet-5 parameters for a cohort, biases included (shapes from eval_shape: init compiles slowly)."""
    model, rng = get_model("lenet5", conv_impl="im2col"), np.random.default_rng(seed)
    shapes = jax.eval_shape(jax.vmap(lambda k: model.init(k, x)), jax.random.split(jax.random.key(0), networks))
    return jax.tree.map(lambda s: jnp.asarray(rng.normal(size=s.shape) * 0.05, jnp.float32), shapes)


def _lenet5_step(conv_impl, x, labels):
    """The cohort's logits and parameter gradients of a nonlinear loss, as one function of the parameters."""
    model = get_model("lenet5", conv_impl=conv_impl)

    def loss(p):
        logits = jax.vmap(model.apply)(p, x)
        return jnp.sum(jax.nn.log_softmax(logits)[..., 0] * labels), logits
    return lambda p: jax.grad(loss, has_aux=True)(p)[::-1]


def test_lenet5_with_both_convolutions_in_pallas_equals_im2col():
    x = jax.random.uniform(jax.random.key(0), (3, 3, 28, 28, 1))  # a cohort of 3 networks, 3 images each
    labels = jax.random.normal(jax.random.key(2), (3, 3))
    params = _lenet5_params(x[0], 3)
    for conv_impl in ("pallas/pallas", "pallas"):  # conv1 takes the one-channel kernel, conv2 the implicit GEMM
        kernels = str(jax.make_jaxpr(_lenet5_step(conv_impl, x, labels))(params)).count("pallas_call[")
        assert kernels == 5  # conv1: forward, kernel gradient; conv2: forward, input gradient, kernel gradient
    expected, expected_grads = jax.jit(_lenet5_step("im2col", x, labels))(params)  # one compile, not op by op
    got, grads = jax.jit(_lenet5_step("pallas/pallas", x, labels))(params)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    for g, e in zip(jax.tree.leaves(grads), jax.tree.leaves(expected_grads)):
        _close(g, e, 1e-4)


def test_lenet5_takes_pallas_for_conv2_and_refuses_it_where_it_cannot_run():
    x = jax.random.uniform(jax.random.key(0), (3, 28, 28, 1))
    params = jax.tree.map(lambda p: p[0], _lenet5_params(x, 1))
    reference, mixed = get_model("lenet5", conv_impl="im2col"), get_model("lenet5", conv_impl="im2col/pallas")
    np.testing.assert_allclose(jax.jit(mixed.apply)(params, x), jax.jit(reference.apply)(params, x),
                               rtol=1e-4, atol=1e-5)
    allcnn = get_model("allcnn", conv_impl="pallas")  # its stride-2 and padded convolutions cannot
    with pytest.raises(ValueError, match="conv impl='pallas' takes stride 1 and no padding"):
        allcnn.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)))

