"""Section 4.5 / Fig. 7 as the paper ran it: MNIST at rho = 1000, every number of minority classes of
the grid, oversampling and undersampling to reduced imbalance ratios between 1 and 1000.

  uv run python -m launch.study --config=configs/mnist_fig7.py --workdir=runs/mnist_fig7
  uv run python -m launch.study --config=configs/mnist_fig7.py:reduced_only --workdir=runs/mnist_fig7_reduced

9 step settings x 50 repetitions x (3 + 2 x 8 reduced-ratio) trained methods = 8,550 LeNet-5
(`launch.plan --config=configs/mnist_fig7.py` says what that takes here). Fig. 7 is drawn per rho,
so a grown grid (more step_rhos) gets a row of panels per rho.
"""
import ml_collections

from configs import mnist

# Log-spaced ratios between 1 (full sampling: 'oversampling', 'undersampling') and rho (the baseline).
REDUCED_RATIOS = (2, 5, 10, 20, 50, 100, 200, 500)


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """Config of the paper's Fig. 7 study; variant 'reduced_only': sampling to the ratios 2, 10 and 100 alone,
    for a union with a grid study that holds the baseline and full sampling at rho = 1000."""
    if variant not in ("", "reduced_only"):
        raise ValueError(f"--config=configs/mnist_fig7.py:{variant}: no such variant; use :reduced_only or none")
    config = mnist.get_config()
    config.imbalance.step_rhos = (1000,)
    config.imbalance.linear_rhos = ()
    full = () if variant else ("baseline", "oversampling", "undersampling")
    ratios = (2, 10, 100) if variant else REDUCED_RATIOS
    config.methods = (*full, *[f"{kind}_to_{r}" for kind in ("oversampling", "undersampling") for r in ratios])
    return config
