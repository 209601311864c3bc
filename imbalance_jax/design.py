"""The study's design, pure: config -> networks (each with its identity) -> stages -> cohorts. No I/O, no compiling.

A network's identity is its name (imbalanced set, trained method, learning-rate run) and a hash of
everything that determines how it trains; a workdir finds checkpoints by that identity, so a
study can grow (more repetitions, settings, methods or lr runs) and train only what is new.
"""
import collections
import dataclasses
import hashlib
import json
from typing import NamedTuple, Optional

from absl import logging
import ml_collections
import numpy as np

from imbalance_jax import config_schema, imbalance, methods, samplers

class DatasetFacts(NamedTuple):
    """What planning needs to know of the dataset: classes, the majority size, examples per class."""

    num_classes: int
    n_max: int
    available: Optional[tuple] = None  # examples per class in the balanced set (short classes < n_max)


@dataclasses.dataclass(frozen=True)
class Network:
    """One trained network of the study: its imbalanced set, method, seeds and identity."""

    name: str
    set_name: str
    imbalance: str
    rho: float
    mu: Optional[float]
    repetition: int
    set_seed: int
    class_counts: tuple  # examples per label in the imbalanced set (before sampling)
    method: str  # the trained method
    reported: tuple  # the method names whose results this network produces
    stage: int = 0  # 0 trains from scratch; k fine-tunes a network of stage k - 1
    parent: Optional[str] = None
    base_lr: float = 0.01  # this network's base learning rate (before the method's factor)
    lr_run: int = 0  # which repeat of the learning-rate protocol
    init_seed: int = 0  # initial weights, data order and dropout
    training_hash: str = ""  # of the config's training keys: a network trained otherwise differs
    split: int = 0  # the train/test split it trains and is scored on (0: the dataset's own)

    @property
    def minority_classes(self) -> list:
        """Labels with fewer examples than the largest class."""
        return imbalance.minority_classes(np.array(self.class_counts))


def _seed(*parts) -> int:
    """A stable 31-bit seed from any printable parts."""
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:4], "little") & 0x7FFFFFFF


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def check_rhos(config: ml_collections.ConfigDict, facts: DatasetFacts) -> str:
    """Says (a warning, returned too) which rhos of the grid the dataset's n_max cannot hold in whole examples, and
    the ratio each really gives: above n_max every rho gives n_max (a class keeps one example), and rounding moves
    others; '' when every rho holds within 5%."""
    grid = config.imbalance
    if grid.as_is:  # the grid's rhos are not used
        return ""
    rhos = [*grid.step_rhos, *[rho for _, rho, _ in grid.step_settings], *grid.linear_rhos, *grid.exponential_rhos]
    moved = {}
    for rho in dict.fromkeys(float(r) for r in rhos):
        ratio = facts.n_max / max(1, int(round(facts.n_max / rho)))
        if abs(ratio - rho) > 0.05 * rho:
            moved.setdefault(round(ratio, 2), []).append(rho)
    if not moved:
        return ""
    said = "; ".join(f"rho {', '.join(f'{r:g}' for r in group)} {'give' if len(group) > 1 else 'gives'} a ratio "
                     f"of {ratio:g}" for ratio, group in moved.items())
    note = (f"config.imbalance: with n_max={facts.n_max} examples per class, {said} (a class keeps at least one "
            "example; results.csv keeps the rho asked for); use more examples per class or rho <= n_max for the "
            "ratios asked for")
    logging.warning("%s", note)
    return note


