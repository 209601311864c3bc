"""A convolution that never writes its im2col patches: a Pallas implicit GEMM (stride 1, no padding).

Each program holds a tile of images [tile, h, w, cin] and the whole kernel [kh, kw, cin, cout] and
accumulates the kh * kw shifted tap matmuls in fp32, so the patches tensor that im2col writes to
memory never exists. Under a cohort's vmap, pallas_call's batching adds the network axis to the
grid: one network's weights per program. The input gradient is the same kernel over the padded
output gradient with the flipped kernel; the kernel gradient is a program per tap reducing over the
batch; `xla_grads=True` takes XLA's (the im2col form's vjp) instead. On NVIDIA GPUs the kernels
lower to Triton, which wants power-of-two arrays: tiles, channels and filters are zero-padded. On
the CPU they run in Pallas' interpret mode (tests only). Measured on an H200 (docs/performance.md):
not faster than im2col yet.
"""
import functools

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as pltriton

from imbalance_jax.models.lowerings import im2col_conv

# Images per program. The fp32 accumulator is tile x 8 x 8 x 64 for LeNet-5's conv2: 8 images
# (32k floats) left ptxas without registers for the H200's wgmma pipeline (and compiling for over a
# minute); 2 images hold it in 64 registers per thread at 4 warps.
TILE = 2


def _reference(x, kernel, dtype):
    """The same convolution through im2col (its vjp is the backward pass)."""

    return im2col_conv(x, kernel, dtype)


def _pow2(n: int) -> int:
    return 1 << (n - 1).bit_length()


def _kernel(x_ref, w_ref, o_ref, *, kh, kw):
    tile, ho, wo, cout = o_ref.shape
    cin = x_ref.shape[-1]

    def one_tap(t, acc):  # a loop, not 25 unrolled matmuls: ptxas compiles it in seconds
        i, j = jax.lax.div(t, kw), jax.lax.rem(t, kw)  # (floor division lowers to selects Triton refuses)
        # the tap read from the ref (on chip / L1), never as a patches array in HBM
        tap = x_ref[:, pl.ds(i, ho), pl.ds(j, wo), :].reshape(tile * ho * wo, cin)
        return acc + jnp.dot(tap, w_ref[i, j], preferred_element_type=jnp.float32)
    acc = jax.lax.fori_loop(0, kh * kw, one_tap, jnp.zeros((tile * ho * wo, cout), jnp.float32))
    o_ref[...] = acc.reshape(tile, ho, wo, cout).astype(o_ref.dtype)


