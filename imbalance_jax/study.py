"""A study: config -> networks -> cohorts -> train / resume -> checkpoints -> evaluation -> results.csv.

Imbalance parameters stop here: each network becomes an index table, and every cohort trains
through the same compiled step whatever its networks' settings and methods.
"""
import csv
import dataclasses
import hashlib
import json
import math
import os
import time
from typing import Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging

from imbalance_jax import checkpoint, distributed, imbalance, losses, methods, metrics, sampling, sizing, train
from imbalance_jax.data import BalancedData, load_balanced, preprocessing, streaming
from imbalance_jax.models import get_model

RESULT_COLUMNS = (
    "dataset", "imbalance", "rho", "mu", "minority_classes", "seed", "repetition", "method",
    "auc", "accuracy", "balanced_accuracy", "macro_f1", "train_size", "iterations", "lr", "lr_run",
    "selected", "network", "cohort", "per_class_recall", "per_class_auc",
)
CURVE_COLUMNS = ("network", "method", "imbalance", "rho", "mu", "repetition", "step",
                 "train_accuracy", "test_accuracy")
# Fields that may change between a run and its resumption without changing what it computes.
RESUMABLE_FIELDS = ("steps_per_call", "report", "curve_every", "eval_batch_size", "data_parallel",
                    "networks_per_vmap")


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
    """One trained network of the study: its imbalanced set, method and seeds."""

    name: str
    set_name: str
    imbalance: str
    rho: float
    mu: Optional[float]
    repetition: int
    set_seed: int
    class_counts: tuple  # examples per label in the imbalanced set (before sampling)
    method: str  # the trained network's method name
    reported: tuple  # the method names whose results this network produces
    parent: Optional[str] = None
    base_lr: float = 0.01  # this network's base learning rate (before the two-phase factor)
    lr_run: int = 0  # which repeat of the learning-rate protocol
    init_seed: int = 0  # initial weights, data order and dropout

    @property
    def minority_classes(self) -> list:
        """Labels with fewer examples than the largest class."""
        return imbalance.minority_classes(np.array(self.class_counts))


def _seed(*parts) -> int:
    """A stable 31-bit seed from any printable parts."""
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:4], "little") & 0x7FFFFFFF


def imbalanced_sets(config: ml_collections.ConfigDict, num_classes: int, n_max: int,
                    available: Optional[np.ndarray] = None) -> list[dict]:
    """The config's grid of imbalanced training sets: one dict per (type, rho, mu, repetition).

    available (examples per class) marks classes with fewer than n_max, which are always minority.
    """
    grid = config.imbalance
    short = [] if available is None else np.flatnonzero(np.asarray(available) < n_max).tolist()
    repetitions = grid.repetitions
    settings = [("step", float(rho), float(mu), repetitions) for rho in grid.step_rhos for mu in grid.step_mus]
    # Individual (mu, rho, repetitions) settings, beside the rho x mu product (the ImageNet grid).
    settings += [("step", float(rho), float(mu), int(reps)) for mu, rho, reps in grid.get("step_settings", ())]
    settings += [("linear", float(rho), None, repetitions) for rho in grid.linear_rhos]
    settings += [("exponential", float(rho), None, repetitions) for rho in grid.get("exponential_rhos", ())]
    if not settings:
        raise ValueError("the config's grid is empty; give imbalance.step_rhos with step_mus, step_settings, "
                         "linear_rhos or exponential_rhos")
    sets = []
    for kind, rho, mu, reps in settings:
        shape = {"step": lambda: imbalance.step_counts(num_classes, n_max, rho, mu),
                 "linear": lambda: imbalance.linear_counts(num_classes, n_max, rho),
                 "exponential": lambda: imbalance.exponential_counts(num_classes, n_max, rho)}
        counts = shape[kind]()
        for rep in range(reps):
            set_seed = _seed(config.seed, kind, rho, mu, rep)
            by_label = imbalance.assign_counts(counts, grid.minority, set_seed, short)
            name = f"{kind}_rho{rho:g}" + (f"_mu{mu:g}" if mu is not None else "") + f"_rep{rep}"
            sets.append(dict(set_name=name, imbalance=kind, rho=rho, mu=mu, repetition=rep,
                             set_seed=set_seed, class_counts=tuple(int(c) for c in by_label)))
    return sets


