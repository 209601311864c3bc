"""How a network's training examples are chosen: each sampler a registered object with its behaviour.

A Sampler says which set a network trains on (the class counts it holds, and the draw that makes it from the
imbalanced set) and which batch rule walks that set on the device; a BatchRule gives the positions of a
network's batch at a step, one function for jax.numpy inside the compiled step and numpy in the host loaders.
A new sampler is one file in this package with its `register` calls; every module here is imported with it.
"""
import dataclasses
import importlib
import pkgutil
from typing import Callable, Optional

import jax.numpy as jnp
import numpy as np

from imbalance_jax.samplers import mechanics
from imbalance_jax.registry import Registry


@dataclasses.dataclass(frozen=True)
class BatchRule:
    """Positions of a network's batch in its (class-ordered) table row at a step:
    positions(step, batch_size, length, seed, class_offsets, class_counts, total_steps, xp) -> [batch_size]."""

    name: str
    positions: Callable


@dataclasses.dataclass(frozen=True)
class Sampler:
    """A way of choosing a network's training examples."""

    name: str
    # (class counts of the imbalanced set, target ratio) -> the counts of the set the network trains on
    counts: Callable = lambda counts, target_rho: np.asarray(counts, np.int64)
    # (labels of the imbalanced set, seed, target ratio) -> indices into it; None trains on the set itself
    draw: Optional[Callable] = None
    batches: str = "walk"  # the BatchRule drawing its batches
    method: str = ""  # a method that trains with this sampler alone, registered with it (imbalance_jax.methods)
    label: str = ""  # the name figures and tables show for that method


SAMPLERS, RULES = Registry("sampler"), Registry("batch rule")


def register(entry):
    """Adds a Sampler or a BatchRule by its name; returns it."""
    return (SAMPLERS if isinstance(entry, Sampler) else RULES).register(entry)


def get(name: Optional[str]) -> Sampler:
    """The Sampler called name (None: the imbalanced set as it is); an unknown name lists the known ones."""
    return SAMPLERS.get(name or "none")


def all_samplers() -> tuple:
    """Every registered Sampler, in registration order."""
    return SAMPLERS.values()


def rule_index(name: str) -> int:
    """The position of a batch rule in the compiled step's list of rules."""
    return RULES.names().index(name)


def network_batch(row, length, seed, step, batch_size: int, rule=0, class_offsets=None, class_counts=None,
                  total_steps=1, xp=jnp):
    """Dataset indices of one network's batch at a step: its table row walked by its batch rule (`rule`, an index
    into the registered rules; without class blocks, the plain walk)."""
    rules = RULES.values()
    if class_offsets is None:
        return row[rules[0].positions(step, batch_size, length, seed, None, None, total_steps, xp)]
    drawn = xp.stack([r.positions(step, batch_size, length, seed, class_offsets, class_counts, total_steps, xp)
                      for r in rules])
    return row[drawn[rule]]


def _walk(step, batch_size, length, seed, class_offsets, class_counts, total_steps, xp):
    return mechanics.batch_positions(step, batch_size, length, seed, xp)


# The permutation walk is rule 0: every network without class blocks walks it.
register(BatchRule("walk", _walk))
register(Sampler("none"))

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")
