"""How a network's softmax becomes the scores a method is evaluated on: each kind a registered object.

softmax (the network's own), prior (the paper's thresholding: softmax / class prior), posthoc (softmax /
prior^tau, Menon et al. 2021) and tau_norm (the classifier's class weight vectors divided by their norm^tau,
Kang et al. 2020, scored by a second pass of the network with that head).
"""
import dataclasses
from typing import Callable

from imbalance_jax import metrics
from imbalance_jax.registry import Registry


@dataclasses.dataclass(frozen=True)
class ScoringKind:
    """scores(probs [n, C], prior [C], tau, head_probs) -> scores [n, C]; head_probs is the softmax of the network
    with its head transformed (transforms_head), else None."""

    name: str
    scores: Callable
    keeps_ranking: bool = False  # the softmax times a per-class constant: per-class AUC is the network's own
    transforms_head: bool = False  # scored through the network with its head tau-normalised


KINDS = Registry("scoring")
register, get = KINDS.register, KINDS.get


register(ScoringKind("softmax", lambda probs, prior, tau, head: probs))
register(ScoringKind("prior", lambda probs, prior, tau, head: metrics.threshold(probs, prior), keeps_ranking=True))
register(ScoringKind("posthoc", lambda probs, prior, tau, head: probs / prior ** tau, keeps_ranking=True))
register(ScoringKind("tau_norm", lambda probs, prior, tau, head: head, transforms_head=True))
