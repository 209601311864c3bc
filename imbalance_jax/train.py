"""Cohort training: many networks, one compiled step, a leading network axis on every state leaf.

A cohort's state is a plain pytree {"params", "opt_state", "step", "preprocess", "objective"}; all
but step carry the network axis. Each network's optimizer is an optax chain (imbalance_jax.optim)
scaled by that network's learning-rate factor and layer mask, both traced, so one compile serves all.
Training reads the dataset resident on the device as uint8 and gathers each network's batch by index
from its row of an IndexTable inside the compiled step; `train_chunk` scans many steps per call so
Python never runs per step.
"""
import dataclasses
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from imbalance_jax import losses, optim, samplers
from imbalance_jax.samplers import mechanics
from imbalance_jax.data import preprocessing

PyTree = Any


@dataclasses.dataclass(frozen=True)
class TrainHParams:
    """Hyperparameters shared by every network of a cohort (Caffe's solver fields)."""

    batch_size: int = 64
    base_lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_policy: str = "inv"
    lr_gamma: float = 1e-4
    lr_power: float = 0.75
    lr_steps: tuple = ()
    warmup_steps: int = 0  # of the warmup_* schedules
    optimizer: str = "caffe_sgd"  # one of optim.OPTIMIZERS
    max_iter: int = 10_000
    input_scale: float = 1 / 255
    preprocess: str = "scale"  # or 'gcn_zca' (CIFAR-10): the transform lives in state["preprocess"]
    networks_per_vmap: int = 0  # networks stepped at once (lax.map over groups of this many); 0: all
    bias_lr_mult: float = 1.0  # Caffe's lr_mult of the biases (its LeNet example: 2)
    finetune_layers: tuple = ()  # the layers a fine-tuning stage trains; () takes the model's (its output layer)

    def __post_init__(self):
        if self.lr_policy not in optim.SCHEDULES:
            raise ValueError(f"train.lr_policy={self.lr_policy!r} is unknown; use one of {optim.SCHEDULES}")
        if self.optimizer not in optim.OPTIMIZERS:
            raise ValueError(f"train.optimizer={self.optimizer!r} is unknown; use one of {optim.OPTIMIZERS}")
        if self.preprocess not in preprocessing.PREPROCESSORS:
            raise ValueError(f"preprocess={self.preprocess!r} is unknown; use one of {preprocessing.PREPROCESSORS}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size={self.batch_size} must be positive")
        if self.networks_per_vmap < 0:
            raise ValueError(f"networks_per_vmap={self.networks_per_vmap} must be positive, or 0 for all")


def learning_rate_schedule(hp: TrainHParams):
    """The schedule of the config's lr_policy (before any per-network scale)."""
    return optim.schedule(hp.lr_policy, hp.base_lr, hp.max_iter, hp.lr_gamma, hp.lr_power, hp.lr_steps,
                          hp.warmup_steps)


def learning_rate(hp: TrainHParams, step: jax.Array) -> jax.Array:
    """The learning rate at iteration `step` (before any per-network scale)."""
    return learning_rate_schedule(hp)(jnp.asarray(step))


def make_optimizer(hp: TrainHParams):
    """optimizer(lr_scale, multipliers) -> the optax chain of one network (imbalance_jax.optim)."""
    return optim.make_optimizer(hp.optimizer, learning_rate_schedule(hp), hp.momentum, hp.weight_decay)


class CohortData(NamedTuple):
    """The dataset on the device: every network's index table points into it."""

    images: jax.Array  # uint8 [n, h, w, c]
    labels: jax.Array  # int32 [n]


