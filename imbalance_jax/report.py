"""Reports of a study's results: the summary table, the paper's figures, and report.md.

Every plotted point is the mean over repetitions with a band of +-1 standard deviation.
"""
import csv
import os
from collections import defaultdict

import numpy as np

from imbalance_jax import methods
from imbalance_jax.results import trained
from imbalance_jax.methods import PAPER_METHODS

# One colour per method, the same in every figure.
METHOD_COLORS = {
    "baseline": "#222222", "oversampling": "#1f77b4", "undersampling": "#d62728",
    "two_phase_oversampling": "#17becf", "two_phase_undersampling": "#ff7f0e",
    "thresholding": "#7f7f7f", "oversampling_thresholding": "#2ca02c",
    "undersampling_thresholding": "#9467bd",
}
METHOD_LABELS = {
    "baseline": "Baseline", "oversampling": "ROS", "undersampling": "RUS",
    "two_phase_oversampling": "Two-phase ROS", "two_phase_undersampling": "Two-phase RUS",
    "thresholding": "Thresholding", "oversampling_thresholding": "ROS + thresholding",
    "undersampling_thresholding": "RUS + thresholding",
}


# The paper's thresholded methods (softmax / prior), drawn with their networks in Fig. 6.
THRESHOLDED = ("thresholding", "oversampling_thresholding", "undersampling_thresholding")


def keeps_ranking(name: str) -> bool:
    """A method whose scores rank like its network's softmax (thresholding): AUC never tells it apart."""
    method = methods.lookup(name)
    return method is not None and method.scoring.keeps_ranking and method.network != name


def partial_sampling(name: str) -> bool:
    """Sampling to a reduced ratio (Section 4.5): drawn in Fig. 7 only."""
    method = methods.lookup(name)
    return method is not None and method.partial_sampling


def read_results(path: str) -> list[dict]:
    """Selected rows of a results.csv (the best of each learning-rate protocol), numbers as floats."""
    with open(path) as f:
        rows = [r for r in csv.DictReader(f) if r.get("selected", "1") in ("1", "") and trained(r)]
    for r in rows:
        for key in ("rho", "auc", "accuracy"):
            r[key] = float(r[key])
        r["mu"] = float(r["mu"]) if r["mu"] not in ("", None) else None
        r["num_minority"] = len(r["minority_classes"].split())
    return rows


def setting_label(row: dict) -> str:
    """A readable name of a row's imbalance setting, e.g. 'step rho=10 mu=0.5'."""
    label = f"{row['imbalance']} rho={float(row['rho']):g}"
    if row["mu"] not in ("", None):
        label += f" mu={float(row['mu']):g}"
    return label


def _method_order(rows):
    return list(dict.fromkeys([*PAPER_METHODS, *sorted({r["method"] for r in rows})]))


def mean_by_setting(rows: list[dict]) -> dict:
    """{(setting, method): {'n', 'auc', 'auc_std', 'accuracy'}} averaged over repetitions."""
    groups = defaultdict(list)
    for row in rows:
        groups[(setting_label(row), row["method"])].append(row)
    out = {}
    for key, group in groups.items():
        auc = np.array([float(r["auc"]) for r in group])
        out[key] = {"n": len(group), "auc": auc.mean(), "auc_std": auc.std(),
                    "accuracy": np.mean([float(r["accuracy"]) for r in group])}
    return out


def _sorted_keys(rows, means):
    settings = list(dict.fromkeys(setting_label(r) for r in rows))
    order = _method_order(rows)
    return sorted(means, key=lambda k: (settings.index(k[0]), order.index(k[1])))


