"""The paper's figures (3-8) drawn from a study's result rows; every point is a mean over repetitions, its
error bar the 95% interval (inside [0, 1], none below statistics.MIN_N repetitions)."""
import csv
import os
from collections import defaultdict

import numpy as np

from imbalance_jax import methods, statistics
from imbalance_jax.results import THRESHOLDED, keeps_ranking, method_order, partial_sampling

# Okabe & Ito's colour-blind-safe palette, and a marker and line style per method, so methods stay
# apart in grey print too: sampling solid, two-phase dashed, thresholded dotted.
METHOD_STYLES = {
    "baseline": ("#000000", "o", "-"), "oversampling": ("#0072B2", "s", "-"), "undersampling": ("#D55E00", "^", "-"),
    "two_phase_oversampling": ("#56B4E9", "s", "--"), "two_phase_undersampling": ("#E69F00", "^", "--"),
    "thresholding": ("#CC79A7", "D", ":"), "oversampling_thresholding": ("#009E73", "s", ":"),
    "undersampling_thresholding": ("#999999", "^", ":"),
}
_OTHER_STYLES = [(c, m, ls) for ls in ("-", "--", "-.") for c, m in
                 (("#332288", "v"), ("#117733", "P"), ("#882255", "X"), ("#44AA99", "<"), ("#AA4499", ">"),
                  ("#DDCC77", "h"), ("#88CCEE", "*"))]
METHOD_LABELS = {
    "baseline": "Baseline", "oversampling": "ROS", "undersampling": "RUS",
    "two_phase_oversampling": "Two-phase ROS", "two_phase_undersampling": "Two-phase RUS",
    "thresholding": "Thresholding", "oversampling_thresholding": "ROS + thresholding",
    "undersampling_thresholding": "RUS + thresholding",
}
METHOD_COLORS = {m: style[0] for m, style in METHOD_STYLES.items()}


def method_style(method: str, others: list) -> tuple:
    """(colour, marker, line style) of a method; methods beyond the paper's take the next free style."""
    if method in METHOD_STYLES:
        return METHOD_STYLES[method]
    return _OTHER_STYLES[others.index(method) % len(_OTHER_STYLES)] if method in others else _OTHER_STYLES[0]


def _curves(rows, x_key, metric):
    """{method: (xs, means, interval lows, interval highs)} over the distinct values of x_key: each mean's 95%
    interval inside [0, 1] (statistics.describe; nan below statistics.MIN_N values, drawn without a bar)."""
    out = {}
    for method in method_order(rows):
        sel = [r for r in rows if r["method"] == method]
        if not sel:
            continue
        xs = sorted({r[x_key] for r in sel})
        found = [statistics.describe([r[metric] for r in sel if r[x_key] == x]) for x in xs]
        out[method] = (np.array(xs, float), *(np.array([getattr(s, k) for s in found]) for k in ("mean", "ci_low",
                                                                                                  "ci_high")))
    return out


def _dodged(xs, i, k, logx):
    """x positions of the i-th of k methods, nudged apart so error bars do not hide each other."""
    offset = (i - (k - 1) / 2) / max(k, 1)
    return xs * 10 ** (0.08 * offset) if logx else xs + 0.3 * offset


