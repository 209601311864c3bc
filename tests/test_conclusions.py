"""The paper's five conclusions checked on made-up results where each verdict, unit and number is known
(tests/test_calibration.py measures the verdicts' error rates on many simulated studies)."""
import math

import numpy as np
import scipy.stats

from imbalance_jax import conclusions, statistics
from test_calibration import SETTINGS, TREND, _curves, _fig7, _trained
from test_calibration import simulate as _simulate

PAPER_LIKE = {"baseline": -0.03, "oversampling": 0.0, "undersampling": -0.01, "two_phase_oversampling": -0.005,
              "thresholding": 0.02, "oversampling_thresholding": 0.01, "undersampling_thresholding": -0.02}


def simulate(rng, effects, **kwargs):
    """The calibration's rows with one per-network sd (0.002) and shared offset (0.004) and no setting-by-method
    deviation, so every verdict here follows from the effects alone."""
    return _simulate(rng, effects, **{"sd": 0.002, "offset": 0.004, "deviation": {}, **kwargs})


def _logit_interval(values, level):
    """An independent logit-scale t interval of a mean of differences in [-1, 1]."""
    values = np.asarray(values)
    n, mean, se = len(values), values.mean(), values.std(ddof=1) / math.sqrt(len(values))
    p = (mean + 1) / 2
    half = scipy.stats.t.ppf(0.5 + level / 2, n - 1) * se / (2 * p * (1 - p))
    centre = math.log(p / (1 - p))
    return tuple(2 / (1 + math.exp(-(centre + s * half))) - 1 for s in (-1, 1))


def test_paper_like_results_hold_with_the_setting_as_the_unit():
    rows = simulate(np.random.default_rng(3), _trained(PAPER_LIKE))
    c1 = conclusions.oversampling_wins(rows)
    assert c1.verdict == "holds" and [p.claim for p in c1.parts] == [
        "oversampling ahead of baseline in most settings", "oversampling ahead of two_phase_oversampling in most "
        "settings", "oversampling ahead of undersampling in most settings"]
    # The sign test over the 12 per-setting mean differences, Holm over the three methods.
    by_setting = {}
    for r in rows:
        by_setting.setdefault((r["imbalance"], r["rho"], r["mu"], r["repetition"]), {})[r["method"]] = r["auc"]
    raw = []
    for other in ("baseline", "two_phase_oversampling", "undersampling"):
        means = [np.mean([v["oversampling"] - v[other] for k, v in by_setting.items() if k[:3] == s]) for s in SETTINGS]
        raw.append(scipy.stats.binomtest(sum(m > 0 for m in means), 12, alternative="greater").pvalue)
        assert f"ahead in {sum(m > 0 for m in means)} and behind in {sum(m < 0 for m in means)} of 12 settings " \
               "(one-sided sign test for ahead" in c1.parts[len(raw) - 1].evidence
    holm = [min(1.0, max(3 * min(raw), x)) for x in raw]  # three equal p-values: each x 3
    assert all(statistics.format_p(h) in part.evidence for h, part in zip(holm, c1.parts))
    assert "n=12 settings" in c1.evidence
    c2 = conclusions.undersampling_on_par(rows)
    # 0.01 behind, on the margin itself: neither shown inside +-0.01 nor outside it
    assert c2.verdict == "not significant" and "n=5 repetitions" in c2.evidence
    assert conclusions.thresholding_accuracy(rows).verdict == "holds"
    assert conclusions.sampling_levels(rows).verdict == "not in this study"


def _logit_t(values, bound, less=False):
    """The one-sided t statistic of a mean of differences in [-1, 1] against a bound, on the logit scale."""
    values = np.asarray(values)
    mean, se = values.mean(), values.std(ddof=1) / math.sqrt(len(values))
    p, q = (mean + 1) / 2, (bound + 1) / 2
    t = (math.log(p / (1 - p)) - math.log(q / (1 - q))) / (se / (2 * p * (1 - p)))
    return -t if less else t


