"""All-CNN-C (Springenberg et al. 2014) as in Table 3 of the paper."""
import flax.linen as nn
import jax.numpy as jnp

from imbalance_jax.models.layers import Conv
from imbalance_jax.models.registry import ModelInterface, register

# (features, kernel, stride, padding) of the nine convolutions, each followed by ReLU.
ALLCNN_LAYERS = ((96, 3, 1, 1), (96, 3, 1, 1), (96, 3, 2, 1), (192, 3, 1, 1), (192, 3, 1, 1),
                 (192, 3, 2, 1), (192, 3, 1, 0), (192, 1, 1, 0))


# Two-phase training fine-tunes the two 1x1 convolutions (Section 3.3.2); no fully connected head, so
# no cosine logits (LDAM needs lenet5 or resnet10). On an H100 (docs/performance.md) cuDNN's dense
# convolutions, one network at a time (115.7k img/s for an 8-network cohort, bf16), beat im2col
# (78.6k vmapped), while vmapped cuDNN convolutions are grouped ones (25.0k fp32).
@register("allcnn", ModelInterface(head="conv9", finetune_layers=("conv8", "conv9"), cosine_head=False,
                                   auto_conv_impl={"gpu": ("im2col", "xla"), "tpu": ("im2col", "xla")}))
class AllCNN(nn.Module):
    """Dropout 0.2 on the input, 0.5 after each stride-2 conv; 1x1 convs; global average pooling."""

    num_classes: int = 10
    conv_impl: str = "xla"
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False, cosine=False, scale=1.0):
        x = nn.Dropout(0.2, deterministic=not train)(x)
        for i, (features, kernel, stride, padding) in enumerate(ALLCNN_LAYERS):
            x = nn.relu(Conv(features, kernel, self.conv_impl, self.dtype, stride, padding, name=f"conv{i + 1}")(x))
            if stride == 2:
                x = nn.Dropout(0.5, deterministic=not train)(x)
        # Table 3 ends with a ReLU after the last 1x1 conv too, then 6x6 average pooling.
        x = nn.relu(Conv(self.num_classes, 1, self.conv_impl, self.dtype, name="conv9")(x))
        return x.mean(axis=(1, 2), dtype=jnp.float32)
