"""Models by name: each model file registers its flax module with the interface it declares."""
from imbalance_jax.models import allcnn, lenet5, resnet10  # noqa: F401 - registers them
from imbalance_jax.models.allcnn import AllCNN
from imbalance_jax.models.lenet5 import LeNet5
from imbalance_jax.models.registry import MODELS, ModelInterface, get_model, interface_of, register, resolve_conv_impl
from imbalance_jax.models.resnet10 import ResNet10
