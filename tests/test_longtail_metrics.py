"""Many-, medium- and few-shot recall: the grouping rule on hand-made counts (Liu et al.'s bounds and the
relative ones, at their edges), the figure of recall against training count, and report.md's section,
each against values computed here."""
import csv
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest

from imbalance_jax import figures as figs
from imbalance_jax import imbalance, longtail_metrics, report
from imbalance_jax.results import PER_CLASS_COLUMNS, RESULT_COLUMNS
from test_figures import NAMES, _expected, check_series


def groups(counts):
    return longtail_metrics.shot_groups(counts)[0]


def test_liu_bounds_put_exactly_100_and_exactly_20_in_medium():
    found, bounds = longtail_metrics.shot_groups([101, 100, 60, 20, 19, 1])
    assert found == ["many", "medium", "medium", "medium", "few", "few"]
    assert bounds == ("liu", 20, 100)
    assert bounds.describe() == "Liu et al. 2019 (few < 20 <= medium <= 100 < many)"


def test_paper_step_imbalance_puts_minority_in_few_and_majority_in_many():
    counts = imbalance.step_counts(10, 144, 10, 0.5)  # the tiny study's digits: 14 and 144 images
    assert groups(counts) == ["few"] * 5 + ["many"] * 5
    assert groups(imbalance.step_counts(10, 5000, 100, 0.5)) == ["medium"] * 5 + ["many"] * 5  # CIFAR-10's 50


def test_a_largest_class_of_exactly_100_takes_the_relative_bounds():
    # Liu's bounds would put 100 and 20 both in medium: one group, so thirds of the log range decide
    found, bounds = longtail_metrics.shot_groups([100, 20])
    assert found == ["many", "few"]
    assert bounds.rule == "relative"
    assert (bounds.few_below, bounds.many_above) == pytest.approx((20 * 5 ** (1 / 3), 20 * 5 ** (2 / 3)))


def test_relative_bounds_are_thirds_of_the_log_range_and_an_edge_is_medium():
    found, bounds = longtail_metrics.shot_groups([8, 5, 4, 3, 2, 1])  # log2 range 0..3: edges at 2 and 4
    assert (bounds.few_below, bounds.many_above) == pytest.approx((2, 4))
    assert found == ["many", "many", "medium", "medium", "medium", "few"]
    # 505 is the lower edge of 101..12625 (101 x 5^3), though its log position computes as 0.99999...98 thirds
    assert groups([12625, 2525, 505, 101]) == ["many", "medium", "medium", "few"]
    # all above 100, one group by Liu: edges 150 x 2^(1/3) = 189 and 150 x 2^(2/3) = 238
    assert groups([300, 250, 200, 150]) == ["many", "many", "medium", "few"]


def test_a_small_long_tailed_dataset_falls_into_every_group():
    digits = imbalance.exponential_counts(10, 90, 4)  # 90 down to 22 images: all medium by Liu's bounds
    found, bounds = longtail_metrics.shot_groups(digits)
    assert bounds.rule == "relative" and set(found) == {"many", "medium", "few"}
    low, high = min(digits), max(digits)
    for count, group in zip(digits, found):
        third = np.log(count / low) / np.log(high / low) * 3
        assert group == ("few" if third < 1 else "many" if third > 2 else "medium")
    assert len(set(groups(imbalance.exponential_counts(10, 150, 100)))) == 3  # digits' 150: Liu's bounds


def test_a_balanced_set_is_one_group_and_a_class_without_images_is_refused():
    assert groups([144] * 10) == ["many"] * 10
    assert groups([50] * 3) == ["medium"] * 3
    with pytest.raises(ValueError, match=r"no training image"):
        longtail_metrics.shot_groups([10, 0])


def test_result_columns_average_each_group_and_leave_an_empty_group_empty():
    row = longtail_metrics.result_columns("0.5 0.3 1.0 0.0", [150, 120, 10, 5])
    assert row == {"many_shot_recall": pytest.approx(0.4), "medium_shot_recall": "", "few_shot_recall": 0.5}
    assert longtail_metrics.result_columns("", [150, 10]) == dict.fromkeys(longtail_metrics.COLUMNS, "")


def _per_class(seed=0, reps=3):
    """per_class.csv rows of a toy study: step rho=10 (counts 150 and 15) and exponential rho=100 over 6 classes,
    two methods, recall rising with the count."""
    rng = np.random.default_rng(seed)
    out = []
    settings = [("step", 10, 0.5, [15, 15, 15, 150, 150, 150]), ("exponential", 100, "", [150, 60, 24, 9, 4, 2])]
    for kind, rho, mu, counts in settings:
        for rep in range(reps):
            for method, lift in (("baseline", 0.0), ("oversampling", 0.1)):
                for c, count in enumerate(counts):
                    recall = float(np.clip(0.2 + 0.1 * np.log(count) + lift + rng.normal(0, 0.05), 0, 1))
                    out.append(dict(network=f"{kind}{rep}/{method}", method=method, imbalance=kind, rho=rho, mu=mu,
                                    repetition=rep, split=0, selected=1, train_count=count, recall=round(recall, 4),
                                    minority=int(count < max(counts)), **{"class": c}))
    return out


