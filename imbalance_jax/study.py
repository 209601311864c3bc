"""A study bound to a workdir: data, model and plan loaded once; then train -> evaluate -> results.

  Study(config, workdir).run()

The config says which networks the study wants (imbalance_jax.plan); the workdir says which of
them its cohorts already hold (imbalance_jax.workdir). Only the networks no cohort holds are packed
into new cohorts and trained, so a study grows; evaluation redoes only what is new or retrained.
"""
import copy

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging

from imbalance_jax import distributed, methods, plan, sizing, stages, train, validate, workdir as workdir_lib
from imbalance_jax.checkpoint import CohortCheckpoints
from imbalance_jax.data import DatasetError, load_balanced, resplit, streaming
from imbalance_jax.models import get_model, interface_of


def hparams(config: ml_collections.ConfigDict) -> train.TrainHParams:
    """The config's solver settings as TrainHParams."""
    t = config.train
    return train.TrainHParams(
        batch_size=t.batch_size, base_lr=t.base_lr, momentum=t.momentum, weight_decay=t.weight_decay,
        lr_policy=t.lr_policy, lr_gamma=t.lr_gamma, lr_power=t.lr_power, lr_steps=tuple(t.lr_steps),
        warmup_steps=t.get("warmup_steps", 0), optimizer=t.get("optimizer", "caffe_sgd"),
        max_iter=t.iterations, input_scale=t.input_scale, preprocess=config.preprocess,
        networks_per_vmap=config.get("networks_per_vmap", 0), bias_lr_mult=t.get("bias_lr_mult", 1.0),
        finetune_layers=tuple(config.get("finetune_layers", ())))


def build_model(config: ml_collections.ConfigDict, num_classes: int):
    """The config's model, with its conv lowering and compute dtype."""
    return get_model(config.model, num_classes=num_classes, conv_impl=config.conv_impl,
                     dtype=jnp.dtype(config.compute_dtype), networks_per_vmap=config.get("networks_per_vmap", 0))


MIN_SIDE = 16  # LeNet-5's two 5x5 convolutions and 2x2 poolings need 16x16 inputs at least


def load_data(config: ml_collections.ConfigDict):
    """The balanced dataset (resident) or its streamed reader, and the input shape."""
    if config.input_pipeline not in ("resident", "stream"):
        raise ValueError(f"input_pipeline={config.input_pipeline!r} must be 'resident' or 'stream'")
    if config.input_pipeline == "stream":
        if config.stream.get("loader", "grain") not in ("grain", "threads"):
            raise ValueError(f"stream.loader={config.stream.loader!r} must be 'grain' (worker processes) or "
                             "'threads'")
        if not config.train_per_class or not config.cohort_size:
            raise ValueError("input_pipeline='stream' needs train_per_class (the majority cap) and a "
                             "cohort_size above 0")
        if config.get("resplits", 1) > 1:
            raise ValueError(f"resplits={config.resplits} re-splits a resident dataset; input_pipeline='stream' "
                             "reads the dataset's own split only, so set resplits=1")
        data = streaming.load_stream(config.dataset, config.train_per_class, config.test_per_class,
                                     config.stream.resize, config.stream.crop, config.data_seed)
        return data, data.input_shape
    data = load_balanced(config.dataset, config.train_per_class, config.test_per_class, config.data_seed)
    if min(data.x_train.shape[1:3]) < MIN_SIDE:
        raise DatasetError(f"dataset={config.dataset!r}: images are {data.x_train.shape[1]}x{data.x_train.shape[2]}; "
                           f"the models need at least {MIN_SIDE}x{MIN_SIDE} (resize them, or use folder:<dir>@<size>)")
    return data, data.x_train.shape[1:]


