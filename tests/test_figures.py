"""Figures read back through matplotlib's objects: ticks at the x values present and readable, y inside
[0, 1], error bars inside it, display names in the legends, and every plotted point against the mean and
95% interval computed here from the rows (numpy and scipy, not the code under test)."""
import csv
import math
import os
import re

import numpy as np
import pytest
import scipy.special
import scipy.stats

from imbalance_jax import method_labels
from imbalance_jax import figures as figs
from imbalance_jax import report
from imbalance_jax.results import RESULT_COLUMNS
from test_report import _quick_like_rows

PAPER = ("baseline", "oversampling", "undersampling", "two_phase_oversampling", "two_phase_undersampling",
         "thresholding", "oversampling_thresholding", "undersampling_thresholding")
SAME_AUC = {"thresholding", "oversampling_thresholding", "undersampling_thresholding", "posthoc_adjustment_tau0.5"}
# The names every figure and table shows, written out here rather than read from imbalance_jax.method_labels.
NAMES = {"baseline": "Baseline", "oversampling": "ROS", "undersampling": "RUS",
         "two_phase_oversampling": "Two-phase ROS", "two_phase_undersampling": "Two-phase RUS",
         "thresholding": "Thresholding", "oversampling_thresholding": "ROS + thresholding",
         "undersampling_thresholding": "RUS + thresholding", "balanced": "Balanced (reference)", "crt": "cRT",
         "ldam_drw": "LDAM-DRW", "focal": "Focal loss", "weighted_ce": "Class-weighted CE",
         "effective_number_ce": "Effective-number CE", "logit_adjusted": "Logit-adjusted loss",
         "balanced_softmax": "Balanced softmax", "class_aware_sampling": "Class-aware sampling",
         "sqrt_sampling": "Square-root sampling", "oversampling_to_10": "ROS to rho=10",
         "undersampling_to_10": "RUS to rho=10", "oversampling_to_100": "ROS to rho=100",
         "posthoc_adjustment_tau0.5": "Post-hoc adjustment (tau=0.5)",
         "tau_normalization_tau1": "tau-normalisation (tau=1)"}
LONGTAIL = ("baseline", "focal", "crt", "posthoc_adjustment_tau0.5", "tau_normalization_tau1")


def _symbols(text):
    return text.replace("rho", r"$\rho$").replace("tau", r"$\tau$")


def _expected(values):
    """(n, mean, low, high): the 95% t interval on the logit scale (delta method), none below 3 values."""
    v = np.asarray(values, float)
    n, mean = len(v), float(v.mean())
    if n < 3:
        return n, mean, math.nan, math.nan
    if np.ptp(v) == 0 or mean <= 0 or mean >= 1:
        return n, mean, mean, mean
    half = scipy.stats.t.ppf(0.975, n - 1) * v.std(ddof=1) / math.sqrt(n) / (mean * (1 - mean))
    return n, mean, *scipy.special.expit(scipy.special.logit(mean) + np.array([-half, half]))


def _row(kind, rho, mu, method, rep, rng, k=None):
    k = k if k is not None else (int(mu * 10) if mu is not None else 9)
    lead = (PAPER + LONGTAIL).index(method) / 200 if method in PAPER + LONGTAIL else 0.03
    top = 0.9995 if method == "baseline" else 0.98  # the baseline's AUC near 1: intervals must stay below it
    return dict(dataset="toy", imbalance=kind, rho=float(rho), mu=mu, method=method, repetition=rep, split=0,
                num_minority=k, minority_classes=" ".join(map(str, range(k))),
                auc=float(rng.uniform(top - 0.03, top)), accuracy=float(rng.uniform(0.45, 0.7) + lead),
                network=f"{kind}_rho{rho:g}_mu{mu}_rep{rep}/{method}", train_size=100, iterations=10, selected=1)


