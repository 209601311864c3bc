"""Your data as it is: which remedy to use on an already imbalanced dataset, and how sure the study is.

  uv run python -m launch.study --config=configs/as_is.py --workdir=runs/mine \
      --config.dataset=folder:<train dir>,<test dir>@28

Every repetition trains each method on the dataset's own training split (its own class counts: nothing
balanced away, no imbalance imposed; thresholding divides by the training set's class shares), repetitions
differing in initial weights and sampling seeds; report.md opens with the method to use per metric (ROC
AUC, balanced accuracy, few-shot recall) and whether its lead is significant. The paper's trained methods
and the long-tail literature's main remedies, LeNet-5 with the paper's MNIST solver shortened for a CPU
(300 iterations of batch 32); 5 repetitions. docs/your_data.md walks through it. The default dataset is
the embedded digits (nearly balanced): give yours with --config.dataset.
"""
import ml_collections

from configs import quick

METHODS = (
    "baseline", "oversampling", "undersampling", "two_phase_oversampling", "thresholding",
    "oversampling_thresholding", "weighted_ce", "focal", "ldam_drw", "logit_adjusted", "balanced_softmax",
    "class_aware_sampling", "crt", "tau_normalization_tau1",
)


def get_config() -> ml_collections.ConfigDict:
    """Config of a study of the data as it is."""
    config = quick.get_config()
    config.imbalance.as_is = True
    config.imbalance.repetitions = 5
    config.train_per_class = 0
    config.test_per_class = 0  # the test split as it is
    config.methods = METHODS
    config.train.iterations = 300
    config.cohort_size = 0  # as many as fit
    config.steps_per_call = 50
    config.curve_every = 100
    return config
