"""Models by name."""
from imbalance_jax.models.allcnn import AllCNN
from imbalance_jax.models.lenet5 import LeNet5
from imbalance_jax.models.resnet10 import ResNet10

MODELS = {"lenet5": LeNet5, "allcnn": AllCNN, "resnet10": ResNet10}


# conv_impl='auto': under vmap, lax.conv with per-network kernels becomes a grouped convolution,
# which XLA:CPU runs 20-50x slower than im2col (measured: All-CNN 1.5 vs 42 img/s, LeNet-5 300 vs
# 7,500). On an H100 (docs/performance.md) im2col led for LeNet-5 (1.64M img/s at 1024 networks)
# and for All-CNN's 8-network cohorts (bf16 78.6k img/s against cuDNN's grouped fp32 25k); a single
# All-CNN is faster with cuDNN (116k bf16), so conv_impl='xla' stays one flag away. ResNet-10 keeps
# cuDNN: its 224x224 patches would be 49x the input for the 7x7 conv.
AUTO_CONV_IMPL = {"cpu": {}, "gpu": {"resnet10": "xla"}}


def resolve_conv_impl(conv_impl: str, model: str) -> str:
    """The conv lowering to use: conv_impl itself, or for 'auto' the measured choice for this backend."""
    if conv_impl != "auto":
        from imbalance_jax.models.layers import CONV_IMPLS

        per_layer = conv_impl.split("/")
        layers_named = 2 if model == "lenet5" else 1
        if any(impl not in CONV_IMPLS for impl in per_layer) or len(per_layer) > layers_named:
            raise ValueError(f"conv_impl={conv_impl!r} is unknown for {model}; use 'auto' or one of {CONV_IMPLS}"
                             + (" (or conv1's/conv2's, e.g. 'taps/im2col')" if model == "lenet5" else ""))
        return conv_impl
    import jax

    return AUTO_CONV_IMPL.get(jax.default_backend(), AUTO_CONV_IMPL["gpu"]).get(model, "im2col")


def get_model(name: str, **kwargs):
    """Returns the flax module called name, built with kwargs (conv_impl may be 'auto')."""
    if name not in MODELS:
        raise ValueError(f"model={name!r} is unknown; use one of {sorted(MODELS)}")
    if "conv_impl" in kwargs:
        kwargs["conv_impl"] = resolve_conv_impl(kwargs["conv_impl"], name)
    return MODELS[name](**kwargs)
