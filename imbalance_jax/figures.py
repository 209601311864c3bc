"""The paper's figures (3-8) drawn from a study's result rows; every point is a mean over repetitions, its
error bar the 95% interval (inside [0, 1], none below statistics.MIN_N repetitions)."""
import math
import os
import re
from collections import defaultdict
from typing import NamedTuple, Optional

import numpy as np

from imbalance_jax import methods, statistics
from imbalance_jax.method_labels import REFERENCE, method_label, symbols
from imbalance_jax.results import keeps_ranking, method_order, partial_sampling, sampling_reduced, selected

# The styles of methods whose registration gives none (Okabe & Ito's and Tol's colour-blind-safe colours with
# their own markers, so methods stay apart in grey print too).
_OTHER_STYLES = [(c, m, ls) for ls in ("-", "--", "-.") for c, m in
                 (("#332288", "v"), ("#117733", "P"), ("#882255", "X"), ("#44AA99", "<"), ("#AA4499", ">"),
                  ("#DDCC77", "h"), ("#88CCEE", "*"))]
AUC, RHO = "multi-class ROC AUC", "imbalance ratio rho"  # axis labels
MAX_X_TICKS = 8  # beyond this many x values a panel keeps matplotlib's ticks (plainly labelled)


def own_style(method: str) -> tuple:
    """(colour, marker, line style) its registration gives a method; () for none."""
    found = methods.lookup(method)
    return found.style if found is not None else ()


def methods_drawn_in(rows: list[dict], figure: str) -> list[str]:
    """The methods of rows that the paper's figure (methods.FIGURES) draws, in the tables' order."""
    return [m for m in method_order(rows) if methods.drawn_in(m, figure)]


def method_style(method: str, others: list) -> tuple:
    """(colour, marker, line style) of a method: its registration's, else the next free style of others."""
    if own_style(method):
        return own_style(method)
    return _OTHER_STYLES[others.index(method) % len(_OTHER_STYLES)] if method in others else _OTHER_STYLES[0]


def figure_label(method: str) -> str:
    """A method's name in a figure's legend or panel title: its display name, with rho and tau as symbols."""
    return symbols(method_label(method))


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


def _x_axis(ax, values, logx):
    """Ticks at exactly the x values present, labelled plainly ('10', never '1x10^1' or minor-tick labels),
    in a range padded so that a single value sits mid-panel."""
    import matplotlib.ticker as ticker

    values = sorted(set(float(v) for v in values))
    lo, hi = values[0], values[-1]
    plain = ticker.FuncFormatter(lambda v, _: _plain(v))
    if logx:
        ax.set_xscale("log")
        pad = max(0.12 * math.log10(hi / lo), 0.3)  # in decades
        ax.set_xlim(lo / 10 ** pad, hi * 10 ** pad)
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    else:
        pad = max(0.08 * (hi - lo), 0.6)
        ax.set_xlim(lo - pad, hi + pad)
    if len(values) <= MAX_X_TICKS:
        ax.set_xticks(values, [_plain(v) for v in values])
    else:
        if not logx:  # counts (minority classes): whole-number ticks
            ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        ax.xaxis.set_major_formatter(plain)


def _plain(value: float) -> str:
    """'10', '0.5', '1000000': never an exponent."""
    return format(value, ".15g")


def _y_limits(axes, values):
    """One y range for every panel: the values drawn (means, interval ends, reference), padded, inside [0, 1]."""
    values = np.asarray([v for v in values if np.isfinite(v)], float)
    if not values.size:
        return
    lo, hi = float(values.min()), float(values.max())
    pad = max(0.06 * (hi - lo), 0.01)
    for ax in axes:
        ax.set_ylim(max(0.0, lo - pad), min(1.0, hi + pad))