def summary_table(rows: list[dict]) -> str:
    """Markdown table of mean multi-class ROC AUC and accuracy per imbalance setting and method."""
    rows = [r for r in rows if str(r.get("selected", 1)) in ("1", "") and trained(r)]
    means = mean_by_setting(rows)
    lines = ["| setting | method | runs | ROC AUC (mean ± sd) | accuracy |", "|---|---|---|---|---|"]
    for setting, method in _sorted_keys(rows, means):
        m = means[(setting, method)]
        lines.append(f"| {setting} | {method} | {m['n']} | {m['auc']:.4f} ± {m['auc_std']:.4f} | "
                     f"{m['accuracy']:.4f} |")
    return "\n".join(lines)


def method_table(rows: list[dict]) -> str:
    """Table 4's layout: a row per method, a column per setting, mean ROC AUC x 100."""
    means = mean_by_setting(rows)
    settings = list(dict.fromkeys(setting_label(r) for r in rows))
    methods = [m for m in _method_order(rows) if any((s, m) in means for s in settings)]
    lines = ["| method | " + " | ".join(settings) + " |", "|---" * (len(settings) + 1) + "|"]
    for m in methods:
        cells = [f"{100 * means[(s, m)]['auc']:.2f}" if (s, m) in means else "" for s in settings]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def winners(rows: list[dict]) -> list[str]:
    """Per setting: the method with the best mean AUC, its margin over the runner-up and the baseline."""
    means = mean_by_setting(rows)
    lines = []
    for setting in dict.fromkeys(setting_label(r) for r in rows):
        # Thresholding never changes AUC, so thresholded twins are left out of the ranking.
        ranked = sorted(((m, v) for (s, m), v in means.items() if s == setting and not keeps_ranking(m)),
                        key=lambda mv: -mv[1]["auc"])
        best, stats = ranked[0]
        text = f"- **{setting}**: {best} wins with ROC AUC {stats['auc']:.4f} ({stats['n']} repetitions)"
        if len(ranked) > 1:
            text += f", {stats['auc'] - ranked[1][1]['auc']:+.4f} over {ranked[1][0]}"
        base = means.get((setting, "baseline"))
        if base is not None and best != "baseline" and ranked[1][0] != "baseline":
            text += f", {stats['auc'] - base['auc']:+.4f} over baseline"
        lines.append(text + ".")
    return lines


# --- figures --------------------------------------------------------------------------------
def _curves(rows, x_key, metric):
    """{method: (xs, means, stds)} over the distinct values of x_key."""
    out = {}
    for method in _method_order(rows):
        sel = [r for r in rows if r["method"] == method]
        if not sel:
            continue
        xs = sorted({r[x_key] for r in sel})
        vals = [np.array([r[metric] for r in sel if r[x_key] == x]) for x in xs]
        out[method] = (np.array(xs), np.array([v.mean() for v in vals]), np.array([v.std() for v in vals]))
    return out


