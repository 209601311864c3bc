import csv
import os
import re

import numpy as np

from imbalance_jax import report
from imbalance_jax.results import RESULT_COLUMNS


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
                writer.writerow(dict(network=m, method=m, imbalance="step", rho=100, mu=0.5, repetition=0,
                                     step=step, train_accuracy=0.5 + step / 100, test_accuracy=0.4 + step / 100))
    path = report.write_report(str(tmp_path))
    for name in ("fig8_convergence.png", "fig3_auc_vs_minority_classes.png", "fig4_auc_vs_rho.png", "fig5_linear_auc_vs_rho.png",
                 "fig6_accuracy_vs_minority_classes.png", "fig7_partial_sampling.png"):
        assert os.path.getsize(tmp_path / name) > 10_000, name
    text = open(path).read()
    # Every summary row's mean AUC equals the mean computed here from the CSV.
    checked = 0
    for line in text.splitlines():
        match = re.match(r"\| (step|linear) rho=(\S+)(?: mu=(\S+))? \| (\w+) \| (\d+) \| ([\d.]+) ±", line)
        if not match:
            continue
        kind, rho, mu, method, n, auc = match.groups()
        sel = [r["auc"] for r in rows if r["imbalance"] == kind and float(r["rho"]) == float(rho)
               and (mu is None or float(r["mu"]) == float(mu)) and r["method"] == method]
        assert int(n) == len(sel) == 3
        assert abs(float(auc) - np.mean(sel)) < 1e-4
        checked += 1
    assert checked == 6 * 5
    assert "wins with ROC AUC" in text and "(3 repetitions)" in text


def test_winner_is_the_best_mean_auc():
    rows = [dict(imbalance="step", rho=10.0, mu=0.5, method=m, auc=a, accuracy=0.5)
            for m, a in (("baseline", 0.9), ("oversampling", 0.95), ("undersampling", 0.8), ("thresholding", 0.99))]
    (line,) = report.winners(rows)
    assert "oversampling wins with ROC AUC 0.9500" in line and "+0.0500 over baseline" in line