def draw_panels(title, panel_rows, x_key, metric, xlabel, ylabel, logx=False, methods=None, reference=None,
                label=figure_label):
    """A figure with a panel per (title, rows) entry sharing one y axis inside [0, 1]: a line per method (those
    of `methods` in its order, when given; legend entries label(method)), its mean over repetitions with its
    95% interval as error bars (none below statistics.MIN_N repetitions; a panel with one x value: points),
    ticks at the x values present, and the balanced reference's mean as a horizontal line when given; titles
    and labels show rho and mu as symbols; returns the figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(panel_rows)
    cols = 2 if n == 4 else min(n, 3)
    nrows = -(-n // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(max(4.2 * cols, 6.4), 3.3 * nrows), squeeze=False, sharey=True)
    everyone = list(methods) if methods is not None else [m for _, rows in panel_rows for m in method_order(rows)]
    others = [m for m in dict.fromkeys(everyone) if not own_style(m)]
    drawn = [] if reference is None else [reference]
    for ax, (panel_title, rows) in zip(axes.flat, panel_rows):
        curves = _curves(rows, x_key, metric)
        if methods is not None:  # these lines only, in this order
            curves = {m: curves[m] for m in methods if m in curves}
        for i, (method, (xs, mean, low, high)) in enumerate(curves.items()):
            color, marker, line = method_style(method, others)
            bars = np.nan_to_num(np.stack([mean - low, high - mean]), nan=0.0)  # no bar below MIN_N values
            ax.errorbar(_dodged(xs, i, len(curves), logx), mean, yerr=bars, color=color, marker=marker, ms=4,
                        ls=line if len(xs) > 1 else "none", lw=1.3, capsize=2, elinewidth=0.8, label=label(method))
            drawn += [*mean, *low, *high]
        if reference is not None:
            # above the spines and unclipped: a reference near 1 lies on the top edge of the [0, 1] range
            ax.axhline(reference, color="#555555", ls=(0, (6, 3)), lw=1.2, label=REFERENCE, zorder=3, clip_on=False)
            ax.spines["top"].set_visible(False)
        ax.set_title(symbols(panel_title), fontsize=10)
        ax.set_xlabel(symbols(xlabel))
        if curves:
            _x_axis(ax, [x for xs, *_ in curves.values() for x in xs], logx)
        ax.grid(alpha=0.3)
    _y_limits(list(axes.flat)[:n], drawn)
    for ax in axes[:, 0]:
        ax.set_ylabel(symbols(ylabel))
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    _legend_below(fig, axes, n, symbols(title))
    return fig


def _legend_below(fig, axes, n, title, handles=None):
    """One legend for the figure below the panels (given handles, else every label of the panels once),
    with room made for it inside the figure."""
    if handles is None:
        handles, labels = [], []
        for ax in list(axes.flat)[:n]:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
        # matplotlib lists lines (the reference) before error bars (the methods): the reference goes last
        last = sorted(range(len(labels)), key=lambda i: labels[i] == REFERENCE)
        handles, labels = [handles[i] for i in last], [labels[i] for i in last]
    else:
        labels = [h.get_label() for h in handles]
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
    _save_and_close(draw_panels(*args, **kwargs), path)


def _save_and_close(fig, path):
    import matplotlib.pyplot as plt

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


class Spec(NamedTuple):
    """A figure of panels: its file name, its title (plain text, as report.md shows it) and draw_panels'
    other arguments."""

    file: str
    title: str
    panels: list
    x_key: str
    metric: str
    xlabel: str
    ylabel: str
    options: Optional[dict] = None

    def draw(self):
        """The figure (draw_panels)."""
        return draw_panels(self.title, self.panels, self.x_key, self.metric, self.xlabel, self.ylabel,
                           **(self.options or {}))


def figure_specs(rows: list[dict]) -> list[Spec]:
    """The paper's figures (3-7) that the results can fill, in the paper's order, then the long-tail ones."""
    step = [r for r in rows if r["imbalance"] == "step" and not partial_sampling(r["method"])]
    linear = [r for r in rows if r["imbalance"] == "linear" and not partial_sampling(r["method"])]
    longtail = [r for r in rows if r["imbalance"] == "exponential" and not partial_sampling(r["method"])]
    partial = [r for r in rows if r["imbalance"] == "step" and methods.drawn_in(r["method"], "fig7")
               or partial_sampling(r["method"])]
    untreshold = [r for r in step if not keeps_ranking(r["method"])]
    fig6_methods = methods_drawn_in(step, "fig6")
    fig6 = [r for r in step if r["method"] in fig6_methods]
    balanced = [r for r in rows if r["method"] == methods.with_role(methods.REFERENCE)]
    auc_ref = float(np.mean([r["auc"] for r in balanced])) if balanced else None
    accuracy_ref = float(np.mean([r["accuracy"] for r in balanced])) if balanced else None
    specs = []
    if untreshold:
        specs += [Spec("fig3_auc_vs_minority_classes.png", "Fig. 3: ROC AUC against the number of minority classes",
                       [(f"rho = {v:g}", g) for v, g in _group(untreshold, "rho")], "num_minority", "auc",
                       "number of minority classes", AUC, dict(reference=auc_ref)),
                  Spec("fig4_auc_vs_rho.png", "Fig. 4: ROC AUC against the imbalance ratio",
                       [(f"{v} minority classes", g) for v, g in _group(untreshold, "num_minority")], "rho", "auc",
                       RHO, AUC, dict(logx=True, reference=auc_ref))]
    if linear:
        specs.append(Spec("fig5_linear_auc_vs_rho.png", "Fig. 5: ROC AUC against rho, linear imbalance",
                          [("linear imbalance", [r for r in linear if not keeps_ranking(r["method"])])], "rho",
                          "auc", RHO, AUC, dict(logx=True, reference=auc_ref)))
    if fig6:
        specs.append(Spec("fig6_accuracy_vs_minority_classes.png", "Fig. 6: accuracy, with the thresholded methods",
                          [(f"rho = {v:g}", g) for v, g in _group(fig6, "rho")], "num_minority", "accuracy",
                          "number of minority classes", "accuracy",
                          dict(methods=fig6_methods, reference=accuracy_ref)))
    if any(partial_sampling(r["method"]) for r in partial):
        panels = fig7_rows(partial)
        if panels:  # (a target ratio equal to every rho of the grid reduces nothing)
            specs.append(Spec("fig7_partial_sampling.png", "Fig. 7: sampling to reduced imbalance ratios", panels,
                              "ratio", "auc", "imbalance ratio after sampling", AUC, dict(logx=True)))
    if longtail:
        specs += [Spec("fig_longtail_auc_vs_rho.png", "ROC AUC against rho, exponential (long-tail) imbalance",
                       [("exponential imbalance", [r for r in longtail if not keeps_ranking(r["method"])])], "rho",
                       "auc", RHO, AUC, dict(logx=True)),
                  Spec("fig_longtail_accuracy_vs_rho.png", "Accuracy against rho, exponential (long-tail) imbalance",
                       [("exponential imbalance", longtail)], "rho", "accuracy", RHO, "accuracy", dict(logx=True))]
    return [s for s in specs if any(rows for _, rows in s.panels)]


def figures(rows: list[dict], outdir: str) -> dict:
    """Writes the paper's figures that the results can fill; returns {file name: title}."""
    os.makedirs(outdir, exist_ok=True)
    made = {}
    for spec in figure_specs(rows):
        _save_and_close(spec.draw(), os.path.join(outdir, spec.file))
        made[spec.file] = spec.title
    return made


