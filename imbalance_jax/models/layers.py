"""Layers shared by the models: a convolution with a choice of lowering, and 2x2 max pooling."""
from typing import Any

import flax.linen as nn
import jax.numpy as jnp
from jax import lax

from imbalance_jax.losses.core import cosine_logits
from imbalance_jax.models.lowerings import CONV_IMPLS, im2col_conv, taps_conv

# Caffe's "xavier" filler with its default variance_norm FAN_IN: uniform in +-sqrt(3 / fan_in).
caffe_xavier = nn.initializers.variance_scaling(1.0, "fan_in", "uniform")

class Conv(nn.Module):
    """Square convolution with zero padding, Caffe-Xavier weights and zero bias; impl picks the lowering.

    Operands and output are in dtype (bf16 activations halve the bytes a memory-bound step
    moves); the matmul units accumulate in fp32 either way, and the weights stay fp32.
    """

    features: int
    kernel_size: int
    impl: str = "im2col"
    dtype: jnp.dtype = jnp.float32
    stride: int = 1
    padding: int = 0
    use_bias: bool = True
    kernel_init: Any = caffe_xavier

    @nn.compact
    def __call__(self, x):
        k = self.kernel_size
        kernel = self.param("kernel", self.kernel_init, (k, k, x.shape[-1], self.features))
        if self.impl == "im2col":
            y = im2col_conv(x, kernel, self.dtype, self.stride, self.padding)
        elif self.impl == "taps":
            y = taps_conv(x, kernel, self.dtype, self.stride, self.padding)
        elif self.impl in ("pallas", "pallas_fwd"):
            if self.stride != 1 or self.padding:
                raise ValueError(f"conv impl={self.impl!r} takes stride 1 and no padding; {self.name} has stride "
                                 f"{self.stride}, padding {self.padding}: use 'im2col' or 'xla' for it")
            # imported here: only this lowering pays for Pallas
            from imbalance_jax.models.pallas_conv import pallas_conv

            y = pallas_conv(x, kernel, self.dtype, None, self.impl == "pallas_fwd")
        elif self.impl == "xla":
            y = lax.conv_general_dilated(
                x.astype(self.dtype), kernel.astype(self.dtype), (self.stride, self.stride),
                [(self.padding, self.padding)] * 2, dimension_numbers=("NHWC", "HWIO", "NHWC"),
                preferred_element_type=self.dtype)
        else:
            raise ValueError(f"conv impl={self.impl!r} is unknown; use one of {CONV_IMPLS}")
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,)).astype(self.dtype)
        return y


class Dense(nn.Module):
    """Fully connected layer with Caffe-Xavier weights and zero bias; output in dtype, fp32 accumulation."""

    features: int
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", caffe_xavier, (x.shape[-1], self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        return jnp.dot(x.astype(self.dtype), kernel.astype(self.dtype),
                       preferred_element_type=self.dtype) + bias.astype(self.dtype)


def max_pool_2x2(x):
    """2x2 stride-2 max pooling as reshape + max (its gradient is cheaper than select_and_scatter)."""
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def cosine_head(dense: "Dense", features, cosine, scale):
    """fp32 logits: dense(features), or where `cosine` holds, scale * cos(features, dense's class weights) (LDAM)."""
    plain = dense(features).astype(jnp.float32)
    if cosine is False:  # statically off: skip the cosine logits entirely
        return plain

    cos = cosine_logits(features.astype(jnp.float32), dense.variables["params"]["kernel"])
    return jnp.where(cosine, scale * cos, plain)
