"""Many-, medium- and few-shot recall: a network's classes grouped by their training counts (the counts of
its imbalanced set, before sampling), as the long-tail literature reports accuracy.

The rule, applied to each network's own counts:
  1. Liu et al. 2019's bounds (many > 100 images, medium 20-100, few < 20) when they put the classes into at
     least two groups;
  2. otherwise, when the counts differ (a small dataset, every class at most 100 images or every class above
     100), thirds of the log range between the smallest count m and the largest M: few below m (M/m)^(1/3),
     many above m (M/m)^(2/3), medium between (a count on an edge is medium);
  3. otherwise (every class has the same count, a balanced set) Liu's bounds, every class in one group.
"""
import math
from typing import NamedTuple, Optional

import numpy as np

GROUPS = ("many", "medium", "few")
LIU_MANY_ABOVE, LIU_FEW_BELOW = 100, 20
COLUMNS = tuple(f"{g}_shot_recall" for g in GROUPS)  # results.csv's columns, in GROUPS' order


class Bounds(NamedTuple):
    """The bounds a network's classes were grouped by: few below few_below, many above many_above."""

    rule: str  # "liu" or "relative"
    few_below: float
    many_above: float

    def describe(self) -> str:
        """The bounds as report.md states them, e.g. 'Liu et al. 2019 (few < 20 <= medium <= 100 < many)'."""
        name = "Liu et al. 2019" if self.rule == "liu" else "relative (thirds of the log count range)"
        return f"{name} (few < {self.few_below:.4g} <= medium <= {self.many_above:.4g} < many)"


def _liu(counts) -> list[str]:
    return ["many" if c > LIU_MANY_ABOVE else "few" if c < LIU_FEW_BELOW else "medium" for c in counts]


def shot_groups(counts) -> tuple[list[str], Bounds]:
    """(each class's group, 'many', 'medium' or 'few', and the Bounds used) of a network's training counts."""
    counts = [float(c) for c in counts]
    if not counts or min(counts) <= 0:
        raise ValueError(f"shot_groups needs a positive training count for every class, got {counts}; "
                         "a class with no training image has no shot group")
    liu = _liu(counts)
    low, high = min(counts), max(counts)
    if len(set(liu)) > 1 or low == high:
        return liu, Bounds("liu", LIU_FEW_BELOW, LIU_MANY_ABOVE)
    span = math.log(high / low)
    # the position in thirds, rounded so a count on an edge (e.g. 4 of 1..8) is medium, not a rounding error
    thirds = [round(3 * math.log(c / low) / span, 9) for c in counts]
    groups = ["few" if t < 1 else "many" if t > 2 else "medium" for t in thirds]
    return groups, Bounds("relative", low * math.exp(span / 3), low * math.exp(2 * span / 3))


def group_recall(recalls, counts, usable=None) -> dict:
    """{group: mean recall of its classes (None where the group has no class)} of one network's classes (usable:
    which classes have enough test images to count; all by default)."""
    groups, _ = shot_groups(counts)
    usable = [True] * len(groups) if usable is None else usable
    kept = [(float(r), k) for r, k, ok in zip(recalls, groups, usable) if ok]
    return {g: float(np.mean([r for r, k in kept if k == g])) if any(k == g for _, k in kept) else None
            for g in GROUPS}


def result_columns(per_class_recall: str, counts, usable=None) -> dict:
    """results.csv's many/medium/few_shot_recall of a row from its per-class recalls (space-separated, as an
    evaluation record holds them) and its network's counts; empty where a group has no class or no recall (usable:
    the classes with enough test images)."""
    values = str(per_class_recall or "").split()
    if len(values) != len(counts):
        return {c: "" for c in COLUMNS}
    means = group_recall(values, counts, usable)
    return {f"{g}_shot_recall": "" if means[g] is None else means[g] for g in GROUPS}


class NetworkShots(NamedTuple):
    """One (network, method)'s grouping and recall: {group: mean recall or None}, {group: classes}, bounds."""

    network: str
    method: str
    recall: dict
    classes: dict
    bounds: Bounds
    first: dict  # the network's first per_class.csv row (imbalance, rho, mu, repetition, split)


def network_shots(per_class: list[dict]) -> list[NetworkShots]:
    """Each (network, method) of per_class.csv rows (with recall) grouped afresh from its train_count column,
    so per_class.csv files written before the shot column read the same."""
    by_key = {}
    for r in per_class:
        by_key.setdefault((r["network"], r["method"]), []).append(r)
    out = []
    for (network, method), classes in by_key.items():
        classes = sorted(classes, key=lambda c: int(c["class"]))
        counts = [float(c["train_count"]) for c in classes]
        groups, bounds = shot_groups(counts)
        usable = [c.get("recall") not in ("", None) for c in classes]  # too few test images: no recall
        if not any(usable):
            continue
        recall = group_recall([c["recall"] if ok else 0.0 for c, ok in zip(classes, usable)], counts, usable)
        out.append(NetworkShots(network, method, recall, {g: groups.count(g) for g in GROUPS}, bounds, classes[0]))
    return out


def for_rows(rows: list[dict], per_class: list[dict]) -> list[Optional[NetworkShots]]:
    """Each result row's many/medium/few-shot recall and the bounds used (NetworkShots), from per_class.csv's
    rows; None for a row per_class.csv has no recall for (a diverged network)."""
    found = {(s.network, s.method): s for s in network_shots(per_class)}
    return [found.get((r["network"], r["method"])) for r in rows]
