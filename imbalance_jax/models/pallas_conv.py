"""A convolution that never writes its im2col patches: a Pallas implicit GEMM (stride 1, no padding).

Each program holds a tile of images [tile, h, w, cin] and the whole kernel [kh, kw, cin, cout] on
chip and accumulates the kh * kw shifted tap matmuls in fp32, so the patches tensor that im2col
writes to memory (the quarter of LeNet-5's step the H100 profile found) never exists. Under a
cohort's vmap, pallas_call's batching adds the network axis to the grid: one network's weights
per program. The gradients are XLA's (the vjp of the im2col form) until kernels of the same kind
are measured faster on a card. On the CPU it runs in Pallas' interpret mode (tests only).
"""
import functools

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl

# Images per program: LeNet-5's conv2 input tile of 8 x 12 x 12 x 20 fits any GPU's shared memory.
TILE = 8


def _reference(x, kernel, dtype):
    """The same convolution through im2col (its vjp is the backward pass)."""
    from imbalance_jax.models.layers import im2col_conv

    return im2col_conv(x, kernel, dtype)


def _kernel(x_ref, w_ref, o_ref, *, kh, kw):
    x = x_ref[...]
    tile, h, w, cin = x.shape
    ho, wo = h - kh + 1, w - kw + 1
    acc = jnp.zeros((tile * ho * wo, o_ref.shape[-1]), jnp.float32)
    for i in range(kh):
        for j in range(kw):
            tap = x[:, i:i + ho, j:j + wo, :].reshape(tile * ho * wo, cin)
            acc += jnp.dot(tap, w_ref[i, j], preferred_element_type=jnp.float32)
    o_ref[...] = acc.reshape(tile, ho, wo, -1).astype(o_ref.dtype)


def _forward(x, kernel, dtype, interpret):
    kh, kw, cin, cout = kernel.shape
    b, h, w, _ = x.shape
    tile = min(TILE, b)
    padded = -(-b // tile) * tile  # whole tiles; the extra images are zeros, cut off below
    x = jnp.pad(x.astype(dtype), ((0, padded - b), (0, 0), (0, 0), (0, 0)))
    out = pl.pallas_call(
        functools.partial(_kernel, kh=kh, kw=kw),
        out_shape=jax.ShapeDtypeStruct((padded, h - kh + 1, w - kw + 1, cout), dtype),
        grid=(padded // tile,),
        in_specs=[pl.BlockSpec((tile, h, w, cin), lambda t: (t, 0, 0, 0)),
                  pl.BlockSpec((kh, kw, cin, cout), lambda t: (0, 0, 0, 0))],
        out_specs=pl.BlockSpec((tile, h - kh + 1, w - kw + 1, cout), lambda t: (t, 0, 0, 0)),
        interpret=interpret,
    )(x, kernel.astype(dtype))
    return out[:b]


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def pallas_conv(x, kernel, dtype=jnp.float32, interpret=None):
    """Valid, stride-1 convolution x [B, h, w, cin] * kernel [kh, kw, cin, cout] -> [B, h', w', cout] in dtype.

    interpret=None runs the Pallas interpreter on the CPU and compiles the kernel elsewhere.
    """
    return _forward(x, kernel, dtype, jax.default_backend() == "cpu" if interpret is None else interpret)


def _fwd(x, kernel, dtype, interpret):
    return pallas_conv(x, kernel, dtype, interpret), (x, kernel)


def _bwd(dtype, interpret, residuals, grad):
    x, kernel = residuals
    _, vjp = jax.vjp(lambda a, k: _reference(a, k, dtype), x, kernel)
    return vjp(grad)


pallas_conv.defvjp(_fwd, _bwd)
