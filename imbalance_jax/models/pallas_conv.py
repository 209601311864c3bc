"""Convolutions that never write their im2col patches: Pallas kernels (stride 1, no padding) with their gradients.

conv2 of LeNet-5 (cin > 1) is an implicit GEMM: each program holds a tile of images [tile, h, w, cin]
and the whole kernel [kh, kw, cin, cout] and accumulates the kh * kw shifted tap matmuls in fp32, so
the patches tensor that im2col writes to memory never exists. Its input gradient reads the unpadded
output gradient: a program per ROWS positions of the input gradient (flattened over images) gathers,
for each tap, the output gradient at (y - i, x - j) with masked loads and multiplies it by the tap's
transposed kernel [cout, cin] (padding the output gradient to full size in memory for the forward
kernel, the first version, cost 7x the positions and 3x the channels). Its kernel gradient is a
program per tap reducing over the batch.

conv1 (cin == 1) has one input channel, so each tap is an outer product of a pixel column and the
tap's filters: a program per ROWS output positions accumulates the 25 broadcast multiply-adds in
fp32. Its kernel gradient gathers the patches of ROWS positions on chip and reduces patches^T @ grad
over the batch in a few programs; its input gradient (of the data, never used in training) is XLA's,
which jit drops when nothing reads it.

Under a cohort's vmap, pallas_call's batching adds the network axis to the grid: one network's
weights per program. `xla_grads=True` takes XLA's gradients (the im2col form's vjp) instead. On
NVIDIA GPUs the kernels lower to Triton, which wants power-of-two arrays: blocks are padded to powers
of two and their loads and stores masked (the implicit GEMM still pads its arrays). On the CPU they
run in Pallas' interpret mode (tests only). Measured on an H200 (docs/performance.md): the implicit
GEMM with the padded input gradient was not faster than im2col; the row kernels are not measured yet.
"""
import functools

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as pltriton

from imbalance_jax.models.lowerings import im2col_conv

# Images per program. The fp32 accumulator is tile x 8 x 8 x 64 for LeNet-5's conv2: 8 images
# (32k floats) left ptxas without registers for the H200's wgmma pipeline (and compiling for over a
# minute); 2 images hold it in 64 registers per thread at 4 warps.
TILE = 2
# Output positions per program of the row kernels (flattened over images, so no position is padded
# but the last program's): an fp32 accumulator of ROWS x 32, the implicit GEMM's 8k floats.
ROWS = 256
# Programs per network reducing conv1's kernel gradient over the batch: a partial sum each, added by XLA.
KERNEL_GRAD_PROGRAMS = 8


def _reference(x, kernel, dtype):
    """The same convolution through im2col (its vjp is the backward pass)."""

    return im2col_conv(x, kernel, dtype)


def _pow2(n: int) -> int:
    return 1 << (n - 1).bit_length()


def _compiler_params(interpret):
    return None if interpret else pltriton.CompilerParams(num_warps=4, num_stages=1)


def _interpret(interpret):
    return jax.default_backend() == "cpu" if interpret is None else interpret


def _kernel(x_ref, w_ref, o_ref, *, kh, kw):
    tile, ho, wo, cout = o_ref.shape
    cin = x_ref.shape[-1]

    def one_tap(t, acc):  # a loop, not 25 unrolled matmuls: ptxas compiles it in seconds
        i, j = lax.div(t, kw), lax.rem(t, kw)  # (floor division lowers to selects Triton refuses)
        # the tap read from the ref (on chip / L1), never as a patches array in HBM
        tap = x_ref[:, pl.ds(i, ho), pl.ds(j, wo), :].reshape(tile * ho * wo, cin)
        return acc + jnp.dot(tap, w_ref[i, j], preferred_element_type=jnp.float32)
    acc = lax.fori_loop(0, kh * kw, one_tap, jnp.zeros((tile * ho * wo, cout), jnp.float32))
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
        compiler_params=_compiler_params(interpret),
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
    acc = lax.fori_loop(0, g_ref.shape[0] // tile, one_tile, jnp.zeros((cin, cout), jnp.float32))
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
        compiler_params=_compiler_params(interpret),
    )(x, grad)
    return out[:, :, :cin, :cout]


