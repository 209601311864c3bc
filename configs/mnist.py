"""The paper's MNIST study (Section 3.3.1): 4,500 imbalanced sets x 5 trained methods = 22,500 LeNet-5,
and the balanced reference (Section 4.3): one LeNet-5 per repetition on the balanced set, 50 more.

  uv run python -m launch.study --config=configs/mnist.py --workdir=runs/mnist
  uv run python -m launch.study --config=configs/mnist.py --workdir=runs/fashion \
      --config.dataset=idx:/usr/share/datasets/fashion-mnist

--config.dataset takes mnist, fashion_mnist (TFDS) or idx:<dir> (MNIST-format files). Every key is at its
default, and imbalance_jax/config_schema.py says what each means, its allowed values and whether changing
it changes a trained network: 5000 training images per class (Table 1), rho in {10, ..., 5000} x mu in
{0.1, ..., 0.9} and linear imbalance at the same rho, 50 repetitions, Caffe's SGD with the inv policy for
10,000 iterations of batch 64.
"""
import ml_collections

from imbalance_jax import config_schema


def get_config() -> ml_collections.ConfigDict:
    """Config of the paper's full MNIST grid."""
    return config_schema.defaults()
