"""Training objectives for imbalance: each named loss is a registered Loss that sets the one parametrised
objective (losses/core.py), with its batch reduction and the head it needs. A new loss is one file in this
package with one `register` call; every module here is imported with the package.
"""
import dataclasses
import importlib
import pkgutil
from typing import Callable

from imbalance_jax.losses.core import (Objective, cosine_logits, effective_number_weights,  # noqa: F401
                                       inverse_frequency_weights, ldam_margins, loss, neutral)
from imbalance_jax.registry import Registry


@dataclasses.dataclass(frozen=True)
class Loss:
    """A named training objective: its parameters for a set's class counts, and how a batch's loss is reduced."""

    name: str
    # (class counts before sampling, config.losses, iterations) -> the network's Objective
    objective: Callable
    # the batch's weighted loss divided by its summed weights (as PyTorch's weighted cross_entropy does)
    # instead of by the batch size
    weighted_mean: bool = False
    needs_cosine_head: bool = False  # its logits are scaled cosines, which the model's head must offer
    label: str = ""  # the name figures and tables show for its method


LOSSES = Registry("loss")
register, get, names = LOSSES.register, LOSSES.get, LOSSES.names


def objective_for(name: str, class_counts, settings, iterations: int) -> Objective:
    """The Objective of a named loss for a training set with these class counts (before sampling)."""
    return get(name).objective(class_counts, settings, iterations)


for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "core"):
    importlib.import_module(f"{__name__}.{_module}")
