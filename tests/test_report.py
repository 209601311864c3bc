import csv
import os
import re

import numpy as np
import pytest
import scipy.stats

from imbalance_jax import figures as figs
from imbalance_jax import report, statistics
from imbalance_jax.method_labels import method_label
from imbalance_jax.results import RESULT_COLUMNS
from imbalance_jax.workdir import Workdir


def _write_results(path):
    rng = np.random.default_rng(0)
    rows = []
    settings = [("step", rho, mu) for rho in (10, 100) for mu in (0.2, 0.5)] + [("linear", 10, ""), ("linear", 100, "")]
    methods = ("baseline", "oversampling", "undersampling", "thresholding", "oversampling_to_10")
    for kind, rho, mu in settings:
        for rep in range(3):
            minority = " ".join(map(str, range(int(round(float(mu) * 10)) if mu != "" else 9)))
            for m in methods:
                rows.append(dict(dataset="toy", imbalance=kind, rho=rho, mu=mu, minority_classes=minority,
                                 seed=rep, repetition=rep, method=m, auc=rng.uniform(0.8, 1.0),
                                 accuracy=rng.uniform(0.5, 1.0), balanced_accuracy=0.5, train_size=100,
                                 iterations=10, network=f"{kind}{rho}{mu}{rep}/{m}", cohort=0))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, RESULT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def test_report_writes_every_figure_and_true_means(tmp_path):
    rows = _write_results(tmp_path / "results.csv")
    with open(tmp_path / "curves.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ("network", "method", "imbalance", "rho", "mu", "repetition", "step",
                                    "train_accuracy", "test_accuracy"))
        writer.writeheader()
        for m in ("baseline", "oversampling", "undersampling"):
            for step in (10, 20, 30):
                writer.writerow(dict(network=f"step1000.50/{m}", method=m, imbalance="step", rho=100, mu=0.5,
                                     repetition=0,
                                     step=step, train_accuracy=0.5 + step / 100, test_accuracy=0.4 + step / 100))
    path = report.write_report(str(tmp_path))
    for name in ("fig8_convergence.png", "fig3_auc_vs_minority_classes.png", "fig4_auc_vs_rho.png",
                 "fig5_linear_auc_vs_rho.png",
                 "fig6_accuracy_vs_minority_classes.png", "fig7_partial_sampling.png"):
        assert os.path.getsize(tmp_path / name) > 10_000, name
    text = open(path).read()
    # Every summary row's mean AUC equals the mean computed here from the CSV.
    checked = 0
    for line in text.splitlines():
        match = re.match(r"\| ([^|]+) \| (step|linear) rho=(\S+)(?: mu=(\S+))? \| (\w+) \| (\d+) \| ([\d.]+) \| "
                         r"([\d.]+) \|", line)
        if not match:
            continue
        name, kind, rho, mu, method, n, auc, sd = match.groups()
        assert name == method_label(method)  # the display name, then the config name
        sel = [r["auc"] for r in rows if r["imbalance"] == kind and float(r["rho"]) == float(rho)
               and (mu is None or float(r["mu"]) == float(mu)) and r["method"] == method]
        assert int(n) == len(sel) == 3
        assert abs(float(auc) - np.mean(sel)) < 1e-4
        assert abs(float(sd) - np.std(sel, ddof=1)) < 1e-4  # the sample sd, not the population's
        checked += 1
    assert checked == 6 * 5
    # uniform noise, no real differences: no setting has a winner, and none is called a tie
    assert text.count("no single winner at n=3") == 6 and "wins with" not in text and "paired t-test" in text
    assert "tied" not in text
    # the paper's five conclusions, each with a verdict, between the winners and Table 4
    checked = text.split("## The paper's conclusions, checked (Section 5)")[1].split("## Mean multi-class")[0]
    verdicts = re.findall(r"^\| (\d) \| [^|]* \| (holds|does not hold|not significant|not in this study|"
                          r"no test \(n < 3\)|holds where tested) \|$", checked, re.M)
    assert [n for n, _ in verdicts] == ["1", "2", "3", "4", "5"], checked


def _paired_rows(setting_mu, leads, noise, reps=6, seed=0):
    """Rows of one step setting: per repetition a shared offset (the imbalanced set), per method its lead."""
    rng = np.random.default_rng(seed)
    rows = []
    for rep in range(reps):
        shared = rng.normal(0, 0.02)
        for method, lead in leads.items():
            rows.append(dict(imbalance="step", rho=10.0, mu=setting_mu, method=method, repetition=rep,
                             auc=0.9 + shared + lead + rng.normal(0, noise), accuracy=0.5))
    return rows