class CohortInputs(NamedTuple):
    """Per-network training inputs, each with a leading network axis."""

    table: jax.Array  # int32 [N, width]: indices into CohortData
    lengths: jax.Array  # int32 [N]
    seeds: jax.Array  # uint32 [N]: data order and dropout
    lr_scales: jax.Array  # float32 [N]: multiplies the schedule (0.1 for two-phase)
    finetune_last: jax.Array  # bool [N]: train only the model's fine-tuning layers
    batch_rules: Any = None  # int32 [N]: the batch rule each network walks (imbalance_jax.samplers; 0: the walk)
    class_offsets: Any = None  # int32 [N, C]: class blocks of each (class-ordered) table row
    class_counts: Any = None  # int32 [N, C]
    weighted_mean: Any = None  # bool [N]: the batch loss divides by the summed class weights (LDAM-DRW)
    # int32 [N]: 0 follows the study's schedule; k > 0 decays the network's learning rate from its base lr
    # to 0 by a cosine over its first k steps, then 0 (cRT as Kang et al. ran it)
    lr_spans: Any = None
    total_steps: Any = None  # int32 [N]: the network's iterations (rules that move over training read it)


def plain_inputs(index_sets: list, width: int = None) -> CohortInputs:
    """A inputs of networks that walk these index sets with seeds 0..N-1 at the full learning rate,
    nothing frozen (benchmarks and estimates; a study's plans come from cohort.cohort_inputs)."""
    table = mechanics.index_table(index_sets, width=width)
    n = len(index_sets)
    return CohortInputs(jnp.asarray(table.indices), jnp.asarray(table.lengths), jnp.arange(n, dtype=jnp.uint32),
                      jnp.ones(n, jnp.float32), jnp.zeros(n, bool))


def init_state(model: nn.Module, init_seeds: np.ndarray, input_shape: tuple,
               preprocess: PyTree = None, objective: PyTree = None, hp: "TrainHParams" = None) -> PyTree:
    """A fresh cohort state: network i initialised from jax.random.key(init_seeds[i])."""
    dummy = jnp.zeros((1, *input_shape), jnp.float32)
    keys = jax.vmap(jax.random.key)(jnp.asarray(init_seeds, jnp.uint32))
    params = jax.jit(jax.vmap(lambda k: model.init(k, dummy)))(keys)
    if objective is None:
        num_classes = params["params"][model.interface.head]["kernel"].shape[-1]
        objective = stack_objectives([losses.neutral(num_classes)] * len(init_seeds))
    return fresh_state(params, preprocess, objective, hp)


def stack_objectives(objectives: list) -> losses.Objective:
    """Per-network Objectives stacked on a leading network axis, as jax arrays."""
    return jax.tree.map(lambda *xs: jnp.asarray(np.stack(xs)), *objectives)


def abstract_state(model: nn.Module, num_networks: int, input_shape: tuple, preprocess: str = "scale",
                   hp: "TrainHParams" = None) -> PyTree:
    """Shapes and dtypes of a cohort state, without computing it (the restore target orbax wants)."""
    pre = None
    if preprocess == "gcn_zca":
        d = int(np.prod(input_shape))
        pre = {"mean": jax.ShapeDtypeStruct((num_networks, d), jnp.float32),
               "whiten": jax.ShapeDtypeStruct((num_networks, d, d), jnp.float32)}
    state = jax.eval_shape(lambda: init_state(model, np.zeros(num_networks, np.uint32), input_shape, hp=hp))
    state["preprocess"] = pre or {}
    return state


def fresh_state(variables: PyTree, preprocess: PyTree, objective: losses.Objective,
                hp: "TrainHParams" = None) -> PyTree:
    """Cohort state at step 0 with a fresh optimizer state around the given (stacked) model variables.

    state["params"] holds all of flax's variables ({"params", and "batch_stats" for models with
    batch norm}); the optimizer state (Caffe SGD: the velocity) covers the trainable "params" only.
    preprocess holds each network's
    fitted input transform (e.g. its ZCA), saved with the state so evaluation applies exactly what
    training did; it is never trained. objective holds each network's loss parameters, saved too,
    since cosine-logit networks (LDAM) also predict with them.
    """
    opt_state = jax.vmap(make_optimizer(hp or TrainHParams())().init)(variables["params"])
    return {"params": variables, "opt_state": opt_state,
            "step": jnp.zeros((), jnp.int32), "preprocess": preprocess or {}, "objective": objective}


