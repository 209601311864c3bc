"""Training one cohort, top to bottom: its inputs, the state it starts from (its latest save, its parents'
weights, or fresh), the compiled chunks with curve points, progress and interval saves, the final save.

`train_cohort` calls only downward (cohort.py, train.py, checkpoint.py, progress.py); what a study shares
across its cohorts (the compiled chunk, the stop request, the progress counter, the latest ZCA fits) is
one `StudyTraining` value that stages.train_all builds and owns. A run killed at any moment loses at most
the steps since the cohort's last save; SIGINT / SIGTERM save the cohort in flight before the process exits.
"""
import contextlib
import signal
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from imbalance_jax import cohort, distributed, methods, metrics, progress, tensorboard, train
from imbalance_jax.checkpoint import CheckpointError
from imbalance_jax.data import streaming
from imbalance_jax.progress import Interrupted
from imbalance_jax.study_setup import Setup
from imbalance_jax.workdir import Workdir


class StudyTraining(NamedTuple):
    """What every cohort of one run of a study shares."""

    setup: Setup
    workdir: Workdir
    layout: Any  # stages.Layout: where each planned network lives (parents are restored from it)
    chunk: Any  # the study's one compiled chunk (compiled_chunk)
    progress: progress.Progress
    stop: progress.StopRequest  # set by SIGINT / SIGTERM: save the cohort in flight and exit
    zca_fits: dict  # the latest ZCA fits (cohort.fit_preprocess): a set's methods fit its ZCA once


def compiled_chunk(setup: Setup):
    """The study's compiled chunk of steps: over the device-resident images, or over streamed batches."""
    if setup.streaming:
        return train.make_stream_chunk(setup.model, setup.hp, setup.config.seed)
    return train.make_train_chunk(setup.model, setup.hp, setup.config.seed, distributed.batch_sharding(setup.mesh))


def train_cohort(run: StudyTraining, record, position: tuple = (1, 1)) -> dict:
    """Trains one cohort from its latest save (or from step 0) to the end; returns the final save's record."""
    setup = run.setup.on_split(record.networks[0].split)  # a cohort never mixes splits (design.pack_cohorts)
    networks, real, iterations = list(record.networks), len(record.networks), setup.hp.max_iter
    every_curve, every_save = setup.config.curve_every, setup.config.checkpoint_every
    inputs = setup.place(cohort.cohort_inputs(networks, setup.data.y_train, setup.data.num_classes, setup.config,
                                              setup.hp, setup.table_width))
    with run.workdir.checkpoints(record.cohort_id) as checkpoints, \
            contextlib.closing(tensorboard.LiveBoard(run.workdir.file("tensorboard"), record.cohort_id)) as board, \
            training_images(setup, inputs) as images:
        start = starting_point(run, setup, record, checkpoints)
        state, step, curves, diverged = setup.place(start.state), start.step, start.curves, start.diverged
        since_point, acc_sum = start.since_point, start.acc_sum
        test_accuracy = test_accuracy_fn(setup) if every_curve > 0 else None
        run.progress.announce(record.cohort_id, *position, real, type(setup.model).__name__, step,
                              min(setup.config.steps_per_call, iterations - step), networks[0].parent is not None)
        run.progress.begin_calls()
        while step < iterations:
            n = chunk_sizes(step, iterations, setup.config.steps_per_call, (every_curve, every_save))
            next_n = chunk_sizes(step + n, iterations, setup.config.steps_per_call, (every_curve, every_save))  # 0 last
            if setup.streaming:  # the host reads the next call's batches while this one runs
                batch_images, batch_labels = images.chunk(step, n, next_n)
                state, chunk_metrics = run.chunk(state, batch_images, batch_labels, inputs)
            else:
                state, chunk_metrics = run.chunk(state, images, inputs, n)
            step, since_point = step + n, since_point + n
            _note_divergence(diverged, chunk_metrics, networks, record.cohort_id)
            acc_sum = acc_sum + chunk_metrics["accuracy"] * n
            if every_curve > 0 and (step % every_curve == 0 or step == iterations):
                # Training accuracy: the mean over the batches seen since the last point.
                curves["step"].append(step)
                curves["train_accuracy"].append(np.asarray(acc_sum / since_point)[:real].tolist())
                curves["test_accuracy"].append(np.asarray(test_accuracy(state))[:real].tolist())
                since_point, acc_sum = 0, 0.0
            run.progress.log(record.cohort_id, step, iterations, n * real * setup.hp.batch_size, chunk_metrics, n)
            board.training(step, np.asarray(chunk_metrics["loss"])[:real], np.asarray(chunk_metrics["accuracy"])[:real],
                           run.progress.last_call_rate)
            if step < iterations and ((every_save and step % every_save == 0) or run.stop):
                meta = _meta(record, setup, step, curves, since_point, acc_sum, inputs, diverged)
                checkpoints.save(step, distributed.unpad_networks(state, real), meta)
                if run.stop:
                    raise Interrupted(f"stopped by {signal.Signals(run.stop.signum).name} at {record.cohort_id} "
                                      f"step {step}/{iterations}, saved", run.stop.signum)
        meta = _meta(record, setup, step, curves, since_point, acc_sum, inputs, diverged)
        return checkpoints.save(step, distributed.unpad_networks(state, real), meta, complete=True)