def test_a_winner_needs_a_significant_paired_lead_and_ties_are_named():
    # A consistent lead of 0.01 under repetition effects of sd 0.02: only a paired test sees it.
    clear = _paired_rows(0.5, {"baseline": 0.0, "oversampling": 0.01, "undersampling": -0.01}, noise=0.001)
    # 0.0002 apart under noise of 0.01 per network: a tie, whatever the means say.
    close = _paired_rows(0.2, {"baseline": 0.0, "oversampling": 0.0002, "undersampling": -0.05}, noise=0.01)
    first, second = report.winners(close + clear)
    assert first.startswith("- **step rho=10 mu=0.2**: no single winner at n=6") and "not ahead of Baseline" in first
    assert "RUS" not in first.split("not ahead of")[1]  # 0.05 behind is told apart
    assert second.startswith("- **step rho=10 mu=0.5**: ROS wins with ROC AUC")
    assert "over Baseline" in second
    lead = statistics.paired({r["repetition"]: r["auc"] for r in clear if r["method"] == "oversampling"},
                             {r["repetition"]: r["auc"] for r in clear if r["method"] == "baseline"})
    assert "Holm p=<0.001" in second and lead.p_value < 1e-4
    # unpaired, the same numbers would not be significant: the repetition effect swamps the lead
    assert scipy.stats.ttest_ind([r["auc"] for r in clear if r["method"] == "oversampling"],
                                 [r["auc"] for r in clear if r["method"] == "baseline"]).pvalue > 0.05


def test_one_repetition_claims_no_winner():
    rows = [dict(imbalance="step", rho=10.0, mu=0.5, method=m, auc=a, accuracy=0.5, repetition=0)
            for m, a in (("baseline", 0.9), ("oversampling", 0.95), ("undersampling", 0.8), ("thresholding", 0.99))]
    (line,) = report.winners(rows)
    assert line == ("- **step rho=10 mu=0.5**: no test at n=1 (a test needs 3 repetitions): ROS has the "
                    "highest mean ROC AUC (0.9500), then Baseline (-0.0500).")
    assert "Thresholding" not in line  # it ranks exactly like the baseline's network


def test_curves_csv_keeps_every_lr_run_and_marks_the_selected_one(tmp_path):
    from imbalance_jax import results

    rows = [dict(network=f"s/oversampling/lr{lr}", method=m, auc=auc, diverged="")
            for lr, auc in ((1, 0.9), (2, 0.95)) for m in ("oversampling", "oversampling_thresholding")]
    curves = [dict(network=f"s/oversampling/lr{lr}", method="oversampling", step=10) for lr in (1, 2)]
    results.write(Workdir(str(tmp_path)), rows, curves)
    with open(tmp_path / "curves.csv") as f:
        written = list(csv.DictReader(f))
    assert [(c["network"], c["selected"]) for c in written] == [("s/oversampling/lr1", "0"),
                                                                 ("s/oversampling/lr2", "1")]
    assert {"lr", "lr_run", "selected"} <= set(written[0])


def _quick_like_rows(reps=2):
    """Results of a quick-config-like grid: two mu, two step rho, two linear rho, two repetitions."""
    rng = np.random.default_rng(1)
    rows = []
    settings = [("step", rho, mu) for rho in (10, 50) for mu in (0.2, 0.5)]
    settings += [("linear", rho, None) for rho in (10, 50)]
    for kind, rho, mu in settings:
        for rep in range(reps):
            k = 9 if mu is None else int(mu * 10)
            for m in ("baseline", "oversampling", "undersampling", "two_phase_oversampling", "two_phase_undersampling",
                      "thresholding", "oversampling_thresholding", "undersampling_thresholding"):
                rows.append(dict(imbalance=kind, rho=float(rho), mu=mu, method=m, repetition=rep, num_minority=k,
                                 auc=rng.uniform(0.9, 1.0), accuracy=rng.uniform(0.6, 1.0),
                                 network=f"{kind}{rho}{mu}{rep}"))
    return rows


