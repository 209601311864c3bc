"""The method registry: each method declares what it trains and how its network's outputs are scored.

A method either trains a network (its Training says with which sampler, loss, parent and layers)
or reads the network of another method and only scores it differently (thresholding, post-hoc
adjustment, tau-normalisation). The runner, the sizing, the evaluation and the report read these
declarations; nothing else names a method: a Method also says how figures and tables show it (its label
and style, the paper's figures that draw it), which network it thresholds and which part it plays in the
paper's conclusions. Parametrised names (`oversampling_to_<r>`) are families: a pattern and a function from
its match to a Method.
"""
import dataclasses
import re
from typing import Callable, Optional, Union

from imbalance_jax import losses, samplers, scorings
from imbalance_jax.registry import Registry


@dataclasses.dataclass(frozen=True)
class Training:
    """What a trained method's network learns from."""

    sampler: Optional[str] = None  # a registered imbalance_jax.samplers name; None walks the imbalanced set
    target_rho: float = 1.0  # the imbalance ratio a sampler stops at (1: balanced)
    loss: str = "cross_entropy"  # a registered imbalance_jax.losses name
    parent: Optional[str] = None  # fine-tunes this trained method's network (any depth)
    layers: str = "all"  # 'all', or 'finetune': only the model's fine-tuning layers train
    # The fine-tuning layers start from fresh weights, not the parent's (cRT): a bool, or the name of a
    # top-level config value.
    reinit_finetune: Union[bool, str] = False
    # Trains on the balanced subset itself, one network per repetition shared by every setting of it
    # (the reference of Section 4.3), instead of on each imbalanced set.
    on_balanced: bool = False
    # The base learning rate's factor: a number, or the name of a top-level config value.
    lr_scale: Union[float, str] = 1.0
    # The name of a top-level config value choosing the schedule: 'study' (the config's lr policy) or
    # 'kang2020' (a cosine from the base lr to 0 over <name>_fraction of the iterations, as Kang et al. re-train
    # their classifier); '' always follows the study's.
    schedule: str = ""


@dataclasses.dataclass(frozen=True)
class Scoring:
    """How a network's softmax becomes the scores a method is evaluated on."""

    kind: str = "softmax"  # a registered imbalance_jax.scorings name
    tau: float = 1.0

    @property
    def keeps_ranking(self) -> bool:
        """Scores are the softmax times a per-class constant: per-class AUC equals the network's own."""
        return scorings.get(self.kind).keeps_ranking


# The parts the paper's conclusions, Fig. 7 and the report's differences give a method (at most one each):
# the untreated network, full minority oversampling, full majority undersampling, the balanced reference.
NO_REMEDY, ROS, RUS, REFERENCE = "no remedy", "ROS", "RUS", "balanced reference"
ROLES = (NO_REMEDY, ROS, RUS, REFERENCE)
# The paper's figures that draw a fixed choice of methods (Figs. 3-5 draw every method whose AUC is its own).
FIGURES = ("fig6", "fig7", "fig8")


@dataclasses.dataclass(frozen=True)
class Method:
    """One reported method: the network it reads and how that network is scored."""

    name: str
    network: str  # the trained method whose network it reads (its own name when it trains)
    training: Optional[Training] = None  # set exactly when network == name
    scoring: Scoring = Scoring()
    family: str = "paper"  # 'paper', 'longtail' or a user's: groups methods in reports
    partial_sampling: bool = False  # Section 4.5's sampling to a reduced ratio (Fig. 7)
    reduces: str = ""  # for partial sampling: the method that samples fully (oversampling, undersampling)
    label: str = ""  # the name figures and tables show (the paper's for its methods); '' shows the name
    style: tuple = ()  # (colour, marker, line style) in figures; () takes the next free style
    figures: tuple = ()  # which of FIGURES draw it
    thresholds: str = ""  # the paper's thresholding (softmax / prior) of this trained method's network
    paper_role: str = ""  # its part in the paper's conclusions: one of ROLES, or ''

    def __post_init__(self):
        if (self.training is not None) != (self.network == self.name):
            raise ValueError(f"method {self.name!r}: a method trains its own network or reads another's")
        if self.thresholds and self.thresholds != self.network:
            raise ValueError(f"method {self.name!r}: thresholds={self.thresholds!r} but reads the network of "
                             f"{self.network!r}; set thresholds to the network it reads")
        if self.paper_role not in ("", *ROLES) or set(self.figures) - set(FIGURES):
            raise ValueError(f"method {self.name!r}: paper_role={self.paper_role!r}, figures={self.figures!r}; use a "
                             f"role of {ROLES} and figures of {FIGURES}")
        scorings.get(self.scoring.kind)  # each raises a one-line ValueError for a name it does not know
        if self.training is not None:
            samplers.get(self.training.sampler)
            losses.get(self.training.loss)