def plan_networks(config: ml_collections.ConfigDict, num_classes: int, n_max: int,
                  available: Optional[np.ndarray] = None) -> list[NetworkSpec]:
    """Every network the study trains, parents (stage 0) before two-phase networks (stage 1)."""
    requested = list(config.methods)
    if not requested:
        raise ValueError("config.methods is empty; list at least one method, e.g. 'baseline'")
    parsed = [methods.parse(name) for name in requested]
    trained = methods.trained_networks(requested)
    runs = learning_rate_runs(config)
    specs = []
    for stage in (0, 1):
        for s in imbalanced_sets(config, num_classes, n_max, available):
            for network in trained:
                method = methods.parse(network)
                if (method.parent is not None) != bool(stage):
                    continue
                reported = tuple(m.name for m in parsed if m.network == network)
                for lr, run, suffix in runs:
                    specs.append(NetworkSpec(
                        name=f"{s['set_name']}/{network}{suffix}", method=network, reported=reported,
                        parent=f"{s['set_name']}/{method.parent}{suffix}" if method.parent else None,
                        base_lr=lr, lr_run=run, init_seed=_seed(s["set_seed"], run) if run else s["set_seed"],
                        **s))
    return specs


def learning_rate_runs(config: ml_collections.ConfigDict) -> list[tuple]:
    """(base_lr, run, name suffix) of each network trained per (set, method): lr_grid x lr_repeats.

    The CIFAR-10 protocol (Section 3.3.2) trains every lr of the grid twice and keeps the
    network with the best test AUC; a single lr and repeat gives one network and no suffix.
    """
    grid = tuple(config.train.lr_grid) or (config.train.base_lr,)
    repeats = config.train.lr_repeats
    if repeats < 1 or any(lr <= 0 for lr in grid):
        raise ValueError(f"lr_grid={grid} and lr_repeats={repeats} must be positive")
    if len(grid) * repeats == 1:
        return [(grid[0], 0, "")]
    return [(lr, run, f"/lr{lr:g}_run{run}") for lr in grid for run in range(repeats)]


def imbalanced_subset(spec: NetworkSpec, labels: np.ndarray) -> np.ndarray:
    """Indices into the balanced training set of this network's imbalanced set, before sampling."""
    return imbalance.subsample(labels, np.array(spec.class_counts), spec.set_seed)


def training_indices(spec: NetworkSpec, labels: np.ndarray) -> np.ndarray:
    """Indices into the balanced training set that this network trains on (imbalanced, then sampled)."""
    subset = imbalanced_subset(spec, labels)
    method = methods.parse(spec.method)
    if method.sampler == "oversample":
        return subset[sampling.oversample(labels[subset], spec.set_seed + 1, method.target_rho)]
    if method.sampler == "undersample":
        return subset[sampling.undersample(labels[subset], spec.set_seed + 1, method.target_rho)]
    if method.sampler == "sqrt":
        return subset[sampling.sqrt_sample(labels[subset], spec.set_seed + 1)]
    return subset  # class-aware sampling walks the imbalanced set class by class


def pack_cohorts(specs: list[NetworkSpec], cohort_size: int) -> list[list[NetworkSpec]]:
    """Consecutive groups of at most cohort_size networks; a cohort never mixes the two stages."""
    if cohort_size < 1:
        raise ValueError(f"cohort_size={cohort_size} must be at least 1")
    cohorts = []
    for stage in (False, True):
        staged = [s for s in specs if (s.parent is not None) == stage]
        cohorts += [staged[i:i + cohort_size] for i in range(0, len(staged), cohort_size)]
    return cohorts