def _forward(x, kernel, dtype, interpret):
    kh, kw, cin, cout = kernel.shape
    b, h, w, _ = x.shape
    ho, wo = h - kh + 1, w - kw + 1
    tile = min(TILE, _pow2(b))
    # Triton wants every array a power of two and every dot operand at least 16 wide: zero-pad
    # images, spatial extent, channels and filters; the padded outputs are cut off below.
    hop, wop, cinp, coutp = _pow2(ho), _pow2(wo), max(16, _pow2(cin)), max(16, _pow2(cout))
    hp, wp = _pow2(hop + kh - 1), _pow2(wop + kw - 1)
    padded = -(-b // tile) * tile
    x = jnp.pad(x.astype(dtype), ((0, padded - b), (0, hp - h), (0, wp - w), (0, cinp - cin)))
    kernel = jnp.pad(kernel.astype(dtype), ((0, 0), (0, 0), (0, cinp - cin), (0, coutp - cout)))
    out = pl.pallas_call(
        functools.partial(_kernel, kh=kh, kw=kw),
        out_shape=jax.ShapeDtypeStruct((padded, hop, wop, coutp), dtype),
        grid=(padded // tile,),
        in_specs=[pl.BlockSpec((tile, hp, wp, cinp), lambda t: (t, 0, 0, 0)),
                  pl.BlockSpec((kh, kw, cinp, coutp), lambda t: (0, 0, 0, 0))],
        out_specs=pl.BlockSpec((tile, hop, wop, coutp), lambda t: (t, 0, 0, 0)),
        interpret=interpret,
        compiler_params=None if interpret else pltriton.CompilerParams(num_warps=4, num_stages=1),
    )(x, kernel)
    return out[:b, :ho, :wo, :cout]


def _kernel_grad_kernel(x_ref, g_ref, o_ref, *, tile):
    # one program per tap (i, j); the batch is the reduction, a tile of images at a time
    i, j = pl.program_id(0), pl.program_id(1)
    _, ho, wo, cout = g_ref.shape
    cin = x_ref.shape[-1]

    def one_tile(t, acc):
        tap = x_ref[pl.ds(t * tile, tile), pl.ds(i, ho), pl.ds(j, wo), :].reshape(tile * ho * wo, cin)
        grad = g_ref[pl.ds(t * tile, tile), :, :, :].reshape(tile * ho * wo, cout)
        return acc + jnp.dot(tap.T, grad, preferred_element_type=jnp.float32)
    acc = jax.lax.fori_loop(0, g_ref.shape[0] // tile, one_tile, jnp.zeros((cin, cout), jnp.float32))
    o_ref[...] = acc.reshape(1, 1, cin, cout)


def _kernel_grad(x, grad, kh, kw, dtype, interpret):
    """d loss / d kernel [kh, kw, cin, cout] in fp32: sum over images and positions of tap^T @ grad."""
    b, h, w, cin = x.shape
    _, ho, wo, cout = grad.shape
    tile = min(TILE, _pow2(b))
    hop, wop, cinp, coutp = _pow2(ho), _pow2(wo), max(16, _pow2(cin)), max(16, _pow2(cout))
    hp, wp, bp = _pow2(hop + kh - 1), _pow2(wop + kw - 1), max(tile, _pow2(b))
    x = jnp.pad(x.astype(dtype), ((0, bp - b), (0, hp - h), (0, wp - w), (0, cinp - cin)))
    grad = jnp.pad(grad.astype(dtype), ((0, bp - b), (0, hop - ho), (0, wop - wo), (0, coutp - cout)))
    out = pl.pallas_call(
        functools.partial(_kernel_grad_kernel, tile=tile),
        out_shape=jax.ShapeDtypeStruct((kh, kw, cinp, coutp), jnp.float32),
        grid=(kh, kw),
        in_specs=[pl.BlockSpec((bp, hp, wp, cinp), lambda i, j: (0, 0, 0, 0)),
                  pl.BlockSpec((bp, hop, wop, coutp), lambda i, j: (0, 0, 0, 0))],
        out_specs=pl.BlockSpec((1, 1, cinp, coutp), lambda i, j: (i, j, 0, 0)),
        interpret=interpret,
        compiler_params=None if interpret else pltriton.CompilerParams(num_warps=4, num_stages=1),
    )(x, grad)
    return out[:, :, :cin, :cout]


def _input_grad(grad, kernel, dtype, interpret):
    """d loss / d x: the full convolution of the output gradient with the flipped, transposed kernel."""
    kh, kw = kernel.shape[:2]
    padded = jnp.pad(grad, ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1), (0, 0)))
    return _forward(padded, kernel[::-1, ::-1].transpose(0, 1, 3, 2), dtype, interpret)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def pallas_conv(x, kernel, dtype=jnp.float32, interpret=None, xla_grads=False):
    """Valid, stride-1 convolution x [B, h, w, cin] * kernel [kh, kw, cin, cout] -> [B, h', w', cout] in dtype.

    interpret=None runs the Pallas interpreter on the CPU and compiles the kernel elsewhere; xla_grads
    takes the gradients from XLA (the im2col form's vjp) instead of the two Pallas gradient kernels.
    """
    return _forward(x, kernel, dtype, jax.default_backend() == "cpu" if interpret is None else interpret)


def _fwd(x, kernel, dtype, interpret, xla_grads):
    return pallas_conv(x, kernel, dtype, interpret, xla_grads), (x, kernel)


def _bwd(dtype, interpret, xla_grads, residuals, grad):
    x, kernel = residuals
    if xla_grads:
        _, vjp = jax.vjp(lambda a, k: _reference(a, k, dtype), x, kernel)
        return vjp(grad)
    interpret = jax.default_backend() == "cpu" if interpret is None else interpret
    kh, kw = kernel.shape[:2]
    dx = _input_grad(grad, kernel, dtype, interpret).astype(x.dtype)
    dk = _kernel_grad(x, grad, kh, kw, dtype, interpret).astype(kernel.dtype)
    return dx, dk


pallas_conv.defvjp(_fwd, _bwd)