METHODS = Registry("method")  # exact names, and families of parametrised ones


def register(method: Method) -> Method:
    """Adds a method by its exact name; returns it."""
    taken = with_role(method.paper_role) if method.paper_role else ""
    if taken and taken != method.name:
        raise ValueError(f"method {method.name!r}: paper_role={method.paper_role!r} is {taken!r}'s; leave it ''")
    return METHODS.register(method)


def register_family(pattern: str, build: Callable[[re.Match], Method], example: str) -> None:
    """Adds parametrised names: `build(match)` makes the Method of a name that fully matches pattern."""
    METHODS.register_family(pattern, build, example)


def unregister(name: str) -> None:
    """Removes a method registered by its exact name (tests register their own)."""
    METHODS.unregister(name)


def get(name: str) -> Method:
    """The Method called name; an unknown name is a ValueError listing the known ones."""
    return METHODS.get(name)


def why_not(name) -> Optional[str]:
    """Why a name that looks like a parametrised method's is not one (its parameter), or None."""
    if not isinstance(name, str):
        return None
    for pattern, build, example in METHODS.families():
        match = pattern.fullmatch(name)
        if match:
            try:
                build(match)
            except ValueError as e:
                return str(e)
            return None
        for form in example.split(", "):  # e.g. oversampling_to_<rho>
            prefix, _, parameter = form.partition("<")
            if name.startswith(prefix) and name != prefix:
                return (f"{name[len(prefix):]!r} is not a number >= 0, the <{parameter} of {form}; e.g. "
                        f"{prefix}2")
    return None


def family_examples() -> list[str]:
    """One example name per parametrised family (e.g. oversampling_to_10)."""
    return METHODS.examples()


def lookup(name: str) -> Optional[Method]:
    """The Method called name, or None for a name no registration knows (e.g. an old results.csv's)."""
    try:
        return get(name)
    except ValueError:
        return None


def names() -> list[str]:
    """Every exactly-named method, in registration order."""
    return list(METHODS.names())


def with_role(role: str) -> str:
    """The name of the registered method playing role (one of ROLES) in the paper's conclusions; '' for none."""
    return next((m.name for m in METHODS.values() if m.paper_role == role), "")


def drawn_in(name: str, figure: str) -> bool:
    """Whether the paper's figure (one of FIGURES) draws the method called name (False for an unknown name)."""
    method = lookup(name)
    return method is not None and figure in method.figures


def thresholded() -> list[tuple[str, str]]:
    """(method, the trained method it thresholds) of every registered thresholding, in registration order."""
    return [(m.name, m.thresholds) for m in METHODS.values() if m.thresholds]


def stage(name: str) -> int:
    """0 for a network trained from scratch, 1 + its parent's stage for a fine-tuned one."""
    method = get(get(name).network)
    seen = [method.name]
    while method.training.parent is not None:
        method = get(method.training.parent)
        if method.name in seen:
            raise ValueError(f"method {name!r}: its parents form a cycle through {method.name!r}")
        if method.training is None:
            raise ValueError(f"method {seen[-1]!r}: parent {method.name!r} trains no network")
        seen.append(method.name)
    return len(seen) - 1


def trained_networks(method_names) -> list[str]:
    """The trained methods the named methods need (parents included), parents' stages first."""
    needed = []
    for name in method_names:
        network = get(name).network
        chain = []
        while network is not None:
            chain.append(network)
            network = get(network).training.parent
        for n in reversed(chain):
            if n not in needed:
                needed.append(n)
    return sorted(needed, key=stage)