class Study:
    """A study bound to a workdir: what every stage of the flow reads (data, model, plan, sizes)."""

    def __init__(self, config: ml_collections.ConfigDict, workdir: str):
        self.config, self.workdir = config, workdir
        validate.check_config(config)  # before anything loads or compiles
        workdir_lib.prepare(workdir)  # a folder, and this process the only run on it
        self.streaming = config.input_pipeline == "stream"
        self.data, self.input_shape = load_data(config)
        available = tuple(int(c) for c in np.bincount(self.data.y_train, minlength=self.data.num_classes))
        self.facts = plan.DatasetFacts(self.data.num_classes, self.data.n_max, available)
        self.networks = plan.plan_networks(config, self.facts)
        self.interface = interface_of(config.model)
        if not self.interface.cosine_head and any(
                methods.get(n.method).training.loss == "ldam_drw" for n in self.networks):
            raise ValueError(f"method 'ldam_drw' needs cosine logits from a fully connected head; model="
                             f"{config.model!r} has none, use lenet5 or resnet10")
        self.model = build_model(config, self.data.num_classes)
        self.hp = hparams(config)
        layers = train.abstract_state(self.model, 1, self.input_shape, hp=self.hp)["params"]["params"]
        unknown = [name for name in self.hp.finetune_layers if name not in layers]
        if unknown:
            raise ValueError(f"finetune_layers={tuple(self.hp.finetune_layers)}: {config.model} has no layer "
                             f"{unknown[0]!r}; its layers are {tuple(layers)}")
        workdir_lib.check_config(workdir, config)
        # One index-table width for every cohort: the largest set any planned network trains on.
        self.table_width = plan.table_width(self.networks, len(self.data.y_train))
        self.cohort_size, self.eval_batch_size = self._resolve_sizes()
        self.mesh = distributed.make_mesh(config.data_parallel)
        if self.mesh is not None and self.hp.networks_per_vmap:
            raise ValueError(f"networks_per_vmap={self.hp.networks_per_vmap} steps networks in turn on one device; "
                             f"with {jax.local_device_count()} devices set it to 0")
        self.predict = train.make_predict(self.model, self.hp, self.eval_batch_size)
        self._splits = {0: self.data}
        self.zca_fits = {}  # the latest ZCA fits, shared by the split views (cohort.fit_preprocess)

    def on_split(self, split: int) -> "Study":
        """This study seen through one train/test split: its `data` is that split's (Appendix A)."""
        if split == 0:
            return self
        if split not in self._splits:
            self._splits[split] = resplit(self.data, split, self.config.data_seed)
        view = copy.copy(self)
        view.data = self._splits[split]
        return view

    def _resolve_sizes(self) -> tuple[int, int]:
        """(cohort size, evaluation batch): the config's, or for cohort_size 0 the most networks that
        fit the device and the evaluation batch that fits beside them (measured once, then kept)."""
        if self.config.cohort_size < 0:
            raise ValueError(f"cohort_size={self.config.cohort_size} must be positive, or 0 to fit the device")
        if self.config.cohort_size > 0:
            return self.config.cohort_size, self.config.eval_batch_size
        saved = workdir_lib.saved_sizes(self.workdir)
        if saved:
            return saved["cohort_size"], saved.get("eval_batch_size", self.config.eval_batch_size)
        footprint = sizing.measured_footprint(self.model, self.hp, self.data.x_train.shape, self.table_width,
                                              self.config.steps_per_call)
        free = sizing.free_device_bytes()
        largest_stage = max(sum(n.stage == s for n in self.networks) for s in {n.stage for n in self.networks})
        size = sizing.cohort_size_for(footprint.fixed, footprint.per_network, free, largest_stage)
        eval_batch = sizing.eval_batch_for(footprint, free, size, self.config.eval_batch_size)
        logging.info("cohort size %d, evaluation batch %d: %.1f MiB per network measured, %.1f GiB free on %s",
                     size, eval_batch, footprint.per_network / 2**20, free / 2**30, jax.devices()[0].device_kind)
        workdir_lib.save_sizes(self.workdir, {
            "cohort_size": size, "eval_batch_size": eval_batch, "bytes_per_network": footprint.per_network,
            "fixed_bytes": footprint.fixed, "eval_bytes_per_network_image": footprint.per_eval_image,
            "free_bytes": free})
        return size, eval_batch

    # --- what the stages read -------------------------------------------------------------------
    def cohort_dir(self, cohort_id: str) -> str:
        """Where a cohort keeps its members and checkpoints."""
        return workdir_lib.cohort_dir(self.workdir, cohort_id)

    def abstract_state(self, num_networks: int):
        """Shapes of a cohort state of num_networks (orbax's restore target)."""
        return train.abstract_state(self.model, num_networks, self.input_shape, self.hp.preprocess, self.hp)

    def place(self, tree):
        """A cohort's per-network arrays split over the local devices (padded to divide), if several."""
        if self.mesh is None:
            return tree
        return distributed.shard_networks(distributed.pad_networks(tree, self.mesh.shape["networks"]), self.mesh)

    def test_images(self):
        """The test images on the device (or read from the host for streamed datasets)."""
        if self.streaming:
            return streaming.TestImages(self.data, self.config.stream.workers)
        return jnp.asarray(self.data.x_test)

    def test_accuracy_fn(self):
        """state -> each network's test accuracy (the curves)."""
        from imbalance_jax import run

        return run.test_accuracy_fn(self, self.predict)

    @property
    def cohorts(self) -> list[list]:
        """The networks of each cohort the workdir holds, in id order."""
        return [list(r.networks) for r in workdir_lib.read_cohorts(self.workdir)]

    def restore(self, cohort):
        """The latest saved state of a cohort, by id or by its index in `cohorts`."""
        records = workdir_lib.read_cohorts(self.workdir)
        record = records[cohort] if isinstance(cohort, int) else next(r for r in records if r.cohort_id == cohort)
        with CohortCheckpoints(self.cohort_dir(record.cohort_id)) as checkpoints:
            return checkpoints.restore(self.abstract_state(len(record.networks)))[0]

    # --- the flow ----------------------------------------------------------------------------------
    def run(self) -> list[dict]:
        """Trains what no cohort holds yet, evaluates what is new, writes results.csv; returns its rows."""
        layout = stages.train_all(self)
        stages.evaluate_all(self, layout)
        return stages.write_results(self, layout)

    def evaluate_all(self, force: bool = False) -> None:
        """Evaluates the finished cohorts that have no valid evaluation (all of them with force)."""
        stages.evaluate_all(self, stages.current_layout(self, create=False), force)

    def write_results(self) -> list[dict]:
        """Gathers the evaluations into results.csv and curves.csv; returns the rows."""
        return stages.write_results(self, stages.current_layout(self, create=False))