def _update_multipliers(trainable, finetune_last, finetune_layers, bias_lr_mult=1.0):
    """Per leaf: 0 for the layers a fine-tuning stage freezes, else 1 (bias_lr_mult for biases)."""
    def leaf_mult(path, _):
        rate = bias_lr_mult if path[-1].key == "bias" else 1.0
        return jnp.where(finetune_last, rate if path[0].key in finetune_layers else 0.0, rate)
    return jax.tree_util.tree_map_with_path(leaf_mult, trainable)


def finetune_layers_of(model: nn.Module, hp: "TrainHParams") -> tuple:
    """The layers a fine-tuning stage (two-phase, cRT) trains: the config's, or the model's own."""
    return tuple(hp.finetune_layers) or tuple(model.interface.finetune_layers)


def make_update(model: nn.Module, hp: TrainHParams):
    """The pure cohort update from a batch: (state, images [N, B, ...], labels, key, inputs) -> (state, metrics)."""
    finetune_layers = finetune_layers_of(model, hp)
    optimizer = make_optimizer(hp)

    def loss_fn(trainable, others, images, labels, key, preprocess, objective, weighted_mean, step):
        x = preprocessing.apply(hp.preprocess, images, preprocess, hp.input_scale)
        mutable = list(others)
        out = model.apply({"params": trainable, **others}, x, train=True, rngs={"dropout": key},
                          mutable=mutable or False, cosine=objective.cosine, scale=objective.logit_scale)
        logits, new_others = out if mutable else (out, {})
        loss = losses.loss(logits, labels, objective, step, weighted_mean)
        return loss, (loss, jnp.mean(jnp.argmax(logits, -1) == labels), new_others)

    def network_step(variables, opt_state, images, labels, lr_scale, finetune_last, key, preprocess, objective,
                     weighted_mean, lr_span, step):
        trainable = variables["params"]
        others = {k: v for k, v in variables.items() if k != "params"}
        grads, (loss, acc, new_others) = jax.grad(loss_fn, has_aux=True)(
            trainable, others, images, labels, key, preprocess, objective, weighted_mean, step)
        mult = _update_multipliers(trainable, finetune_last, finetune_layers, hp.bias_lr_mult)
        updates, opt_state = optimizer(lr_scale, mult, lr_span).update(grads, opt_state, trainable)
        trainable = optax.apply_updates(trainable, updates)
        # Fine-tuning some layers leaves the frozen layers' batch statistics as they were.
        new_others = jax.tree.map(lambda old, new: jnp.where(finetune_last, old, new), others, dict(new_others))
        return {"params": trainable, **new_others}, opt_state, loss, acc

    def update(state, images, labels, key, inputs: CohortInputs):
        keys = jax.vmap(lambda s: jax.random.fold_in(key, s))(inputs.seeds)
        per_network = (state["params"], state["opt_state"], images, labels, inputs.lr_scales, inputs.finetune_last,
                       keys, state["preprocess"], state["objective"],
                       jnp.zeros_like(inputs.finetune_last) if inputs.weighted_mean is None else inputs.weighted_mean,
                       jnp.zeros(inputs.seeds.shape, jnp.int32) if inputs.lr_spans is None else inputs.lr_spans)
        step_one = lambda args: network_step(*args, state["step"])  # noqa: E731
        if hp.networks_per_vmap:
            variables, opt_state, loss, acc = jax.lax.map(step_one, per_network, batch_size=hp.networks_per_vmap)
        else:
            variables, opt_state, loss, acc = jax.vmap(step_one)(per_network)
        return ({**state, "params": variables, "opt_state": opt_state, "step": state["step"] + 1},
                {"loss": loss, "accuracy": acc})

    return update


def make_train_step(model: nn.Module, hp: TrainHParams):
    """The pure cohort step: (state, batch_indices [N, B], key, data, inputs) -> (state, metrics)."""
    update = make_update(model, hp)

    def train_step(state, batch_indices, key, data: CohortData, inputs: CohortInputs):
        return update(state, data.images[batch_indices], data.labels[batch_indices], key, inputs)

    return train_step