def single_x_study(reps=3):
    """One rho and one mu (every own-data example): step, linear and exponential at rho = 10, a balanced run."""
    rng = np.random.default_rng(3)
    rows = [_row("step", 10, 0.5, m, rep, rng) for rep in range(reps) for m in PAPER]
    rows += [_row("linear", 10, None, m, rep, rng) for rep in range(reps) for m in PAPER[:3]]
    rows += [_row("exponential", 10, None, m, rep, rng) for rep in range(reps) for m in LONGTAIL]
    rows += [dict(_row("balanced", 1, None, "balanced", rep, rng, k=0), auc=0.999) for rep in range(reps)]
    return rows


def one_method_study(reps=2):
    """Only the baseline, over two rho and two mu, two repetitions (no interval anywhere)."""
    rng = np.random.default_rng(4)
    return [_row("step", rho, mu, "baseline", rep, rng) for rho in (10, 100) for mu in (0.2, 0.5)
            for rep in range(reps)]


def union_like_study(reps=3):
    """A grid of the paper's methods (rho 10, 100) and Fig. 7's partial sampling alone at the largest rho."""
    rng = np.random.default_rng(5)
    rows = [_row("step", rho, mu, m, rep, rng) for rho in (10, 100) for mu in (0.2, 0.5) for rep in range(reps)
            for m in PAPER]
    rows += [_row("step", 1000, mu, m, rep, rng) for mu in (0.2, 0.5) for rep in range(reps)
             for m in ("oversampling_to_10", "undersampling_to_10", "oversampling_to_100")]
    return rows


def curves_of(rows, steps=(100, 200)):
    """curves.csv rows of every network (two recorded steps, as in a quick study)."""
    rng = np.random.default_rng(6)
    return [dict(network=r["network"], method=r["method"], imbalance=r["imbalance"], rho=r["rho"],
                 mu="" if r["mu"] is None else r["mu"], repetition=r["repetition"], selected=1, step=s,
                 train_accuracy=float(rng.uniform(0.6, 1.0)), test_accuracy=float(rng.uniform(0.5, 0.9)))
            for r in rows if r["imbalance"] != "balanced" for s in steps]


def per_class_of(rows):
    """per_class.csv rows: ten classes per network, the first num_minority of them minority classes."""
    rng = np.random.default_rng(7)
    return [dict(network=r["network"], method=r["method"], imbalance=r["imbalance"], rho=r["rho"], selected=1,
                 minority=int(c < r["num_minority"]), recall=float(rng.uniform(0.2, 1.0)), **{"class": c})
            for r in rows if r["imbalance"] != "balanced" for c in range(10)]


def _ratio(r):
    """Fig. 7's x: the ratio left after sampling."""
    if r["method"] == "baseline":
        return r["rho"]
    match = re.fullmatch(r"(?:over|under)sampling_to_(\d+)", r["method"])
    return float(match[1]) if match else 1.0


