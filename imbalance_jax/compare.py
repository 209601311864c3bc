"""Several studies in one report: a combined table with a `study` column, each study's difference from
the first per (setting, method) with Welch's 95% interval and test, and figures with a line per study.

  compare.write_comparison(["runs/fp32", "runs/bf16"], ["fp32", "bf16"], "runs/fp32_vs_bf16")
"""
import os

from imbalance_jax import figures as figs
from imbalance_jax import statistics
from imbalance_jax.method_labels import TABLE_NOTE, method_label
from imbalance_jax.report import mean_by_setting
from imbalance_jax.results import (RESULT_COLUMNS, keeps_ranking, method_order, setting_label, typed, write_csv,
                                   write_text)
from imbalance_jax.workdir import Workdir


def combined_rows(workdirs: list, labels: list) -> list[dict]:
    """Every study's selected, trained rows, each with its study's label."""
    if len(set(labels)) != len(labels):
        raise ValueError(f"--label values {labels} repeat; give each study its own label")
    rows = []
    for workdir, label in zip(workdirs, labels):
        rows += [dict(r, study=label) for r in typed(Workdir(workdir).tables.results())]
    return rows


def difference_table(rows: list[dict], labels: list) -> str:
    """Markdown: per (setting, method) each study's mean ROC AUC (n) and its difference from the first's, with
    Welch's interval and test, Benjamini-Hochberg adjusted over the table."""
    first, others = labels[0], labels[1:]
    by_study = {label: mean_by_setting([r for r in rows if r["study"] == label]) for label in labels}
    head = "| method | setting | config name | " + " | ".join(f"{label} (n)" for label in labels) + " | " + " | ".join(
        f"{label} - {first} [95% CI] | p | p (BH)" for label in others) + " |"
    lines = [head, "|---" * (3 + len(labels) + 3 * len(others)) + "|"]
    settings = list(dict.fromkeys(setting_label(r) for r in rows))
    order = method_order(rows)
    keys = sorted({k for means in by_study.values() for k in means},
                  key=lambda k: (settings.index(k[0]), order.index(k[1])))
    tests = {(key, label): statistics.unpaired(list(by_study[label][key]["by_pair"].values()),
                                               list(by_study[first][key]["by_pair"].values()))
             for key in keys for label in others if key in by_study[label] and key in by_study[first]}
    adjusted = dict(zip(tests, statistics.benjamini_hochberg([d.p_value for d in tests.values()])))
    for key in keys:
        cells = [f"{by_study[s][key]['auc']:.4f} ({by_study[s][key]['n']})" if key in by_study[s] else ""
                 for s in labels]
        for label in others:
            d = tests.get((key, label))
            cells += ["", "", ""] if d is None else [
                f"{d.mean_difference:+.4f} {statistics.format_interval(d.ci_low, d.ci_high)}",
                statistics.format_p(d.p_value), statistics.format_p(adjusted[(key, label)])]
        lines.append(f"| {method_label(key[1])} | {key[0]} | {key[1]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def overlaid_figure(rows: list[dict], path: str) -> str:
    """ROC AUC against rho, a panel per method, a line per study (step imbalance: mean over mu)."""
    kind = "step" if any(r["imbalance"] == "step" for r in rows) else rows[0]["imbalance"]
    chosen = [r for r in rows if r["imbalance"] == kind and not keeps_ranking(r["method"])]
    panels = [(method_label(method), [dict(r, method=r["study"]) for r in chosen if r["method"] == method])
              for method in method_order(chosen) if any(r["method"] == method for r in chosen)]
    title = f"ROC AUC against rho per study ({kind} imbalance)"
    studies = list(dict.fromkeys(r["study"] for r in rows))  # the --label order
    figs.save_panels(path, title, panels, "rho", "auc", "imbalance ratio rho", "multi-class ROC AUC", logx=True,
                     methods=studies, label=str)  # the lines are studies, named by their labels
    return title


def write_comparison(workdirs: list, labels: list, outdir: str) -> str:
    """Writes outdir/report.md, results.csv (with a study column) and the overlaid figure; returns the report."""
    rows = combined_rows(workdirs, labels)
    os.makedirs(outdir, exist_ok=True)
    write_csv(os.path.join(outdir, "results.csv"), ("study", *RESULT_COLUMNS), rows)
    title = overlaid_figure(rows, os.path.join(outdir, "compare_auc_vs_rho.png"))
    lines = [f"# Comparison of {len(labels)} studies: {', '.join(labels)}", "",
             "| study | workdir | results |", "|---|---|---|",
             *[f"| {label} | {w} | {sum(r['study'] == label for r in rows)} |" for label, w in zip(labels, workdirs)],
             "", f"Differences are each study's mean ROC AUC minus {labels[0]}'s, with Welch's 95% interval (logit "
             "scale, inside [-1, 1]) and two-sided test (the studies' networks are treated as independent samples), "
             f"Benjamini-Hochberg adjusted over the table; below {statistics.MIN_N} networks a side, no interval or "
             "test. " + TABLE_NOTE, "",
             difference_table(rows, labels), "", f"## {title}", "", f"![{title}](compare_auc_vs_rho.png)", ""]
    report = os.path.join(outdir, "report.md")
    write_text(report, "\n".join(lines))
    return report
