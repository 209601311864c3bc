"""Remedies adopted by long-tail recognition since 2018, each trained in the same cohorts.

Losses (imbalance_jax.losses): weighted_ce, effective_number_ce, focal, ldam_drw, logit_adjusted,
balanced_softmax. Samplers: class_aware_sampling (every mini-batch class-balanced), sqrt_sampling
(class frequencies ~ sqrt(n_c)). crt: the baseline's output layer re-initialised and re-trained with
class-aware sampling (Kang et al. 2020). Evaluation only: posthoc_adjustment_tau<t> (softmax / prior^t) and
tau_normalization_tau<t> (the baseline's class weight vectors divided by their norm^t).
"""
from imbalance_jax import losses, samplers
from imbalance_jax.methods.registry import Method, Scoring, Training, register, register_family

_NUMBER = r"(\d+(?:\.\d+)?)"

LOSS_METHODS = tuple(name for name in losses.names() if name != "cross_entropy")
for _loss in LOSS_METHODS:
    register(Method(_loss, _loss, Training(loss=_loss), family="longtail", label=losses.get(_loss).label))
for _sampler in samplers.all_samplers():  # e.g. class_aware_sampling, sqrt_sampling
    if _sampler.method:
        register(Method(_sampler.method, _sampler.method, Training(sampler=_sampler.name), family="longtail",
                        label=_sampler.label))
# Kang et al. 2020: the classifier is re-initialised, then re-trained on class-balanced batches.
register(Method("crt", "crt", Training(sampler="class_aware", parent="baseline", layers="finetune",
                                       reinit_finetune="crt_reinit", lr_scale="two_phase_lr_factor",
                                       schedule="crt_schedule"), family="longtail", label="cRT"))

register_family(rf"posthoc_adjustment_tau{_NUMBER}",
                lambda m: Method(m.group(0), "baseline", scoring=Scoring("posthoc", float(m.group(1))),
                                 family="longtail", label=f"Post-hoc adjustment (tau={float(m.group(1)):g})"),
                "posthoc_adjustment_tau<t>")
register_family(rf"tau_normalization_tau{_NUMBER}",
                lambda m: Method(m.group(0), "baseline", scoring=Scoring("tau_norm", float(m.group(1))),
                                 family="longtail", label=f"tau-normalisation (tau={float(m.group(1)):g})"),
                "tau_normalization_tau<t>")
