"""Every key of a study's config, declared once: its default, what values it allows, and its group.

Groups say what changing a key does to a study's workdir:
- identity: how a network trains; a network's identity hashes these keys, so a changed value is refused in
  a workdir trained with another (use a new --workdir);
- growth: which networks the study holds (the grid, the methods, lr runs, splits); a workdir grows;
- execution: how a run executes or reports, changing no trained number.

`validate(config)` runs once at each entry point, before any data loads: one line names the first bad value
and what to use instead. `complete(config)` fills keys a config saved by an older version lacks.
"""
import dataclasses
import math
import numbers
from typing import Any, Callable, Optional

import ml_collections

from imbalance_jax import losses, methods
from imbalance_jax.models import registry
from imbalance_jax.models.lowerings import CONV_IMPLS

IDENTITY, GROWTH, EXECUTION = "identity", "growth", "execution"


def _real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _whole(v) -> bool:
    return _real(v) and float(v) == int(v)


@dataclasses.dataclass(frozen=True)
class Rule:
    """A check on one value and the allowed values in words."""

    ok: Callable[[Any], bool]
    words: str
    choices: Optional[Callable[[], list]] = None  # the allowed names, listed when a value is refused
    why: Optional[Callable[[Any], Optional[str]]] = None  # the particular reason a value is refused, if known


WHOLE_1 = Rule(lambda v: _whole(v) and v >= 1, "a whole number >= 1")
WHOLE_0 = Rule(lambda v: _whole(v) and v >= 0, "a whole number >= 0")
POSITIVE = Rule(lambda v: _real(v) and v > 0, "a number > 0")
NON_NEGATIVE = Rule(lambda v: _real(v) and v >= 0, "a number >= 0")
FRACTION = Rule(lambda v: _real(v) and 0 <= v < 1, "a number in [0, 1)")
CLOSED_FRACTION = Rule(lambda v: _real(v) and 0 <= v <= 1, "a number in [0, 1]")
OPEN_FRACTION = Rule(lambda v: _real(v) and 0 < v < 1, "a number in (0, 1)")
RATIO = Rule(lambda v: _real(v) and v >= 1, "a number >= 1")
TEXT = Rule(lambda v: isinstance(v, str) and v != "", "a non-empty string")
FLAG = Rule(lambda v: isinstance(v, bool), "True or False")


def one_of(*values) -> Rule:
    """A value among the given ones."""
    return Rule(lambda v: v in values, "one of " + ", ".join(repr(x) for x in values))


def one_of_lazy(name: str, values: Callable[[], tuple]) -> Rule:
    """A value among a registry's (looked up when checked, so registrations made later count)."""
    return Rule(lambda v: v in values(), f"a registered {name}")


def setting(entry) -> bool:
    """An (mu, rho, repetitions) step setting."""
    return (isinstance(entry, (tuple, list)) and len(entry) == 3 and OPEN_FRACTION.ok(entry[0])
            and RATIO.ok(entry[1]) and WHOLE_1.ok(entry[2]))


@dataclasses.dataclass(frozen=True)
class Key:
    """One config key: where it lives, its group, its default, the rule for a value (or, for a sequence,
    for each entry) and what it means."""

    path: str
    group: str
    default: Any
    rule: Rule
    doc: str
    sequence: bool = False  # a tuple whose entries each follow rule; repeats are refused
    neutral: bool = False  # added after studies existed: at its default it is left out of a network's identity


def _models():
    return registry.MODELS.names()


def _conv_impls(value) -> bool:
    return isinstance(value, str) and (value == "auto" or all(v in CONV_IMPLS for v in value.split("/")))


def _method_names() -> list:
    return [*methods.names(), *methods.registry.family_examples()]


def _method(name) -> bool:
    return isinstance(name, str) and methods.lookup(name) is not None


RHOS = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000)

