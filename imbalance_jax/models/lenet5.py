"""LeNet-5 as in Table 2 of the paper (Caffe's MNIST example network)."""
import flax.linen as nn
import jax.numpy as jnp

from imbalance_jax.models.layers import Conv, Dense, cosine_head, max_pool_2x2
from imbalance_jax.models.registry import ModelInterface, register


# Two-phase training fine-tunes the output layer (Section 3.2: "the last output layer"). conv_impl
# 'auto' takes im2col on every backend: on an H100 it led (1.64M img/s at 1024 networks, bf16).
@register("lenet5", ModelInterface(head="fc2", finetune_layers=("fc2",), cosine_head=True, conv_layers=2))
class LeNet5(nn.Module):
    """conv5x5(20) - pool - conv5x5(50) - pool - fc500 - ReLU - fc(num_classes); returns logits.

    The paper's Table 2 has no nonlinearity after the convolutions, as in Caffe's example.
    conv_impl is one lowering for both convolutions, or conv1's and conv2's as 'taps/im2col'.
    """

    num_classes: int = 10
    conv_impl: str = "im2col"
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False, cosine=False, scale=1.0):
        """Logits; where `cosine` (traced per network), scale * cos(features, fc2's class weights)."""
        conv1_impl, conv2_impl = self.conv_impl.split("/") if "/" in self.conv_impl else (self.conv_impl,) * 2
        x = max_pool_2x2(Conv(20, 5, conv1_impl, self.dtype, name="conv1")(x))
        x = max_pool_2x2(Conv(50, 5, conv2_impl, self.dtype, name="conv2")(x))
        x = x.reshape(x.shape[0], -1)
        x = nn.relu(Dense(500, self.dtype, name="fc1")(x))
        return cosine_head(Dense(self.num_classes, self.dtype, name="fc2"), x, cosine, scale)
