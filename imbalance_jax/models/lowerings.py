"""Convolution lowerings that vmap well: im2col (strided shifted slices concatenated on channels, one matmul)
and taps (a sum over the kernel's taps); lax.conv and the Pallas kernels are the others (layers.Conv picks)."""
import jax.numpy as jnp

CONV_IMPLS = ("xla", "im2col", "taps", "pallas", "pallas_fwd")


def _shifted_views(x, kh, kw, stride, padding):
    """The kh * kw strided views of x that a VALID convolution's taps read, in (i, j) order."""
    if padding:
        x = jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    h, w = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    return [x[:, i:i + stride * (h - 1) + 1:stride, j:j + stride * (w - 1) + 1:stride, :]
            for i in range(kh) for j in range(kw)]


def im2col_conv(x, kernel, dtype, stride=1, padding=0):
    """Conv as strided shifted slices concatenated on channels, then one matmul (no grouped conv under vmap)."""
    kh, kw, cin, cout = kernel.shape
    patches = jnp.concatenate(_shifted_views(x, kh, kw, stride, padding), axis=-1)
    return jnp.einsum("bhwk,ko->bhwo", patches.astype(dtype), kernel.reshape(kh * kw * cin, cout).astype(dtype),
                      preferred_element_type=dtype)


def taps_conv(x, kernel, dtype, stride=1, padding=0):
    """Conv as a sum over taps of shifted view x kernel tap: with one input channel, elementwise
    work XLA can fuse with the pooling, so no patches tensor is written (LeNet-5's conv1)."""
    kh, kw, cin, cout = kernel.shape
    taps = kernel.reshape(kh * kw, cin, cout)
    if cin == 1:  # fp32 multiply-adds: the sum of 25 products would lose bits in bf16
        y = sum(v.astype(jnp.float32) * taps[t, 0] for t, v in enumerate(_shifted_views(x, kh, kw, stride, padding)))
        return y.astype(dtype)
    return sum(jnp.einsum("bhwc,co->bhwo", v.astype(dtype), taps[t].astype(dtype), preferred_element_type=jnp.float32)
               for t, v in enumerate(_shifted_views(x, kh, kw, stride, padding))).astype(dtype)