def in_paper_order(made: dict) -> dict:
    """{file: title} with the paper's figures first, by their number (fig3_... to fig8_...), then the others."""
    def number(file):
        match = re.match(r"fig(\d+)_", os.path.basename(file))
        return int(match[1]) if match else math.inf

    return dict(sorted(made.items(), key=lambda item: number(item[0])))


def recall_by_group(per_class: list[dict]) -> list[dict]:
    """Per (network, method): the mean recall of its minority classes and of its majority classes."""
    groups = defaultdict(lambda: ([], []))
    first = {}
    for r in per_class:
        if not selected(r) or r["recall"] in ("", None):
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


def minority_recall_spec(per_class: list[dict]) -> Optional[Spec]:
    """The minority-recall figure: recall of the minority and of the majority classes against rho, a panel
    per (imbalance shape, group), a line per method; None when there is nothing to draw."""
    rows = recall_by_group(per_class)
    panels = [(f"{kind}: {group} classes",
               [dict(r, recall=r[f"{group}_recall"]) for r in rows if r["imbalance"] == kind])
              for kind in dict.fromkeys(r["imbalance"] for r in rows) for group in ("minority", "majority")]
    if not panels:
        return None
    return Spec("fig_minority_recall.png", "Recall of minority and majority classes against rho (mean over mu and "
                "repetitions)", panels, "rho", "recall", "imbalance ratio rho", "recall", dict(logx=True))


def minority_recall_figure(per_class: list[dict], path: str) -> str:
    """Recall of the minority and of the majority classes against rho, a line per method; returns the title
    (empty when there is nothing to draw)."""
    spec = minority_recall_spec(per_class)
    if spec is None:
        return ""
    _save_and_close(spec.draw(), path)
    return spec.title


def recall_vs_count_spec(per_class: list[dict]) -> Optional[Spec]:
    """Recall against training count (log x), a panel per imbalance shape, a line per method: the mean recall
    of the selected networks' classes with that training count, with its 95% interval; None when there is
    nothing to draw (the balanced reference has one count and no tail, so it is left out)."""
    rows = [dict(method=r["method"], imbalance=r["imbalance"], train_count=float(r["train_count"]),
                 recall=float(r["recall"])) for r in per_class
            if selected(r) and r["recall"] not in ("", None) and r["imbalance"] != "balanced"]
    panels = [(f"{kind} imbalance", [r for r in rows if r["imbalance"] == kind])
              for kind in dict.fromkeys(r["imbalance"] for r in rows)]
    if not panels:
        return None
    return Spec("fig_recall_vs_train_count.png", "Recall against training count (mean over the classes and "
                "networks with that count)", panels, "train_count", "recall", "training images of the class",
                "recall", dict(logx=True))


def recall_vs_count_figure(per_class: list[dict], path: str) -> str:
    """Writes recall_vs_count_spec's figure to path; returns its title (empty when there is nothing to draw)."""
    spec = recall_vs_count_spec(per_class)
    if spec is None:
        return ""
    _save_and_close(spec.draw(), path)
    return spec.title


