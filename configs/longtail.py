"""Every remedy, the paper's and the long-tail literature's, on exponential (long-tail) imbalance.

  uv run python -m launch.study --config=configs/longtail.py --workdir=runs/longtail
  uv run python -m launch.study --config=configs/longtail.py --workdir=runs/longtail_fashion \
      --config.dataset=idx:/usr/share/datasets/fashion-mnist --config.train.iterations=10000

rho in {10, 100}, n_c = n_max * rho^(-(C-1-c)/(C-1)), LeNet-5 with the paper's MNIST solver.
The default (digits, 100 iterations) runs in a few minutes on a CPU; any MNIST-format dataset
works (--config.dataset=mnist, fashion_mnist, idx:<dir>, npz:<file>, folder:<dir>@28).
"""
import ml_collections

from configs import quick

REMEDIES = (
    "baseline", "oversampling", "undersampling", "thresholding", "oversampling_thresholding",
    "weighted_ce", "effective_number_ce", "focal", "ldam_drw", "logit_adjusted", "balanced_softmax",
    "class_aware_sampling", "sqrt_sampling", "crt",
    "posthoc_adjustment_tau0.5", "posthoc_adjustment_tau1", "posthoc_adjustment_tau1.5",
    "tau_normalization_tau0.5", "tau_normalization_tau1",
)


def get_config() -> ml_collections.ConfigDict:
    """Config of the long-tail comparison."""
    config = quick.get_config()
    config.imbalance.step_rhos = ()
    config.imbalance.step_mus = ()
    config.imbalance.linear_rhos = ()
    config.imbalance.exponential_rhos = (10, 100)
    config.imbalance.repetitions = 2
    config.methods = REMEDIES
    config.train.iterations = 100  # the quick study's training before it was shortened to 60
    config.steps_per_call = 50
    config.cohort_size = 0  # as many as fit
    config.curve_every = 0
    return config
