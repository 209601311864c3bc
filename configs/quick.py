"""The quick study: every method of the paper on the embedded digits dataset, minutes on a CPU.

  uv run python -m launch.study --config=configs/quick.py --workdir=runs/quick

A small step and linear grid of LeNet-5 networks with the paper's MNIST solver: step rho 10 and 50
with 2, 5 and 8 minority classes, linear rho 10 and 50, 3 repetitions: 8 settings x 3 repetitions x
5 trained methods = 120 networks and 3 balanced references, one cohort per stage. Sized so that its
report tests what it can: 3 repetitions give every mean an interval and every comparison a test, and
8 settings let a 'most settings' sign test, Holm-corrected over conclusion 1's four comparisons, reach
significance (7 would be the least). Shortened for a 2-core CPU: 60 iterations of batch 32 (the
paper: 10,000 of 64), so its ROC AUCs sit well below a trained LeNet-5's; digits has ~144 training
images per class, so n_max is 144.
"""
import ml_collections

from configs import mnist


def get_config() -> ml_collections.ConfigDict:
    """Config of the quick study."""
    config = mnist.get_config()
    config.dataset = "digits"
    config.train_per_class = 0  # the smallest class's count (144)
    config.test_per_class = 0
    config.imbalance.step_rhos = (10, 50)  # ratios digits' 144 images per class hold in whole images
    config.imbalance.step_mus = (0.2, 0.5, 0.8)
    config.imbalance.linear_rhos = (10, 50)
    config.imbalance.repetitions = 3
    config.train.iterations = 60
    config.train.batch_size = 32
    config.cohort_size = 75
    config.steps_per_call = 20
    config.curve_every = 20
    return config
