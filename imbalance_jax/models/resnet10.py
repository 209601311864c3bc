"""ResNet-10 (Simon, Rodner & Denzler 2016) as in the paper's Fig. 2 and Section 3.3.3."""
import flax.linen as nn
import jax.numpy as jnp

from imbalance_jax.models.layers import Conv, Dense, cosine_head
from imbalance_jax.models.registry import ModelInterface, register

# Caffe's "msra" filler: zero-mean Gaussian with variance 2 / fan_in (Kaiming He et al. 2015).
kaiming = nn.initializers.variance_scaling(2.0, "fan_in", "normal")


class ResidualBlock(nn.Module):
    """Two 3x3 conv + batch norm layers with a shortcut (1x1 conv + BN where the shape changes)."""

    features: int
    stride: int
    conv_impl: str
    dtype: jnp.dtype

    @nn.compact
    def __call__(self, x, train: bool):
        norm = lambda name: nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,  # noqa: E731
                                         dtype=self.dtype, name=name)
        y = Conv(self.features, 3, self.conv_impl, self.dtype, self.stride, 1, False, kaiming, name="conv_a")(x)
        y = nn.relu(norm("bn_a")(y))
        y = Conv(self.features, 3, self.conv_impl, self.dtype, 1, 1, False, kaiming, name="conv_b")(y)
        y = norm("bn_b")(y)
        if self.stride != 1 or x.shape[-1] != self.features:
            x = Conv(self.features, 1, self.conv_impl, self.dtype, self.stride, 0, False, kaiming, name="proj")(x)
            x = norm("bn_proj")(x)
        return nn.relu(x + y)


# cuDNN everywhere: im2col of its 7x7 stem would write 49x the 224x224 input.
@register("resnet10", ModelInterface(head="fc", finetune_layers=("fc",), cosine_head=True,
                                     auto_conv_impl={"gpu": ("xla", "xla"), "tpu": ("xla", "xla")}))
class ResNet10(nn.Module):
    """conv 7x7/2 + BN + ReLU + max pool 3x3/2, four residual blocks (64, 128, 256, 512), GAP, fc."""

    num_classes: int = 1000
    conv_impl: str = "xla"
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False, cosine=False, scale=1.0):
        x = Conv(64, 7, self.conv_impl, self.dtype, 2, 3, False, kaiming, name="conv1")(x)
        x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=self.dtype,
                                 name="bn1")(x))
        x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
        for i, features in enumerate((64, 128, 256, 512)):
            x = ResidualBlock(features, 1 if i == 0 else 2, self.conv_impl, self.dtype, name=f"block{i + 1}")(x, train)
        x = x.mean(axis=(1, 2), dtype=jnp.float32)
        return cosine_head(Dense(self.num_classes, self.dtype, name="fc"), x, cosine, scale)
