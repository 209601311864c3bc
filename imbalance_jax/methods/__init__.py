"""Methods of addressing imbalance by name: a registry (registry.py), the paper's (paper.py) and
the long-tail remedies (longtail.py). A new method is one `register(Method(...))` call."""
from imbalance_jax.methods import longtail, paper  # noqa: F401 - registers them
from imbalance_jax.methods.longtail import LOSS_METHODS
from imbalance_jax.methods.paper import PAPER_METHODS
from imbalance_jax.methods.registry import (FIGURES, NO_REMEDY, REFERENCE, ROLES, ROS, RUS, Method, Scoring,
                                            Training, drawn_in, get, lookup, names, register, register_family,
                                            stage, thresholded, trained_networks, unregister, with_role)
