"""The study's methods by name: which network each needs trained and how it is evaluated.

The paper's (Section 3.2): baseline, oversampling, undersampling, oversampling_to_<rho> and
undersampling_to_<rho> (partial sampling, Section 4.5), two_phase_oversampling and
two_phase_undersampling (fine-tune the output layer of the sampled network on the imbalanced
set), and the evaluation-only thresholding, oversampling_thresholding, undersampling_thresholding
(softmax divided by the imbalanced set's class priors).

Since 2018 (each trains through the same cohorts): the losses weighted_ce, effective_number_ce,
focal, ldam_drw, logit_adjusted, balanced_softmax (imbalance_jax.losses); class_aware_sampling
(every mini-batch class-balanced), sqrt_sampling (class frequencies ~ sqrt(n_c)), crt (classifier
re-training: the baseline's output layer re-trained with class-aware sampling); and the
evaluation-only posthoc_adjustment_tau<t> (softmax / prior^t; t = 1 is thresholding) and
tau_normalization_tau<t> (the baseline's class weight vectors divided by their norm^t).
"""
import re
from typing import NamedTuple, Optional

from imbalance_jax.losses import LOSSES

PAPER_METHODS = (
    "baseline", "oversampling", "undersampling", "two_phase_oversampling",
    "two_phase_undersampling", "thresholding", "oversampling_thresholding",
    "undersampling_thresholding",
)
LOSS_METHODS = tuple(name for name in LOSSES if name != "cross_entropy")
_NUMBER = r"(\d+(?:\.\d+)?)"
_PARTIAL = re.compile(rf"^(oversampling|undersampling)_to_{_NUMBER}$")
_POSTHOC = re.compile(rf"^posthoc_adjustment_tau{_NUMBER}$")
_TAU_NORM = re.compile(rf"^tau_normalization_tau{_NUMBER}$")
_THRESHOLDED = {"thresholding": "baseline", "oversampling_thresholding": "oversampling",
                "undersampling_thresholding": "undersampling"}
_TWO_PHASE = {"two_phase_oversampling": "oversampling", "two_phase_undersampling": "undersampling"}
EVALUATIONS = ("softmax", "threshold", "posthoc", "tau_norm")


class Method(NamedTuple):
    """How one reported method is produced."""

    name: str
    network: str  # the trained network it reads (itself for a trained method)
    sampler: Optional[str]  # None | 'oversample' | 'undersample' | 'class_aware' | 'sqrt'
    target_rho: float = 1.0
    parent: Optional[str] = None  # fine-tuned from this network (two-phase, cRT)
    loss: str = "cross_entropy"
    evaluation: str = "softmax"  # how the network's softmax becomes scores: one of EVALUATIONS
    tau: float = 1.0  # of posthoc and tau_norm

    @property
    def thresholded(self) -> bool:
        """Scores divided by the class priors (the paper's thresholding)."""
        return self.evaluation == "threshold"


def parse(name: str) -> Method:
    """The Method called name; an unknown name is a ValueError listing the valid ones."""
    if name == "baseline":
        return Method(name, name, None)
    if name in ("oversampling", "undersampling"):
        return Method(name, name, name.replace("ing", "e"))
    if name in _THRESHOLDED:
        return Method(name, _THRESHOLDED[name], None, evaluation="threshold")
    if name in _TWO_PHASE:
        return Method(name, name, None, parent=_TWO_PHASE[name])
    if name in LOSS_METHODS:
        return Method(name, name, None, loss=name)
    if name == "class_aware_sampling":
        return Method(name, name, "class_aware")
    if name == "sqrt_sampling":
        return Method(name, name, "sqrt")
    if name == "crt":
        return Method(name, name, "class_aware", parent="baseline")
    for pattern, evaluation in ((_POSTHOC, "posthoc"), (_TAU_NORM, "tau_norm")):
        match = pattern.match(name)
        if match:
            return Method(name, "baseline", None, evaluation=evaluation, tau=float(match.group(1)))
    match = _PARTIAL.match(name)
    if match:
        target = float(match.group(2))
        if target < 1:
            raise ValueError(f"method {name!r}: the target ratio must be >= 1")
        return Method(name, name, match.group(1).replace("ing", "e"), target_rho=target)
    raise ValueError(
        f"method={name!r} is unknown; use one of {', '.join(PAPER_METHODS + LOSS_METHODS)}, class_aware_sampling, "
        "sqrt_sampling, crt, oversampling_to_<rho>, undersampling_to_<rho>, posthoc_adjustment_tau<t> or "
        "tau_normalization_tau<t>")


def trained_networks(method_names) -> list[str]:
    """The trained networks the methods need, parents before the networks fine-tuned from them."""
    needed = []
    for name in method_names:
        method = parse(name)
        for network in (method.parent, method.network):
            if network is not None and network not in needed:
                needed.append(network)
    return sorted(needed, key=lambda n: parse(n).parent is not None)
