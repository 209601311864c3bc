"""The report's statistics against independent references (scipy, hand formulas, Monte Carlo), and the
report's tables read back as a user reads them: intervals inside their range, no test below 3 repetitions,
corrections named and applied."""
import csv
import math
import re

import numpy as np
import pytest
import scipy.stats

from imbalance_jax import report, statistics
from imbalance_jax.results import RESULT_COLUMNS


def test_intervals_are_logit_scale_t_intervals_inside_the_range():
    values = [0.991, 0.999, 0.9995]
    s = statistics.describe(values)
    mean, se = np.mean(values), np.std(values, ddof=1) / math.sqrt(3)
    half = scipy.stats.t.ppf(0.975, 2) * se / (mean * (1 - mean))
    logit = math.log(mean / (1 - mean))
    assert s.ci_low == pytest.approx(1 / (1 + math.exp(-(logit - half))), rel=1e-12)
    assert s.ci_high == pytest.approx(1 / (1 + math.exp(-(logit + half))), rel=1e-12)
    assert 0 < s.ci_low < mean < s.ci_high < 1  # the plain t interval would pass 1.0
    assert mean + scipy.stats.t.ppf(0.975, 2) * se > 1
    assert statistics.describe([1.0, 1.0, 1.0])[3:] == (1.0, 1.0)  # every value on the bound: no spread
    assert all(math.isnan(v) for v in statistics.describe([0.9, 0.95])[3:])  # n = 2: no interval
    d = statistics.one_sample([0.6, 0.9, 0.99])  # a difference interval stays inside [-1, 1]
    assert -1 < d.ci_low and d.ci_high < 1


def test_tests_are_scipys_and_need_three_units():
    a, b = {0: 0.9, 1: 0.8, 2: 0.95, 4: 0.7}, {0: 0.85, 1: 0.79, 2: 0.9, 3: 0.5}  # keys 3 and 4 have no pair
    d = statistics.paired(a, b)
    assert d.n == 3 and d.p_value == pytest.approx(
        scipy.stats.ttest_rel([0.9, 0.8, 0.95], [0.85, 0.79, 0.9]).pvalue, rel=1e-12)
    assert math.isnan(statistics.paired({0: 0.9, 1: 0.8}, {0: 0.8, 1: 0.6}).p_value)  # two pairs: no test
    x, y = [0.9, 0.91, 0.93, 0.95], [0.8, 0.82, 0.79]
    w = statistics.unpaired(x, y)
    assert w.p_value == pytest.approx(scipy.stats.ttest_ind(x, y, equal_var=False).pvalue, rel=1e-12)
    assert statistics.sign_test([0.1, 0.2, -0.1, 0.3, 0.0, 0.4]) == pytest.approx(
        scipy.stats.binomtest(4, 5, alternative="greater").pvalue)  # the zero is left out
    assert statistics.sign_test([0.1, 0.2, -0.1, 0.3, 0.4], "less") == pytest.approx(
        scipy.stats.binomtest(1, 5, alternative="greater").pvalue)


def test_holm_and_benjamini_hochberg_adjust_as_published():
    p = [0.01, 0.04, 0.03, math.nan, 0.005]
    # Holm by hand: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1, running maximum
    assert statistics.holm(p)[:3] + statistics.holm(p)[4:] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert math.isnan(statistics.holm(p)[3])
    bh = statistics.benjamini_hochberg(p)
    reference = scipy.stats.false_discovery_control([0.01, 0.04, 0.03, 0.005])
    assert [bh[i] for i in (0, 1, 2, 4)] == pytest.approx(list(reference))


def test_the_detectable_difference_has_the_power_it_claims():
    sd, n = 0.004, 5
    delta = statistics.detectable_difference(sd, n)
    rng = np.random.default_rng(0)
    samples = rng.normal(delta, sd, size=(20_000, n))
    power = (scipy.stats.ttest_1samp(samples, 0.0, axis=1).pvalue < 0.05).mean()
    assert power == pytest.approx(0.80, abs=0.015)
    need = statistics.units_needed(sd, delta)
    assert need == n and statistics.units_needed(sd, delta * 1.01) == n
    assert statistics.units_needed(sd, delta / 2) > n


def _rows(reps):
    rng = np.random.default_rng(11)
    rows = []
    for kind, rho, mu in [("step", 10, 0.2), ("step", 100, 0.5), ("linear", 100, "")]:
        for rep in range(reps):
            for m in ("baseline", "oversampling", "undersampling", "thresholding", "balanced"):
                if m == "balanced" and rho != 10:  # one balanced reference per repetition
                    continue
                auc = 0.995 if m == "balanced" else rng.uniform(0.95, 0.9999)  # near 1: t intervals would pass it
                rows.append(dict(dataset="toy", imbalance="balanced" if m == "balanced" else kind,
                                 rho=1 if m == "balanced" else rho, mu="" if m == "balanced" else mu,
                                 minority_classes="0 1", seed=rep, repetition=rep, method=m, auc=auc,
                                 accuracy=rng.uniform(0.9, 0.999), train_size=100, iterations=10,
                                 network=f"{kind}{rho}{mu}{rep}/{m}", cohort=0))
    return rows