def expected_figures(rows, per_class=()):
    """{file: (metric, x key, {panel title: rows}, legend)} of what each figure must show, written here."""
    step = [r for r in rows if r["imbalance"] == "step" and "_to_" not in r["method"]]
    linear = [r for r in rows if r["imbalance"] == "linear"]
    longtail = [r for r in rows if r["imbalance"] == "exponential"]
    ranked = [r for r in step if r["method"] not in SAME_AUC]
    reference = ["Balanced (reference)"] if any(r["method"] == "balanced" for r in rows) else []
    order = lambda rs: [NAMES[m] for m in dict.fromkeys([*PAPER, *sorted({r["method"] for r in rs})])  # noqa: E731
                        if any(r["method"] == m for r in rs)]
    by = lambda rs, key, title: {title(v): [r for r in rs if r[key] == v]  # noqa: E731
                                 for v in sorted({r[key] for r in rs})}
    out = {}
    if ranked:
        out["fig3_auc_vs_minority_classes.png"] = ("auc", "num_minority", by(ranked, "rho", lambda v: f"rho = {v:g}"),
                                                   order(ranked) + reference)
        out["fig4_auc_vs_rho.png"] = ("auc", "rho", by(ranked, "num_minority", lambda v: f"{v} minority classes"),
                                      order(ranked) + reference)
    if linear:
        out["fig5_linear_auc_vs_rho.png"] = ("auc", "rho", {"linear imbalance": linear}, order(linear) + reference)
    fig6 = [r for r in step if r["method"] in PAPER[:3] + PAPER[5:]]
    if fig6:
        out["fig6_accuracy_vs_minority_classes.png"] = ("accuracy", "num_minority",
                                                        by(fig6, "rho", lambda v: f"rho = {v:g}"),
                                                        order(fig6) + reference)
    partial = [r for r in rows if r["imbalance"] == "step" and (r["method"] in PAPER[:3] or "_to_" in r["method"])]
    if any("_to_" in r["method"] for r in partial):
        panels = {}
        for rho in sorted({r["rho"] for r in partial}):
            for kind, name in (("oversampling", "ROS"), ("undersampling", "RUS")):
                chosen = [dict(r, ratio=_ratio(r), method=f"{r['num_minority']} minority classes") for r in partial
                          if r["rho"] == rho and (r["method"] == "baseline" or r["method"].startswith(kind))]
                if any(r["ratio"] not in (1.0, rho) for r in chosen):
                    panels[f"rho = {rho:g}: {name} to a reduced ratio"] = chosen
        lines = sorted({r["method"] for p in panels.values() for r in p})
        out["fig7_partial_sampling.png"] = ("auc", "ratio", panels, lines)
    if longtail:
        ranked_tail = [r for r in longtail if r["method"] not in SAME_AUC]
        out["fig_longtail_auc_vs_rho.png"] = ("auc", "rho", {"exponential imbalance": ranked_tail}, order(ranked_tail))
        out["fig_longtail_accuracy_vs_rho.png"] = ("accuracy", "rho", {"exponential imbalance": longtail},
                                                   order(longtail))
    if per_class:
        networks = {}
        for c in per_class:
            networks.setdefault((c["network"], c["method"]), []).append(c)
        recall = []
        for (network, method), classes in networks.items():
            first = classes[0]
            for group, flag in (("minority", 1), ("majority", 0)):
                recall.append(dict(method=method, imbalance=first["imbalance"], rho=first["rho"], group=group,
                                   recall=np.mean([c["recall"] for c in classes if c["minority"] == flag])))
        panels = {f"{kind}: {group} classes": [r for r in recall if r["imbalance"] == kind and r["group"] == group]
                  for kind in dict.fromkeys(r["imbalance"] for r in recall) for group in ("minority", "majority")}
        out["fig_minority_recall.png"] = ("recall", "rho", panels, order(recall))
    return out


def _bars(container):
    """(xs, means, bar lows, bar highs) an errorbar draws."""
    line, _, (bars, *_) = container
    segments = bars.get_segments()
    return (np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float),
            np.array([min(s[0][1], s[1][1]) for s in segments]), np.array([max(s[0][1], s[1][1]) for s in segments]))


def _no_overlap(labels):
    boxes = sorted((t.get_window_extent() for t in labels if t.get_text()), key=lambda b: b.x0)
    return all(a.x1 <= b.x0 for a, b in zip(boxes, boxes[1:]))


def check_axes(fig, logx):
    """Every panel: ticks at the x values drawn, plainly labelled and apart, no minor tick labels, points
    inside the x range; y inside [0, 1] with every error bar inside it; one y axis; one legend below."""
    fig.canvas.draw()
    axes = [ax for ax in fig.axes if ax.has_data()]
    assert axes
    for ax in axes:
        assert ax is axes[0] or ax.get_shared_y_axes().joined(axes[0], ax)
        low, high = ax.get_ylim()
        assert 0 <= low < high <= 1, ax.get_ylim()
        assert all(t <= 1 for t in ax.get_yticks() if low <= t <= high)
        present = set()
        for container in ax.containers:
            xs, means, lows, highs = _bars(container)
            assert np.all((low <= lows) & (lows <= means) & (means <= highs) & (highs <= high))
            present |= set(xs)
        if not ax.containers:  # Fig. 8: lines
            present = {x for line in ax.get_lines() for x in line.get_xdata()}
            assert all(low <= y <= high for line in ax.get_lines() for y in line.get_ydata())
        assert ax.get_xscale() == ("log" if logx else "linear")
        left, right = ax.get_xlim()
        assert left < min(present) and max(present) < right  # a single point sits inside, not on the edge
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert labels == [f"{t:g}" for t in ax.get_xticks()], labels  # '10', not '$\\mathdefault{10^{1}}$'
        assert not any(t.get_text() for t in ax.xaxis.get_minorticklabels())
        assert _no_overlap(ax.get_xticklabels())
    assert len(fig.legends) == 1 and not any(ax.get_legend() for ax in fig.axes)
    legend = fig.legends[0].get_window_extent()
    assert all(legend.y1 <= ax.get_tightbbox().y0 + 1 for ax in axes) and legend.y0 >= fig.bbox.y0 - 1e-6
    return axes


