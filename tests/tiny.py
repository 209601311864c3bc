"""The tiny study the tests share (importable from a subprocess too)."""
from configs import quick


def tiny_config():
    """The quick study shrunk to seconds: one step setting, one repetition, 20 iterations."""
    config = quick.get_config()
    config.imbalance.step_rhos = (10,)
    config.imbalance.step_mus = (0.5,)
    config.imbalance.linear_rhos = ()
    config.imbalance.repetitions = 1
    config.train.iterations = 20
    config.steps_per_call = 10
    config.curve_every = 10
    config.cohort_size = 2
    return config


def get_config():
    """The tiny study as a config file (--config=tests/tiny.py), for the entry-point tests."""
    return tiny_config()