def _label(row):
    return f"{row['imbalance']} rho={row['rho']:g}" + (f" mu={row['mu']:g}" if row["mu"] != "" else "")


def _write(tmp_path, rows):
    with open(tmp_path / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, RESULT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return open(report.write_report(str(tmp_path))).read()


def _table(text):
    """The 'All settings' table's rows as {column: cell}."""
    lines = [x for x in text.split("## All settings")[1].splitlines() if x.startswith("| ")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(head, (c.strip() for c in x.strip("|").split("|")))) for x in lines[1:]]


def _intervals(text):
    return [(float(a), float(b)) for a, b in re.findall(r"\[(-?\d\.\d{4}), (-?\d\.\d{4})\]", text)]


def test_a_two_repetition_report_has_no_interval_and_no_test(tmp_path):
    text = _write(tmp_path, _rows(2))
    table = _table(text)
    assert table and all(r["95% CI"] == "n/a" and r["p"] in ("", "n/a") for r in table)
    assert "n < 3 in every setting: no interval and no test there (a test needs 3 repetitions" in text
    assert _intervals(text) == []  # no interval anywhere: tables, conclusions, reference
    assert "wins with" not in text and "no test at n=2" in text
    assert "(n=2; no interval below 3 networks), a test error" in text


def test_a_three_repetition_report_has_bounded_intervals_and_adjusted_p_values(tmp_path):
    rows = _rows(3)
    text = _write(tmp_path, rows)
    table = _table(text)
    for r in table:
        low, high = (float(v) for v in r["95% CI"].strip("[]").split(", "))
        assert 0 <= low <= float(r["ROC AUC"]) <= high <= 1, r
        aucs = [x["auc"] for x in rows if x["method"] == r["config name"] and _label(x) == r["setting"]]
        assert r["method"] == {"baseline": "Baseline", "oversampling": "ROS", "undersampling": "RUS",
                               "thresholding": "Thresholding", "balanced": "Balanced (reference)"}[r["config name"]]
        s = statistics.describe(aucs)
        assert r["95% CI"] == statistics.format_interval(s.ci_low, s.ci_high)
    versus = [r for r in table if r["p"] not in ("", "n/a")]
    assert {r["config name"] for r in versus} == {"oversampling", "undersampling"}  # thresholding keeps its AUC
    raw = []
    for r in versus:
        pick = lambda m: [x["auc"] for x in rows if x["method"] == m and _label(x) == r["setting"]]  # noqa: E731
        test = scipy.stats.ttest_rel(pick(r["config name"]), pick("baseline"))
        difference = np.mean(np.array(pick(r["config name"])) - np.array(pick("baseline")))  # method minus baseline
        assert r["minus baseline (paired) [95% CI]"].startswith(f"{difference:+.4f} [")
        assert r["p"] == statistics.format_p(test.pvalue)
        low, high = (float(v) for v in r["minus baseline (paired) [95% CI]"].split(" ", 1)[1].strip("[]").split(", "))
        assert -1 <= low <= high <= 1
        raw.append(test.pvalue)
    adjusted = scipy.stats.false_discovery_control(raw)
    assert [r["p (BH)"] for r in versus] == [statistics.format_p(p) for p in adjusted]
    assert "Benjamini-Hochberg adjusted over the table's tests" in text and "Holm" in text
    assert all(0 <= a <= b <= 1 for a, b in _intervals(text.split("## All settings")[1]) if a >= 0)


def test_plan_says_how_many_repetitions_a_target_difference_needs(tmp_path):
    from configs import quick
    from imbalance_jax import estimate

    rows = _rows(4)
    _write(tmp_path, rows)
    sds = []
    for setting in {_label(r) for r in rows if r["method"] != "balanced"}:
        pick = lambda m: np.array([r["auc"] for r in rows if r["method"] == m and _label(r) == setting])  # noqa: E731
        sds += [np.std(pick(m) - pick("baseline"), ddof=1) for m in ("oversampling", "undersampling")]
    sd = np.percentile(sds, 75)

    def power(n, delta):  # the noncentral t, written out here
        crit = scipy.stats.t.ppf(0.975, n - 1)
        nc = delta * math.sqrt(n) / sd
        return scipy.stats.nct.sf(crit, n - 1, nc) + scipy.stats.nct.cdf(-crit, n - 1, nc)

    config = quick.get_config()
    config.statistics.target_difference = 0.02
    need = next(n for n in range(3, 1000) if power(n, 0.02) >= 0.8)
    line = estimate.repetitions_line(config, str(tmp_path))
    assert line.startswith(f"  power    {need} repetitions detect a ROC AUC difference of 0.02")
    assert f"sd {sd:.4f}" in line
    assert "this config has 3" in line
    assert "MNIST's upper quartile" in estimate.repetitions_line(config, None)