def check_series(fig, metric, x_key, panels, legend, logx):
    """Each panel's title, lines and points against the rows: mean and 95% interval of `metric` per x."""
    axes = check_axes(fig, logx)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [_symbols(x) for x in legend]
    assert [ax.get_title() for ax in axes] == [_symbols(t) for t in panels]
    for ax, rows in zip(axes, panels.values()):
        assert list(ax.get_xticks()) == sorted({r[x_key] for r in rows})  # exactly the x values present
        lines = {c.get_label(): _bars(c) for c in ax.containers}
        expected_lines = {r["method"] for r in rows}
        assert set(lines) == {_symbols(NAMES.get(m, m)) for m in expected_lines}
        for method in expected_lines:
            xs, means, lows, highs = lines[_symbols(NAMES.get(method, method))]
            values = sorted({r[x_key] for r in rows if r["method"] == method})
            assert len(xs) == len(values)
            for x, mean, low, high, value in zip(xs, means, lows, highs, values):
                assert (abs(math.log10(x / value)) < 0.05) if logx else abs(x - value) < 0.2
                n, m, lo, hi = _expected([r[metric] for r in rows if r["method"] == method and r[x_key] == value])
                assert mean == pytest.approx(m, abs=1e-12)
                if n < 3:  # no bar below three values
                    assert low == high == mean
                else:
                    assert (low, high) == pytest.approx((lo, hi), abs=1e-9)


def check_study(rows, per_class=(), curves=None):
    import matplotlib.pyplot as plt

    expected = expected_figures(rows, per_class)
    specs = figs.figure_specs(rows)
    if per_class:
        specs.append(figs.minority_recall_spec(per_class))
    assert [s.file for s in specs] == [f for f in expected]  # the paper's order, then the others
    for spec in specs:
        metric, x_key, panels, legend = expected[spec.file]
        fig = spec.draw()
        check_series(fig, metric, x_key, panels, legend, logx=x_key != "num_minority")
        plt.close(fig)
    if curves is not None:
        title, fig = figs.draw_fig8(curves)
        assert fig is not None, "Fig. 8 dropped"
        check_fig8(fig, curves)
        plt.close(fig)
        return title


def check_fig8(fig, curves):
    """One y axis, a marker at every point of every line, one legend below, the means of the curves of the
    largest rho that has baseline, ROS or RUS (then mu = 0.5)."""
    axes = check_axes(fig, logx=False)
    drawn = [r for r in curves if r["method"] in PAPER[:3] and r["imbalance"] == "step"]
    rho = max(float(r["rho"]) for r in drawn)
    chosen = [r for r in drawn if float(r["rho"]) == rho and r["mu"] == 0.5]
    methods = [m for m in PAPER[:3] if any(r["method"] == m for r in chosen)]
    assert [ax.get_title() for ax in axes] == [NAMES[m] for m in methods]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["train accuracy", "test accuracy"]
    for ax, method in zip(axes, methods):
        steps = sorted({r["step"] for r in chosen if r["method"] == method})
        train, test = ax.get_lines()
        for line, key in ((train, "train_accuracy"), (test, "test_accuracy")):
            assert line.get_marker() not in (None, "", "None", " ") and line.get_markevery() is None
            assert list(line.get_xdata()) == steps
            assert np.allclose(line.get_ydata(), [np.mean([r[key] for r in chosen if r["method"] == method
                                                           and r["step"] == s]) for s in steps])
        assert train.get_linestyle() == "--" and test.get_linestyle() == "-"


