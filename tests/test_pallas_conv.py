"""The Pallas implicit-GEMM convolution (interpret mode on the CPU) equals the im2col path: outputs and
both gradients (Pallas' own kernels and XLA's), fp32 and bf16, odd cohort and batch sizes, inside
LeNet-5; and all three kernels lower to Triton IR for NVIDIA GPUs (checked here, without a GPU)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from imbalance_jax.models import get_model
from imbalance_jax.models.layers import im2col_conv
from imbalance_jax.models.pallas_conv import TILE, pallas_conv


@pytest.mark.parametrize("dtype,tol", [(jnp.float32, 1e-4), (jnp.bfloat16, 5e-2)])
@pytest.mark.parametrize("networks,batch,xla_grads", [(3, 5, False), (1, TILE + 1, False), (3, 5, True)])
def test_pallas_conv_equals_im2col_with_gradients(dtype, tol, networks, batch, xla_grads):
    rng = np.random.default_rng(networks * batch)
    x = jnp.asarray(rng.normal(size=(networks, batch, 12, 12, 20)), jnp.float32)  # LeNet-5's conv2 input
    kernel = jnp.asarray(rng.normal(size=(networks, 5, 5, 20, 50)) * 0.05, jnp.float32)
    pallas = jax.vmap(lambda a, k: pallas_conv(a, k, dtype, None, xla_grads))
    im2col = jax.vmap(lambda a, k: im2col_conv(a, k, dtype))
    got, expected = pallas(x, kernel), im2col(x, kernel)
    assert got.shape == expected.shape == (networks, batch, 8, 8, 50) and got.dtype == dtype
    scale = float(jnp.abs(expected.astype(jnp.float32)).max())
    assert float(jnp.abs(got.astype(jnp.float32) - expected.astype(jnp.float32)).max()) <= tol * scale

    def loss(conv):
        return lambda a, k: jnp.sum(jnp.sin(conv(a, k).astype(jnp.float32)))

    for g, e in zip(jax.grad(loss(pallas), (0, 1))(x, kernel), jax.grad(loss(im2col), (0, 1))(x, kernel)):
        assert float(jnp.abs(g - e).max()) <= tol * float(jnp.abs(e).max())


def test_the_kernels_and_their_gradients_lower_to_triton_for_nvidia_gpus():
    x = jax.ShapeDtypeStruct((3, 9, 12, 12, 20), jnp.bfloat16)
    kernel = jax.ShapeDtypeStruct((3, 5, 5, 20, 50), jnp.float32)

    def loss(a, k):  # a cohort of 3 networks, an odd batch: the shapes the kernels must pad
        out = jax.vmap(lambda a1, k1: pallas_conv(a1, k1, jnp.bfloat16, False))(a, k)
        return jnp.sum(out.astype(jnp.float32) ** 2)
    triton = "__gpu$xla.gpu.triton"
    exported = jax.export.export(jax.jit(jax.grad(loss, (0, 1))), platforms=["cuda"],
                                 disabled_checks=[jax.export.DisabledSafetyCheck.custom_call(triton)])(x, kernel)
    assert exported.mlir_module().count(f"@{triton}") == 3  # forward, input gradient, kernel gradient


def test_lenet5_takes_pallas_for_conv2_and_refuses_it_where_it_cannot_run():
    x = jax.random.uniform(jax.random.key(0), (3, 28, 28, 1))
    reference = get_model("lenet5", conv_impl="im2col")
    params = reference.init(jax.random.key(1), x)
    mixed = get_model("lenet5", conv_impl="im2col/pallas")
    np.testing.assert_allclose(mixed.apply(params, x), reference.apply(params, x), rtol=1e-4, atol=1e-5)
    allcnn = get_model("allcnn", conv_impl="pallas")  # its stride-2 and padded convolutions cannot
    with pytest.raises(ValueError, match="conv impl='pallas' takes stride 1 and no padding"):
        allcnn.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