def batch_indices(inputs: CohortInputs, step: jax.Array, batch_size: int) -> jax.Array:
    """Dataset indices of every network's batch at a step: [N, batch_size]."""
    def one(row, length, seed, *rules):
        return samplers.network_batch(row, length, seed, step, batch_size, *rules)

    per_network = (inputs.table, inputs.lengths, inputs.seeds)
    if inputs.batch_rules is not None:
        total = jnp.ones_like(inputs.lengths) if inputs.total_steps is None else inputs.total_steps
        per_network += (inputs.batch_rules, inputs.class_offsets, inputs.class_counts, total)
    return jax.vmap(one)(*per_network)


def chunk_summary(state, metrics: dict, start_step) -> dict:
    """Per network over a chunk's steps [K, N]: mean loss and accuracy, and `nonfinite_step`, the first
    step whose loss was not finite or, with finite losses but non-finite weights at the end, the last
    step (-1 when the network is finite); a reduction over the weights once per call costs little."""
    loss = metrics["loss"]
    steps = start_step + 1 + jnp.arange(loss.shape[0])[:, None]
    first_bad_loss = jnp.min(jnp.where(jnp.isfinite(loss), jnp.iinfo(jnp.int32).max, steps), axis=0)
    finite_weights = jnp.stack([jnp.isfinite(x).reshape(x.shape[0], -1).all(1)
                                for x in jax.tree.leaves(state["params"])]).all(0)
    nonfinite = jnp.where(first_bad_loss < jnp.iinfo(jnp.int32).max, first_bad_loss,
                          jnp.where(finite_weights, -1, state["step"]))
    return {"loss": loss.mean(0), "accuracy": metrics["accuracy"].mean(0), "nonfinite_step": nonfinite}


def make_train_chunk(model: nn.Module, hp: TrainHParams, dropout_seed: int = 0, batch_sharding=None):
    """jit-compiled: (state, data, inputs, num_steps) -> (state, mean loss and accuracy per network).

    batch_sharding (optional) splits each step's [networks, batch] indices over a device mesh;
    XLA then partitions the whole step to match, data-parallel within a network.
    """
    train_step = make_train_step(model, hp)
    root = jax.random.key(dropout_seed)

    def chunk(state, data, inputs, num_steps):
        def body(state, _):
            idx = batch_indices(inputs, state["step"], hp.batch_size)
            if batch_sharding is not None:
                idx = jax.lax.with_sharding_constraint(idx, batch_sharding)
            key = jax.random.fold_in(root, state["step"])
            return train_step(state, idx, key, data, inputs)

        start = state["step"]
        state, metrics = jax.lax.scan(body, state, None, length=num_steps)
        return state, chunk_summary(state, metrics, start)

    return jax.jit(chunk, static_argnums=3, donate_argnums=0)


def make_stream_chunk(model: nn.Module, hp: TrainHParams, dropout_seed: int = 0):
    """jit-compiled: (state, images [K, N, B, ...] uint8, labels [K, N, B], inputs) -> (state, metrics).

    For datasets that stream from the host (ImageNet): K steps per call over batches the host
    prepared, the same update as the resident path.
    """
    update = make_update(model, hp)
    root = jax.random.key(dropout_seed)

    def chunk(state, images, labels, inputs):
        def body(state, batch):
            key = jax.random.fold_in(root, state["step"])
            return update(state, *batch, key, inputs)

        start = state["step"]
        state, metrics = jax.lax.scan(body, state, (images, labels))
        return state, chunk_summary(state, metrics, start)

    return jax.jit(chunk, donate_argnums=0)


def make_predict(model: nn.Module, hp: TrainHParams, batch_size: int = 1000):
    """Returns predict(state, images uint8) -> softmax probabilities [N, n, classes] of a cohort state."""
    @jax.jit
    def predict_batch(params, preprocess, objective, images):
        def one(p, pre, obj):
            x = preprocessing.apply(hp.preprocess, images, pre, hp.input_scale)
            return jax.nn.softmax(model.apply(p, x, train=False, cosine=obj.cosine, scale=obj.logit_scale))
        return jax.vmap(one)(params, preprocess, objective)

    def predict(state, images):
        outs = [predict_batch(state["params"], state["preprocess"], state["objective"], images[i:i + batch_size])
                for i in range(0, len(images), batch_size)]
        return jnp.concatenate(outs, axis=1)

    return predict
