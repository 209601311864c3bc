"""Models by name."""
from imbalance_jax.models.allcnn import AllCNN
from imbalance_jax.models.lenet5 import LeNet5
from imbalance_jax.models.resnet10 import ResNet10

MODELS = {"lenet5": LeNet5, "allcnn": AllCNN, "resnet10": ResNet10}


def get_model(name: str, **kwargs):
    """Returns the flax module called name, built with kwargs."""
    if name not in MODELS:
        raise ValueError(f"model={name!r} is unknown; use one of {sorted(MODELS)}")
    return MODELS[name](**kwargs)