def draw_panels(title, panel_rows, x_key, metric, xlabel, ylabel, logx=False, methods=None, reference=None):
    """A figure with a panel per (title, rows) entry sharing one y axis: a line per method (those of
    `methods` in its order, when given), its mean over repetitions with its 95% interval as error bars (inside
    [0, 1]; none below statistics.MIN_N repetitions; a panel with one x value: points), and the balanced
    reference's mean as a horizontal line when given; returns the figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    n = len(panel_rows)
    cols = 2 if n == 4 else min(n, 3)
    nrows = -(-n // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(max(4.2 * cols, 6.4), 3.3 * nrows), squeeze=False, sharey=True)
    everyone = list(methods) if methods is not None else [m for _, rows in panel_rows for m in method_order(rows)]
    others = [m for m in dict.fromkeys(everyone) if m not in METHOD_STYLES]
    for ax, (panel_title, rows) in zip(axes.flat, panel_rows):
        curves = _curves(rows, x_key, metric)
        if methods is not None:  # these lines only, in this order
            curves = {m: curves[m] for m in methods if m in curves}
        for i, (method, (xs, mean, low, high)) in enumerate(curves.items()):
            color, marker, line = method_style(method, others)
            bars = np.nan_to_num(np.stack([mean - low, high - mean]), nan=0.0)  # no bar below MIN_N values
            ax.errorbar(_dodged(xs, i, len(curves), logx), mean, yerr=bars, color=color, marker=marker, ms=4,
                        ls=line if len(xs) > 1 else "none", lw=1.3, capsize=2, elinewidth=0.8,
                        label=METHOD_LABELS.get(method, method))
        if reference is not None:
            ax.axhline(reference, color="#555555", ls=(0, (6, 3)), lw=1, label="Balanced (reference)")
        ax.set_title(panel_title, fontsize=10)
        ax.set_xlabel(xlabel)
        if logx:
            ax.set_xscale("log")
        else:  # counts (minority classes): whole-number ticks
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    _legend_below(fig, axes, n, title)
    return fig


def _legend_below(fig, axes, n, title):
    """Every method's legend entry once, below the panels, with room made for it inside the figure."""
    handles, labels = [], []
    for ax in list(axes.flat)[:n]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.suptitle(title)
    if not labels:
        fig.tight_layout()
        return
    for ncol in range(min(len(labels), 4), 0, -1):  # as many columns as the figure's width holds
        legend = fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False, fontsize=9,
                            bbox_to_anchor=(0.5, 0.0))
        fig.canvas.draw()  # the legend's size is known once drawn
        if legend.get_window_extent().width <= fig.bbox.width or ncol == 1:
            break
        legend.remove()
    # The figure grows by the legend's height, so a long legend (the long-tail remedies) never squeezes
    # the panels.
    legend_inches = legend.get_window_extent().height / fig.dpi + 0.15
    fig.set_figheight(fig.get_figheight() + legend_inches)
    fig.tight_layout(rect=(0, legend_inches / fig.get_figheight(), 1, 0.95))


def save_panels(path, *args, **kwargs):
    """draw_panels(*args, **kwargs), saved to path (PNG, and a PDF beside it)."""
    import matplotlib.pyplot as plt

    fig = draw_panels(*args, **kwargs)
    save_figure(fig, path)
    plt.close(fig)


def save_figure(fig, path: str) -> None:
    """Writes a figure as PNG (path) and PDF beside it, each to a temporary file and then renamed: a
    kill never leaves a truncated file."""
    root, ext = os.path.splitext(path)
    for suffix, options in ((ext, {"dpi": 130}), (".pdf", {})):
        tmp = f"{root}.tmp{os.getpid()}{suffix}"
        fig.savefig(tmp, **options)
        os.replace(tmp, root + suffix)


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
    balanced = [r for r in rows if r["method"] == "balanced"]
    auc_ref = float(np.mean([r["auc"] for r in balanced])) if balanced else None
    accuracy_ref = float(np.mean([r["accuracy"] for r in balanced])) if balanced else None
    made = {}
    if step:
        made["fig3_auc_vs_minority_classes.png"] = "Fig. 3: ROC AUC against the number of minority classes"
        save_panels(os.path.join(outdir, "fig3_auc_vs_minority_classes.png"), made[
            "fig3_auc_vs_minority_classes.png"], [(f"rho = {v:g}", g) for v, g in _group(untreshold, "rho")],
            "num_minority", "auc", "minority classes", "multi-class ROC AUC", reference=auc_ref)
        made["fig4_auc_vs_rho.png"] = "Fig. 4: ROC AUC against the imbalance ratio"
        save_panels(os.path.join(outdir, "fig4_auc_vs_rho.png"), made["fig4_auc_vs_rho.png"],
                [(f"{v} minority classes", g) for v, g in _group(untreshold, "num_minority")],
                "rho", "auc", "imbalance ratio rho", "multi-class ROC AUC", logx=True, reference=auc_ref)
        made["fig6_accuracy_vs_minority_classes.png"] = "Fig. 6: accuracy, with the thresholded methods"
        save_panels(os.path.join(outdir, "fig6_accuracy_vs_minority_classes.png"),
                made["fig6_accuracy_vs_minority_classes.png"], [(f"rho = {v:g}", g) for v, g in _group(step, "rho")],
                "num_minority", "accuracy", "minority classes", "accuracy",
                methods=("baseline", "oversampling", "undersampling", *THRESHOLDED), reference=accuracy_ref)
    if linear:
        made["fig5_linear_auc_vs_rho.png"] = "Fig. 5: ROC AUC against rho, linear imbalance"
        save_panels(os.path.join(outdir, "fig5_linear_auc_vs_rho.png"), made["fig5_linear_auc_vs_rho.png"],
                [("linear imbalance", [r for r in linear if not keeps_ranking(r["method"])])],
                "rho", "auc", "imbalance ratio rho", "multi-class ROC AUC", logx=True, reference=auc_ref)
    if longtail:
        made["fig_longtail_auc_vs_rho.png"] = "ROC AUC against rho, exponential (long-tail) imbalance"
        save_panels(os.path.join(outdir, "fig_longtail_auc_vs_rho.png"), made["fig_longtail_auc_vs_rho.png"],
                [("exponential imbalance", [r for r in longtail if not keeps_ranking(r["method"])])],
                "rho", "auc", "imbalance ratio rho", "multi-class ROC AUC", logx=True)
        made["fig_longtail_accuracy_vs_rho.png"] = "Accuracy against rho, exponential (long-tail) imbalance"
        save_panels(os.path.join(outdir, "fig_longtail_accuracy_vs_rho.png"), made["fig_longtail_accuracy_vs_rho.png"],
                [("exponential imbalance", longtail)], "rho", "accuracy", "imbalance ratio rho", "accuracy",
                logx=True)
    if any(partial_sampling(r["method"]) for r in partial):
        panels = fig7_rows(partial)
        if panels:  # (a target ratio equal to every rho of the grid reduces nothing)
            made["fig7_partial_sampling.png"] = "Fig. 7: sampling to reduced imbalance ratios"
            save_panels(os.path.join(outdir, "fig7_partial_sampling.png"), made["fig7_partial_sampling.png"], panels,
                    "ratio", "auc", "imbalance ratio after sampling", "multi-class ROC AUC", logx=True)
    return made