def test_the_equivalence_interval_is_the_90_percent_logit_interval():
    rows = simulate(np.random.default_rng(4), _trained({"oversampling": 0.0, "undersampling": -0.002}))
    at = {(r["repetition"], r["method"]): r["auc"] for r in rows if r["rho"] == 1000.0 and r["mu"] == 0.8}
    d = [at[(str(k), "undersampling")] - at[(str(k), "oversampling")] for k in range(5)]
    low, high = _logit_interval(d, 0.90)
    finding = conclusions.undersampling_on_par(rows)
    assert f"90% interval [{low:.4f}, {high:.4f}] (n=5 repetitions)" in finding.evidence
    assert finding.verdict == "holds" and -0.01 < low and high < 0.01
    tost = max(scipy.stats.t.sf(t, 4) for t in (_logit_t(d, -0.01), _logit_t(d, 0.01, less=True)))
    assert f"equivalent (two one-sided tests {statistics.p_text(tost)})" in finding.evidence, finding.evidence
    assert "on 100 against 9,000 training images" in finding.evidence


def test_fewer_than_three_repetitions_give_no_test_and_missing_methods_are_absent():
    rows = simulate(np.random.default_rng(1), _trained(PAPER_LIKE), reps=2)
    for finding in conclusions.findings(rows):
        assert finding.verdict in (conclusions.FEW, conclusions.ABSENT), finding
    assert "a test needs 3" in conclusions.undersampling_on_par(rows).evidence
    # A union whose oversampling and undersampling never share a setting: nothing to compare, not "n = 0".
    over = simulate(np.random.default_rng(2), _trained({"oversampling": 0.0}), settings=SETTINGS[:6])
    under = simulate(np.random.default_rng(2), _trained({"undersampling": 0.0}), settings=SETTINGS[6:])
    c1 = conclusions.oversampling_wins(over + under)
    assert c1.verdict == "not in this study" and "no setting has both" in c1.evidence
    assert conclusions.findings([])[4].verdict == "not in this study"


def test_settings_with_too_few_repetitions_are_left_out_of_a_pool_and_said_to_be():
    rows = simulate(np.random.default_rng(5), _trained(PAPER_LIKE))
    dropped = [r for r in rows if not (r["rho"] == 10.0 and r["mu"] == 0.2 and int(r["repetition"]) >= 2)]
    c1 = conclusions.oversampling_wins(dropped)
    assert "of 11 settings" in c1.evidence and "1 setting(s) of fewer than 3 repetitions left out" in c1.evidence


def test_the_undersampling_trend_is_a_tested_slope_over_settings_not_an_argmax():
    rows = _fig7(0.005, 0.2, TREND)(np.random.default_rng(6))
    finding = conclusions.sampling_levels(rows)
    assert finding.verdict == "holds", finding
    trend = finding.parts[1].evidence
    raw = {}
    for m in ("undersampling_to_10", "undersampling_to_100"):
        pairs = {(r["mu"], r["repetition"]): r["auc"] for r in rows if r["method"] == "undersampling"}
        per_mu = {}
        for r in rows:
            if r["method"] == m:
                per_mu.setdefault(r["mu"], []).append(r["auc"] - pairs[(r["mu"], r["repetition"])])
        mus = sorted(per_mu)
        fit = scipy.stats.linregress(mus, [np.mean(per_mu[mu]) for mu in mus])  # the setting is the unit
        raw[m] = fit.pvalue
        assert f"{m} minus undersampling at rho=1000" in trend and f"slope {fit.slope:+.4f} per unit of mu" in trend
        assert "n=5 settings" in trend
    holm = dict(zip(raw, statistics.holm(list(raw.values()))))
    for m, p in raw.items():
        assert f"{statistics.p_text(p)} (Holm {statistics.format_p(holm[m])})" in trend
    assert "best undersampling ratio" not in finding.evidence