def imbalanced_sets(config: ml_collections.ConfigDict, facts: DatasetFacts) -> list[dict]:
    """The config's grid of imbalanced training sets: one dict per (type, rho, mu, repetition).

    Classes with fewer than n_max examples available are always minority.
    """
    grid = config.imbalance
    if grid.as_is:
        return as_is_sets(config, facts)
    short = [] if facts.available is None else np.flatnonzero(np.asarray(facts.available) < facts.n_max).tolist()
    repetitions = grid.repetitions
    settings = [("step", float(rho), float(mu), repetitions) for rho in grid.step_rhos for mu in grid.step_mus]
    # Individual (mu, rho, repetitions) settings, beside the rho x mu product (the ImageNet grid).
    settings += [("step", float(rho), float(mu), int(reps)) for mu, rho, reps in grid.step_settings]
    settings += [("linear", float(rho), None, repetitions) for rho in grid.linear_rhos]
    settings += [("exponential", float(rho), None, repetitions) for rho in grid.exponential_rhos]
    if not settings:
        raise ValueError("the config's grid is empty; give imbalance.step_rhos with step_mus, step_settings, "
                         "linear_rhos or exponential_rhos")
    shapes = {"step": imbalance.step_counts, "linear": imbalance.linear_counts,
              "exponential": imbalance.exponential_counts}
    sets = []
    for kind, rho, mu, reps in settings:
        args = (facts.num_classes, facts.n_max, rho) + ((mu,) if kind == "step" else ())
        try:
            counts = shapes[kind](*args)
        except ValueError as e:  # which setting of config.imbalance, then what is wrong with it
            where = f"{kind} rho={rho:g}" + (f" mu={mu:g}" if mu is not None else "")
            raise ValueError(f"config.imbalance, the {where} setting: {e}") from e
        slots = int((np.asarray(counts) < facts.n_max).sum())
        if len(short) > slots and grid.minority == "random":
            raise ValueError(
                f"{len(short)} classes have fewer than n_max={facts.n_max} examples (always minority), but {kind} "
                + (f"mu={mu:g} " if mu is not None else "") + f"rho={rho:g} has only {slots} minority classes; "
                f"lower train_per_class to {min(facts.available)} (the smallest class) or drop that setting")
        for rep in range(reps):
            set_seed = _seed(config.seed, kind, rho, mu, rep)
            by_label = imbalance.assign_counts(counts, grid.minority, set_seed, short)
            name = f"{kind}_rho{rho:g}" + (f"_mu{mu:g}" if mu is not None else "") + f"_rep{rep}"
            sets.append(dict(set_name=name, imbalance=kind, rho=rho, mu=mu, repetition=rep,
                             set_seed=set_seed, class_counts=tuple(int(c) for c in by_label)))
    return sets


def as_is_sets(config: ml_collections.ConfigDict, facts: DatasetFacts) -> list[dict]:
    """The dataset's own training split once per repetition (imbalance.as_is): its class counts, rho the largest
    class's count over the smallest's; repetitions differ in seeds only."""
    if facts.available is None:
        raise ValueError(f"dataset={config.dataset!r}: a study of the data as it is needs its class counts; "
                         "prepare the dataset first (or give it as folder:, npz: or idx:)")
    counts = tuple(int(c) for c in facts.available)
    rho = max(counts) / min(counts)
    return [dict(set_name=f"as_is_rep{rep}", imbalance="as_is", rho=rho, mu=None, repetition=rep,
                 set_seed=_seed(config.seed, "as_is", rep), class_counts=counts)
            for rep in range(config.imbalance.repetitions)]


def as_is_line(networks: list) -> str:
    """The line the dry run and launch.plan print for a study of the data as it is ('' for any other)."""
    sets = {n.set_name: n for n in networks if n.imbalance == "as_is"}
    if not sets:
        return ""
    counts = next(iter(sets.values())).class_counts
    return (f"  data     as it is (imbalance.as_is): {len(counts)} classes of {max(counts):,} down to {min(counts):,} "
            f"training images (rho {max(counts) / min(counts):.3g}), {len(sets)} repetitions on all of them")


def balanced_sets(config: ml_collections.ConfigDict, facts: DatasetFacts) -> list[dict]:
    """The balanced subset once per repetition (as many as the grid's largest setting has): what the
    `balanced` reference trains on."""
    grid = config.imbalance
    repetitions = max([grid.repetitions, *[int(reps) for _, _, reps in grid.step_settings]])
    counts = [facts.n_max] * facts.num_classes if facts.available is None else \
        [min(facts.n_max, a) for a in facts.available]
    return [dict(set_name=f"balanced_rep{rep}", imbalance="balanced", rho=1.0, mu=None, repetition=rep,
                 set_seed=_seed(config.seed, "balanced", rep), class_counts=tuple(int(c) for c in counts))
            for rep in range(repetitions)]


def learning_rate_runs(config: ml_collections.ConfigDict) -> list[tuple]:
    """(base_lr, run, name suffix) of each network trained per (set, method): lr_grid x lr_repeats.

    The CIFAR-10 protocol (Section 3.3.2) trains every lr of the grid twice and keeps the
    network with the best test AUC; a single lr and repeat gives one network and no suffix.
    """
    grid = tuple(config.train.lr_grid) or (config.train.base_lr,)
    repeats = config.train.lr_repeats
    if repeats < 1 or any(lr <= 0 for lr in grid):
        raise ValueError(f"train.lr_grid={grid} and train.lr_repeats={repeats} must be positive")
    if len(grid) * repeats == 1:
        return [(grid[0], 0, "")]
    return [(lr, run, f"/lr{lr:g}_run{run}") for lr in grid for run in range(repeats)]


