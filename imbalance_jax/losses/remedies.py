"""Cross-entropy and the remedies the long-tail literature adopted since the paper, as settings of the one loss:
- class-weighted cross-entropy, inverse-frequency or effective-number weights (Cui et al. 2019);
- focal loss (Lin et al. 2017): (1 - p_y)^gamma down-weights easy examples;
- LDAM with deferred re-weighting (Cao et al. 2019): a margin ~ n_y^(-1/4) subtracted from the
  true class's scaled cosine logit, effective-number weights switched on at a given iteration;
- logit-adjusted loss (Menon et al. 2021): tau * log(prior) added to the logits in training;
- balanced softmax (Ren et al. 2020): log(prior) added, i.e. the logit-adjusted loss at tau = 1.
"""
import numpy as np

from imbalance_jax.losses import Loss, register
from imbalance_jax.losses.core import effective_number_weights, inverse_frequency_weights, ldam_margins, neutral


def _counts(class_counts):
    return np.maximum(np.asarray(class_counts, np.float64), 1)


def _log_prior(class_counts):
    counts = _counts(class_counts)
    return np.log(counts / counts.sum())


register(Loss("cross_entropy", lambda counts, settings, iterations: neutral(len(counts))))
register(Loss("weighted_ce", lambda counts, settings, iterations: neutral(len(counts))._replace(
    class_weights=inverse_frequency_weights(_counts(counts))), label="Class-weighted CE"))
register(Loss("effective_number_ce", lambda counts, settings, iterations: neutral(len(counts))._replace(
    class_weights=effective_number_weights(_counts(counts), settings.effective_beta)), label="Effective-number CE"))
register(Loss("focal", lambda counts, settings, iterations: neutral(len(counts))._replace(
    focal_gamma=np.float32(settings.focal_gamma)), label="Focal loss"))
# LDAM-DRW divides by the batch's summed weights, as Cao et al.'s F.cross_entropy(..., weight=w) does.
register(Loss("ldam_drw", lambda counts, settings, iterations: neutral(len(counts))._replace(
    class_weights=effective_number_weights(_counts(counts), settings.effective_beta),
    reweight_step=np.int32(round(settings.drw_fraction * iterations)),
    margins=ldam_margins(_counts(counts), settings.ldam_max_margin), logit_scale=np.float32(settings.ldam_scale),
    cosine=np.bool_(True)), weighted_mean=True, needs_cosine_head=True, label="LDAM-DRW"))
register(Loss("logit_adjusted", lambda counts, settings, iterations: neutral(len(counts))._replace(
    logit_adjust=(settings.logit_adjust_tau * _log_prior(counts)).astype(np.float32)), label="Logit-adjusted loss"))
register(Loss("balanced_softmax", lambda counts, settings, iterations: neutral(len(counts))._replace(
    logit_adjust=_log_prior(counts).astype(np.float32)), label="Balanced softmax"))