def recall_by_group(per_class: list[dict]) -> list[dict]:
    """Per (network, method): the mean recall of its minority classes and of its majority classes."""
    groups = defaultdict(lambda: ([], []))
    first = {}
    for r in per_class:
        if str(r.get("selected", "1")) not in ("1", "") or r["recall"] in ("", None):
            continue
        key = (r["network"], r["method"])
        groups[key][0 if str(r["minority"]) == "1" else 1].append(float(r["recall"]))
        first.setdefault(key, r)
    out = []
    for key, (minority, majority) in groups.items():
        if minority and majority:
            r = first[key]
            out.append(dict(network=key[0], method=key[1], imbalance=r["imbalance"], rho=float(r["rho"]),
                            minority_recall=float(np.mean(minority)), majority_recall=float(np.mean(majority))))
    return out


def minority_recall_figure(per_class: list[dict], path: str) -> str:
    """Recall of the minority and of the majority classes against rho, a line per method; returns the title
    (empty when there is nothing to draw)."""
    rows = recall_by_group(per_class)
    panels = [(f"{kind}: {group} classes",
               [dict(r, recall=r[f"{group}_recall"]) for r in rows if r["imbalance"] == kind])
              for kind in dict.fromkeys(r["imbalance"] for r in rows) for group in ("minority", "majority")]
    if not panels:
        return ""
    title = "Recall of minority and majority classes against rho (mean over mu and repetitions)"
    save_panels(path, title, panels, "rho", "recall", "imbalance ratio rho", "recall", logx=True)
    return title


def fig7_rows(rows: list[dict]) -> list[tuple]:
    """Fig. 7's panels: per rho, oversampling and undersampling, each line a number of minority classes,
    x the imbalance ratio left after sampling (the baseline's rho, 1 for full sampling)."""
    def remaining_ratio(r):
        if r["method"] == "baseline":
            return r["rho"]
        if r["method"] in ("oversampling", "undersampling"):
            return 1.0
        return methods.get(r["method"]).training.target_rho

    panels = []
    for rho, group in _group(rows, "rho"):
        for kind in ("oversampling", "undersampling"):
            chosen = [dict(r, ratio=remaining_ratio(r), method=f"{r['num_minority']} minority classes")
                      for r in group if r["method"] == "baseline" or r["method"].startswith(kind)]
            if any(r["ratio"] not in (1.0, rho) for r in chosen):  # a panel with reduced ratios to show
                panels.append((f"rho = {rho:g}: {METHOD_LABELS[kind]} to a reduced ratio", chosen))
    return panels


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
    """Training and test accuracy against iterations for baseline, ROS and RUS; returns the title ('' when
    the curves hold none of them)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(curves_path) as f:
        setting, series = fig8_series(list(csv.DictReader(f)))
    if not series:
        return ""
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
