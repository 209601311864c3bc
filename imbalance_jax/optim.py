"""Optimizers and learning-rate schedules as optax transformations, one per network of a cohort.

Caffe's SGD (the paper's solver) puts the learning rate inside the velocity:
v = momentum * v + lr_t * (grad + weight_decay * w); w -= v. As an optax chain that is
add_decayed_weights -> scale by the network's lr_t -> trace(momentum) -> negate, which differs from
optax.sgd (lr applied after the trace) whenever lr_t changes. Each network of a cohort scales the
schedule by its own factor and freezes its own layers (a 0/1 multiplier per leaf); both are traced
values, so one compiled step serves every network.
"""
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import optax

OPTIMIZERS = ("caffe_sgd", "sgd_nesterov", "adamw")
SCHEDULES = ("fixed", "inv", "multistep", "poly", "warmup_cosine", "warmup_multistep")


class ScaleByNetworkLRState(NamedTuple):
    """The iteration count the schedule reads."""

    count: jax.Array


def cosine_span(base_lr, count, span):
    """The learning rate decayed from base_lr to 0 by a cosine over `span` steps, 0 after (Kang et al.'s cRT)."""
    done = jnp.minimum(count.astype(jnp.float32) / jnp.maximum(span, 1).astype(jnp.float32), 1.0)
    return base_lr * 0.5 * (1.0 + jnp.cos(jnp.pi * done))


def scale_by_network_lr(schedule: Callable, lr_scale, multipliers, lr_span=None) -> optax.GradientTransformation:
    """updates * (schedule(count) * lr_scale * multiplier of the leaf); lr_scale, multipliers and lr_span (k > 0:
    a cosine from the schedule's base lr over k steps instead of the schedule) may be traced."""
    def init_fn(params):
        del params
        return ScaleByNetworkLRState(jnp.zeros((), jnp.int32))

    def update_fn(updates, state, params=None):
        del params
        lr = schedule(state.count)
        if lr_span is not None:
            lr = jnp.where(lr_span > 0, cosine_span(schedule(jnp.zeros((), jnp.int32)), state.count, lr_span), lr)
        lr = lr * lr_scale
        if multipliers is None:
            updates = jax.tree.map(lambda u: lr * u, updates)
        else:
            updates = jax.tree.map(lambda u, m: (lr * m) * u, updates, multipliers)
        return updates, ScaleByNetworkLRState(state.count + 1)

    return optax.GradientTransformation(init_fn, update_fn)


def schedule(policy: str, base_lr: float, iterations: int, gamma: float = 1e-4, power: float = 0.75,
             steps: tuple = (), warmup_steps: int = 0) -> Callable:
    """The learning rate at iteration t: Caffe's fixed / inv / multistep / poly, or optax's warmup schedules."""
    if policy == "fixed":
        return optax.constant_schedule(base_lr)
    if policy == "inv":  # Caffe: base_lr * (1 + gamma * t) ** -power
        return lambda t: base_lr * (1.0 + gamma * t.astype(jnp.float32)) ** (-power)
    if policy == "multistep":  # Caffe: x gamma at each step value
        return lambda t: base_lr * gamma ** sum(((t >= s).astype(jnp.float32) for s in steps), jnp.float32(0))
    if policy == "poly":  # Caffe: base_lr * (1 - t / max_iter) ** power
        return lambda t: base_lr * (1.0 - t.astype(jnp.float32) / iterations) ** power
    if policy == "warmup_cosine":
        return optax.warmup_cosine_decay_schedule(0.0, base_lr, max(warmup_steps, 1), iterations)
    if policy == "warmup_multistep":  # LDAM-DRW's CIFAR-LT recipe: linear warmup, then x gamma at each step
        warmup = optax.linear_schedule(base_lr / max(warmup_steps, 1), base_lr, max(warmup_steps, 1))
        decay = optax.piecewise_constant_schedule(base_lr, {int(s) - warmup_steps: gamma for s in steps})
        return optax.join_schedules([warmup, decay], [warmup_steps])
    raise ValueError(f"train.lr_policy={policy!r} is unknown; use one of {SCHEDULES}")


def make_optimizer(name: str, lr_schedule: Callable, momentum: float, weight_decay: float,
                   betas: tuple = (0.9, 0.999)) -> Callable:
    """Returns optimizer(lr_scale, multipliers, lr_span) -> optax.GradientTransformation for one network.

    The chain's structure does not depend on the arguments, so one init serves every network.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"train.optimizer={name!r} is unknown; use one of {OPTIMIZERS}")

    def optimizer(lr_scale=1.0, multipliers: Optional[dict] = None, lr_span=None) -> optax.GradientTransformation:
        lr = scale_by_network_lr(lr_schedule, lr_scale, multipliers, lr_span)
        if name == "caffe_sgd":
            return optax.chain(optax.add_decayed_weights(weight_decay), lr, optax.trace(momentum), optax.scale(-1.0))
        if name == "sgd_nesterov":  # PyTorch's SGD(nesterov=True): lr outside the velocity
            return optax.chain(optax.add_decayed_weights(weight_decay), optax.trace(momentum, nesterov=True), lr,
                               optax.scale(-1.0))
        return optax.chain(optax.scale_by_adam(*betas), optax.add_decayed_weights(weight_decay), lr,
                           optax.scale(-1.0))  # AdamW: decoupled decay, scaled by the lr as in optax.adamw

    return optimizer