KEYS = [
    # The data (Table 1) and seeds.
    Key("dataset", IDENTITY, "mnist", TEXT, "mnist, fashion_mnist, cifar10, imagenet2012 (TFDS), digits (embedded), "
        "idx:<dir>, cifar:<dir>, npz:<file>, folder:<train>[,<test>][@<size>]"),
    Key("train_per_class", IDENTITY, 5000, WHOLE_0, "n_max: training images per class of the balanced set (0: the "
        "smallest class's count)"),
    Key("test_per_class", IDENTITY, 0, WHOLE_0, "test images per class (0: the smallest test class's count)"),
    Key("data_seed", IDENTITY, 0, WHOLE_0, "which examples the balanced subsets take"),
    Key("seed", IDENTITY, 0, WHOLE_0, "the imbalanced sets' minority classes and the networks' initial weights"),
    Key("resplits", GROWTH, 1, WHOLE_1, "Appendix A: train/test splits each network trains on (split 0 the "
        "dataset's own, split k a seeded, stratified re-draw)"),
    # The grid (Section 3.1).
    Key("imbalance.step_rhos", GROWTH, RHOS, RATIO, "step imbalance ratios rho", sequence=True),
    Key("imbalance.step_mus", GROWTH, (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9), OPEN_FRACTION,
        "step imbalance: fractions mu of minority classes", sequence=True),
    Key("imbalance.step_settings", GROWTH, (), Rule(setting, "an (mu in (0, 1), rho >= 1, repetitions >= 1) entry"),
        "extra (mu, rho, repetitions) step settings beside the rho x mu product (the ImageNet grid)", sequence=True),
    Key("imbalance.linear_rhos", GROWTH, RHOS, RATIO, "linear imbalance ratios rho", sequence=True),
    Key("imbalance.exponential_rhos", GROWTH, (), RATIO, "exponential (long-tail) imbalance ratios, not in the paper",
        sequence=True),
    Key("imbalance.as_is", IDENTITY, False, FLAG, "study the dataset as it is: every repetition trains on the "
        "training split's own class counts (no balancing, no imposed imbalance; the grid's rhos and mus are not "
        "used; test_per_class 0 keeps the test split as it is)", neutral=True),
    Key("imbalance.repetitions", GROWTH, 50, WHOLE_0, "repetitions of each setting, new minority classes each"),
    Key("imbalance.minority", IDENTITY, "random", one_of("random", "lowest"), "which labels are minority: new "
        "random ones per repetition (MNIST) or the lowest labels (CIFAR-10)"),
    Key("methods", GROWTH, (*methods.PAPER_METHODS, methods.with_role(methods.REFERENCE)),
        Rule(_method, "a registered method (imbalance_jax/methods)", _method_names, methods.registry.why_not),
        "the methods to train and report",
        sequence=True),
    # The input pipeline.
    Key("input_pipeline", IDENTITY, "resident", one_of("resident", "stream"), "'resident': the dataset on the "
        "device as uint8; 'stream': decoded and cropped on the host per batch (ImageNet)"),
    Key("stream.resize", IDENTITY, 256, WHOLE_1, "a streamed image's shorter side after resizing"),
    Key("stream.crop", IDENTITY, 224, WHOLE_1, "the square crop a streamed image trains on"),
    Key("stream.workers", EXECUTION, 8, WHOLE_1, "host decoding workers"),
    Key("stream.loader", EXECUTION, "grain", one_of("grain", "threads"), "'grain': worker processes; 'threads': a "
        "thread pool (the same batches)"),
    # The model and its numerics.
    Key("model", IDENTITY, "lenet5", one_of_lazy("model (imbalance_jax/models)", _models),
        "lenet5 (Table 2), allcnn (Table 3), resnet10 (Fig. 2)"),
    Key("preprocess", IDENTITY, "scale", one_of("scale", "gcn_zca"), "pixels x train.input_scale, or CIFAR-10's "
        "GCN then ZCA"),
    Key("zca_epsilon", IDENTITY, 0.1, POSITIVE, "ZCA's eigenvalue regulariser (preprocess='gcn_zca')"),
    Key("zca_fit", IDENTITY, "imbalanced", one_of("imbalanced", "full"), "ZCA fitted on each network's imbalanced "
        "set, or once on the full balanced training set (the authors' code)", neutral=True),
    Key("conv_impl", EXECUTION, "auto", Rule(_conv_impls, "'auto', or a lowering of imbalance_jax/models/layers.py "
        "(one per conv layer, like 'taps/im2col')"), "the convolutions' lowering; 'auto' picks the measured best "
        "per backend"),
    Key("compute_dtype", IDENTITY, "float32", one_of("float32", "bfloat16"), "operands and activations; weights, "
        "accumulation and the loss stay float32 (it changes the numbers, so a workdir keeps the one it trained with)",
        neutral=True),
    Key("networks_per_vmap", EXECUTION, 0, WHOLE_0, "networks stepped at once by vmap (0: all; 1: one after "
        "another, so cuDNN sees dense convolutions)"),
    # The solver (Caffe's, as the paper ran it).
    Key("train.batch_size", IDENTITY, 64, WHOLE_1, "images per batch and network"),
    Key("train.iterations", IDENTITY, 10_000, WHOLE_1, "iterations of every network of the study"),
    Key("train.base_lr", IDENTITY, 0.01, POSITIVE, "the base learning rate"),
    Key("train.momentum", IDENTITY, 0.9, FRACTION, "SGD momentum"),
    Key("train.weight_decay", IDENTITY, 5e-4, NON_NEGATIVE, "L2 weight decay"),
    Key("train.optimizer", IDENTITY, "caffe_sgd", one_of("caffe_sgd", "sgd_nesterov", "adamw"), "Caffe's SGD (lr "
        "inside the velocity), PyTorch's SGD with Nesterov momentum, or AdamW"),
    Key("train.lr_policy", IDENTITY, "inv", one_of("fixed", "inv", "multistep", "poly", "warmup_cosine",
                                                   "warmup_multistep"),
        "Caffe's fixed / inv / multistep / poly, or a linear warmup then cosine or multistep decay"),
    Key("train.lr_gamma", IDENTITY, 1e-4, POSITIVE, "inv's gamma, or multistep's factor"),
    Key("train.lr_power", IDENTITY, 0.75, NON_NEGATIVE, "inv's and poly's power"),
    Key("train.lr_steps", IDENTITY, (), WHOLE_1, "multistep's steps (each below train.iterations)", sequence=True),
    Key("train.warmup_steps", IDENTITY, 0, WHOLE_0, "the warmup schedules' linear warmup"),
    Key("train.input_scale", IDENTITY, 1 / 255, POSITIVE, "pixels x this (Caffe's MNIST example: 1/256)"),
    Key("train.bias_lr_mult", IDENTITY, 1.0, POSITIVE, "the biases' learning-rate factor (Caffe's LeNet example: 2)",
        neutral=True),
    Key("train.lr_grid", GROWTH, (), POSITIVE, "the CIFAR-10 protocol's learning rates (the best kept on the test "
        "set); () trains at base_lr", sequence=True),
    Key("train.lr_repeats", GROWTH, 1, WHOLE_1, "runs of each learning rate of lr_grid"),
    # Fine-tuning (two-phase training, cRT).
    Key("two_phase_lr_factor", IDENTITY, 0.1, POSITIVE, "the fine-tuning stage's learning-rate factor"),
    Key("finetune_layers", IDENTITY, (), TEXT, "the layers two-phase training and cRT fine-tune; () takes the "
        "model's output layer", sequence=True, neutral=True),
    Key("crt_reinit", IDENTITY, True, FLAG, "cRT re-initialises the classifier before re-training it",
        neutral=True),
    Key("crt_schedule", IDENTITY, "study", one_of("study", "kang2020"), "cRT's learning rate: the study's schedule "
        "x two_phase_lr_factor, or its authors' cosine from the base lr over crt_fraction of the iterations",
        neutral=True),
    Key("crt_fraction", IDENTITY, 10 / 90, Rule(lambda v: _real(v) and 0 < v <= 1, "a number in (0, 1]"),
        "the share of the iterations cRT's kang2020 schedule decays over (their 10 of 90 epochs)", neutral=True),
    # The remedies beyond the paper (imbalance_jax/losses).
    Key("losses.focal_gamma", IDENTITY, 2.0, NON_NEGATIVE, "focal loss's gamma"),
    Key("losses.effective_beta", IDENTITY, 0.9999, FRACTION, "the effective number's beta (Cui et al.)"),
    Key("losses.ldam_max_margin", IDENTITY, 0.5, POSITIVE, "LDAM's largest margin"),
    Key("losses.ldam_scale", IDENTITY, 30.0, POSITIVE, "LDAM's logit scale s"),
    Key("losses.drw_fraction", IDENTITY, 0.8, CLOSED_FRACTION, "LDAM's re-weighting starts at this share of the "
        "iterations"),
    Key("losses.logit_adjust_tau", IDENTITY, 1.0, NON_NEGATIVE, "the logit-adjusted loss's tau"),
    Key("losses.tau_norm_keep_bias", EXECUTION, False, FLAG, "tau-normalisation keeps the classifier's bias (its "
        "authors' code drops it); evaluation only"),
    # How a run executes.
    Key("cohort_size", EXECUTION, 0, WHOLE_0, "networks per compiled step (0: the most that fit the device, "
        "measured once and kept in cohort_size.json)"),
    Key("eval_batch_size", EXECUTION, 1000, WHOLE_1, "test images per evaluation batch"),
    Key("data_parallel", EXECUTION, 1, WHOLE_1, "devices that split each network's batch"),
    Key("steps_per_call", EXECUTION, 500, WHOLE_1, "training steps per compiled call"),
    Key("checkpoint_every", EXECUTION, 5000, WHOLE_0, "save the cohort in flight every this many steps (0: at "
        "the end only)"),
    Key("curve_every", EXECUTION, 1000, WHOLE_0, "record training and test accuracy every this many steps (Fig. 8; "
        "0: off)"),
    Key("report", EXECUTION, True, FLAG, "write report.md and the figures after the results"),
    Key("statistics.margin", EXECUTION, 0.01, OPEN_FRACTION, "the equivalence margin of 'on a par' and 'does not "
        "overfit' (AUC, accuracy)"),
    Key("statistics.target_difference", EXECUTION, 0.01, OPEN_FRACTION, "the difference launch.plan sizes "
        "repetitions to detect"),
]
BY_PATH = {k.path: k for k in KEYS}
SECTIONS = sorted({k.path.split(".")[0] for k in KEYS if "." in k.path})


