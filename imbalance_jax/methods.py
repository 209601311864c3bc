"""The study's methods by name: which network each needs trained and how it is evaluated.

Trained: baseline, oversampling, undersampling, oversampling_to_<rho>, undersampling_to_<rho>
(partial sampling to a reduced ratio, Section 4.5), two_phase_oversampling and
two_phase_undersampling (fine-tune the output layer of the sampled network on the imbalanced
set). Evaluation-only: thresholding, oversampling_thresholding, undersampling_thresholding
(softmax divided by the imbalanced set's class priors, applied to an already trained network).
"""
import re
from typing import NamedTuple, Optional

PAPER_METHODS = (
    "baseline", "oversampling", "undersampling", "two_phase_oversampling",
    "two_phase_undersampling", "thresholding", "oversampling_thresholding",
    "undersampling_thresholding",
)
_PARTIAL = re.compile(r"^(oversampling|undersampling)_to_(\d+(?:\.\d+)?)$")
_THRESHOLDED = {"thresholding": "baseline", "oversampling_thresholding": "oversampling",
                "undersampling_thresholding": "undersampling"}
_TWO_PHASE = {"two_phase_oversampling": "oversampling", "two_phase_undersampling": "undersampling"}


class Method(NamedTuple):
    """How one reported method is produced."""

    name: str
    network: str  # the trained network it reads (itself for a trained method)
    sampler: Optional[str]  # 'oversample' | 'undersample' | None: applied to the imbalanced set
    target_rho: float = 1.0
    parent: Optional[str] = None  # two-phase: the network whose weights it starts from
    thresholded: bool = False


def parse(name: str) -> Method:
    """The Method called name; an unknown name is a ValueError listing the valid ones."""
    if name in ("baseline",):
        return Method(name, name, None)
    if name in ("oversampling", "undersampling"):
        return Method(name, name, name.replace("ing", "e"))
    if name in _THRESHOLDED:
        return Method(name, _THRESHOLDED[name], None, thresholded=True)
    if name in _TWO_PHASE:
        return Method(name, name, None, parent=_TWO_PHASE[name])
    match = _PARTIAL.match(name)
    if match:
        target = float(match.group(2))
        if target < 1:
            raise ValueError(f"method {name!r}: the target ratio must be >= 1")
        return Method(name, name, match.group(1).replace("ing", "e"), target_rho=target)
    raise ValueError(
        f"method={name!r} is unknown; use one of {', '.join(PAPER_METHODS)}, "
        "oversampling_to_<rho> or undersampling_to_<rho>")


def trained_networks(method_names) -> list[str]:
    """The trained networks the methods need, parents before the networks fine-tuned from them."""
    needed = []
    for name in method_names:
        method = parse(name)
        for network in (method.parent, method.network):
            if network is not None and network not in needed:
                needed.append(network)
    return sorted(needed, key=lambda n: parse(n).parent is not None)
