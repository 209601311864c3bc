"""Cohort sizes that fit the device: memory per network measured from XLA's compiled programs.

Training sets the cohort size; evaluation then takes the largest batch per network that fits the
same memory, so a large evaluation batch never shrinks the cohorts that training could run.
"""
import os
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp

from imbalance_jax import train

# Leave room for XLA's fragmentation and what the process holds beside the compiled step.
USABLE_FRACTION = {"gpu": 0.8, "tpu": 0.8, "cpu": 0.5}
MAX_COHORT = 4096


def _abstract_inputs(model, n, data_shape, width, preprocess):
    state = train.abstract_state(model, n, data_shape[1:], preprocess)
    data = train.CohortData(jax.ShapeDtypeStruct(data_shape, jnp.uint8),
                            jax.ShapeDtypeStruct(data_shape[:1], jnp.int32))
    vector = lambda dtype: jax.ShapeDtypeStruct((n,), dtype)  # noqa: E731
    inputs = train.CohortInputs(jax.ShapeDtypeStruct((n, width), jnp.int32), vector(jnp.int32),
                            vector(jnp.uint32), vector(jnp.float32), vector(jnp.bool_), lr_spans=vector(jnp.int32))
    return state, data, inputs


def _bytes(compiled) -> int:
    stats = compiled.memory_analysis()
    return (stats.argument_size_in_bytes + stats.output_size_in_bytes - stats.alias_size_in_bytes
            + stats.temp_size_in_bytes)


class Footprint(NamedTuple):
    """Device bytes of a cohort's compiled programs, measured at cohort sizes 1 and 2."""

    fixed: int  # bytes that do not grow with the cohort (the resident dataset, the index table's width)
    per_network: int  # training bytes per network
    per_eval_image: int  # evaluation bytes per network and image of the evaluation batch


def measured_footprint(model, hp: train.TrainHParams, data_shape: tuple, width: int,
                       steps_per_call: int, probe_batch: int = 100, with_eval: bool = True) -> Footprint:
    """The Footprint of the compiled train chunk and of evaluation (probed at probe_batch images;
    with_eval=False leaves evaluation unmeasured, per_eval_image 0)."""
    chunk = train.make_train_chunk(model, hp)

    def train_bytes(n):
        inputs = _abstract_inputs(model, n, data_shape, width, hp.preprocess)
        return _bytes(chunk.lower(*inputs, steps_per_call).compile())

    def eval_bytes(n):
        state = _abstract_inputs(model, n, data_shape, width, hp.preprocess)[0]
        images = jax.ShapeDtypeStruct((probe_batch, *data_shape[1:]), jnp.uint8)
        predict = jax.jit(lambda p, x: jax.vmap(lambda q: model.apply(q, x.astype(jnp.float32)))(p))
        return _bytes(predict.lower(state["params"], images).compile())

    train_one, train_two = train_bytes(1), train_bytes(2)
    per_eval_network = max(eval_bytes(2) - eval_bytes(1), 1) if with_eval else 0
    return Footprint(fixed=max(2 * train_one - train_two, 0), per_network=max(train_two - train_one, 1),
                     per_eval_image=-(-per_eval_network // probe_batch))


def free_device_bytes() -> int:
    """Bytes free on the first device (host memory available, on the CPU)."""
    stats = jax.devices()[0].memory_stats()
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _usable(free_bytes: int, fixed_bytes: int) -> float:
    return free_bytes * USABLE_FRACTION.get(jax.default_backend(), 0.5) - fixed_bytes


def cohort_size_for(fixed_bytes: int, per_network_bytes: int, free_bytes: int, num_networks: int) -> int:
    """Networks per cohort: as many as fit the usable part of free_bytes (at least 1), evened out
    so num_networks split into equal cohorts rather than full ones and a small remainder."""
    fit = int(max(1, min(_usable(free_bytes, fixed_bytes) // per_network_bytes, num_networks, MAX_COHORT)))
    return -(-num_networks // -(-num_networks // fit))


def eval_batch_for(footprint: Footprint, free_bytes: int, cohort_size: int, max_batch: int) -> int:
    """Images per evaluation batch: at most max_batch, and no more than a cohort's evaluation fits."""
    fit = _usable(free_bytes, footprint.fixed) // (cohort_size * footprint.per_eval_image)
    return int(max(1, min(fit, max_batch)))


class Sizes(NamedTuple):
    """A study's cohort size and evaluation batch, and where they came from."""

    cohort_size: int
    eval_batch_size: int
    source: str  # 'the config', 'cohort_size.json' or 'measured'
    measured: Optional[dict] = None  # a measurement's record, for cohort_size.json


def resolve(config, saved: Optional[dict], model, hp: train.TrainHParams, data_shape: tuple, width: int,
            networks: list) -> Sizes:
    """The one cohort-size rule of the study and of launch.plan: the config's cohort_size, else the sizes a
    run measured and kept (cohort_size.json), else the most networks of the largest stage that fit the device
    and the evaluation batch that fits beside them (measured now)."""
    if config.cohort_size > 0:
        return Sizes(config.cohort_size, config.eval_batch_size, "the config")
    if saved:
        return Sizes(saved["cohort_size"], saved["eval_batch_size"], "cohort_size.json")
    footprint = measured_footprint(model, hp, data_shape, width, config.steps_per_call)
    free = free_device_bytes()
    largest_stage = max(sum(n.stage == s for n in networks) for s in {n.stage for n in networks})
    size = cohort_size_for(footprint.fixed, footprint.per_network, free, largest_stage)
    eval_batch = eval_batch_for(footprint, free, size, config.eval_batch_size)
    return Sizes(size, eval_batch, "measured", {
        "cohort_size": size, "eval_batch_size": eval_batch, "bytes_per_network": footprint.per_network,
        "fixed_bytes": footprint.fixed, "eval_bytes_per_network_image": footprint.per_eval_image, "free_bytes": free})


def out_of_memory_advice(model, hp: train.TrainHParams, data_shape: tuple, width: int, steps_per_call: int,
                         cohort_id: str, num_networks: int) -> str:
    """One line for a cohort that did not fit the device: the cohort size that would, measured."""
    footprint = measured_footprint(model, hp, data_shape, width, steps_per_call)
    fit = int(_usable(free_device_bytes(), footprint.fixed) // footprint.per_network)
    head = (f"out of device memory training {cohort_id} ({num_networks} networks, batch {hp.batch_size}); "
            f"{footprint.per_network / 2**20:.1f} MiB per network measured")
    if fit < 1:
        return head + "; not one network of this batch fits: use a smaller --config.train.batch_size"
    return head + f", so --config.cohort_size={min(fit, num_networks - 1) or 1} fits (0 sizes cohorts to the device)"
