"""Training a study's cohorts: resume from the latest save, save every checkpoint_every steps and at the end.

Each cohort trains through one compiled chunk (train.py) over the whole study; its
CheckpointManager keeps the latest save, so a run killed at any moment loses at most the steps
since that save, and SIGINT / SIGTERM save the cohort in flight before the process exits.
"""
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


def chunk_runner(setup: Setup):
    """run_chunk(state, inputs, step, n, next_n, data) -> (state, metrics) for the study's input pipeline
    (data: the balanced data of the cohort's train/test split)."""
    if setup.streaming:
        chunk = train.make_stream_chunk(setup.model, setup.hp, setup.config.seed)
        streams = {}

        def run_streamed(state, inputs, step, n, next_n, data):
            del data  # a streamed study has the dataset's own split only
            key = id(inputs)  # one stream per cohort: a new cohort brings a new inputs
            if key not in streams:
                for stream in streams.values():
                    stream.close()
                streams.clear()
                streams[key] = open_stream(setup, inputs)
            images, labels = streams[key].chunk(step, n, next_n)
            return chunk(state, images, labels, inputs)

        return run_streamed
    chunk = train.make_train_chunk(setup.model, setup.hp, setup.config.seed, distributed.batch_sharding(setup.mesh))
    resident = {}

    def run_resident(state, inputs, step, n, next_n, data):
        if id(data) not in resident:  # cohorts come split by split: one split's images on the device at a time
            resident.clear()
            arrays = train.CohortData(jnp.asarray(data.x_train), jnp.asarray(data.y_train))
            resident[id(data)] = arrays if setup.mesh is None else distributed.replicate(arrays, setup.mesh)
        return chunk(state, resident[id(data)], inputs, n)

    return run_resident


def open_stream(setup: Setup, inputs):
    """The cohort's host input stream: grain's worker processes, or threads (config.stream.loader)."""
    stream = setup.config.stream
    if stream.loader == "grain":
        from imbalance_jax.data import grain_stream  # imported here: resident studies never pay for grain's import

        return grain_stream.GrainStream(setup.data, inputs, setup.hp.batch_size, stream.workers, setup.hp.max_iter)
    return streaming.BatchStream(setup.data, inputs, setup.hp.batch_size, stream.workers)


def initial_state(setup: Setup, networks: list, restore_parents, zca_kept: dict = None):
    """A cohort's state at step 0: fresh weights, or its parents' weights with a fresh optimizer (zca_kept: the
    caller's cache of the latest ZCA fits, cohort.fit_preprocess)."""
    objective = cohort.objectives(networks, setup.config, setup.hp)
    if networks[0].parent is None:
        pre = cohort.fit_preprocess(networks, setup.data, setup.hp, setup.config.zca_epsilon, setup.config.zca_fit,
                                    zca_kept)
        return train.init_state(setup.model, np.array([n.init_seed for n in networks]), setup.input_shape, pre,
                                objective, setup.hp)
    parents = restore_parents([n.parent for n in networks])
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


