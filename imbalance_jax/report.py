"""Reports of a study's results: the tables, which method wins (and where methods tie), report.md.

Tables give each (setting, method) the sample standard deviation and a 95% t interval over
repetitions, and each method's paired difference from the baseline (imbalance_jax.statistics).
"""
import csv
import math
import os
from collections import defaultdict

import numpy as np

from imbalance_jax import conclusions, statistics
from imbalance_jax import figures as figs
from imbalance_jax.results import keeps_ranking, method_order, read_workdir_results, setting_label, trained, write_text

def pair_key(row: dict) -> tuple:
    """What pairs two methods' rows: the split and repetition (a shared imbalanced set and initial weights)."""
    return (str(row.get("split") or 0), str(row.get("repetition", 0)))


def mean_by_setting(rows: list[dict]) -> dict:
    """{(setting, method): {'n', 'auc', 'auc_sd', 'auc_ci', 'accuracy', 'by_pair'}} over repetitions."""
    groups = defaultdict(list)
    for row in rows:
        groups[(setting_label(row), row["method"])].append(row)
    out = {}
    for key, group in groups.items():
        auc = statistics.describe([float(r["auc"]) for r in group])
        out[key] = {"n": auc.n, "auc": auc.mean, "auc_sd": auc.sd, "auc_ci": (auc.ci_low, auc.ci_high),
                    "accuracy": float(np.mean([float(r["accuracy"]) for r in group])),
                    "by_pair": {pair_key(r): float(r["auc"]) for r in group}}
    return out


def _sorted_keys(rows, means):
    settings = list(dict.fromkeys(setting_label(r) for r in rows))
    order = method_order(rows)
    return sorted(means, key=lambda k: (settings.index(k[0]), order.index(k[1])))


def _sd(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.4f}"


def summary_table(rows: list[dict]) -> str:
    """Markdown table per imbalance setting and method: ROC AUC mean, sample sd, 95% CI, the paired
    difference from the baseline with its p-value, and accuracy."""
    rows = [r for r in rows if str(r.get("selected", 1)) in ("1", "") and trained(r)]
    means = mean_by_setting(rows)
    lines = ["| setting | method | n | ROC AUC | sd | 95% CI | minus baseline (paired) [95% CI] | p | accuracy |",
             "|---|---|---|---|---|---|---|---|---|"]
    for setting, method in _sorted_keys(rows, means):
        m = means[(setting, method)]
        base = means.get((setting, "baseline"))
        versus, p = "", ""
        if base is not None and method != "baseline":
            d = statistics.paired(m["by_pair"], base["by_pair"])
            versus = f"{d.mean_difference:+.4f} {statistics.format_interval(d.ci_low, d.ci_high)}"
            p = statistics.format_p(d.p_value)
        lines.append(f"| {setting} | {method} | {m['n']} | {m['auc']:.4f} | {_sd(m['auc_sd'])} | "
                     f"{statistics.format_interval(*m['auc_ci'])} | {versus} | {p} | {m['accuracy']:.4f} |")
    return "\n".join(lines)