def _positions(r, total, area, width):
    """Flattened positions r (over images, area = height x width each) as (live, image, y, x)."""
    pos = lax.rem(r, area)
    return r < total, lax.div(r, area), lax.div(pos, width), lax.rem(pos, width)


def _store_rows(o_ref, live, value, width):
    """The row kernels' store of value [ROWS, padded width] into their block of the [positions, width] output.

    The block is padded past the array (Triton wants powers of two), so the mask is what keeps padded
    rows and channels from writing: on a card into the next rows or past the array, in the interpreter
    into padding it drops (only a card would show a missing mask here).
    """
    c = jnp.arange(value.shape[1])[None, :]
    pltriton.store(o_ref, value.astype(o_ref.dtype), mask=live[:, None] & (c < width))


def _input_grad_kernel(g_ref, w_ref, o_ref, *, h, w, ho, wo, kw, taps, total, cin):
    _, coutp, cinp = w_ref.shape
    cout = g_ref.shape[1]
    live, img, y, x = _positions(pl.program_id(0) * ROWS + jnp.arange(ROWS), total, h * w, w)
    o = jnp.arange(coutp)[None, :]

    def one_tap(t, acc):
        i, j = lax.div(t, kw), lax.rem(t, kw)
        gy, gx = y - i, x - j
        inside = live & (gy >= 0) & (gy < ho) & (gx >= 0) & (gx < wo)
        # masked lanes read row 0: no pointer leaves the array, and the interpreter's gather agrees
        src = jnp.where(inside, img * (ho * wo) + gy * wo + gx, 0)[:, None]
        grad = pltriton.load(g_ref.at[src, jnp.minimum(o, cout - 1)], mask=inside[:, None] & (o < cout), other=0)
        return acc + jnp.dot(grad, w_ref[t], preferred_element_type=jnp.float32)
    _store_rows(o_ref, live, lax.fori_loop(0, taps, one_tap, jnp.zeros((ROWS, cinp), jnp.float32)), cin)