def all_networks(config: ml_collections.ConfigDict, facts: DatasetFacts) -> list[Network]:
    """Every network the study trains, stage by stage (parents before the networks fine-tuned from them)."""
    requested = list(config.methods)
    if not requested:
        raise ValueError(f"config.methods is empty; list at least one method, e.g. {methods.PAPER_METHODS[0]!r}")
    parsed = [methods.get(name) for name in requested]
    trained = methods.trained_networks(requested)
    runs = learning_rate_runs(config)
    training = _hash(config_schema.identity_values(json.loads(config.to_json())))
    sets = imbalanced_sets(config, facts)
    references = balanced_sets(config, facts) if any(methods.get(n).training.on_balanced for n in trained) else []
    splits = config.resplits
    references, sets = on_splits(references, splits), on_splits(sets, splits)
    networks = []
    for stage in sorted({methods.stage(n) for n in trained}):
        for s in references + sets:
            for network in (n for n in trained if methods.stage(n) == stage
                            and methods.get(n).training.on_balanced == (s["imbalance"] == "balanced")):
                parent = methods.get(network).training.parent
                reported = tuple(m.name for m in parsed if m.network == network)
                for lr, run, suffix in runs:
                    identity = dict(s, method=network, base_lr=lr, lr_run=run, parent=parent, training=training)
                    networks.append(Network(
                        name=f"{s['set_name']}/{network}{suffix}", method=network, reported=reported, stage=stage,
                        parent=f"{s['set_name']}/{parent}{suffix}" if parent else None, base_lr=lr, lr_run=run,
                        init_seed=_seed(s["set_seed"], run) if run else s["set_seed"],
                        training_hash=_hash(identity), **s))
    return networks


def methods_per_stage(networks: list[Network]) -> dict:
    """{stage: Counter of the stage's networks per method}, stages in order (what plan and dry run print)."""
    out = {}
    for n in sorted(networks, key=lambda n: n.stage):
        out.setdefault(n.stage, collections.Counter())[n.method] += 1
    return out


def on_splits(sets: list[dict], splits: int) -> list[dict]:
    """The sets once per train/test split: split 0's as they are (so resplits = 1 changes no identity),
    split k's with a `_split<k>` name, the same counts and seeds, drawn from that split's training set."""
    return sets + [dict(s, set_name=f"{s['set_name']}_split{k}", split=k) for k in range(1, splits) for s in sets]


def pack_cohorts(networks: list[Network], cohort_size: int) -> list[list[Network]]:
    """Consecutive groups of at most cohort_size networks; a cohort never mixes stages or train/test splits
    (it trains on one split's images and is scored on its test set)."""
    if cohort_size < 1:
        raise ValueError(f"cohort_size={cohort_size} must be at least 1")
    cohorts = []
    for stage, split in sorted({(n.stage, n.split) for n in networks}):
        group = [n for n in networks if n.stage == stage and n.split == split]
        cohorts += [group[i:i + cohort_size] for i in range(0, len(group), cohort_size)]
    return cohorts


def training_size(network: Network) -> int:
    """How many examples this network's training set holds, counted without drawing them."""
    training = methods.get(network.method).training
    return int(samplers.get(training.sampler).counts(network.class_counts, training.target_rho).sum())


def table_width(networks: list[Network], capped_length: int) -> int:
    """The index-table width of a study: its largest training set, and at least the capped training
    set (oversampling a dataset with short classes to n_max makes sets longer than the dataset)."""
    return max([capped_length, *map(training_size, networks)])


def training_indices(network: Network, labels: np.ndarray) -> np.ndarray:
    """Indices into the balanced training set that this network trains on (imbalanced, then sampled)."""
    subset = imbalanced_subset(network, labels)
    training = methods.get(network.method).training
    draw = samplers.get(training.sampler).draw
    # (class-aware and other batch-level samplers walk the imbalanced set itself)
    return subset if draw is None else subset[draw(labels[subset], network.set_seed + 1, training.target_rho)]


def imbalanced_subset(network: Network, labels: np.ndarray) -> np.ndarray:
    """Indices into the balanced training set of this network's imbalanced set, before sampling."""
    return imbalance.subsample(labels, np.array(network.class_counts), network.set_seed)