def method_table(rows: list[dict]) -> str:
    """Table 4's layout: a row per method, a column per setting, mean ROC AUC x 100."""
    means = mean_by_setting(rows)
    settings = list(dict.fromkeys(setting_label(r) for r in rows))
    methods = [m for m in method_order(rows) if any((s, m) in means for s in settings)]
    lines = ["| method | " + " | ".join(settings) + " |", "|---" * (len(settings) + 1) + "|"]
    for m in methods:
        cells = [f"{100 * means[(s, m)]['auc']:.2f}" if (s, m) in means else "" for s in settings]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def winners(rows: list[dict]) -> list[str]:
    """Per setting: the method with the best mean AUC if its lead over every other method is
    significant (paired test at statistics.ALPHA), otherwise the methods it is tied with."""
    means = mean_by_setting(rows)
    lines = []
    for setting in dict.fromkeys(setting_label(r) for r in rows):
        # Thresholding never changes AUC, so thresholded twins are left out of the ranking.
        ranked = sorted(((m, v) for (s, m), v in means.items() if s == setting and not keeps_ranking(m)),
                        key=lambda mv: -mv[1]["auc"])
        best, stats = ranked[0]
        text = f"- **{setting}**: "
        lead = [(m, statistics.paired(stats["by_pair"], v["by_pair"])) for m, v in ranked[1:]]
        tied = [(m, d) for m, d in lead if not statistics.significant(d)]
        if not lead:
            text += f"{best} alone, ROC AUC {stats['auc']:.4f} (n={stats['n']})"
        elif all(d.n < 2 for _, d in lead):
            runner, d = lead[0]
            text += (f"no single winner (one repetition: no test is possible): {best} has the highest mean ROC AUC "
                     f"({stats['auc']:.4f}, n={stats['n']}), then {runner} ({-d.mean_difference:+.4f})")
        elif not tied:
            runner, d = lead[0]
            text += (f"{best} wins with ROC AUC {stats['auc']:.4f} (n={stats['n']}), {d.mean_difference:+.4f} "
                     f"over {runner} (p={statistics.format_p(d.p_value)})")
        else:
            text += (f"no single winner: {best} has the highest mean ROC AUC ({stats['auc']:.4f}, n={stats['n']}) "
                     "but is tied with " + ", ".join(  # each tied method's mean minus the leader's
                         f"{m} ({-d.mean_difference:+.4f}, p={statistics.format_p(d.p_value)})" for m, d in tied))
        base = means.get((setting, "baseline"))
        if base is not None and best != "baseline":
            d = statistics.paired(stats["by_pair"], base["by_pair"])
            text += f"; {d.mean_difference:+.4f} over baseline (p={statistics.format_p(d.p_value)})"
        lines.append(text + ".")
    return lines


def split_section(rows: list[dict]) -> list[str]:
    """report.md lines with Table 4's layout for each train/test split, when the study has several."""
    splits = sorted({int(r.get("split") or 0) for r in rows})
    if len(splits) < 2:
        return []
    lines = ["## Per train/test split (Appendix A)", "",
             f"The study trained every network on {len(splits)} train/test splits: split 0 is the dataset's own, "
             "each other a seeded, stratified re-draw of the pooled train and test sets. Every other table and "
             "figure pools the splits (n counts repetitions x splits; methods are paired within a split and "
             "repetition).", ""]
    for split in splits:
        lines += [f"### Split {split}", "", method_table([r for r in rows if int(r.get("split") or 0) == split]), ""]
    return lines


def section43_table(rows: list[dict]) -> str:
    """Section 4.3: linear imbalance against step imbalance at mu = 0.5 and the same rho (training sets
    of the same size), per method: mean ROC AUC, training-set size, and their difference (Welch)."""
    step = [r for r in rows if r["imbalance"] == "step" and r["mu"] is not None and abs(float(r["mu"]) - 0.5) < 1e-9]
    linear = [r for r in rows if r["imbalance"] == "linear"]
    rhos = sorted({float(r["rho"]) for r in step} & {float(r["rho"]) for r in linear})
    if not rhos:
        return ""
    lines = ["| rho | method | step mu=0.5 ROC AUC (n) | linear ROC AUC (n) | train size step / linear | "
             "linear - step [95% CI] | p |", "|---|---|---|---|---|---|---|"]
    for rho in rhos:
        for method in method_order(step + linear):
            a = [r for r in linear if float(r["rho"]) == rho and r["method"] == method]
            b = [r for r in step if float(r["rho"]) == rho and r["method"] == method]
            if not a or not b:
                continue
            d = statistics.unpaired([float(r["auc"]) for r in a], [float(r["auc"]) for r in b])
            size = lambda rs: f"{np.mean([float(r['train_size']) for r in rs]):,.0f}"  # noqa: E731
            lines.append(f"| {rho:g} | {method} | {np.mean([float(r['auc']) for r in b]):.4f} ({len(b)}) | "
                         f"{np.mean([float(r['auc']) for r in a]):.4f} ({len(a)}) | {size(b)} / {size(a)} | "
                         f"{d.mean_difference:+.4f} {statistics.format_interval(d.ci_low, d.ci_high)} | "
                         f"{statistics.format_p(d.p_value)} |")
    return "\n".join(lines)