def _input_grad(grad, kernel, dtype, interpret):
    """d loss / d x: for each position of x, the taps' output gradients at (y - i, x - j) @ kernel[i, j]^T."""
    kh, kw, cin, cout = kernel.shape
    b, ho, wo, _ = grad.shape
    h, w = ho + kh - 1, wo + kw - 1
    cinp, coutp = max(16, _pow2(cin)), max(16, _pow2(cout))
    total = b * h * w
    # only the kernel (25 x 50 x 20) is padded in memory; the output gradient is read as it is
    taps = jnp.pad(kernel.astype(dtype).transpose(0, 1, 3, 2).reshape(kh * kw, cout, cin),
                   ((0, 0), (0, coutp - cout), (0, cinp - cin)))
    g = grad.astype(dtype).reshape(b * ho * wo, cout)
    out = pl.pallas_call(
        functools.partial(_input_grad_kernel, h=h, w=w, ho=ho, wo=wo, kw=kw, taps=kh * kw, total=total, cin=cin),
        out_shape=jax.ShapeDtypeStruct((total, cin), dtype),
        grid=(-(-total // ROWS),),
        in_specs=[pl.BlockSpec(g.shape, lambda r: (0, 0)),
                  pl.BlockSpec(taps.shape, lambda r: (0, 0, 0))],
        out_specs=pl.BlockSpec((ROWS, cinp), lambda r: (r, 0)),
        interpret=interpret,
        compiler_params=_compiler_params(interpret),
    )(g, taps)
    return out.reshape(b, h, w, cin)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def implicit_gemm_conv(x, kernel, dtype=jnp.float32, interpret=None, xla_grads=False):
    """pallas_conv for cin > 1: an implicit GEMM with its input-gradient and kernel-gradient kernels."""
    return _forward(x, kernel, dtype, _interpret(interpret))


def _gemm_fwd(x, kernel, dtype, interpret, xla_grads):
    return implicit_gemm_conv(x, kernel, dtype, interpret, xla_grads), (x, kernel)


def _gemm_bwd(dtype, interpret, xla_grads, residuals, grad):
    x, kernel = residuals
    if xla_grads:
        _, vjp = jax.vjp(lambda a, k: _reference(a, k, dtype), x, kernel)
        return vjp(grad)
    interpret = _interpret(interpret)
    kh, kw = kernel.shape[:2]
    dx = _input_grad(grad, kernel, dtype, interpret).astype(x.dtype)
    dk = _kernel_grad(x, grad, kh, kw, dtype, interpret).astype(kernel.dtype)
    return dx, dk


implicit_gemm_conv.defvjp(_gemm_fwd, _gemm_bwd)


def _conv1_kernel(x_ref, w_ref, o_ref, *, h, w, ho, wo, kw, taps, total, cout):
    coutp = w_ref.shape[1]
    live, img, y, x = _positions(pl.program_id(0) * ROWS + jnp.arange(ROWS), total, ho * wo, wo)
    corner = jnp.where(live, img * (h * w) + y * w + x, 0)  # x's flat index of tap (0, 0)

    def one_tap(t, acc):  # an outer product: [rows] pixels x [cout] filters, in fp32
        pixel = pltriton.load(x_ref.at[corner + lax.div(t, kw) * w + lax.rem(t, kw)], mask=live, other=0)
        return acc + pixel.astype(jnp.float32)[:, None] * w_ref[t].astype(jnp.float32)[None, :]
    _store_rows(o_ref, live, lax.fori_loop(0, taps, one_tap, jnp.zeros((ROWS, coutp), jnp.float32)), cout)


def _conv1_forward(x, kernel, dtype, interpret):
    kh, kw, _, cout = kernel.shape
    b, h, w, _ = x.shape
    ho, wo = h - kh + 1, w - kw + 1
    total, coutp = b * ho * wo, max(16, _pow2(cout))
    filters = jnp.pad(kernel.astype(dtype).reshape(kh * kw, cout), ((0, 0), (0, coutp - cout)))  # [taps, coutp]
    out = pl.pallas_call(
        functools.partial(_conv1_kernel, h=h, w=w, ho=ho, wo=wo, kw=kw, taps=kh * kw, total=total, cout=cout),
        out_shape=jax.ShapeDtypeStruct((total, cout), dtype),
        grid=(-(-total // ROWS),),
        in_specs=[pl.BlockSpec((b * h * w,), lambda r: (0,)),
                  pl.BlockSpec((kh * kw, coutp), lambda r: (0, 0))],
        out_specs=pl.BlockSpec((ROWS, coutp), lambda r: (r, 0)),
        interpret=interpret,
        compiler_params=_compiler_params(interpret),
    )(x.astype(dtype).reshape(b * h * w), filters)
    return out.reshape(b, ho, wo, cout)


def _conv1_kernel_grad_kernel(x_ref, g_ref, o_ref, *, h, w, ho, wo, kw, taps, total, cout, programs, steps):
    _, tapsp, coutp = o_ref.shape
    t, o = jnp.arange(tapsp)[None, :], jnp.arange(coutp)[None, :]
    shift = jnp.where(t < taps, lax.div(t, kw) * w + lax.rem(t, kw), 0)  # each tap's offset from the corner
    first = pl.program_id(0)

    def one_chunk(n, acc):  # chunks s, s + programs, s + 2 * programs, ... of ROWS positions each
        r = (first + n * programs) * ROWS + jnp.arange(ROWS)
        live, img, y, x = _positions(r, total, ho * wo, wo)
        corner = jnp.where(live, img * (h * w) + y * w + x, 0)[:, None]
        patches = pltriton.load(x_ref.at[corner + shift], mask=live[:, None] & (t < taps), other=0)
        grad = pltriton.load(g_ref.at[jnp.where(live, r, 0)[:, None], jnp.minimum(o, cout - 1)],
                             mask=live[:, None] & (o < cout), other=0)
        return acc + jnp.dot(patches.T, grad, preferred_element_type=jnp.float32)
    o_ref[...] = lax.fori_loop(0, steps, one_chunk, jnp.zeros((tapsp, coutp), jnp.float32))[None]


def _conv1_kernel_grad(x, grad, kh, kw, dtype, interpret):
    """d loss / d kernel [kh, kw, 1, cout] in fp32: partial sums of patches^T @ grad over chunks of positions."""
    b, h, w, _ = x.shape
    _, ho, wo, cout = grad.shape
    total, tapsp, coutp = b * ho * wo, max(16, _pow2(kh * kw)), max(16, _pow2(cout))
    chunks = -(-total // ROWS)
    programs = min(KERNEL_GRAD_PROGRAMS, chunks)
    out = pl.pallas_call(
        functools.partial(_conv1_kernel_grad_kernel, h=h, w=w, ho=ho, wo=wo, kw=kw, taps=kh * kw, total=total,
                          cout=cout, programs=programs, steps=-(-chunks // programs)),
        out_shape=jax.ShapeDtypeStruct((programs, tapsp, coutp), jnp.float32),
        grid=(programs,),
        in_specs=[pl.BlockSpec((b * h * w,), lambda s: (0,)),
                  pl.BlockSpec((total, cout), lambda s: (0, 0))],
        out_specs=pl.BlockSpec((1, tapsp, coutp), lambda s: (s, 0, 0)),
        interpret=interpret,
        compiler_params=_compiler_params(interpret),
    )(x.astype(dtype).reshape(b * h * w), grad.astype(dtype).reshape(total, cout))
    return out.sum(0)[:kh * kw, :cout].reshape(kh, kw, 1, cout)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def single_channel_conv(x, kernel, dtype=jnp.float32, interpret=None, xla_grads=False):
    """pallas_conv for cin == 1: tap outer products in fp32, with a kernel-gradient kernel (dx is XLA's)."""
    return _conv1_forward(x, kernel, dtype, _interpret(interpret))


def _conv1_fwd(x, kernel, dtype, interpret, xla_grads):
    return single_channel_conv(x, kernel, dtype, interpret, xla_grads), (x, kernel)


def _conv1_bwd(dtype, interpret, xla_grads, residuals, grad):
    x, kernel = residuals
    # the gradient of the data: XLA's, for completeness; jit drops it where nothing reads it (LeNet-5's conv1)
    dx = jax.vjp(lambda a: _reference(a, kernel, dtype), x)[1](grad)[0]
    if xla_grads:
        return dx, jax.vjp(lambda k: _reference(x, k, dtype), kernel)[1](grad)[0]
    kh, kw = kernel.shape[:2]
    return dx, _conv1_kernel_grad(x, grad, kh, kw, dtype, _interpret(interpret)).astype(kernel.dtype)


single_channel_conv.defvjp(_conv1_fwd, _conv1_bwd)


def pallas_conv(x, kernel, dtype=jnp.float32, interpret=None, xla_grads=False):
    """Valid, stride-1 convolution x [B, h, w, cin] * kernel [kh, kw, cin, cout] -> [B, h', w', cout] in dtype.

    One input channel takes the outer-product kernel, more the implicit GEMM. interpret=None runs the
    Pallas interpreter on the CPU and compiles the kernels elsewhere; xla_grads takes the gradients
    from XLA (the im2col form's vjp) instead of the Pallas gradient kernels.
    """
    conv = single_channel_conv if kernel.shape[2] == 1 else implicit_gemm_conv
    return conv(x, kernel, dtype, interpret, xla_grads)
