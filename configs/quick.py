"""The quick study: every method of the paper on the embedded digits dataset, minutes on a CPU.

  uv run python -m launch.study --config=configs/quick.py --workdir=runs/quick

A small step and linear grid (2 repetitions) of LeNet-5 networks with the paper's MNIST solver,
shortened to 300 iterations; digits has ~144 training images per class, so n_max is 144.
"""
import ml_collections

from configs import mnist


def get_config() -> ml_collections.ConfigDict:
    """Config of the quick study."""
    config = mnist.get_config()
    config.dataset = "digits"
    config.train_per_class = 0  # the smallest class's count (144)
    config.test_per_class = 0
    config.imbalance.step_rhos = (10, 50)
    config.imbalance.step_mus = (0.5,)
    config.imbalance.linear_rhos = (10,)
    config.imbalance.repetitions = 2
    config.train.iterations = 300
    config.cohort_size = 18
    config.steps_per_call = 100
    config.curve_every = 50
    return config