def hparams(config: ml_collections.ConfigDict) -> train.TrainHParams:
    """The config's solver settings as TrainHParams."""
    t = config.train
    return train.TrainHParams(
        batch_size=t.batch_size, base_lr=t.base_lr, momentum=t.momentum, weight_decay=t.weight_decay,
        lr_policy=t.lr_policy, lr_gamma=t.lr_gamma, lr_power=t.lr_power, lr_steps=tuple(t.lr_steps),
        max_iter=t.iterations, input_scale=t.input_scale, preprocess=config.preprocess,
        networks_per_vmap=config.get("networks_per_vmap", 0))


def build_model(config: ml_collections.ConfigDict, num_classes: int):
    """The config's model, with its conv lowering and compute dtype."""
    return get_model(config.model, num_classes=num_classes, conv_impl=config.conv_impl,
                     dtype=jnp.dtype(config.compute_dtype), networks_per_vmap=config.get("networks_per_vmap", 0))


class Study:
    """A study bound to a workdir: plans networks, trains missing cohorts, evaluates, writes results."""

    def __init__(self, config: ml_collections.ConfigDict, workdir: str):
        self.config = config
        self.workdir = workdir
        self.streaming = config.input_pipeline == "stream"
        if config.input_pipeline not in ("resident", "stream"):
            raise ValueError(f"input_pipeline={config.input_pipeline!r} must be 'resident' or 'stream'")
        if self.streaming:
            if not config.train_per_class or not config.cohort_size:
                raise ValueError("input_pipeline='stream' needs train_per_class (the majority cap) and a "
                                 "cohort_size above 0")
            self.data = streaming.load_stream(config.dataset, config.train_per_class, config.test_per_class,
                                              config.stream.resize, config.stream.crop, config.data_seed)
            self.input_shape = self.data.input_shape
        else:
            self.data: BalancedData = load_balanced(
                config.dataset, config.train_per_class, config.test_per_class, config.data_seed)
            self.input_shape = self.data.x_train.shape[1:]
        self.specs = plan_networks(config, self.data.num_classes, self.data.n_max,
                                   np.bincount(self.data.y_train, minlength=self.data.num_classes))
        self.model = build_model(config, self.data.num_classes)
        if not getattr(self.model, "has_cosine_head", True) and any(s.method == "ldam_drw" for s in self.specs):
            raise ValueError(f"method 'ldam_drw' needs cosine logits from a fully connected head; model="
                             f"{config.model!r} has none, use lenet5 or resnet10")
        self.hp = hparams(config)
        self._check_workdir()
        self.cohort_size, self.eval_batch_size = self._resolve_sizes()
        self.cohorts = pack_cohorts(self.specs, self.cohort_size)
        self.mesh = distributed.make_mesh(config.data_parallel)
        if self.mesh is not None and self.hp.networks_per_vmap:
            raise ValueError(f"networks_per_vmap={self.hp.networks_per_vmap} steps networks in turn on one device; "
                             f"with {jax.local_device_count()} devices set it to 0")
        self.predict = train.make_predict(self.model, self.hp, self.eval_batch_size)

    # --- workdir bookkeeping -----------------------------------------------------------------
    def cohort_dir(self, index: int) -> str:
        """Where cohort `index` keeps its checkpoint."""
        return os.path.join(self.workdir, "cohorts", f"cohort_{index:05d}")

    def eval_path(self, index: int) -> str:
        """Where the evaluation of cohort `index` is written."""
        return os.path.join(self.workdir, "eval", f"cohort_{index:05d}.json")

    def _check_workdir(self):
        os.makedirs(self.workdir, exist_ok=True)
        path = os.path.join(self.workdir, "config.json")
        current = json.loads(self.config.to_json())
        if os.path.exists(path):
            with open(path) as f:
                saved = json.load(f)
            changed = sorted(k for k in set(saved) | set(current)
                             if k not in RESUMABLE_FIELDS and saved.get(k) != current.get(k))
            if changed:
                raise ValueError(
                    f"workdir {self.workdir} holds a study with a different config (changed: "
                    f"{', '.join(changed)}); use a new --workdir or restore the old values")
        checkpoint.write_json(path, current)

    def _resolve_sizes(self) -> tuple[int, int]:
        """(cohort size, evaluation batch): the config's, or for cohort_size 0 the most networks that
        fit the device and the evaluation batch that fits beside them (kept for resuming)."""
        if self.config.cohort_size < 0:
            raise ValueError(f"cohort_size={self.config.cohort_size} must be positive, or 0 to fit the device")
        if self.config.cohort_size > 0:
            return self.config.cohort_size, self.config.eval_batch_size
        path = os.path.join(self.workdir, "cohort_size.json")
        if os.path.exists(path):
            with open(path) as f:
                saved = json.load(f)
            return saved["cohort_size"], saved.get("eval_batch_size", self.config.eval_batch_size)
        footprint = sizing.measured_footprint(self.model, self.hp, self.data.x_train.shape,
                                              len(self.data.y_train), self.config.steps_per_call)
        free = sizing.free_device_bytes()
        largest_stage = max(sum(s.parent is None for s in self.specs), sum(s.parent is not None for s in self.specs))
        size = sizing.cohort_size_for(footprint.fixed, footprint.per_network, free, largest_stage)
        eval_batch = sizing.eval_batch_for(footprint, free, size, self.config.eval_batch_size)
        logging.info("cohort size %d, evaluation batch %d: %.1f MiB per network measured, %.1f GiB free on %s",
                     size, eval_batch, footprint.per_network / 2**20, free / 2**30, jax.devices()[0].device_kind)
        checkpoint.write_json(path, {"cohort_size": size, "eval_batch_size": eval_batch,
                                     "bytes_per_network": footprint.per_network, "fixed_bytes": footprint.fixed,
                                     "eval_bytes_per_network_image": footprint.per_eval_image, "free_bytes": free})
        return size, eval_batch

    # --- training ----------------------------------------------------------------------------
    def run(self) -> list[dict]:
        """Trains every unfinished cohort, evaluates every unevaluated one, writes results.csv."""
        self.train_all()
        self.evaluate_all()
        _barrier("evaluated")
        return self.write_results()

    def train_all(self) -> None:
        """Trains this host's cohorts that have no finished checkpoint, stage by stage, logging progress."""
        mine = distributed.my_cohorts(len(self.cohorts))
        todo = [i for i in mine if not checkpoint.is_complete(self.cohort_dir(i))]
        progress = _Progress(
            total_networks=len(self.specs),
            done_networks=len(self.specs) - sum(len(self.cohorts[i]) for i in todo),
            images_total=sum(len(self.cohorts[i]) for i in todo) * self.hp.batch_size * self.hp.max_iter)
        logging.info("%d networks in %d cohorts; %d cohorts to train (%d networks already trained)",
                     progress.total_networks, len(self.cohorts), len(todo), progress.done_networks)
        run_chunk = (self._stream_runner() if self.streaming else self._resident_runner()) if todo else None
        fine_tuned = [i for i, cohort in enumerate(self.cohorts) if cohort[0].parent is not None]
        for i in sorted(todo, key=lambda i: i in fine_tuned):
            if i == min(set(todo) & set(fine_tuned), default=None):
                _barrier("parents trained")  # fine-tuned cohorts read other hosts' parents
            state, curves, train_sizes = self._train_cohort(i, run_chunk, progress)
            meta = {"networks": [dataclasses.asdict(s) for s in self.cohorts[i]], "step": int(state["step"]),
                    "train_sizes": train_sizes,
                    "curves": curves, "config": json.loads(self.config.to_json())}
            checkpoint.save(self.cohort_dir(i), state, meta)
            progress.done_networks += len(self.cohorts[i])
        if fine_tuned and not set(todo) & set(fine_tuned):
            _barrier("parents trained")  # every host meets here once, with or without such cohorts
        logging.info("trained %d cohorts in %s", len(todo), _duration(progress.elapsed()))

    def _resident_runner(self):
        """run_chunk for datasets held on the device: batches gathered inside the compiled step."""
        chunk = train.make_train_chunk(self.model, self.hp, self.config.seed, distributed.batch_sharding(self.mesh))
        data = train.CohortData(jnp.asarray(self.data.x_train), jnp.asarray(self.data.y_train))
        if self.mesh is not None:
            data = distributed.replicate(data, self.mesh)
        return lambda state, plan, step, n, next_n: chunk(state, data, plan, n)

    def _stream_runner(self):
        """run_chunk for streamed datasets: the host reads K steps of batches ahead of the device."""
        chunk = train.make_stream_chunk(self.model, self.hp, self.config.seed)
        streams = {}

        def run(state, plan, step, n, next_n):
            key = id(plan)  # one stream per cohort: a new cohort brings a new plan
            if key not in streams:
                streams.clear()
                streams[key] = streaming.BatchStream(self.data, plan, self.hp.batch_size, self.config.stream.workers)
            images, labels = streams[key].chunk(step, n, next_n)
            return chunk(state, images, labels, plan)

        return run

    def _train_cohort(self, index, run_chunk, progress):
        """Trains one cohort to the end; returns its state, accuracy curves and training-set sizes."""
        cohort = self.cohorts[index]
        state, plan = self._cohort_inputs(cohort)
        if self.mesh is not None:  # the network axis split over devices, padded to divide evenly
            multiple = self.mesh.shape["networks"]
            state = distributed.shard_networks(distributed.pad_networks(state, multiple), self.mesh)
            plan = distributed.shard_networks(distributed.pad_networks(plan, multiple), self.mesh)
        real = len(cohort)
        iterations, every = self.hp.max_iter, self.config.curve_every
        curves = {"step": [], "train_accuracy": [], "test_accuracy": []}
        test_accuracy = self._test_accuracy_fn() if every > 0 else None
        step, since_point, train_acc_sum = 0, 0, 0.0
        def steps_from(step):
            n = min(self.config.steps_per_call, iterations - step)
            return min(n, every - step % every) if every > 0 else n

        while step < iterations:
            n = steps_from(step)
            next_n = steps_from(step + n) if step + n < iterations else 0
            state, chunk_metrics = run_chunk(state, plan, step, n, next_n)
            step += n
            since_point += n
            train_acc_sum = train_acc_sum + chunk_metrics["accuracy"] * n
            if every > 0 and (step % every == 0 or step == iterations):
                # Training accuracy: the mean over the batches seen since the last point.
                curves["step"].append(step)
                curves["train_accuracy"].append(np.asarray(train_acc_sum / since_point)[:real].tolist())
                curves["test_accuracy"].append(np.asarray(test_accuracy(state))[:real].tolist())
                since_point, train_acc_sum = 0, 0.0
            progress.log(index, len(self.cohorts), step, iterations, n * real * self.hp.batch_size,
                         chunk_metrics)
        state = distributed.unpad_networks(state, real)
        return state, curves, [int(n) for n in plan.lengths[:real]]

    def _test_images(self):
        if self.streaming:
            return streaming.TestImages(self.data, self.config.stream.workers)
        return jnp.asarray(self.data.x_test)

    def _test_accuracy_fn(self):
        x_test, y_test = self._test_images(), jnp.asarray(self.data.y_test)
        return lambda state: jax.vmap(metrics.accuracy, (0, None))(self.predict(state, x_test), y_test)

    def _cohort_inputs(self, cohort: list[NetworkSpec]):
        labels = self.data.y_train
        index_sets = [training_indices(s, labels) for s in cohort]
        # One width for the whole study, so every cohort reuses the same compiled step; rows in
        # class order, with class blocks, for class-aware sampling.
        table = sampling.index_table(index_sets, width=len(labels), labels=labels, num_classes=self.data.num_classes)
        parsed = [methods.parse(s.method) for s in cohort]
        plan = train.CohortPlan(
            table=jnp.asarray(table.indices), lengths=jnp.asarray(table.lengths),
            seeds=jnp.asarray([s.init_seed for s in cohort], jnp.uint32),
            lr_scales=jnp.asarray([s.base_lr / self.hp.base_lr * (self.config.two_phase_lr_factor if s.parent else 1.0)
                                   for s in cohort], jnp.float32),
            finetune_last=jnp.asarray([s.parent is not None for s in cohort]),
            class_aware=jnp.asarray([m.sampler == "class_aware" for m in parsed]),
            class_offsets=jnp.asarray(table.class_offsets), class_counts=jnp.asarray(table.class_counts))
        objective = train.stack_objectives([
            losses.objective_for(m.loss, s.class_counts, self.config.losses, self.hp.max_iter)
            for s, m in zip(cohort, parsed)])
        if cohort[0].parent is None:
            state = train.init_state(self.model, np.array([s.init_seed for s in cohort]),
                                     self.input_shape, self._fit_preprocess(cohort), objective)
        else:
            parents = self.parent_states([s.parent for s in cohort])
            state = train.fresh_state(parents["params"], parents["preprocess"], objective)
        return state, plan

    def _fit_preprocess(self, cohort: list[NetworkSpec]):
        """Each network's input transform, fitted on its imbalanced set before sampling (CIFAR-10's ZCA)."""
        if self.hp.preprocess != "gcn_zca":
            return None
        fitted = {}
        for s in cohort:
            if s.set_name not in fitted:
                subset = imbalanced_subset(s, self.data.y_train)
                fitted[s.set_name] = preprocessing.fit_zca(self.data.x_train[subset], self.config.zca_epsilon)
        return jax.tree.map(lambda *xs: jnp.stack(xs), *[fitted[s.set_name] for s in cohort])

    def parent_states(self, names: list[str]):
        """Params and input transforms of the named (already trained) networks, stacked in that order."""
        where = {s.name: (ci, j) for ci, cohort in enumerate(self.cohorts) for j, s in enumerate(cohort)}
        restored = {}
        rows = []
        for name in names:
            ci, j = where[name]
            if ci not in restored:
                state = self.restore(ci)
                restored[ci] = {"params": state["params"], "preprocess": state["preprocess"]}
            rows.append(jax.tree.map(lambda x: x[j], restored[ci]))
        return jax.tree.map(lambda *xs: jnp.stack(xs), *rows)

    def restore(self, index: int):
        """The trained state of cohort `index` from its checkpoint."""
        abstract = train.abstract_state(self.model, len(self.cohorts[index]), self.input_shape,
                                        self.hp.preprocess)
        return checkpoint.restore(self.cohort_dir(index), abstract)

    # --- evaluation ----------------------------------------------------------------------------
    def evaluate_all(self, force: bool = False) -> None:
        """Evaluates this host's trained cohorts that have no evaluation yet (all of them with force)."""
        x_test, y_test = self._test_images(), jnp.asarray(self.data.y_test)
        for i in distributed.my_cohorts(len(self.cohorts)):
            cohort = self.cohorts[i]
            if not checkpoint.is_complete(self.cohort_dir(i)):
                raise checkpoint.CheckpointError(
                    f"cohort {i} ({self.cohort_dir(i)}) is not trained; run launch.study to train it first")
            if os.path.exists(self.eval_path(i)) and not force:
                continue
            state = self.restore(i)
            probs = self.predict(state, x_test)
            taus = sorted({m.tau for s in cohort for m in map(methods.parse, s.reported) if m.evaluation == "tau_norm"})
            head = self.model.last_layers[-1]
            tau_normalized = {t: self.predict(tau_normalize(state, head, t), x_test) for t in taus}
            train_sizes = checkpoint.read_meta(self.cohort_dir(i))["train_sizes"]
            rows = evaluate_cohort(cohort, train_sizes, probs, y_test, self.config, i, tau_normalized)
            os.makedirs(os.path.dirname(self.eval_path(i)), exist_ok=True)
            checkpoint.write_json(self.eval_path(i), rows)
            logging.info("evaluated cohort %d/%d (%d networks)", i + 1, len(self.cohorts), len(cohort))

    def write_results(self) -> list[dict]:
        """Gathers every cohort's evaluation into results.csv (and curves into curves.csv); returns the rows."""
        rows, curves = [], []
        for i, cohort in enumerate(self.cohorts):
            with open(self.eval_path(i)) as f:
                rows += json.load(f)
            curves += curve_rows(cohort, checkpoint.read_meta(self.cohort_dir(i)).get("curves"))
        mark_selected(rows)
        if jax.process_index() == 0:
            _write_csv(os.path.join(self.workdir, "results.csv"), RESULT_COLUMNS, rows)
            if curves:
                _write_csv(os.path.join(self.workdir, "curves.csv"), CURVE_COLUMNS, curves)
        logging.info("wrote %d rows to %s", len(rows), os.path.join(self.workdir, "results.csv"))
        return rows