def test_comparing_two_studies_gives_their_difference_with_an_interval(tmp_path):
    import subprocess
    import sys

    rng = np.random.default_rng(5)
    for name, shift in (("fp32", 0.0), ("bf16", 0.02)):
        rows = []
        for rep in range(4):
            for rho in (10, 100):
                for m in ("baseline", "oversampling"):
                    rows.append(dict(dataset="toy", imbalance="step", rho=rho, mu=0.5, minority_classes="0 1 2 3 4",
                                     seed=rep, repetition=rep, method=m, auc=0.9 + shift + rng.normal(0, 0.005),
                                     accuracy=0.8, network=f"s{rho}_{rep}/{m}", cohort=0))
        (tmp_path / name).mkdir()
        with open(tmp_path / name / "results.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, RESULT_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    out = subprocess.run([sys.executable, "-m", "launch.report", f"--workdir={tmp_path / 'fp32'}",
                          f"--workdir={tmp_path / 'bf16'}", f"--out={tmp_path / 'cmp'}"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    text = (tmp_path / "cmp" / "report.md").read_text()
    with open(tmp_path / "cmp" / "results.csv") as f:
        combined = list(csv.DictReader(f))
    assert len(combined) == 32 and {r["study"] for r in combined} == {"fp32", "bf16"}
    line = next(x for x in text.splitlines() if x.startswith("| ROS | step rho=100 mu=0.5 | oversampling |"))
    a, b = ([float(r["auc"]) for r in combined if r["study"] == study and r["rho"] == "100.0"
             and r["method"] == "oversampling"] for study in ("bf16", "fp32"))
    welch = scipy.stats.ttest_ind(a, b, equal_var=False)
    assert f"{np.mean(a) - np.mean(b):+.4f} [" in line and statistics.format_p(welch.pvalue) in line
    assert welch.pvalue < 0.05  # a 0.02 shift under noise of 0.005 is found
    assert os.path.getsize(tmp_path / "cmp" / "compare_auc_vs_rho.png") > 10_000
    study_rows = [dict(imbalance="step", rho=rho, auc=0.9, repetition=0, method=study)
                  for study in ("fp32", "bf16") for rho in (10.0, 100.0)]
    fig = figs.draw_panels("t", [("oversampling", study_rows)], "rho", "auc", "rho", "auc", logx=True,
                              methods=["fp32", "bf16"])
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["fp32", "bf16"]  # the --label order, not by name


def test_balanced_reference_line_and_the_section_43_table():
    rows = _quick_like_rows(reps=3)
    for rep in range(3):
        rows.append(dict(imbalance="balanced", rho=1.0, mu=None, method="balanced", repetition=rep, num_minority=0,
                         auc=0.999, accuracy=0.99, network=f"balanced_rep{rep}", train_size=1440))
    for r in rows:
        r.setdefault("train_size", 1000 if r["imbalance"] != "balanced" else 1440)
    step = [r for r in rows if r["imbalance"] == "step" and r["rho"] == 10.0 and not report.keeps_ranking(r["method"])]
    fig = figs.draw_panels("t", [("rho = 10", step)], "num_minority", "auc", "x", "AUC", reference=0.999)
    assert "Balanced (reference)" in [t.get_text() for t in fig.legends[0].get_texts()]
    table = report.section43_table(rows)
    line = next(x for x in table.splitlines() if x.startswith("| ROS | 50 | oversampling |"))
    linear = [r["auc"] for r in rows
              if r["imbalance"] == "linear" and r["rho"] == 50.0 and r["method"] == "oversampling"]
    step_half = [r["auc"] for r in rows if r["imbalance"] == "step" and r["rho"] == 50.0 and r["mu"] == 0.5
                 and r["method"] == "oversampling"]
    assert f"{np.mean(step_half):.4f} (3) | {np.mean(linear):.4f} (3) | 1,000 / 1,000 |" in line
    welch = statistics.unpaired(linear, step_half)
    assert f"{np.mean(linear) - np.mean(step_half):+.4f} {statistics.format_interval(welch.ci_low, welch.ci_high)} | " \
        f"{statistics.format_p(scipy.stats.ttest_ind(linear, step_half, equal_var=False).pvalue)} |" in line
    (reference_line,) = [x for x in report.winners(rows) if "balanced" in x]
    assert reference_line.startswith("- **balanced rho=1**: Balanced (reference) alone, ROC AUC 0.9990 (n=3)")


def test_a_union_of_workdirs_is_one_study_with_each_network_once(tmp_path):
    from imbalance_jax import union

    grid, fig7 = tmp_path / "grid", tmp_path / "fig7"
    grid.mkdir(), fig7.mkdir()
    first = [r for r in _write_results(grid / "results.csv") if r["method"] != "oversampling_to_10"]
    with open(grid / "results.csv", "w", newline="") as f:  # the grid: no partial sampling
        writer = csv.DictWriter(f, RESULT_COLUMNS)
        writer.writeheader()
        writer.writerows(first)
    second = _write_results(fig7 / "results.csv")  # the same networks again (other numbers), and oversampling_to_10
    with open(fig7 / "results.csv", "w", newline="") as f:  # written with a split column, the grid without one
        writer = csv.DictWriter(f, RESULT_COLUMNS)
        writer.writeheader()
        writer.writerows([dict(r, split=0) for r in second])
    curves = [dict(network=r["network"], method=r["method"], imbalance=r["imbalance"], rho=r["rho"], mu=r["mu"],
                   repetition=r["repetition"], step=s, train_accuracy=0.9, test_accuracy=0.8)
              for r in second for s in (5, 10)]
    with open(fig7 / "curves.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, list(curves[0]))
        writer.writeheader()
        writer.writerows(curves)
    import tiny

    for workdir in (grid, fig7):  # parts of one study: the same identity keys
        Workdir(str(workdir)).save_config(tiny.tiny_config())
    Workdir(str(grid)).record_run("1 x cpu (cpu backend), jax 0.10.2")
    Workdir(str(fig7)).record_run("1 x NVIDIA H200 (gpu backend), jax 0.11.2")
    path = union.write_union([str(grid), str(fig7)], str(tmp_path / "all"))
    with open(tmp_path / "all" / "results.csv") as f:
        joined = {(r["network"], r["method"]): float(r["auc"]) for r in csv.DictReader(f)}
    assert len(joined) == len(second)  # each network once
    for r in first:  # a network both hold comes from the first workdir
        assert joined[(r["network"], r["method"])] == pytest.approx(r["auc"])
    partial = [r for r in second if r["method"] == "oversampling_to_10"]
    assert all(joined[(r["network"], r["method"])] == pytest.approx(r["auc"]) for r in partial)
    with open(tmp_path / "all" / "curves.csv") as f:  # only the networks the second workdir gave
        assert {r["network"] for r in csv.DictReader(f)} == {r["network"] for r in partial}
    text = open(path).read()
    assert f"{len(second)} results of {len(second)} trained networks" in text and "fig7_partial_sampling.png" in text
    assert ("run on 1 x cpu (cpu backend), jax 0.10.2 and 1 x NVIDIA H200 (gpu backend), jax 0.11.2." in text)
    # the second workdir's networks pair with the first's (same set and repetition, split 0 either way)
    assert re.search(r"\| step rho=10 mu=0.2 \| oversampling_to_10 \| 3 \| [\d.]+ \| [\d.]+ \| \[[\d., ]+\] \| "
                     r"[+-][\d.]+ \[", text)
    other = tmp_path / "other"  # another study: other seeds and learning rate
    other.mkdir()
    with open(other / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, RESULT_COLUMNS)
        writer.writeheader()
        writer.writerows(second[:2])
    config = tiny.tiny_config()
    config.seed, config.train.base_lr = 1, 0.05
    Workdir(str(other)).save_config(config)
    with pytest.raises(ValueError, match=r"grid and .*other differ in seed: 0 -> 1; train.base_lr: 0.01 -> 0.05; "
                                         r"compare them instead"):
        union.write_union([str(grid), str(other)], str(tmp_path / "bad"))
    assert not (tmp_path / "bad").exists()
    before = (grid / "results.csv").read_bytes()
    with pytest.raises(ValueError, match=r"--out=.*grid is one of the joined workdirs"):
        union.write_union([str(grid), str(fig7)], str(grid))
    with pytest.raises(ValueError, match=r"--out=.*other already holds files a union did not write"):
        union.write_union([str(grid), str(fig7)], str(other))
    assert (grid / "results.csv").read_bytes() == before
    union.write_union([str(grid), str(fig7)], str(tmp_path / "all"))  # its own folder: written again


def test_the_class_table_names_each_class_and_its_recall_as_minority_and_majority():
    rows = []
    for net, minority in (("a", {0}), ("b", {1}), ("c", {0, 1})):
        for c, name in enumerate(("cat", "dog", "emu")):
            rows.append(dict(network=net, method="oversampling", selected="1", **{"class": str(c)}, class_name=name,
                             minority=str(int(c in minority)),
                             recall=str(0.1 * (c + 1) + (0.5 if c in minority else 0))))
    table = report.class_table(rows).splitlines()
    assert table[2] == "| cat | ROS | 0.6000 (2) | 0.1000 (1) |"  # minority in a and c, majority in b
    assert table[3] == "| dog | ROS | 0.7000 (2) | 0.2000 (1) |"
    assert table[4] == "| emu | ROS |  | 0.3000 (3) |"
