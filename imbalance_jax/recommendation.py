"""What a user studying their own data came for: per metric, the method that wins on it and how sure the study is.

For each metric that matters on imbalanced data (ROC AUC, balanced accuracy, few-shot recall) the method with the
highest mean is compared with every other, paired over repetitions (and train/test splits) by a two-sided paired
t-test, Holm-corrected over those comparisons. It is named the winner only where every lead is significant;
otherwise the report says which methods it cannot be told apart from, the difference this study could have
detected and the repetitions the target difference (config.statistics.target_difference) would take. Thresholded
methods rank like their network, so they take no part in the ROC AUC comparison.
"""
import math
from collections import defaultdict

import numpy as np

from imbalance_jax import statistics
from imbalance_jax.method_labels import method_label
from imbalance_jax.results import keeps_ranking, selected, trained

METRICS = (("auc", "ROC AUC"), ("balanced_accuracy", "balanced accuracy"), ("few_shot_recall", "few-shot recall"))


def _pair(row: dict) -> tuple:
    return str(row.get("split") or 0), str(row.get("repetition", 0))


def by_method(rows: list[dict], metric: str) -> dict:
    """{method: {(split, repetition): value}} of the kept, trained rows holding the metric."""
    out = defaultdict(dict)
    for r in rows:
        value = r.get(metric)
        if selected(r) and trained(r) and value not in ("", None) and not (metric == "auc" and keeps_ranking(
                r["method"])):
            out[r["method"]][_pair(r)] = float(value)
    return dict(out)


def compare(values: dict) -> tuple:
    """(best method, [(other, Paired best - other, Holm p)] ordered by mean) of {method: {pair: value}}."""
    means = {m: float(np.mean(list(v.values()))) for m, v in values.items()}
    ranked = sorted(means, key=lambda m: -means[m])
    best = ranked[0]
    lead = [(m, statistics.paired(values[best], values[m])) for m in ranked[1:]]
    adjusted = statistics.holm([d.p_value for _, d in lead])
    return best, [(m, d, p) for (m, d), p in zip(lead, adjusted)]


def verdict(values: dict, name: str, target: float) -> tuple:
    """(a table cell for the verdict, the line explaining it) for one metric."""
    best, lead = compare(values)
    summary = statistics.describe(list(values[best].values()))
    shown = f"**{method_label(best)}** ({best}) {summary.mean:.4f}"
    shown += f" {statistics.format_interval(summary.ci_low, summary.ci_high)}" if summary.n >= statistics.MIN_N else ""
    tied = [m for m, d, _ in lead if abs(d.mean_difference) < 1e-9]
    if tied:  # several methods share the highest mean: name them all, favour none
        shown += f", tied with {', '.join(method_label(m) for m in tied)}"
    if not lead:
        return f"{method_label(best)}, the only method", f"- **{name}**: {shown}, the only method with this metric."
    n = min(d.n for _, d, _ in lead)
    if n < statistics.MIN_N:
        runner, d, _ = lead[0]
        return (f"no test at n={n}", f"- **{name}**: no test at n={n} (a test needs {statistics.MIN_N} repetitions; "
                f"--config.imbalance.repetitions={statistics.MIN_N} trains only the new ones): {shown} has the highest "
                f"mean, {d.mean_difference:+.4f} over {method_label(runner)}.")
    ahead = [(m, d, p) for m, d, p in lead if p < statistics.ALPHA and d.mean_difference > 0]
    apart = [(m, d, p) for m, d, p in lead if (m, d, p) not in ahead]
    if not apart:
        runner, d, p = lead[0]
        return (f"{method_label(best)} wins", f"- **{name}**: {shown} is ahead of every other method (paired over "
                f"n={n} repetitions, Holm over {len(lead)}): by {d.mean_difference:+.4f} over the runner-up "
                f"{method_label(runner)} ({statistics.p_text(p)}, Holm).")
    close = ", ".join(f"{method_label(m)} ({d.mean_difference:+.4f}, Holm {statistics.format_p(p)})"
                      for m, d, p in apart)
    line = (f"- **{name}**: no method shown better than {shown} at n={n}: it cannot be told apart from {close}")
    if ahead:
        line += f"; it is ahead of {', '.join(method_label(m) for m, _, _ in ahead)} (Holm p < 0.05)"
    sds = [d.sd for _, d, _ in apart if math.isfinite(d.sd) and d.sd > 0]
    if sds:
        sd = float(np.median(sds))
        detectable = statistics.detectable_difference(sd, n)
        need = statistics.units_needed(sd, target)
        line += (f". With the spread of these paired differences (median sd {sd:.4f}) this study could detect "
                 f"{detectable:.4f} at 80% power (one test, before Holm); ")
        line += (f"a difference of {target:g} (statistics.target_difference) would take {need} repetitions "
                 f"(--config.imbalance.repetitions={need})" if need > n else
                 f"a difference of {target:g} (statistics.target_difference) is within what this size detects")
    cell = f"none shown better than {method_label(best)}" + (
        f" (tied with {', '.join(method_label(m) for m in tied)})" if tied else "")
    return cell, line + "."


def section(rows: list[dict], target: float = 0.01) -> list[str]:
    """report.md's opening section for a study of the data as it is: a table of the verdict per metric and the
    evidence behind each; [] for a study without such rows."""
    rows = [r for r in rows if r["imbalance"] == "as_is"]
    if not rows:
        return []
    table, lines = [], []
    for metric, name in METRICS:
        values = by_method(rows, metric)
        if not values:
            if metric == "few_shot_recall" and any(metric in r for r in rows):
                lines.append(f"- **{name}**: no class falls in the few-shot group here (see the long-tail table).")
            continue
        cell, line = verdict(values, name, target)
        table.append(f"| {name} | {cell} |")
        lines.append(line)
    rho = float(rows[0]["rho"])
    n = len({_pair(r) for r in rows})
    return ["## Which method to use on this data", "",
            f"The dataset as it is (its own class counts, largest over smallest class {rho:.3g}), every method trained "
            f"on it {n} times (repetitions differ in initial weights and sampling seeds"
            f"{'; and train/test re-draws' if any(int(r.get('split') or 0) for r in rows) else ''}). Per metric, "
            "the method with the highest mean and whether its lead over each other method is significant (a paired "
            "t-test over repetitions, Holm over the comparisons); a method is named the winner only then.", "",
            "| metric | verdict |", "|---|---|", *table, "", *lines, ""]