def test_overfitting_is_measured_against_the_balanced_reference():
    rng = np.random.default_rng(7)
    calm = conclusions.no_overfitting(_curves(rng, {"oversampling": 0.0}, reference_growth=0.0))
    assert calm.verdict == "holds" and "minus the balanced reference's" in calm.evidence
    # what was shown, and the test that showed it: non-inferiority against the margin, over these settings
    assert "non-inferiority p=" in calm.evidence and "not more than 0.01 beyond it, on average over these 12 " \
        "settings, up to 1,000 iterations" in calm.evidence
    both = conclusions.no_overfitting(_curves(rng, {"oversampling": 0.03, "baseline": 0.03}))
    assert both.verdict == "does not hold" and "minus zero (no balanced reference with curves)" in both.evidence
    assert "more than 0.01 beyond it p<0.001" in both.evidence
    # the reference overfits as much: the growth is not oversampling's doing
    same = conclusions.no_overfitting(_curves(rng, {"oversampling": 0.03}, reference_growth=0.03))
    assert same.verdict == "holds"


def test_the_section_is_a_short_table_then_the_evidence_as_a_list():
    rows = simulate(np.random.default_rng(3), _trained(PAPER_LIKE))
    lines = conclusions.section(rows)
    assert lines[:2] == ["| # | the paper concludes | verdict |", "|---|---|---|"]
    assert lines[2] == "| 1 | Oversampling outperforms every other method on ROC AUC in most cases. | holds |"
    assert "1. **holds**: Oversampling outperforms every other method on ROC AUC in most cases." in lines
    assert any(x.startswith("   - oversampling ahead of baseline in most settings: **holds**. baseline: ahead in")
               for x in lines)
    assert max(len(x) for x in lines[:7]) < 200  # evidence is not inside the table


def test_the_balanced_reference_gives_its_test_error():
    rows = [dict(method="balanced", accuracy=a) for a in (0.99, 0.992, 0.995)]
    s = statistics.describe([0.99, 0.992, 0.995])
    assert conclusions.balanced_reference(rows).endswith(
        f"{statistics.format_interval(s.ci_low, s.ci_high)} (n=3), a test error of "
        f"{100 * (1 - np.mean([0.99, 0.992, 0.995])):.2f}%.")
    assert "0.9910 (n=2; no interval below 3 networks), a test error" in conclusions.balanced_reference(rows[:2])


def test_overfitting_with_two_repetitions_and_two_curve_points_says_what_it_cannot_show():
    rows = [r for r in _curves(np.random.default_rng(8), {"oversampling": 0.03}, reference_growth=0.0, reps=2)
            if r["step"] in (250, 1000)]  # two repetitions, two curve points
    finding = conclusions.no_overfitting(rows)
    assert finding.verdict == conclusions.FEW and "interval [" not in finding.evidence
    assert "from the first curve point to the last (the curves have two points" in finding.evidence
    assert "the balanced reference has 2 networks with curves; comparing with it needs 3" in finding.evidence


def test_a_method_behind_shows_the_sign_test_for_behind_with_its_holm_p():
    behind = dict(PAPER_LIKE, two_phase_oversampling=0.01)  # oversampling behind it everywhere
    rows = simulate(np.random.default_rng(4), _trained(behind))
    part = {p.claim: p for p in conclusions.oversampling_wins(rows).parts}[
        "oversampling ahead of two_phase_oversampling in most settings"]
    raw = scipy.stats.binomtest(0, 12, alternative="less").pvalue  # 12 of 12 behind
    assert part.verdict == "does not hold" and "ahead in 0 and behind in 12 of 12 settings" in part.evidence
    # Holm over the three methods' tests for behind: the other two are far from significant, so this one x 3
    assert f"one-sided sign test for behind {statistics.p_text(raw)}, Holm {statistics.format_p(3 * raw)})" \
        in part.evidence, part.evidence
