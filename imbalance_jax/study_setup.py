"""A study's parts as plain values: build(config) checks the config, loads the data and plans the networks, and
returns an immutable Setup that every stage takes as an argument (nothing is called back).

  setup = build(config, Workdir("runs/quick"))
"""
import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from imbalance_jax import config_schema, distributed, design, sizing, train
from imbalance_jax.data import DatasetError, load_as_is, load_balanced, resplit, streaming
from imbalance_jax.models import get_model, interface_of

MIN_SIDE = 16  # LeNet-5's two 5x5 convolutions and 2x2 poolings need 16x16 inputs at least


def hparams(config: ml_collections.ConfigDict) -> train.TrainHParams:
    """The config's solver settings as TrainHParams."""
    t = config.train
    return train.TrainHParams(
        batch_size=t.batch_size, base_lr=t.base_lr, momentum=t.momentum, weight_decay=t.weight_decay,
        lr_policy=t.lr_policy, lr_gamma=t.lr_gamma, lr_power=t.lr_power, lr_steps=tuple(t.lr_steps),
        warmup_steps=t.warmup_steps, optimizer=t.optimizer, max_iter=t.iterations, input_scale=t.input_scale,
        preprocess=config.preprocess, networks_per_vmap=config.networks_per_vmap, bias_lr_mult=t.bias_lr_mult,
        finetune_layers=tuple(config.finetune_layers))


def build_model(config: ml_collections.ConfigDict, num_classes: int):
    """The config's model, with its conv lowering and compute dtype."""
    return get_model(config.model, num_classes=num_classes, conv_impl=config.conv_impl,
                     dtype=jnp.dtype(config.compute_dtype), networks_per_vmap=config.networks_per_vmap)


def load_data(config: ml_collections.ConfigDict, prepare: bool = True):
    """The balanced dataset (resident) or its streamed reader, and the input shape (prepare=False: a TFDS dataset
    not prepared is an error, not a download)."""
    if config.input_pipeline == "stream":
        data = streaming.load_stream(config.dataset, config.train_per_class, config.test_per_class,
                                     config.stream.resize, config.stream.crop, config.data_seed,
                                     as_is=config.imbalance.as_is)
        return data, data.input_shape
    if config.imbalance.as_is:
        data = load_as_is(config.dataset, config.test_per_class, config.data_seed, prepare)
    else:
        data = load_balanced(config.dataset, config.train_per_class, config.test_per_class, config.data_seed, prepare)
    if min(data.x_train.shape[1:3]) < MIN_SIDE:
        raise DatasetError(f"dataset={config.dataset!r}: images are {data.x_train.shape[1]}x{data.x_train.shape[2]}; "
                           f"the models need at least {MIN_SIDE}x{MIN_SIDE} (resize them, or use folder:<dir>@<size>)")
    return data, data.x_train.shape[1:]


def check_finetune_layers(config: ml_collections.ConfigDict, model, input_shape: tuple, hp) -> None:
    """Every layer finetune_layers names is one of the model's."""
    layers = train.abstract_state(model, 1, input_shape, hp=hp)["params"]["params"]
    unknown = [name for name in hp.finetune_layers if name not in layers]
    if unknown:
        raise ValueError(f"finetune_layers={tuple(hp.finetune_layers)}: {config.model} has no layer {unknown[0]!r}; "
                         f"its layers are {tuple(layers)}")


@dataclasses.dataclass(frozen=True)
class Setup:
    """What every stage of a study reads: its config, data (one view per train/test split), planned networks,
    model, solver, index-table width, cohort sizes and device mesh."""

    config: ml_collections.ConfigDict
    data: Any  # the balanced dataset of this view's split (a streamed reader for input_pipeline='stream')
    input_shape: tuple
    networks: tuple  # of design.Network, stage by stage
    model: Any
    hp: train.TrainHParams
    table_width: int
    sizes: sizing.Sizes
    mesh: Any = None
    splits: tuple = ()  # the balanced data of every split (split k at index k)

    @property
    def streaming(self) -> bool:
        """Whether batches are read on the host (input_pipeline='stream')."""
        return self.config.input_pipeline == "stream"

    @property
    def interface(self):
        """The model's declared interface (head, fine-tuning layers)."""
        return interface_of(self.config.model)

    @property
    def cohort_size(self) -> int:
        """Networks per cohort."""
        return self.sizes.cohort_size

    def on_split(self, split: int) -> "Setup":
        """This setup seen through one train/test split: its `data` is that split's (Appendix A)."""
        return self if split == 0 and self.data is self.splits[0] else dataclasses.replace(self,
                                                                                          data=self.splits[split])

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

    def predict(self):
        """The compiled state, images -> each network's softmax, in evaluation batches."""
        return train.make_predict(self.model, self.hp, self.sizes.eval_batch_size)


def build(config: ml_collections.ConfigDict, workdir=None, measure: bool = True, prepare: bool = True) -> Setup:
    """Checks the config (against the workdir's saved one too), loads the data, plans the networks and sizes
    the cohorts by the one rule launch.plan shares (sizing.resolve; measure=False skips a measurement,
    prepare=False a TFDS download)."""
    config_schema.validate(config)  # before anything loads or compiles
    data, input_shape = load_data(config, prepare)
    available = tuple(int(c) for c in np.bincount(data.y_train, minlength=data.num_classes))
    facts = design.DatasetFacts(data.num_classes, data.n_max, available)
    design.check_rhos(config, facts)
    networks = tuple(design.all_networks(config, facts))
    model = build_model(config, data.num_classes)
    hp = hparams(config)
    check_finetune_layers(config, model, input_shape, hp)
    if workdir is not None:
        workdir.check_config(config)
    width = design.table_width(networks, len(data.y_train))  # one width: every cohort reuses one compiled step
    saved = workdir.saved_sizes() if workdir is not None and config.cohort_size == 0 else None
    if measure or config.cohort_size or saved:
        sizes = sizing.resolve(config, saved, model, hp, (len(data.y_train), *input_shape), width, networks)
    else:
        sizes = sizing.Sizes(0, config.eval_batch_size, "measured when the study runs")
    mesh = distributed.make_mesh(config.data_parallel)
    if mesh is not None and hp.networks_per_vmap:
        raise ValueError(f"networks_per_vmap={hp.networks_per_vmap} steps networks in turn on one device; "
                         f"with {jax.local_device_count()} devices set it to 0")
    splits = (data,) + tuple(resplit(data, k, config.data_seed) for k in range(1, config.resplits))
    return Setup(config, data, input_shape, networks, model, hp, width, sizes, mesh, splits)
