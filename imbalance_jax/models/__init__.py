"""Models by name."""
from imbalance_jax.models.allcnn import AllCNN
from imbalance_jax.models.lenet5 import LeNet5
from imbalance_jax.models.resnet10 import ResNet10

MODELS = {"lenet5": LeNet5, "allcnn": AllCNN, "resnet10": ResNet10}


# conv_impl='auto': under vmap, lax.conv with per-network kernels becomes a grouped convolution,
# which XLA:CPU runs 20-50x slower than im2col (measured: All-CNN 1.5 vs 42 img/s, LeNet-5 300 vs
# 7,500); on GPUs im2col led for LeNet-5, and cuDNN's convolutions are kept for the larger models.
AUTO_CONV_IMPL = {"cpu": {}, "gpu": {"allcnn": "xla", "resnet10": "xla"}}


def resolve_conv_impl(conv_impl: str, model: str) -> str:
    """The conv lowering to use: conv_impl itself, or for 'auto' the measured choice for this backend."""
    if conv_impl != "auto":
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