def _panels(path, title, panel_rows, x_key, metric, xlabel, ylabel, logx=False, methods=None):
    """One figure, a panel per (title, rows) entry, a line with a spread band per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(panel_rows)
    cols = min(n, 3)
    nrows = -(-n // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.4 * nrows), squeeze=False)
    for ax, (panel_title, rows) in zip(axes.flat, panel_rows):
        for method, (xs, mean, std) in _curves(rows, x_key, metric).items():
            if methods is not None and method not in methods:
                continue
            color = METHOD_COLORS.get(method)
            ax.plot(xs, mean, "o-", color=color, label=METHOD_LABELS.get(method, method), ms=3)
            ax.fill_between(xs, mean - std, mean + std, color=color, alpha=0.15, lw=0)
        ax.set_title(panel_title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if logx:
            ax.set_xscale("log")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    for ax in list(axes.flat)[1:n]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    legend_rows = -(-len(labels) // 4)
    bottom = (0.35 + 0.25 * legend_rows) / (3.4 * nrows)
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, bottom, 1, 0.95))
    save_figure(fig, path)
    plt.close(fig)


def save_figure(fig, path: str) -> None:
    """Writes a figure to a temporary file, then renames it: a kill never leaves a truncated PNG."""
    root, ext = os.path.splitext(path)
    tmp = f"{root}.tmp{os.getpid()}{ext}"
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)


def _group(rows, key):
    values = sorted({r[key] for r in rows})
    return [(v, [r for r in rows if r[key] == v]) for v in values]


def figures(rows: list[dict], outdir: str) -> dict:
    """Writes the paper's figures that the results can fill; returns {figure name: file name}."""
    os.makedirs(outdir, exist_ok=True)
    step = [r for r in rows if r["imbalance"] == "step" and not partial_sampling(r["method"])]
    linear = [r for r in rows if r["imbalance"] == "linear" and not partial_sampling(r["method"])]
    longtail = [r for r in rows if r["imbalance"] == "exponential" and not partial_sampling(r["method"])]
    partial = [r for r in rows if r["imbalance"] == "step" and r["method"] in
               ("baseline", "oversampling", "undersampling") or partial_sampling(r["method"])]
    untreshold = [r for r in step if not keeps_ranking(r["method"])]
    made = {}
    if step:
        made["fig3_auc_vs_minority_classes.png"] = "Fig. 3: ROC AUC against the number of minority classes"
        _panels(os.path.join(outdir, "fig3_auc_vs_minority_classes.png"), made[
            "fig3_auc_vs_minority_classes.png"], [(f"rho = {v:g}", g) for v, g in _group(untreshold, "rho")],
            "num_minority", "auc", "minority classes", "multi-class ROC AUC")
        made["fig4_auc_vs_rho.png"] = "Fig. 4: ROC AUC against the imbalance ratio"
        _panels(os.path.join(outdir, "fig4_auc_vs_rho.png"), made["fig4_auc_vs_rho.png"],
                [(f"{v} minority classes", g) for v, g in _group(untreshold, "num_minority")],
                "rho", "auc", "imbalance ratio rho", "multi-class ROC AUC", logx=True)
        made["fig6_accuracy_vs_minority_classes.png"] = "Fig. 6: accuracy, with the thresholded methods"
        _panels(os.path.join(outdir, "fig6_accuracy_vs_minority_classes.png"),
                made["fig6_accuracy_vs_minority_classes.png"], [(f"rho = {v:g}", g) for v, g in _group(step, "rho")],
                "num_minority", "accuracy", "minority classes", "accuracy",
                methods=("baseline", "oversampling", "undersampling", *THRESHOLDED))
    if linear:
        made["fig5_linear_auc_vs_rho.png"] = "Fig. 5: ROC AUC against rho, linear imbalance"
        _panels(os.path.join(outdir, "fig5_linear_auc_vs_rho.png"), made["fig5_linear_auc_vs_rho.png"],
                [("linear imbalance", [r for r in linear if not keeps_ranking(r["method"])])],
                "rho", "auc", "imbalance ratio rho", "multi-class ROC AUC", logx=True)
    if longtail:
        made["fig_longtail_auc_vs_rho.png"] = "ROC AUC against rho, exponential (long-tail) imbalance"
        _panels(os.path.join(outdir, "fig_longtail_auc_vs_rho.png"), made["fig_longtail_auc_vs_rho.png"],
                [("exponential imbalance", [r for r in longtail if not keeps_ranking(r["method"])])],
                "rho", "auc", "imbalance ratio rho", "multi-class ROC AUC", logx=True)
        made["fig_longtail_accuracy_vs_rho.png"] = "Accuracy against rho, exponential (long-tail) imbalance"
        _panels(os.path.join(outdir, "fig_longtail_accuracy_vs_rho.png"), made["fig_longtail_accuracy_vs_rho.png"],
                [("exponential imbalance", longtail)], "rho", "accuracy", "imbalance ratio rho", "accuracy",
                logx=True)
    if any(partial_sampling(r["method"]) for r in partial):
        made["fig7_partial_sampling.png"] = "Fig. 7: sampling to reduced imbalance ratios"
        _fig7(os.path.join(outdir, "fig7_partial_sampling.png"), partial, made["fig7_partial_sampling.png"])
    return made


