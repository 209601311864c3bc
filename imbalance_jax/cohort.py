"""A cohort's inputs on the host: index tables, per-network arrays, and the state it starts from.

Imbalance parameters stop here: each network becomes a row of an index table, and every cohort
trains through the same compiled step whatever its networks' settings and methods.
"""
import jax
import jax.numpy as jnp
import numpy as np

from imbalance_jax import losses, methods, design, samplers, train
from imbalance_jax.samplers import mechanics
from imbalance_jax.data import preprocessing


SCHEDULES = ("study", "kang2020")


def _own_schedule(network: design.Network, config) -> bool:
    key = methods.get(network.method).training.schedule
    return bool(key) and config.get(key, "study") == "kang2020"


def lr_scale(network: design.Network, config, hp: train.TrainHParams) -> float:
    """The network's factor on the schedule: its lr over the config's base lr, times its method's factor (1 where
    the method follows its authors' own schedule from the base lr)."""
    factor = methods.get(network.method).training.lr_scale
    factor = 1.0 if _own_schedule(network, config) else config[factor] if isinstance(factor, str) else factor
    return network.base_lr / hp.base_lr * factor


def lr_span(network: design.Network, config, hp: train.TrainHParams) -> int:
    """0 for the study's schedule; the steps of the cosine decay where the method runs its authors' schedule."""
    if not _own_schedule(network, config):
        return 0
    key = methods.get(network.method).training.schedule
    return max(1, round(float(config[f"{key.removesuffix('_schedule')}_fraction"]) * hp.max_iter))


def cohort_inputs(networks: list, labels: np.ndarray, num_classes: int, config, hp: train.TrainHParams,
                width: int) -> train.CohortInputs:
    """The compiled step's per-network inputs: index table rows (class-ordered), seeds, lr scales, masks."""
    index_sets = [design.training_indices(n, labels) for n in networks]
    # One width for the whole study, so every cohort reuses the same compiled step; rows in
    # class order, with class blocks, for class-aware sampling.
    table = mechanics.index_table(index_sets, width=width, labels=labels, num_classes=num_classes)
    trainings = [methods.get(n.method).training for n in networks]
    return train.CohortInputs(
        table=jnp.asarray(table.indices), lengths=jnp.asarray(table.lengths),
        seeds=jnp.asarray([n.init_seed for n in networks], jnp.uint32),
        lr_scales=jnp.asarray([lr_scale(n, config, hp) for n in networks], jnp.float32),
        finetune_last=jnp.asarray([t.layers == "finetune" for t in trainings]),
        batch_rules=jnp.asarray([samplers.rule_index(samplers.get(t.sampler).batches) for t in trainings], jnp.int32),
        class_offsets=jnp.asarray(table.class_offsets), class_counts=jnp.asarray(table.class_counts),
        weighted_mean=jnp.asarray([losses.get(t.loss).weighted_mean for t in trainings]),
        lr_spans=jnp.asarray([lr_span(n, config, hp) for n in networks], jnp.int32),
        total_steps=jnp.full(len(networks), hp.max_iter, jnp.int32))


def objectives(networks: list, config, hp: train.TrainHParams) -> losses.Objective:
    """Each network's loss parameters, stacked."""
    return train.stack_objectives([
        losses.objective_for(methods.get(n.method).training.loss, n.class_counts, config.losses, hp.max_iter)
        for n in networks])


ZCA_FITS_KEPT = 4  # a 3072-dim ZCA is 37 MB; consecutive cohorts of one set (its methods) share the fit


def fit_preprocess(networks: list, data, hp: train.TrainHParams, zca_epsilon: float, zca_fit: str = "imbalanced",
                   kept: dict = None):
    """Each network's input transform (CIFAR-10's ZCA): fitted on its imbalanced set before sampling, or
    with zca_fit='full' once on the whole balanced training set (data: the networks' split's). `kept` (a dict the
    caller owns) keeps the latest fits by (split, set, epsilon), so the next cohorts of the same sets do not fit
    them again (an eigh of 3072 x 3072)."""
    if hp.preprocess != "gcn_zca":
        return None
    if zca_fit not in ("imbalanced", "full"):
        raise ValueError(f"zca_fit={zca_fit!r} must be 'imbalanced' or 'full'")
    kept = {} if kept is None else kept
    keys = [(n.split, n.set_name if zca_fit == "imbalanced" else "full", zca_epsilon) for n in networks]
    fitted = {}
    for n, key in zip(networks, keys):
        if key not in fitted:
            subset = design.imbalanced_subset(n, data.y_train) if zca_fit == "imbalanced" else slice(None)
            fitted[key] = kept.pop(key) if key in kept else preprocessing.fit_zca(data.x_train[subset], zca_epsilon)
    kept.update(fitted)  # newest last; the oldest beyond ZCA_FITS_KEPT are dropped
    for old in list(kept)[:max(0, len(kept) - max(ZCA_FITS_KEPT, len(fitted)))]:
        del kept[old]
    return stack_rows([fitted[key] for key in keys])


def stack_rows(rows: list):
    """Per-network pytrees stacked on a new leading network axis."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *rows)
