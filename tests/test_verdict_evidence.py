"""report.md prints, for each claim of the paper's conclusions, the p-value of the test that decided it: read back
from a report written from a real study's records (docs/mnist) and recomputed here from results.csv and curves.csv
with scipy alone (sign tests, logit-scale one-sided t-tests, Holm by hand)."""
import csv
import math
import os
import re
import shutil
from collections import defaultdict

import numpy as np
import pytest
import scipy.stats

from imbalance_jax import report

REAL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "mnist")
MARGIN = 0.01


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """report.md written from docs/mnist's records, its claim lines, and the records."""
    out = tmp_path_factory.mktemp("mnist")
    for name in ("results.csv", "curves.csv"):
        shutil.copy(os.path.join(REAL, name), out)
    with open(report.write_report(str(out), ran_on=[])) as f:
        text = f.read()
    claims = {m.group(1): m.group(3) for m in re.finditer(r"^   - (.+?): \*\*(.+?)\*\*\. (.+)$", text, re.M)}
    with open(os.path.join(REAL, "results.csv")) as f:
        rows = [r for r in csv.DictReader(f) if r["selected"] == "1"]
    with open(os.path.join(REAL, "curves.csv")) as f:
        curves = [r for r in csv.DictReader(f) if r["selected"] == "1"]
    return claims, rows, curves


def _p(p):
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _holm(ps):
    order, out, running = np.argsort(ps), [0.0] * len(ps), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(ps) - rank) * ps[i]))
        out[i] = running
    return out


def _per_setting(rows, a, b, metric, kinds=("step", "linear"), partial=False):
    """{setting: mean of a - b over repetitions} (imbalanced settings with both)."""
    by = defaultdict(dict)
    for r in rows:
        if r["imbalance"] in kinds:
            by[(r["imbalance"], r["rho"], r["mu"])].setdefault(r["repetition"], {})[r["method"]] = float(r[metric])
    return {s: np.mean([v[a] - v[b] for v in reps.values()]) for s, reps in by.items()
            if all(a in v and b in v for v in reps.values())}


def _logit_t_p(mean, se, df, bound, low, high, greater):
    """One-sided p of a mean against a bound by a t-test on the logit scale of [low, high] (the delta method)."""
    p, q = (mean - low) / (high - low), (bound - low) / (high - low)
    t = (math.log(p / (1 - p)) - math.log(q / (1 - q))) / (se / ((high - low) * p * (1 - p)))
    return float(scipy.stats.t.sf(t if greater else -t, df))


def _sign(diffs, greater=True):
    d = [x for x in diffs if x != 0]
    return scipy.stats.binomtest(sum((x > 0) if greater else (x < 0) for x in d), len(d), alternative="greater").pvalue


def test_conclusion_1_prints_each_sign_test_and_its_holm_p(study):
    claims, rows, _ = study
    others = ("baseline", "two_phase_oversampling", "undersampling")
    raw = [_sign(list(_per_setting(rows, "oversampling", m, "auc").values())) for m in others]
    for m, p, h in zip(others, raw, _holm(raw)):
        assert f"one-sided sign test for ahead p{'' if p < 0.001 else '='}{_p(p)}, Holm {_p(h)})" in \
            claims[f"oversampling ahead of {m} in most settings"]


def test_conclusion_2_prints_the_two_one_sided_tests_p(study):
    claims, rows, _ = study
    at = defaultdict(dict)
    for r in rows:
        if r["imbalance"] == "step" and float(r["rho"]) == 1000 and float(r["mu"]) == 0.8:
            at[r["repetition"]][r["method"]] = float(r["auc"])
    d = np.array([v["undersampling"] - v["oversampling"] for v in at.values()])
    se = d.std(ddof=1) / math.sqrt(len(d))
    tost = max(_logit_t_p(d.mean(), se, len(d) - 1, -MARGIN, -1, 1, True),
               _logit_t_p(d.mean(), se, len(d) - 1, MARGIN, -1, 1, False))
    assert f"(two one-sided tests p={_p(tost)})" in claims["undersampling equivalent to oversampling within +-0.01 AUC"]


def test_conclusion_3_prints_sign_tests_of_the_gains(study):
    claims, rows, _ = study
    gains = {b: list(_per_setting(rows, a, b, "accuracy").values()) for a, b in (
        ("thresholding", "baseline"), ("oversampling_thresholding", "oversampling"),
        ("undersampling_thresholding", "undersampling"))}
    raw = [_sign(gains["baseline"]), _sign(gains["oversampling"]), _sign([g - MARGIN for g in gains["undersampling"]],
                                                                         greater=False)]
    holm = _holm(raw)
    text = {b: claims[c] for b, c in zip(gains, (
        "thresholding raises baseline's accuracy in most settings",
        "thresholding raises oversampling's accuracy in most settings",
        "thresholding does not raise undersampling's accuracy by more than 0.01 in most settings"))}
    for (b, claim), word, p, h in zip(text.items(), ("a gain", "a gain", "below +0.01"), raw, holm):
        assert f"one-sided sign test for {word} p{'' if p < 0.001 else '='}{_p(p)}, Holm {_p(h)})" in claim, claim


def test_conclusion_4_prints_the_non_inferiority_p_of_each_ratio(study):
    claims, rows, _ = study
    raw = []
    for m in ("oversampling_to_10", "oversampling_to_100"):
        d = np.array(list(_per_setting(rows, "oversampling", m, "auc", kinds=("step",)).values()))
        raw.append(_logit_t_p(d.mean(), d.std(ddof=1) / math.sqrt(len(d)), len(d) - 1, -MARGIN, -1, 1, True))
    claim = claims["full oversampling not worse than oversampling to a reduced ratio (by more than 0.01)"]
    for m, h in zip(("oversampling_to_10", "oversampling_to_100"), _holm(raw)):
        assert re.search(rf"{m} [+-][0-9.]+, 90% lower bound [+-][0-9.]+, non-inferiority p=?{re.escape(_p(h))} "
                         r"\(Holm\), n=3 settings", claim), claim
    assert "cannot be tested with 3 values of mu; needs 5" in open(os.path.join(REAL, "report.md")).read()


def test_conclusion_5_prints_the_non_inferiority_p_against_the_reference(study):
    claims, _, curves = study
    gaps = defaultdict(list)
    for r in curves:
        if r["method"] in ("oversampling", "balanced"):
            key = (r["imbalance"], r["rho"], r["mu"], r["method"], r["repetition"])
            gaps[key].append((int(r["step"]), float(r["train_accuracy"]) - float(r["test_accuracy"])))
    growth = defaultdict(list)
    for key, points in gaps.items():
        points = sorted(points)
        growth[key[:4]].append(points[-1][1] - points[1][1])
    over = np.array([np.mean(v) for k, v in growth.items() if k[3] == "oversampling"])
    ref = np.array([g for k, v in growth.items() if k[3] == "balanced" for g in v])
    va, vb = over.var(ddof=1) / len(over), ref.var(ddof=1) / len(ref)
    dof = (va + vb) ** 2 / (va ** 2 / (len(over) - 1) + vb ** 2 / (len(ref) - 1))
    p = _logit_t_p(over.mean() - ref.mean(), math.sqrt(va + vb), dof, MARGIN, -4, 4, False)
    claim = claims["oversampling's train-test gap grows no more than 0.01 beyond the reference's"]
    assert f"non-inferiority p{'' if p < 0.001 else '='}{_p(p)}: not more than 0.01 beyond it" in claim, claim
    assert "on average over these 12 settings, up to 1,000 iterations" in claim
