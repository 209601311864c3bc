"""The tiny study the tests share (importable from a subprocess too)."""
from configs import quick
from imbalance_jax.methods import PAPER_METHODS


def tiny_config():
    """The quick study shrunk to seconds: one step setting, one repetition, 20 iterations."""
    config = quick.get_config()
    config.imbalance.step_rhos = (10,)
    config.imbalance.step_mus = (0.5,)
    config.imbalance.linear_rhos = ()
    config.imbalance.repetitions = 1
    config.train.iterations = 20
    config.train.batch_size = 64  # the quick study's of 2026-11-29, which the pinned numbers were recorded with
    config.steps_per_call = 10
    config.curve_every = 10
    config.cohort_size = 2
    config.methods = PAPER_METHODS  # the tests' tiny study has no balanced reference
    return config


def get_config():
    """The tiny study as a config file (--config=tests/tiny.py), for the entry-point tests."""
    return tiny_config()


# Every family of method the registry knows, for the study whose numbers tests/data pins.
PINNED_METHODS = (
    "baseline", "oversampling", "undersampling", "two_phase_oversampling", "two_phase_undersampling",
    "thresholding", "oversampling_thresholding", "undersampling_thresholding", "oversampling_to_2",
    "weighted_ce", "focal", "ldam_drw", "class_aware_sampling", "crt", "posthoc_adjustment_tau0.5",
    "tau_normalization_tau1")


def pinned_config():
    """A fixed small study whose per-network ROC AUC and accuracy tests/data/pinned_study.json holds
    (recorded before the runner was rebuilt, so the rebuild is shown to change no number)."""
    config = tiny_config()
    config.methods = PINNED_METHODS
    config.train.iterations = 30
    config.cohort_size = 4
    return config