BARRIER_TIMEOUT_S = 7 * 24 * 3600  # other hosts may still be training: wait as long as a study runs


def _barrier(name: str) -> None:
    """Waits for every host (a no-op with one process), through jax.distributed's coordination
    service, which needs no collectives (none are set up for the CPU by default)."""
    if jax.process_count() > 1:
        from jax._src import distributed

        distributed.global_state.client.wait_at_barrier(name, BARRIER_TIMEOUT_S * 1000)


def mark_selected(rows: list[dict]) -> None:
    """Sets selected=1 on the best-AUC row of each (imbalanced set, method) over its learning-rate runs."""
    best = {}
    for row in rows:
        key = (row["network"].split("/")[0], row["method"])
        if key not in best or row["auc"] > best[key]["auc"]:
            best[key] = row
    chosen = {id(r) for r in best.values()}
    for row in rows:
        row["selected"] = int(id(row) in chosen)


def _write_csv(path, columns, rows):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def curve_rows(cohort: list[NetworkSpec], curves: Optional[dict]) -> list[dict]:
    """Rows of curves.csv: train and test accuracy of each network at each recorded step."""
    if not curves or not curves["step"]:
        return []
    rows = []
    for j, spec in enumerate(cohort):
        for k, step in enumerate(curves["step"]):
            rows.append(dict(network=spec.name, method=spec.method, imbalance=spec.imbalance, rho=spec.rho,
                             mu="" if spec.mu is None else spec.mu, repetition=spec.repetition, step=step,
                             train_accuracy=curves["train_accuracy"][k][j],
                             test_accuracy=curves["test_accuracy"][k][j]))
    return rows


