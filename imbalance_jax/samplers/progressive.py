"""Progressively-balanced sampling (Kang et al. 2020, "Decoupling representation and classifier"): each batch's
classes drawn with probabilities that move from instance-balanced to class-balanced over training,

    p_c(t) = (1 - t/T) n_c / N + (t/T) / C,

then an example of the drawn class uniformly (with replacement). Registered as the method
`progressively_balanced_sampling`; the network trains on its imbalanced set as it is.

The draw is integer arithmetic only (shares in 2^15ths, the mixing weight in 1024ths), so numpy on the host
(streamed studies) and jax.numpy in the compiled step give the same batches.
"""
from imbalance_jax.samplers import mechanics
from imbalance_jax.samplers import BatchRule, Sampler, register

SHARE = 1 << 15  # a distribution over the classes in 2^15ths
STEPS = 1024  # the mixing weight t/T in 1024ths


def positions(step, batch_size, length, seed, class_offsets, class_counts, total_steps, xp):
    """Row positions of a progressively-balanced batch: class by the mixed distribution at this step, then an
    example of that class."""
    counts = xp.asarray(class_counts).astype(xp.int32)
    present = (counts > 0).astype(xp.int32)
    instance = counts * SHARE // xp.maximum(counts.sum(), 1)
    balanced = present * SHARE // xp.maximum(present.sum(), 1)
    mix = xp.minimum(xp.asarray(step).astype(xp.int32) * STEPS // xp.maximum(xp.asarray(total_steps), 1)
                     .astype(xp.int32), STEPS)
    cumulative = xp.cumsum((STEPS - mix) * instance + mix * balanced)
    flat = xp.asarray(step).astype(xp.uint32) * xp.uint32(batch_size) + xp.arange(batch_size, dtype=xp.uint32)
    with mechanics.wrapping(xp):
        key = mechanics.mix32(xp.asarray(seed).astype(xp.uint32) * xp.uint32(0x9E3779B1), xp)
        first = mechanics.mix32(flat ^ key, xp)
        second = mechanics.mix32(first + xp.uint32(0x632BE5AB), xp)
    draw = (first % cumulative[-1].astype(xp.uint32)).astype(xp.int32)
    cls = xp.minimum(xp.searchsorted(cumulative, draw, side="right"), counts.shape[0] - 1)
    within = (second % xp.maximum(counts[cls], 1).astype(xp.uint32)).astype(xp.int32)
    return class_offsets[cls] + within


register(BatchRule("progressive", positions))
register(Sampler("progressive", batches="progressive", method="progressively_balanced_sampling",
                 label="Progressively-balanced sampling"))