def test_a_single_rho_single_mu_study_gets_points_with_readable_ticks():
    rows = single_x_study()
    title = check_study(rows, per_class_of(rows), curves_of(rows))
    assert title == "Fig. 8: convergence of baseline and sampling (step rho=10 mu=0.5)"


def test_a_one_method_study_draws_its_line_without_bars():
    rows = one_method_study()
    check_study(rows, per_class_of(rows), curves_of(rows))


def test_a_union_of_a_grid_and_fig7_draws_every_figure_and_fig8_at_the_largest_rho_with_its_curves():
    rows = union_like_study()
    title = check_study(rows, per_class_of(rows), curves_of(rows))
    # rho = 1000 holds only the partial methods: Fig. 8 is drawn at rho = 100, not dropped
    assert title == "Fig. 8: convergence of baseline and sampling (step rho=100 mu=0.5)"
    assert "fig7_partial_sampling.png" in {s.file for s in figs.figure_specs(rows)}


def test_every_method_has_its_display_name_in_figures_and_tables():
    for name, label in NAMES.items():
        assert method_labels.method_label(name) == label
    assert method_labels.method_label("my_method") == "my_method"
    assert method_labels.symbols("ROS to rho=10, mu = 0.5, tau=1 (rhombus)") == (
        r"ROS to $\rho$=10, $\mu$ = 0.5, $\tau$=1 (rhombus)")
    rows = union_like_study()
    summary, table = report.summary_table(rows), report.method_table(rows)
    assert "| ROS | step rho=10 mu=0.2 | oversampling | 3 |" in summary
    assert "| ROS to rho=10 | step rho=1000 mu=0.2 | oversampling_to_10 | 3 |" in summary
    assert "| Two-phase RUS | two_phase_undersampling | " in table
    for line in report.winners(rows):
        assert not re.search(r"\b(baseline|oversampling|undersampling|\w+_\w+)\b", line), line