def _get(config, path: str):
    node = config
    for part in path.split("."):
        if not isinstance(node, (dict, ml_collections.ConfigDict)) or part not in node:
            return _MISSING
        node = node[part]
    return node


_MISSING = object()


def flatten(tree, prefix: str = "") -> dict:
    """{'a.b': value} of a nested dict or ConfigDict."""
    out = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, (dict, ml_collections.ConfigDict)):
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def defaults() -> ml_collections.ConfigDict:
    """A config holding every key at its default: the paper's MNIST study (configs/mnist.py)."""
    config = ml_collections.ConfigDict()
    for key in KEYS:
        _set(config, key.path, key.default)
    return config


def _set(config, path: str, value) -> None:
    *sections, leaf = path.split(".")
    node = config
    for section in sections:
        if section not in node:
            node[section] = ml_collections.ConfigDict()
        node = node[section]
    node[leaf] = value


def complete(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The config with every key an older version's saved config lacks set to its default (in place)."""
    for key in KEYS:
        if _get(config, key.path) is _MISSING:
            _set(config, key.path, key.default)
    return config


def _shown(value) -> str:
    return repr(tuple(value)) if isinstance(value, list) else repr(value)


def validate(config: ml_collections.ConfigDict) -> None:
    """Raises ValueError (one line: the key, its value and what to use) for the first bad value."""
    for path in flatten(config):
        if path not in BY_PATH:
            raise ValueError(f"config.{path} is not a key of a study's config; see imbalance_jax/config_schema.py "
                             "for the keys")
    for key in KEYS:
        value = _get(config, key.path)
        if value is _MISSING:
            raise ValueError(f"config.{key.path} is missing; set it ({key.doc}), e.g. {_shown(key.default)}")
        if key.sequence:
            if not isinstance(value, (tuple, list)):
                raise ValueError(f"config.{key.path}={_shown(value)} must be a tuple, e.g. {_shown(key.default)}")
            for entry in value:
                reason = key.rule.why(entry) if key.rule.why and not key.rule.ok(entry) else None
                if reason:
                    raise ValueError(f"config.{key.path} holds {entry!r}: {reason}")
                if not key.rule.ok(entry):
                    known = f": {', '.join(key.rule.choices())}" if key.rule.choices else ""
                    raise ValueError(f"config.{key.path} holds {entry!r}; every entry must be {key.rule.words}{known}")
            repeated = [v for i, v in enumerate(value) if v in list(value)[:i]]
            if repeated:
                raise ValueError(f"config.{key.path}={_shown(value)} holds {repeated[0]!r} twice; give each once")
        elif not key.rule.ok(value):
            raise ValueError(f"config.{key.path}={_shown(value)} is out of range; use {key.rule.words}")
    _check_relations(config)


def _check_relations(config) -> None:
    """Relations between values: a grid with networks in it, steps inside the run, a model that can."""
    grid, t = config.imbalance, config.train
    if grid.repetitions == 0 and not grid.step_settings:
        raise ValueError("config.imbalance.repetitions=0 plans no network; use a whole number >= 1")
    if not config.methods:
        raise ValueError(f"config.methods is empty; list at least one method, e.g. {methods.PAPER_METHODS[0]!r}")
    if grid.as_is:
        if config.train_per_class:
            raise ValueError(f"config.train_per_class={config.train_per_class} balances the training set; a study "
                             "of the data as it is (imbalance.as_is=True) trains on every training image: set "
                             "train_per_class=0")
        on_balanced = [m for m in config.methods if getattr(methods.get(m).training, "on_balanced", False)]
        if on_balanced:
            raise ValueError(f"config.methods holds {on_balanced[0]!r}, a reference trained on a balanced set, which a "
                             "study of the data as it is (imbalance.as_is=True) does not have: drop it from methods")
        if grid.repetitions == 0:
            raise ValueError("config.imbalance.repetitions=0 plans no network; use a whole number >= 1")
    for step in t.lr_steps:
        if step >= t.iterations:
            raise ValueError(f"config.train.lr_steps holds {step}, not before train.iterations={t.iterations}; "
                             "use steps below it")
    if t.lr_policy.startswith("warmup") and not 0 < t.warmup_steps < t.iterations:
        raise ValueError(f"config.train.warmup_steps={t.warmup_steps} must be in [1, train.iterations="
                         f"{t.iterations}) for lr_policy={t.lr_policy!r}")
    if config.input_pipeline == "stream":
        if not (config.train_per_class or grid.as_is) or not config.cohort_size:
            raise ValueError("input_pipeline='stream' needs train_per_class (the majority cap; or imbalance.as_is="
                             "True, every image) and a cohort_size above 0")
        if config.resplits > 1:
            raise ValueError(f"resplits={config.resplits} re-splits a resident dataset; input_pipeline='stream' "
                             "reads the dataset's own split only, so set resplits=1")
    interface = registry.interface_of(config.model)
    if config.conv_impl != "auto":  # 'auto' is resolved per backend later: validating starts no JAX backend
        registry.resolve_conv_impl(config.conv_impl, config.model, config.networks_per_vmap)
    for name in methods.trained_networks(config.methods):
        if losses.get(methods.get(name).training.loss).needs_cosine_head and not interface.cosine_head:
            raise ValueError(f"method {name!r} needs cosine logits from a fully connected head; model="
                             f"{config.model!r} has none, use lenet5 or resnet10")


def group(path: str) -> Optional[str]:
    """The group of a flattened key (None for a key the schema does not know)."""
    key = BY_PATH.get(path)
    return None if key is None else key.group


def identity_values(config_json: dict) -> dict:
    """The flattened keys that decide how an already planned network trains (a neutral key at its default
    is left out, so a workdir made before the key existed still matches)."""
    out = {}
    for path, value in flatten(config_json).items():
        key = BY_PATH.get(path)
        if key is not None and key.group != IDENTITY:
            continue
        if key is not None and key.neutral and _same(value, key.default):
            continue
        out[path] = value
    return out


def identity_changes(saved_json: dict, current_json: dict) -> list[str]:
    """'key: old -> new' for each identity key whose value differs between two configs' JSON."""
    import json

    old, new = identity_values(saved_json), identity_values(current_json)
    missing = object()
    show = lambda v: "(absent)" if v is missing else json.dumps(v)  # noqa: E731
    for values in (old, new):  # a neutral key left out at its default is shown with that default
        values.update({k: BY_PATH[k].default for k in set(old) | set(new) if k not in values
                       and k in BY_PATH and BY_PATH[k].neutral})
    return [f"{k}: {show(old.get(k, missing))} -> {show(new.get(k, missing))}"
            for k in sorted(set(old) | set(new)) if not _same(old.get(k, missing), new.get(k, missing))]


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b
