"""The quick study: every method of the paper on the embedded digits dataset, minutes on a CPU.

  uv run python -m launch.study --config=configs/quick.py --workdir=runs/quick

A small step and linear grid of LeNet-5 networks with the paper's MNIST solver: step rho 10 and 100
with 2 and 5 minority classes, linear rho 10 and 100, 2 repetitions, so every figure has two x
values per curve and every mean a sample sd (12 imbalanced sets x 5 trained methods = 60 networks,
and 2 balanced references, in one cohort per stage). Shortened for a 2-core CPU: 100 iterations of
batch 32 (the paper: 10,000 of 64); digits has ~144 training images per class, so n_max is 144.
"""
import ml_collections

from configs import mnist


def get_config() -> ml_collections.ConfigDict:
    """Config of the quick study."""
    config = mnist.get_config()
    config.dataset = "digits"
    config.train_per_class = 0  # the smallest class's count (144)
    config.test_per_class = 0
    config.imbalance.step_rhos = (10, 100)
    config.imbalance.step_mus = (0.2, 0.5)
    config.imbalance.linear_rhos = (10, 100)
    config.imbalance.repetitions = 2
    config.train.iterations = 100
    config.train.batch_size = 32
    config.cohort_size = 38
    config.steps_per_call = 50
    config.curve_every = 50
    return config
