"""Models by name."""
from imbalance_jax.models.allcnn import AllCNN
from imbalance_jax.models.lenet5 import LeNet5
from imbalance_jax.models.resnet10 import ResNet10

MODELS = {"lenet5": LeNet5, "allcnn": AllCNN, "resnet10": ResNet10}


# conv_impl='auto': under vmap, lax.conv with per-network kernels becomes a grouped convolution,
# which XLA:CPU runs 20-50x slower than im2col (measured: All-CNN 1.5 vs 42 img/s, LeNet-5 300 vs
# 7,500). Per backend and model: (lowering for vmapped cohorts, lowering for networks stepped one
# at a time). On an H100 (docs/performance.md) im2col led for LeNet-5 (1.64M img/s at 1024
# networks); for All-CNN cuDNN's dense convolutions (one network at a time: 115.7k img/s for an
# 8-network cohort, bf16) beat im2col (78.6k vmapped), while vmapped cuDNN convolutions are grouped
# ones (25.0k fp32). ResNet-10 keeps cuDNN: its 7x7 patches would be 49x the 224x224 input.
AUTO_CONV_IMPL = {"cpu": {}, "gpu": {"allcnn": ("im2col", "xla"), "resnet10": ("xla", "xla")}}


def resolve_conv_impl(conv_impl: str, model: str, networks_per_vmap: int = 0) -> str:
    """The conv lowering to use: conv_impl itself, or for 'auto' the measured choice for this backend,
    model and cohort stepping (networks_per_vmap=1: one network at a time)."""
    if conv_impl != "auto":
        from imbalance_jax.models.layers import CONV_IMPLS

        per_layer = conv_impl.split("/")
        layers_named = 2 if model == "lenet5" else 1
        if any(impl not in CONV_IMPLS for impl in per_layer) or len(per_layer) > layers_named:
            raise ValueError(f"conv_impl={conv_impl!r} is unknown for {model}; use 'auto' or one of {CONV_IMPLS}"
                             + (" (or conv1's/conv2's, e.g. 'taps/im2col')" if model == "lenet5" else ""))
        return conv_impl
    import jax

    vmapped, alone = AUTO_CONV_IMPL.get(jax.default_backend(), AUTO_CONV_IMPL["gpu"]).get(model, ("im2col",) * 2)
    return alone if networks_per_vmap == 1 else vmapped


def get_model(name: str, networks_per_vmap: int = 0, **kwargs):
    """Returns the flax module called name, built with kwargs (conv_impl may be 'auto', resolved for
    cohorts stepped networks_per_vmap at a time)."""
    if name not in MODELS:
        raise ValueError(f"model={name!r} is unknown; use one of {sorted(MODELS)}")
    if "conv_impl" in kwargs:
        kwargs["conv_impl"] = resolve_conv_impl(kwargs["conv_impl"], name, networks_per_vmap)
    return MODELS[name](**kwargs)
