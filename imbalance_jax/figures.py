"""The paper's figures (3-8) drawn from a study's result rows; every point is a mean over repetitions."""
import csv
import os
from collections import defaultdict

import numpy as np

from imbalance_jax import methods
from imbalance_jax.results import THRESHOLDED, keeps_ranking, method_order, partial_sampling

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



def _curves(rows, x_key, metric):
    """{method: (xs, means, stds)} over the distinct values of x_key."""
    out = {}
    for method in method_order(rows):
        sel = [r for r in rows if r["method"] == method]
        if not sel:
            continue
        xs = sorted({r[x_key] for r in sel})
        vals = [np.array([r[metric] for r in sel if r[x_key] == x]) for x in xs]
        out[method] = (np.array(xs), np.array([v.mean() for v in vals]), np.array([v.std(ddof=1) if len(v) > 1 else 0.0 for v in vals]))
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


def fig8_series(curve_rows: list[dict]) -> tuple[str, dict]:
    """(setting, {method: (steps, mean train accuracy, mean test accuracy)}) that Fig. 8 draws: the
    selected network of each learning-rate protocol (curves.csv keeps every lr run), in the most
    imbalanced step setting (the largest rho, then the mu closest to one half)."""
    rows = [r for r in curve_rows if str(r.get("selected", "1")) in ("1", "")]
    step_rows = [r for r in rows if r["imbalance"] == "step"] or rows
    rho = max(float(r["rho"]) for r in step_rows)
    mus = {str(r["mu"]) for r in step_rows if float(r["rho"]) == rho}
    mu = min(mus, key=lambda m: abs(float(m) - 0.5) if m else 0)
    chosen = [r for r in step_rows if float(r["rho"]) == rho and str(r["mu"]) == mu]
    series = {}
    for method in ("baseline", "oversampling", "undersampling"):
        sel = [r for r in chosen if r["method"] == method]
        if sel:
            steps = sorted({int(r["step"]) for r in sel})
            series[method] = (steps, *[[float(np.mean([float(r[key]) for r in sel if int(r["step"]) == s]))
                                        for s in steps] for key in ("train_accuracy", "test_accuracy")])
    return f"step rho={rho:g}" + (f" mu={float(mu):g}" if mu else ""), series


def fig8(curves_path: str, path: str) -> str:
    """Training and test accuracy against iterations for baseline, ROS and RUS; returns the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(curves_path) as f:
        setting, series = fig8_series(list(csv.DictReader(f)))
    fig, axes = plt.subplots(1, len(series), figsize=(4.2 * len(series), 3.4), squeeze=False)
    for ax, (method, (steps, train_acc, test_acc)) in zip(axes.flat, series.items()):
        ax.plot(steps, train_acc, "--", color=METHOD_COLORS[method], label="train accuracy")
        ax.plot(steps, test_acc, "-", color=METHOD_COLORS[method], label="test accuracy")
        ax.set_title(METHOD_LABELS[method])
        ax.set_xlabel("iteration")
        ax.set_ylabel("accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    title = f"Fig. 8: convergence of baseline and sampling ({setting})"
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return title
