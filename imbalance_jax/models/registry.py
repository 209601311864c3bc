"""Models by name, each declaring the interface the runner relies on (no guessing from parameter names)."""
from typing import NamedTuple

import flax.linen as nn

from imbalance_jax.models.lowerings import CONV_IMPLS
from imbalance_jax.registry import Registry


class ModelInterface(NamedTuple):
    """What a model declares about itself."""

    head: str  # the classifier layer (its kernel's last axis is the classes): tau-normalisation, cRT
    finetune_layers: tuple  # the layers a fine-tuning stage (two-phase, cRT) trains
    cosine_head: bool  # its head can give cosine logits (LDAM)
    # conv_impl='auto' per backend: (lowering for vmapped cohorts, for networks stepped one at a time);
    # a backend not listed takes ('im2col', 'im2col').
    auto_conv_impl: dict = {}
    conv_layers: int = 1  # how many per-layer lowerings conv_impl may name ('taps/im2col' for 2)


MODELS = Registry("model")  # flax module classes by name, each carrying its ModelInterface as `interface`


def register(name: str, interface: ModelInterface):
    """Class decorator: makes a flax module available as config.model=name, with its interface."""
    def wrap(cls: type[nn.Module]) -> type[nn.Module]:
        cls.interface = interface
        return MODELS.register(cls, name)
    return wrap


def interface_of(name: str) -> ModelInterface:
    """The interface a registered model declared."""
    return MODELS.get(name).interface


def resolve_conv_impl(conv_impl: str, model: str, networks_per_vmap: int = 0) -> str:
    """The conv lowering to use: conv_impl itself, or for 'auto' the model's measured choice for this
    backend and cohort stepping (networks_per_vmap=1: one network at a time)."""
    interface = interface_of(model)
    if conv_impl != "auto":
        per_layer = conv_impl.split("/")
        if any(impl not in CONV_IMPLS for impl in per_layer) or len(per_layer) > interface.conv_layers:
            raise ValueError(f"conv_impl={conv_impl!r} is unknown for {model}; use 'auto' or one of {CONV_IMPLS}"
                             + (" (or one per conv layer, e.g. 'taps/im2col')" if interface.conv_layers > 1 else ""))
        return conv_impl
    import jax

    vmapped, alone = interface.auto_conv_impl.get(jax.default_backend(), ("im2col", "im2col"))
    return alone if networks_per_vmap == 1 else vmapped


def get_model(name: str, networks_per_vmap: int = 0, **kwargs):
    """Returns the flax module called name, built with kwargs (conv_impl may be 'auto', resolved for
    cohorts stepped networks_per_vmap at a time)."""
    model = MODELS.get(name)
    if "conv_impl" in kwargs:
        kwargs["conv_impl"] = resolve_conv_impl(kwargs["conv_impl"], name, networks_per_vmap)
    return model(**kwargs)