@contextlib.contextmanager
def training_images(setup: Setup, inputs):
    """The cohort's training images for its chunks: its split's images on the device (released on exit), or its
    host stream (closed on exit)."""
    if not setup.streaming:
        arrays = train.CohortData(jnp.asarray(setup.data.x_train), jnp.asarray(setup.data.y_train))
        yield arrays if setup.mesh is None else distributed.replicate(arrays, setup.mesh)
        return
    with contextlib.closing(open_stream(setup, inputs)) as stream:
        yield stream


def open_stream(setup: Setup, inputs):
    """The cohort's host input stream: grain's worker processes, or threads (config.stream.loader)."""
    stream = setup.config.stream
    if stream.loader == "grain":
        from imbalance_jax.data import grain_stream  # imported here: resident studies never pay for grain's import

        return grain_stream.GrainStream(setup.data, inputs, setup.hp.batch_size, stream.workers, setup.hp.max_iter)
    return streaming.BatchStream(setup.data, inputs, setup.hp.batch_size, stream.workers)


class StartingPoint(NamedTuple):
    """Where a cohort's training starts: its state and step, its curves so far, the training accuracy summed since
    the last curve point, and each network's divergence step (None while finite)."""

    state: Any
    step: int
    curves: dict
    since_point: int
    acc_sum: Any
    diverged: list


def starting_point(run: StudyTraining, setup: Setup, record, checkpoints) -> StartingPoint:
    """The cohort's latest save, or step 0 (fresh weights, or its parents' restored from their cohorts)."""
    networks = list(record.networks)
    meta = checkpoints.read_meta()
    if meta is None:
        parents = parent_variables(run, [n.parent for n in networks]) if networks[0].parent is not None else None
        state = initial_state(setup, networks, parents, run.zca_fits)
        return StartingPoint(state, 0, {"step": [], "train_accuracy": [], "test_accuracy": []}, 0, 0.0,
                             [None] * len(networks))
    state, meta = checkpoints.restore(setup.abstract_state(len(networks)))
    if meta.get("identities") != [n.training_hash for n in networks]:
        raise CheckpointError(f"{checkpoints.directory} holds other networks than {record.cohort_id}'s "
                              f"members.json; {checkpoints.delete_hint()}")
    logging.info("%s resumes at step %d", record.cohort_id, meta["step"])
    acc_sum = np.asarray(meta["train_acc_sum"], np.float32) if meta["since_point"] else 0.0
    return StartingPoint(state, meta["step"], meta["curves"], meta["since_point"], acc_sum,
                         meta.get("diverged", [None] * len(networks)))


