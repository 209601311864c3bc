"""A study's parts as plain values: build(config) checks the config, loads the data and plans the networks, and
returns an immutable Setup that every stage takes as an argument (nothing is called back). It is the one way a
study is assembled: the study runs on it, and every --dry_run and launch.plan print what it holds
(imbalance_jax/study_plan.py).

  setup = build(config, Workdir("runs/quick"))   # the study's own
  setup = build(config, workdir, measure=False, prepare=False, known_shape=True)   # a dry run's: nothing downloaded
"""
import dataclasses
import time
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from imbalance_jax import config_schema, distributed, design, sizing, train
from imbalance_jax.data import DatasetError, load_as_is, load_balanced, resplit, streaming
from imbalance_jax.models import get_model, interface_of

MIN_SIDE = 16  # LeNet-5's two 5x5 convolutions and 2x2 poolings need 16x16 inputs at least

# Datasets whose classes and image shape are known without loading them (a TFDS dataset may not be prepared yet,
# and listing a streamed one takes long): what a dry run and launch.plan fall back to.
KNOWN_DATASETS = {"mnist": (10, (28, 28, 1)), "fashion_mnist": (10, (28, 28, 1)), "cifar10": (10, (32, 32, 3)),
                  "imagenet2012": (1000, (224, 224, 3))}


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


class DataFacts(NamedTuple):
    """What the design and the sizing read of the dataset, and where it came from (loaded, or its known shape)."""

    facts: design.DatasetFacts
    train_shape: tuple  # [examples, h, w, c] of the (capped) training set
    test_size: int
    source: str  # one line: the dataset's classes and sizes, and where they came from
    loaded: bool
    load_seconds: float = 0.0


def load_facts(config: ml_collections.ConfigDict, prepare: bool = True, known_shape: bool = False) -> tuple:
    """(the data or None, DataFacts): the data loaded (prepare=False: never downloaded); with known_shape, a dataset
    of KNOWN_DATASETS that is streamed or cannot be loaded without a download takes its known shape and the
    config's train_per_class instead."""
    started = time.perf_counter()
    # (train_per_class=0 takes all of the training set: only the data itself says how much that is)
    fallback = known_shape and config.dataset in KNOWN_DATASETS and config.train_per_class > 0
    try:
        if fallback and config.input_pipeline == "stream":
            raise DatasetError("streamed: not read before a run")
        data, input_shape = load_data(config, prepare)
    except DatasetError as e:
        if not fallback:
            raise
        classes, input_shape = KNOWN_DATASETS[config.dataset]
        n_max = config.train_per_class
        shape = "x".join(map(str, input_shape))
        return None, DataFacts(design.DatasetFacts(classes, n_max), (classes * n_max, *input_shape),
                               classes * (config.test_per_class or 1000),
                               f"{config.dataset}: {classes} classes of {shape} images (its known shape), n_max "
                               f"{n_max} from the config; not loaded: {str(e)[:120]}", loaded=False)
    available = tuple(int(c) for c in np.bincount(data.y_train, minlength=data.num_classes))
    return data, DataFacts(design.DatasetFacts(data.num_classes, data.n_max, available),
                           (len(data.y_train), *input_shape), len(data.y_test),
                           f"{config.dataset}: {data.num_classes} classes, n_max {data.n_max}, {len(data.y_train):,} "
                           f"training and {len(data.y_test):,} test images (loaded)", True,
                           time.perf_counter() - started)


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
    data: Any  # the balanced dataset of this view's split (a streamed reader; None where only its shape is known)
    input_shape: tuple
    networks: tuple  # of design.Network, stage by stage
    model: Any
    hp: train.TrainHParams
    table_width: int
    sizes: sizing.Sizes
    mesh: Any = None
    splits: tuple = ()  # the balanced data of every split (split k at index k)
    data_facts: Optional[DataFacts] = None  # classes, sizes and where they came from

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


def build(config: ml_collections.ConfigDict, workdir=None, measure: bool = True, prepare: bool = True,
          known_shape: bool = False) -> Setup:
    """Checks the config (against the workdir's saved one too), loads the data, plans the networks and sizes the
    cohorts (sizing.resolve; measure=False: no measurement, prepare=False: no TFDS download, known_shape: a dataset
    not loaded that way is planned from its known shape, with data None)."""
    config_schema.validate(config)  # before anything loads or compiles
    data, facts = load_facts(config, prepare, known_shape)
    design.check_rhos(config, facts.facts)
    networks = tuple(design.all_networks(config, facts.facts))
    input_shape = facts.train_shape[1:]
    model = build_model(config, facts.facts.num_classes)
    hp = hparams(config)
    check_finetune_layers(config, model, input_shape, hp)
    if workdir is not None:
        workdir.check_config(config)
    width = design.table_width(networks, facts.train_shape[0])  # one width: every cohort reuses one compiled step
    saved = workdir.saved_sizes() if workdir is not None and config.cohort_size == 0 else None
    if measure or config.cohort_size or saved:
        sizes = sizing.resolve(config, saved, model, hp, facts.train_shape, width, networks)
    else:
        sizes = sizing.Sizes(0, config.eval_batch_size, "measured when the study runs")
    mesh = distributed.make_mesh(config.data_parallel)
    if mesh is not None and hp.networks_per_vmap:
        raise ValueError(f"networks_per_vmap={hp.networks_per_vmap} steps networks in turn on one device; "
                         f"with {jax.local_device_count()} devices set it to 0")
    splits = () if data is None else (data,) + tuple(resplit(data, k, config.data_seed)
                                                      for k in range(1, config.resplits))
    return Setup(config, data, input_shape, networks, model, hp, width, sizes, mesh, splits, facts)