def fig7_rows(rows: list[dict]) -> list[tuple]:
    """Fig. 7's panels: per rho, oversampling and undersampling, each line a number of minority classes,
    x the imbalance ratio left after sampling (the baseline's rho, 1 for full sampling)."""
    untreated = methods.with_role(methods.NO_REMEDY)

    def remaining_ratio(r):  # full sampling's target is 1
        return r["rho"] if r["method"] == untreated else methods.get(r["method"]).training.target_rho

    reduced = {sampling_reduced(r["method"]) for r in rows} - {""}
    panels = []
    for rho, group in _group(rows, "rho"):
        for kind in [m for m in method_order(rows) if m in reduced]:
            chosen = [dict(r, ratio=remaining_ratio(r), method=f"{r['num_minority']} minority classes")
                      for r in group if r["method"] in (untreated, kind) or sampling_reduced(r["method"]) == kind]
            if any(r["ratio"] not in (1.0, rho) for r in chosen):  # a panel with reduced ratios to show
                panels.append((f"rho = {rho:g}: {method_label(kind)} to a reduced ratio", chosen))
    return panels


def fig8_series(curve_rows: list[dict]) -> tuple[str, dict]:
    """(setting, {method: (steps, mean train accuracy, mean test accuracy)}) that Fig. 8 draws: the
    selected network of each learning-rate protocol (curves.csv keeps every lr run) of baseline, ROS and RUS,
    in the most imbalanced step setting that has their curves (the most of the three, then the largest rho,
    then the mu closest to one half); ('', {}) when no curve is of theirs."""
    shown = methods_drawn_in(curve_rows, "fig8")
    rows = [r for r in curve_rows if selected(r) and r["method"] in shown]
    rows = [r for r in rows if r["imbalance"] == "step"] or rows
    if not rows:
        return "", {}
    found = defaultdict(set)
    for r in rows:
        found[(float(r["rho"]), str(r["mu"]))].add(r["method"])
    # A union of studies may hold only Fig. 7's partial methods at its largest rho: that setting has none here.
    rho, mu = max(found, key=lambda s: (len(found[s]), s[0], -abs(float(s[1]) - 0.5) if s[1] else 0))
    chosen = [r for r in rows if float(r["rho"]) == rho and str(r["mu"]) == mu]
    series = {}
    for method in shown:
        sel = [r for r in chosen if r["method"] == method]
        if sel:
            steps = sorted({int(r["step"]) for r in sel})
            series[method] = (steps, *[[float(np.mean([float(r[key]) for r in sel if int(r["step"]) == s]))
                                        for s in steps] for key in ("train_accuracy", "test_accuracy")])
    return f"step rho={rho:g}" + (f" mu={float(mu):g}" if mu else ""), series


def draw_fig8(curve_rows: list[dict]):
    """(title, figure) of Fig. 8: a panel per method sharing one y axis, its train (dashed, open markers) and
    test (solid) accuracy at every recorded step, one legend below; ('', None) without curves of two points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    setting, series = fig8_series(curve_rows)
    if not series or all(len(steps) < 2 for steps, _, _ in series.values()):  # one point draws no convergence
        return "", None
    fig, axes = plt.subplots(1, len(series), figsize=(max(4.2 * len(series), 6.4), 3.4), squeeze=False,
                             sharey=True)
    drawn = []
    for ax, (method, (steps, train_acc, test_acc)) in zip(axes.flat, series.items()):
        color, marker, _ = method_style(method, list(series))
        ax.plot(steps, train_acc, "--", color=color, marker=marker, ms=4, mfc="white", label="train accuracy")
        ax.plot(steps, test_acc, "-", color=color, marker=marker, ms=4, label="test accuracy")
        ax.set_title(figure_label(method))
        ax.set_xlabel("iteration")
        _x_axis(ax, steps, logx=False)
        ax.grid(alpha=0.3)
        drawn += [*train_acc, *test_acc]
    axes[0, 0].set_ylabel("accuracy")
    _y_limits(axes.flat, drawn)
    # The panels' colours are their methods'; the legend says only which line is which.
    handles = [Line2D([], [], color="#555555", ls="--", marker="o", ms=4, mfc="white", label="train accuracy"),
               Line2D([], [], color="#555555", ls="-", marker="o", ms=4, label="test accuracy")]
    title = f"Fig. 8: convergence of baseline and sampling ({setting})"
    _legend_below(fig, axes, len(series), symbols(title), handles)
    return title, fig


def fig8(curve_rows: list[dict], path: str) -> str:
    """Training and test accuracy against iterations for baseline, ROS and RUS, from curves.csv's rows; returns
    the title ('' when the curves hold none of them)."""
    title, fig = draw_fig8(curve_rows)
    if fig is None:
        return ""
    _save_and_close(fig, path)
    return title
