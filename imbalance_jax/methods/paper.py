"""The paper's methods (Section 3.2), and partial sampling to a reduced ratio (Section 4.5)."""
from imbalance_jax.methods.registry import (NO_REMEDY, REFERENCE, ROS, RUS, Method, Scoring, Training, get, register,
                                            register_family)

_NUMBER = r"(\d+(?:\.\d+)?)"
FINETUNE = dict(layers="finetune", lr_scale="two_phase_lr_factor")

# Figures: Okabe & Ito's colour-blind-safe palette with a marker and line style each, so methods stay apart in
# grey print too: sampling solid, two-phase dashed, thresholded dotted.
register(Method("baseline", "baseline", Training(), label="Baseline", style=("#000000", "o", "-"),
                figures=("fig6", "fig7", "fig8"), paper_role=NO_REMEDY))
register(Method("oversampling", "oversampling", Training(sampler="oversample"), label="ROS",
                style=("#0072B2", "s", "-"), figures=("fig6", "fig7", "fig8"), paper_role=ROS))
register(Method("undersampling", "undersampling", Training(sampler="undersample"), label="RUS",
                style=("#D55E00", "^", "-"), figures=("fig6", "fig7", "fig8"), paper_role=RUS))
# Two-phase: the sampled network's output layers fine-tuned on the imbalanced set, lr x 0.1.
register(Method("two_phase_oversampling", "two_phase_oversampling", Training(parent="oversampling", **FINETUNE),
                label="Two-phase ROS", style=("#56B4E9", "s", "--")))
register(Method("two_phase_undersampling", "two_phase_undersampling", Training(parent="undersampling", **FINETUNE),
                label="Two-phase RUS", style=("#E69F00", "^", "--")))
# Thresholding: the softmax divided by the imbalanced set's class priors, at evaluation only (Fig. 6).
register(Method("thresholding", "baseline", scoring=Scoring("prior"), label="Thresholding",
                style=("#CC79A7", "D", ":"), figures=("fig6",), thresholds="baseline"))
register(Method("oversampling_thresholding", "oversampling", scoring=Scoring("prior"), label="ROS + thresholding",
                style=("#009E73", "s", ":"), figures=("fig6",), thresholds="oversampling"))
register(Method("undersampling_thresholding", "undersampling", scoring=Scoring("prior"), label="RUS + thresholding",
                style=("#999999", "^", ":"), figures=("fig6",), thresholds="undersampling"))
# The reference every imbalanced result is read against (Section 4.3): the balanced subset, no remedy.
register(Method("balanced", "balanced", Training(on_balanced=True), label="Balanced (reference)",
                paper_role=REFERENCE))


def _partial(match):
    kind, target = match.group(1), float(match.group(2))
    if target < 1:
        raise ValueError(f"method {match.group(0)!r}: the target ratio must be >= 1")
    full = get(kind)
    return Method(match.group(0), match.group(0), Training(sampler=full.training.sampler, target_rho=target),
                  partial_sampling=True, reduces=kind, label=f"{full.label} to rho={target:g}", figures=("fig7",))


register_family(rf"(oversampling|undersampling)_to_{_NUMBER}", _partial,
                "oversampling_to_<rho>, undersampling_to_<rho>")

PAPER_METHODS = (
    "baseline", "oversampling", "undersampling", "two_phase_oversampling",
    "two_phase_undersampling", "thresholding", "oversampling_thresholding",
    "undersampling_thresholding",
)