def parent_variables(run: StudyTraining, names: list):
    """The named trained networks' {params, preprocess}, stacked in that order, restored cohort by cohort."""
    restored, rows = {}, []
    sizes = {r.cohort_id: len(r.networks) for r in run.layout.cohorts}
    for name in names:
        cohort_id, j = run.layout.located[name]
        if cohort_id not in restored:
            with run.workdir.checkpoints(cohort_id) as checkpoints:
                state = checkpoints.restore(run.setup.abstract_state(sizes[cohort_id]))[0]
            restored[cohort_id] = {"params": state["params"], "preprocess": state["preprocess"]}
        rows.append(jax.tree.map(lambda x: x[j], restored[cohort_id]))
    return cohort.stack_rows(rows)


def initial_state(setup: Setup, networks: list, parents=None, zca_fits: dict = None):
    """A cohort's state at step 0: fresh weights, or its parents' {params, preprocess} with a fresh optimizer
    (zca_fits: the study's latest ZCA fits, cohort.fit_preprocess)."""
    objective = cohort.objectives(networks, setup.config, setup.hp)
    if parents is None:
        pre = cohort.fit_preprocess(networks, setup.data, setup.hp, setup.config.zca_epsilon, setup.config.zca_fit,
                                    zca_fits)
        return train.init_state(setup.model, np.array([n.init_seed for n in networks]), setup.input_shape, pre,
                                objective, setup.hp)
    return train.fresh_state(reinitialised(setup, networks, parents["params"]), parents["preprocess"], objective,
                             setup.hp)


def reinitialised(setup: Setup, networks: list, variables):
    """The parents' variables, with fresh fine-tuning layers for the networks whose method asks (cRT)."""
    def wanted(training):
        value = training.reinit_finetune
        return bool(setup.config[value] if isinstance(value, str) else value)
    reinit = np.array([wanted(methods.get(n.method).training) for n in networks])
    if not reinit.any():
        return variables
    fresh = train.init_state(setup.model, np.array([n.init_seed for n in networks]), setup.input_shape)["params"]
    layers = train.finetune_layers_of(setup.model, setup.hp)

    def pick(path, old, new):
        if path[0].key != "params" or path[1].key not in layers:
            return old
        return jnp.where(reinit.reshape(-1, *[1] * (old.ndim - 1)), new, old)
    return jax.tree_util.tree_map_with_path(pick, variables, fresh)


def chunk_sizes(step: int, iterations: int, steps_per_call: int, every: tuple) -> int:
    """Steps of the next call: at most steps_per_call, ending on each multiple of the periods in `every`."""
    n = min(steps_per_call, iterations - step)
    for period in every:
        if period > 0:
            n = min(n, period - step % period)
    return n


def _note_divergence(diverged: list, chunk_metrics, networks: list, cohort_id: str) -> None:
    """Records and logs each network whose loss or weights stopped being finite in this call."""
    steps = np.asarray(chunk_metrics["nonfinite_step"])[:len(networks)]
    for j, step in enumerate(steps):
        if step >= 0 and diverged[j] is None:
            diverged[j] = int(step)
            logging.warning("%s diverged at step %d (its loss or weights are not finite): it is kept out of "
                            "the results' means and figures; the rest of %s trains on", networks[j].name,
                            step, cohort_id)


def _meta(record, setup: Setup, step: int, curves: dict, since_point: int, acc_sum, inputs, diverged: list) -> dict:
    """The JSON record saved beside a cohort's state."""
    real = len(record.networks)
    return {"cohort": record.cohort_id, "networks": [n.name for n in record.networks],
            "identities": [n.training_hash for n in record.networks], "curves": curves,
            "since_point": since_point, "train_acc_sum": np.asarray(acc_sum).reshape(-1)[:real].tolist()
            if since_point else [], "train_sizes": [int(n) for n in np.asarray(inputs.lengths)[:real]],
            "iterations": setup.hp.max_iter, "diverged": diverged}


def test_accuracy_fn(setup: Setup):
    """state -> each network's accuracy on the test set (for the curves)."""
    predict, x_test, y_test = setup.predict(), setup.test_images(), jnp.asarray(setup.data.y_test)
    return lambda state: jax.vmap(metrics.accuracy, (0, None))(predict(state, x_test), y_test)