@jax.jit
def _metrics(scores, labels):
    """Metrics of score matrices [R, n, C] against the test labels."""
    def one(s):
        recall = metrics.per_class_recall(s, labels)
        class_auc = metrics.per_class_auc(s, labels)
        return {"auc": jnp.mean(class_auc), "accuracy": metrics.accuracy(s, labels),
                "balanced_accuracy": jnp.mean(recall), "macro_f1": metrics.macro_f1(s, labels),
                "per_class_recall": recall, "per_class_auc": class_auc}
    return jax.vmap(one)(scores)


def method_scores(method: methods.Method, probs: jax.Array, prior: jax.Array, tau_normalized: dict) -> jax.Array:
    """A network's test scores under a method's evaluation: [n, C] from its softmax [n, C]."""
    if method.evaluation == "threshold":
        return metrics.threshold(probs, prior)
    if method.evaluation == "posthoc":
        return probs / prior ** method.tau  # tau = 1 is thresholding
    if method.evaluation == "tau_norm":
        return tau_normalized[method.tau]
    return probs


def evaluate_cohort(cohort: list[NetworkSpec], train_sizes: list[int], probs: jax.Array, labels: jax.Array,
                    config: ml_collections.ConfigDict, cohort_index: int, tau_normalized=None,
                    rows_per_call: int = 256) -> list[dict]:
    """Result rows of every (network, reported method) of a cohort from its test probabilities.

    tau_normalized maps each tau to the cohort's softmax [N, n, C] with tau-normalised output weights.
    """
    tau_normalized = tau_normalized or {}
    counts = np.array([s.class_counts for s in cohort], np.float32)
    prior = jnp.asarray(counts / counts.sum(1, keepdims=True))
    wanted = [(j, methods.parse(name)) for j, spec in enumerate(cohort) for name in spec.reported]
    results = []
    for start in range(0, len(wanted), rows_per_call):
        part = wanted[start:start + rows_per_call]
        scores = jnp.stack([method_scores(m, probs[j], prior[j], {t: p[j] for t, p in tau_normalized.items()})
                            for j, m in part])
        results.append(jax.tree.map(np.asarray, _metrics(scores, labels)))
    merged = jax.tree.map(lambda *xs: np.concatenate(xs), *results) if results else {}
    rows = []
    for r, (j, method) in enumerate(wanted):
        spec = cohort[j]
        rows.append(dict(
            dataset=config.dataset, imbalance=spec.imbalance, rho=spec.rho, mu="" if spec.mu is None else spec.mu,
            minority_classes=" ".join(map(str, spec.minority_classes)), seed=spec.set_seed,
            repetition=spec.repetition, method=method.name,
            auc=float(merged["auc"][r]), accuracy=float(merged["accuracy"][r]),
            balanced_accuracy=float(merged["balanced_accuracy"][r]), macro_f1=float(merged["macro_f1"][r]),
            per_class_recall=" ".join(f"{v:.4f}" for v in merged["per_class_recall"][r]),
            per_class_auc=" ".join(f"{v:.4f}" for v in merged["per_class_auc"][r]),
            train_size=train_sizes[j], iterations=config.train.iterations, lr=spec.base_lr, lr_run=spec.lr_run,
            network=spec.name, cohort=cohort_index))
    return rows