def test_for_rows_gives_each_result_row_its_groups_recall_and_bounds():
    per_class = _per_class(reps=1)
    rows = [dict(network="exponential0/oversampling", method="oversampling"),
            dict(network="step0/baseline", method="baseline"), dict(network="gone/baseline", method="baseline")]
    tail, step, gone = longtail_metrics.for_rows(rows, per_class)
    recall = {c["train_count"]: c["recall"] for c in per_class if c["network"] == "exponential0/oversampling"}
    assert tail.recall == pytest.approx({"many": recall[150], "medium": (recall[60] + recall[24]) / 2,
                                         "few": (recall[9] + recall[4] + recall[2]) / 3})
    assert tail.classes == {"many": 1, "medium": 2, "few": 3} and tail.bounds.rule == "liu"
    assert step.recall["medium"] is None and step.classes == {"many": 3, "medium": 0, "few": 3}
    assert gone is None  # no per-class recall: a diverged network


def test_the_recall_figure_draws_each_methods_mean_per_training_count_on_a_log_axis():
    per_class = _per_class()
    spec = figs.recall_vs_count_spec(per_class)
    fig = spec.draw()
    rows = [dict(c, train_count=float(c["train_count"]), recall=float(c["recall"])) for c in per_class]
    panels = {f"{kind} imbalance": [r for r in rows if r["imbalance"] == kind] for kind in ("step", "exponential")}
    check_series(fig, "recall", "train_count", panels, [NAMES["baseline"], NAMES["oversampling"]], logx=True)
    for ax in fig.axes[:2]:  # each method in its own colour and marker from the per-method styles
        styles = {c.get_label(): (c.lines[0].get_color(), c.lines[0].get_marker()) for c in ax.containers}
        assert styles == {"Baseline": ("#000000", "o"), "ROS": ("#0072B2", "s")}
    plt.close(fig)


def test_the_recall_figure_leaves_out_the_balanced_reference_and_unselected_runs():
    per_class = _per_class(reps=1)
    extra = [dict(c, imbalance="balanced", method="balanced", network="bal/balanced") for c in per_class[:6]]
    extra += [dict(c, selected=0, recall=0.0) for c in per_class]
    spec = figs.recall_vs_count_spec(per_class + extra)
    assert [title for title, _ in spec.panels] == ["step imbalance", "exponential imbalance"]
    assert sum(len(rows) for _, rows in spec.panels) == len(per_class)
    assert figs.recall_vs_count_spec([dict(c, recall="") for c in per_class]) is None


def _write(path, columns, rows):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def test_the_report_states_the_bounds_group_sizes_and_each_groups_recall_with_its_interval(tmp_path):
    per_class = _per_class()
    results = [dict(dataset="toy", imbalance=c["imbalance"], rho=c["rho"], mu=c["mu"], minority_classes="0",
                    repetition=c["repetition"], split=0, method=c["method"], auc=0.9, accuracy=0.6, selected=1,
                    network=c["network"]) for c in per_class if c["class"] == 0]
    _write(tmp_path / "results.csv", RESULT_COLUMNS, results)
    columns = [k for k in PER_CLASS_COLUMNS if k != "shot"]  # a per_class.csv written before the shot column
    _write(tmp_path / "per_class.csv", columns, per_class)
    text = open(report.write_report(str(tmp_path))).read()
    assert "- step rho=10 mu=0.5: Liu et al. 2019 (few < 20 <= medium <= 100 < many): 3 many-, 0 medium-, " \
           "3 few-shot classes" in text
    assert "- exponential rho=100: Liu et al. 2019 (few < 20 <= medium <= 100 < many): 1 many-, 2 medium-, " \
           "3 few-shot classes" in text
    assert "![Recall against training count" in text and (tmp_path / "fig_recall_vs_train_count.png").exists()
    bounds = {"step": ([150], [], [15]), "exponential": ([150], [60, 24], [9, 4, 2])}
    checked = 0
    section = text.split("## Many-, medium- and few-shot recall")[1].split("\n## ")[0]
    for line in section.splitlines():
        match = re.match(r"\| ([^|]+) \| (step|exponential) rho=\S+(?: mu=\S+)? \| (\w+) \| (\d+) \| (.*) \|$", line)
        if not match:
            continue
        name, kind, method, n, cells = match.groups()
        assert name == NAMES[method] and int(n) == 3
        for cell, counts in zip(cells.split(" | "), bounds[kind]):
            if not counts:
                assert cell == ""
                continue
            means = [np.mean([c["recall"] for c in per_class if c["network"] == f"{kind}{rep}/{method}"
                              and c["train_count"] in counts]) for rep in range(3)]
            _, mean, low, high = _expected(means)
            assert cell == f"{mean:.4f} [{low:.4f}, {high:.4f}]"
            checked += 1
    assert checked == 2 * (1 + 1) + 2 * 3  # step: many and few of 2 methods; exponential: all three of 2