class CohortTraining:
    """Trains one cohort from its latest save (or from scratch) to the end, saving as it goes."""

    def __init__(self, setup: Setup, workdir: Workdir, record, run_chunk, restore_parents, report: progress.Progress,
                 stop, zca_kept: dict = None, position: tuple = (1, 1)):
        self.setup = setup.on_split(record.networks[0].split)  # a cohort never mixes splits (design.pack_cohorts)
        self.record, self.run_chunk, self.report, self.stop = record, run_chunk, report, stop
        self.restore_parents, self.zca_kept, self.position = restore_parents, zca_kept, position
        self.checkpoints = workdir.checkpoints(record.cohort_id)
        self.networks = list(record.networks)
        self.board = tensorboard.LiveBoard(workdir.file("tensorboard"), record.cohort_id)

    def _start(self):
        """(state, step, curves, accumulators) from the latest save, or from step 0."""
        meta = self.checkpoints.read_meta()
        if meta is None:
            state = initial_state(self.setup, self.networks, self.restore_parents, self.zca_kept)
            self.diverged = [None] * len(self.networks)
            return state, 0, {"step": [], "train_accuracy": [], "test_accuracy": []}, (0, 0.0)
        state, meta = self.checkpoints.restore(self.setup.abstract_state(len(self.networks)))
        if meta.get("identities") != [n.training_hash for n in self.networks]:
            raise CheckpointError(f"{self.checkpoints.directory} holds other networks than {self.record.cohort_id}'s "
                                  f"members.json; {self.checkpoints.delete_hint()}")
        logging.info("%s resumes at step %d", self.record.cohort_id, meta["step"])
        self.diverged = meta.get("diverged", [None] * len(self.networks))
        acc_sum = np.asarray(meta["train_acc_sum"], np.float32) if meta["since_point"] else 0.0
        return state, meta["step"], meta["curves"], (meta["since_point"], acc_sum)

    def _check_divergence(self, chunk_metrics) -> None:
        """Records and logs each network whose loss or weights stopped being finite in this call."""
        steps = np.asarray(chunk_metrics["nonfinite_step"])[:len(self.networks)]
        for j, step in enumerate(steps):
            if step >= 0 and self.diverged[j] is None:
                self.diverged[j] = int(step)
                logging.warning("%s diverged at step %d (its loss or weights are not finite): it is kept out of "
                                "the results' means and figures; the rest of %s trains on", self.networks[j].name,
                                step, self.record.cohort_id)

    def _meta(self, step, curves, since_point, acc_sum, inputs):
        real = len(self.networks)
        return {"cohort": self.record.cohort_id, "networks": [n.name for n in self.networks],
                "identities": [n.training_hash for n in self.networks], "curves": curves,
                "since_point": since_point, "train_acc_sum": np.asarray(acc_sum).reshape(-1)[:real].tolist()
                if since_point else [], "train_sizes": [int(n) for n in np.asarray(inputs.lengths)[:real]],
                "iterations": self.setup.hp.max_iter, "diverged": self.diverged}

    def run(self) -> dict:
        """Trains to the end; returns the final save's record."""
        setup, iterations = self.setup, self.setup.hp.max_iter
        state, step, curves, (since_point, acc_sum) = self._start()
        inputs = cohort.cohort_inputs(self.networks, setup.data.y_train, setup.data.num_classes, setup.config, setup.hp,
                                  setup.table_width)
        real = len(self.networks)
        state, inputs = setup.place(state), setup.place(inputs)
        every_curve, every_save = setup.config.curve_every, setup.config.checkpoint_every
        test_accuracy = test_accuracy_fn(setup) if every_curve > 0 else None
        self.report.announce(self.record.cohort_id, *self.position, real, type(setup.model).__name__, step,
                             min(setup.config.steps_per_call, iterations - step), self.networks[0].parent is not None)
        self.report.begin_calls()
        try:
            while step < iterations:
                n = chunk_sizes(step, iterations, setup.config.steps_per_call, (every_curve, every_save))
                following = step + n
                next_n = chunk_sizes(following, iterations, setup.config.steps_per_call, (every_curve, every_save)) \
                    if following < iterations else 0
                state, chunk_metrics = self.run_chunk(state, inputs, step, n, next_n, setup.data)
                step, since_point = following, since_point + n
                self._check_divergence(chunk_metrics)
                acc_sum = acc_sum + chunk_metrics["accuracy"] * n
                if every_curve > 0 and (step % every_curve == 0 or step == iterations):
                    # Training accuracy: the mean over the batches seen since the last point.
                    curves["step"].append(step)
                    curves["train_accuracy"].append(np.asarray(acc_sum / since_point)[:real].tolist())
                    curves["test_accuracy"].append(np.asarray(test_accuracy(state))[:real].tolist())
                    since_point, acc_sum = 0, 0.0
                self.report.log(self.record.cohort_id, step, iterations, n * real * setup.hp.batch_size, chunk_metrics,
                                n)
                self.board.training(step, np.asarray(chunk_metrics["loss"])[:real],
                                    np.asarray(chunk_metrics["accuracy"])[:real], self.report.last_call_rate)
                if step < iterations and ((every_save and step % every_save == 0) or self.stop):
                    meta = self._meta(step, curves, since_point, acc_sum, inputs)
                    self.checkpoints.save(step, distributed.unpad_networks(state, real), meta)
                    if self.stop:
                        raise Interrupted(f"stopped by {_signal_name(self.stop.signum)} at {self.record.cohort_id} "
                                          f"step {step}/{iterations}, saved", self.stop.signum)
            meta = self._meta(step, curves, since_point, acc_sum, inputs)
            return self.checkpoints.save(step, distributed.unpad_networks(state, real), meta, complete=True)
        finally:
            self.checkpoints.close()
            self.board.close()


def _signal_name(signum: int) -> str:
    import signal

    return signal.Signals(signum).name


def test_accuracy_fn(setup: Setup):
    """state -> each network's accuracy on the test set (for the curves)."""
    predict, x_test, y_test = setup.predict(), setup.test_images(), jnp.asarray(setup.data.y_test)
    return lambda state: jax.vmap(metrics.accuracy, (0, None))(predict(state, x_test), y_test)