def minority_table(per_class: list[dict]) -> str:
    """Markdown table per imbalance shape and method: mean recall of minority and of majority classes."""
    rows = figs.recall_by_group(per_class)
    lines = ["| imbalance | method | networks | minority recall | majority recall | majority - minority |",
             "|---|---|---|---|---|---|"]
    for kind in dict.fromkeys(r["imbalance"] for r in rows):
        for method in method_order([r for r in rows if r["imbalance"] == kind]):
            sel = [r for r in rows if r["imbalance"] == kind and r["method"] == method]
            if sel:
                low, high = (float(np.mean([r[k] for r in sel])) for k in ("minority_recall", "majority_recall"))
                lines.append(f"| {kind} | {method} | {len(sel)} | {low:.4f} | {high:.4f} | {high - low:+.4f} |")
    return "\n".join(lines)


def write_report(workdir: str) -> str:
    """Turns workdir/results.csv into workdir/report.md and PNG figures; returns the report's path."""
    rows = read_workdir_results(workdir)
    path = os.path.join(workdir, "results.csv")
    made = figs.figures(rows, workdir)
    curves = os.path.join(workdir, "curves.csv")
    curve_rows = None
    if os.path.exists(curves):
        title = figs.fig8(curves, os.path.join(workdir, "fig8_convergence.png"))
        if title:
            made["fig8_convergence.png"] = title
        with open(curves) as f:
            curve_rows = list(csv.DictReader(f))
    datasets = sorted({r["dataset"] for r in rows})
    samples = "repetitions and train/test splits" if any(int(r.get("split") or 0) for r in rows) else "repetitions"
    lines = [f"# Class imbalance study: {', '.join(datasets)}", "",
             f"{len(rows)} results of {len({r['network'] for r in rows})} trained networks; "
             f"every number is a mean over {samples} (n), with the sample standard deviation and a 95% t "
             "interval. Methods are compared on the same repetitions (a shared imbalanced set and initial "
             f"weights) by a {statistics.TEST_NAME}; a method wins only where its lead over every other "
             f"method is significant at {statistics.ALPHA}, and ties are named. With one repetition no test "
             "is possible.", "", "## Which method wins", "",
             *winners(rows), "", "## The paper's conclusions, checked (Section 5)", "",
             "Each conclusion against this study's networks: paired differences (a minus b over the networks of "
             "the same imbalanced set) with their 95% interval and p-value, pooled over the settings the "
             "conclusion concerns; 'not significant' where the study cannot tell at 0.05.", "",
             *([conclusions.balanced_reference(rows), ""] if conclusions.balanced_reference(rows) else []),
             conclusions.table(rows, curve_rows), "",
             "## Mean multi-class ROC AUC x 100 (Table 4's layout)", "",
             method_table(rows), ""]
    lines += split_section(rows)
    comparison = section43_table(rows)
    if comparison:
        lines += ["## Linear against step imbalance at equal rho (Section 4.3)", "",
                  "Step imbalance with mu = 0.5 and linear imbalance hold the same number of training images at "
                  "the same rho; the difference is linear minus step (Welch's 95% interval and test).", "",
                  comparison, ""]
    lines += ["## Figures", ""]
    for file, title in made.items():
        lines += [f"### {title}", "", f"![{title}]({file})", ""]
    per_class_path = os.path.join(workdir, "per_class.csv")
    if os.path.exists(per_class_path):
        with open(per_class_path) as f:
            per_class = list(csv.DictReader(f))
        title = figs.minority_recall_figure(per_class, os.path.join(workdir, "fig_minority_recall.png"))
        if title:
            lines += ["## What happens to the minority classes", "",
                      "Mean recall over each network's minority classes and over its majority classes "
                      "(per_class.csv has every class of every network: its training count, recall, precision "
                      "and one-vs-rest AUC).", "", minority_table(per_class), "",
                      f"![{title}](fig_minority_recall.png)", ""]
    lines += ["## All settings", "", summary_table(rows), ""]
    lines += diverged_section(path)
    report = os.path.join(workdir, "report.md")
    write_text(report, "\n".join(lines))
    return report


def diverged_section(results_path: str) -> list[str]:
    """report.md lines listing the networks that diverged (kept out of every mean and figure)."""
    with open(results_path) as f:
        gone = sorted({(r["network"], r["diverged"]) for r in csv.DictReader(f) if not trained(r)})
    if not gone:
        return []
    return ["## Diverged networks", "", f"{len(gone)} networks stopped having a finite loss or finite weights; "
            "their rows in results.csv carry the step (column `diverged`) and no metrics, and no mean, table or "
            "figure includes them.", "", *[f"- {name}: step {step}" for name, step in gone], ""]