def _fig7(path, rows, title):
    """AUC against the imbalance ratio left after sampling, a line per number of minority classes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def remaining_ratio(r):
        if r["method"] == "baseline":
            return r["rho"]
        if r["method"] in ("oversampling", "undersampling"):
            return 1.0
        return methods.get(r["method"]).training.target_rho

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), squeeze=False)
    for ax, kind in zip(axes.flat, ("oversampling", "undersampling")):
        for k, group in _group([r for r in rows if r["method"] == "baseline" or r["method"].startswith(kind)],
                               "num_minority"):
            points = defaultdict(list)
            for r in group:
                points[remaining_ratio(r)].append(r["auc"])
            xs = sorted(points)
            ax.plot(xs, [np.mean(points[x]) for x in xs], "o-", ms=3, label=f"{k} minority")
        ax.set_xscale("log")
        ax.set_title(METHOD_LABELS[kind] + " to a reduced ratio")
        ax.set_xlabel("imbalance ratio after sampling")
        ax.set_ylabel("multi-class ROC AUC")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def fig8(curves_path: str, path: str) -> str:
    """Training and test accuracy against iterations for baseline, ROS and RUS; returns the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(curves_path) as f:
        rows = list(csv.DictReader(f))
    step_rows = [r for r in rows if r["imbalance"] == "step"] or rows
    # The paper's Fig. 8 shows a strongly imbalanced step setting: take the largest rho, then the
    # mu closest to one half.
    rho = max(float(r["rho"]) for r in step_rows)
    mus = {r["mu"] for r in step_rows if float(r["rho"]) == rho}
    mu = min(mus, key=lambda m: abs(float(m) - 0.5) if m else 0)
    chosen = [r for r in step_rows if float(r["rho"]) == rho and r["mu"] == mu]
    panels = [m for m in ("baseline", "oversampling", "undersampling") if any(r["method"] == m for r in chosen)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, method in zip(axes.flat, panels):
        sel = [r for r in chosen if r["method"] == method]
        steps = sorted({int(r["step"]) for r in sel})
        for key, style in (("train_accuracy", "--"), ("test_accuracy", "-")):
            means = [np.mean([float(r[key]) for r in sel if int(r["step"]) == s]) for s in steps]
            ax.plot(steps, means, style, color=METHOD_COLORS[method], label=key.replace("_", " "))
        ax.set_title(METHOD_LABELS[method])
        ax.set_xlabel("iteration")
        ax.set_ylabel("accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    setting = f"step rho={rho:g}" + (f" mu={float(mu):g}" if mu else "")
    title = f"Fig. 8: convergence of baseline and sampling ({setting})"
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return title


def write_report(workdir: str) -> str:
    """Turns workdir/results.csv into workdir/report.md and PNG figures; returns the report's path."""
    path = os.path.join(workdir, "results.csv")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} does not exist; run launch.study with --workdir={workdir} first")
    rows = read_results(path)
    made = figures(rows, workdir)
    curves = os.path.join(workdir, "curves.csv")
    if os.path.exists(curves):
        made["fig8_convergence.png"] = fig8(curves, os.path.join(workdir, "fig8_convergence.png"))
    datasets = sorted({r["dataset"] for r in rows})
    lines = [f"# Class imbalance study: {', '.join(datasets)}", "",
             f"{len(rows)} results of {len({r['network'] for r in rows})} trained networks; "
             "every number is a mean over repetitions.", "", "## Which method wins", "",
             *winners(rows), "", "## Mean multi-class ROC AUC x 100 (Table 4's layout)", "",
             method_table(rows), "", "## Figures", ""]
    for file, title in made.items():
        lines += [f"### {title}", "", f"![{title}]({file})", ""]
    lines += ["## All settings", "", summary_table(rows), ""]
    lines += diverged_section(path)
    report = os.path.join(workdir, "report.md")
    tmp = f"{report}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write("\n".join(lines))
    os.replace(tmp, report)
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