def tau_normalize(state, head: str, tau: float):
    """The state with its output layer's class weight vectors divided by their norm^tau (Kang et al. 2020)."""
    def scale(kernel):  # [N, ..., C]: a norm per network and class over the other axes
        axes = tuple(range(1, kernel.ndim - 1))
        return kernel / jnp.maximum(jnp.sqrt(jnp.sum(kernel * kernel, axis=axes, keepdims=True)), 1e-12) ** tau
    params = dict(state["params"]["params"])
    params[head] = {**params[head], "kernel": scale(params[head]["kernel"])}
    return {**state, "params": {**state["params"], "params": params}}


class _Progress:
    """Counts networks and images across cohorts and logs a line per compiled call."""

    def __init__(self, total_networks, done_networks, images_total):
        self.total_networks, self.done_networks = total_networks, done_networks
        self.images_total, self.images_done = images_total, 0
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def log(self, cohort, num_cohorts, step, iterations, images, chunk_metrics):
        jax.block_until_ready(chunk_metrics)  # the call is dispatched asynchronously: time its end
        self.images_done += images
        rate = self.images_done / self.elapsed()
        logging.info(
            "cohort %d/%d step %d/%d | networks %d/%d | %.0f img/s | train loss %.3f acc %.3f | %s left",
            cohort + 1, num_cohorts, step, iterations, self.done_networks, self.total_networks, rate,
            float(chunk_metrics["loss"].mean()), float(chunk_metrics["accuracy"].mean()),
            _duration((self.images_total - self.images_done) / max(rate, 1e-9)))


def _duration(seconds: float) -> str:
    seconds = int(math.ceil(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"