def test_report_lists_figures_in_the_papers_order(tmp_path):
    rng = np.random.default_rng(8)
    rows = union_like_study() + [_row(kind, 10, None, m, rep, rng) for kind in ("linear", "exponential")
                                 for rep in range(3) for m in PAPER[:3]]
    with open(tmp_path / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, RESULT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows([dict(r, mu="" if r["mu"] is None else r["mu"]) for r in rows])
    with open(tmp_path / "curves.csv", "w", newline="") as f:
        curves = curves_of(rows)
        writer = csv.DictWriter(f, list(curves[0]))
        writer.writeheader()
        writer.writerows(curves)
    text = open(report.write_report(str(tmp_path))).read()
    figures = re.findall(r"!\[[^]]*\]\((fig\w*)\.png\)", text)
    assert figures == ["fig3_auc_vs_minority_classes", "fig4_auc_vs_rho", "fig5_linear_auc_vs_rho",
                       "fig6_accuracy_vs_minority_classes", "fig7_partial_sampling", "fig8_convergence",
                       "fig_longtail_auc_vs_rho", "fig_longtail_accuracy_vs_rho"]
    for name in figures:
        assert os.path.getsize(tmp_path / f"{name}.png") > 10_000
    assert list(figs.in_paper_order({"fig_longtail_auc_vs_rho.png": 0, "fig8_convergence.png": 1,
                                     "fig10_x.png": 2, "fig3_a.png": 3})) == [
        "fig3_a.png", "fig8_convergence.png", "fig10_x.png", "fig_longtail_auc_vs_rho.png"]


def test_fig8_draws_the_selected_network_of_each_lr_protocol_only():
    curves = []
    for method in ("baseline", "oversampling"):
        for lr, selected, acc in ((0.01, 1, 0.9), (5e-5, 0, 0.1)):  # a stuck lr run beside the chosen one
            for step in (100, 200):
                curves.append(dict(network=f"step_rho100_mu0.5_rep0/{method}/lr{lr:g}_run0", method=method,
                                   imbalance="step", rho=100, mu=0.5, repetition=0, lr=lr, lr_run=0,
                                   selected=selected, step=step, train_accuracy=acc, test_accuracy=acc - 0.05))
    setting, series = figs.fig8_series(curves)
    assert setting == "step rho=100 mu=0.5" and set(series) == {"baseline", "oversampling"}
    assert series["oversampling"] == ([100, 200], [0.9, 0.9], [0.85, 0.85])  # not the mean with the 0.1 run


def test_figures_keep_every_legend_inside_and_panels_share_their_y_axis(tmp_path):
    import matplotlib.pyplot as plt

    rows = _quick_like_rows()
    step = [r for r in rows if r["imbalance"] == "step" and not report.keeps_ranking(r["method"])]
    linear = [r for r in rows if r["imbalance"] == "linear"]
    for panels, x_key in (([(f"rho = {rho:g}", [r for r in step if r["rho"] == rho]) for rho in (10.0, 50.0)],
                           "num_minority"), ([("linear", linear)], "rho"),
                          ([("one x", [r for r in step if r["rho"] == 10.0 and r["mu"] == 0.5])], "rho")):
        fig = figs.draw_panels("title", panels, x_key, "auc", "x", "AUC", logx=x_key == "rho")
        fig.canvas.draw()
        figure_box = fig.bbox
        for legend in fig.legends:
            box = legend.get_window_extent()
            assert box.x0 >= figure_box.x0 and box.y0 >= figure_box.y0 - 1e-6
            assert box.x1 <= figure_box.x1 + 1e-6 and box.y1 <= figure_box.y1
            for ax in fig.axes:  # below the panels, not over them
                assert box.y1 <= ax.get_tightbbox().y0 + 1
        axes = [ax for ax in fig.axes if ax.has_data()]
        assert len({ax.get_ylim() for ax in axes}) == 1  # one y scale for every panel of a figure
        styles = {(line.get_color(), line.get_marker(), line.get_linestyle()) for ax in axes for line in ax.get_lines()
                  if line.get_marker() not in ("", "None", None)}
        assert len(styles) >= len({r["method"] for r in panels[0][1]})  # every method its own look
        plt.close(fig)
    made = figs.figures(rows, str(tmp_path))
    for name in made:
        assert os.path.getsize(tmp_path / name) > 10_000
        assert os.path.getsize(tmp_path / name.replace(".png", ".pdf")) > 5_000


def test_fig7_draws_a_panel_per_rho_and_sampler_with_a_line_per_number_of_minority_classes():
    rows = []
    for rho in (100.0, 1000.0):
        for k in (2, 5):
            for method, auc in (("baseline", 0.8), ("oversampling", 0.99), ("oversampling_to_10", 0.95),
                                ("undersampling", 0.9), ("undersampling_to_10", 0.85)):
                rows.append(dict(imbalance="step", rho=rho, mu=k / 10, num_minority=k, method=method,
                                 auc=auc - k / 100, repetition=0))
    panels = figs.fig7_rows(rows)
    assert [title for title, _ in panels] == [
        "rho = 100: ROS to a reduced ratio", "rho = 100: RUS to a reduced ratio",
        "rho = 1000: ROS to a reduced ratio", "rho = 1000: RUS to a reduced ratio"]  # not pooled over rho
    title, chosen = panels[2]
    points = sorted((r["method"], r["ratio"], round(r["auc"], 4)) for r in chosen)
    assert points == [("2 minority classes", 1.0, 0.97), ("2 minority classes", 10, 0.93),
                      ("2 minority classes", 1000.0, 0.78), ("5 minority classes", 1.0, 0.94),
                      ("5 minority classes", 10, 0.9), ("5 minority classes", 1000.0, 0.75)]


def test_fig8_needs_two_curve_points():
    rows = [dict(network=f"s/{m}", method=m, imbalance="step", rho=100, mu=0.5, repetition=0, selected=1, step=30,
                 train_accuracy=0.9, test_accuracy=0.8) for m in ("baseline", "oversampling")]
    assert figs.draw_fig8(rows) == ("", None)  # one point per curve shows no convergence
