"""The verdict procedures calibrated on simulated studies with known truth (pure numpy rows, no training).

Each case builds result rows whose every number is known by construction: a per-setting level (settings
differ far more than repetitions do, as in real grids), a per-(setting, repetition) offset shared by all
methods of one imbalanced set (so comparisons are paired), each method's true effect, and per-network
noise. Where the paper's claim is false by construction the verdict must read "holds" in at most 10% of
the simulations; where it is clearly true (5 repetitions x 12 settings, an effect several times the
noise) in at least 80%. Each case's rate is printed (pytest -s shows them).
"""
import numpy as np
import pytest

from imbalance_jax import conclusions

SETTINGS = [("step", rho, mu) for rho in (10.0, 100.0, 1000.0) for mu in (0.2, 0.5, 0.8)] + [
    ("linear", rho, None) for rho in (10.0, 100.0, 1000.0)]
NOISE = 0.002  # per-network sd
SIMULATIONS = 200


def simulate(rng, effects, reps=5, settings=SETTINGS, metric="auc", noise=NOISE):
    """Result rows: effects(method, setting index, (kind, rho, mu)) is each method's true difference from the
    setting's level."""
    rows = []
    methods = effects(None, None, None)
    for i, setting in enumerate(settings):
        kind, rho, mu = setting
        level = 0.95 - 0.03 * rng.random()  # between-setting spread, ~10x the noise
        for rep in range(reps):
            shared = rng.normal(0, 0.004)  # the imbalanced set and initial weights of this repetition
            for method in methods:
                value = level + shared + effects(method, i, setting) + rng.normal(0, noise)
                row = dict(imbalance=kind, rho=rho, mu=mu, method=method, split=0, repetition=str(rep),
                           train_size=100 if "under" in method else 9000, auc=value, accuracy=value)
                rows.append(row)
    return rows


def _trained(spec):
    """effects() from {method: constant effect or function(i, setting)}."""
    def effects(method, i, setting):
        if method is None:
            return list(spec)
        effect = spec[method]
        return effect(i, setting) if callable(effect) else effect
    return effects


def _rate(check, make, simulations=SIMULATIONS, seed=0):
    rng = np.random.default_rng(seed)
    return sum(check(make(rng)) == "holds" for _ in range(simulations)) / simulations


def _c1(rows):
    return conclusions.oversampling_wins(rows).verdict


def _c2(rows):
    return conclusions.undersampling_on_par(rows).verdict


def _c3(rows):
    return conclusions.thresholding_accuracy(rows).verdict


def _c4(rows):
    return conclusions.sampling_levels(rows).verdict


FIG7 = [("step", 1000.0, mu) for mu in (0.2, 0.5, 0.8)]
PARTIAL = ("oversampling_to_10", "oversampling_to_100", "undersampling_to_10", "undersampling_to_100")


def _fig7(full_over_lead, under_slope):
    """Fig. 7 rows at rho=1000: full oversampling ahead of its reduced ratios by full_over_lead; the reduced
    undersampling ratios ahead of full undersampling by under_slope x (0.5 - mu)."""
    spec = {"baseline": -0.05, "oversampling": 0.0, "undersampling": -0.01,
            "oversampling_to_10": -full_over_lead, "oversampling_to_100": -full_over_lead,
            "undersampling_to_10": lambda i, s: -0.01 + under_slope * (0.5 - s[2]),
            "undersampling_to_100": lambda i, s: -0.01 + under_slope * (0.5 - s[2])}
    return lambda rng: simulate(rng, _trained(spec), settings=FIG7)


def _curves(rng, growth, reference_growth=None, reps=5):
    """curves.csv rows: each network's train-test gap grows by its method's `growth` from the second point."""
    rows = []
    specs = [(s, m, growth.get(m, 0.0)) for s in SETTINGS for m in ("baseline", "oversampling")]
    if reference_growth is not None:
        specs += [(("balanced", 1.0, None), "balanced", reference_growth)]
    for (kind, rho, mu), method, grow in specs:
        for rep in range(reps):
            gap0 = rng.normal(0.02, 0.005)
            for k, step in enumerate((250, 500, 750, 1000)):
                gap = gap0 + grow * max(k - 1, 0) / 2 + rng.normal(0, NOISE)
                test = 0.9 + rng.normal(0, NOISE)
                rows.append(dict(imbalance=kind, rho=rho, mu=mu, method=method, split=0, repetition=str(rep),
                                 step=step, selected=1, train_accuracy=test + gap, test_accuracy=test))
    return rows


def _c5(rows):
    return conclusions.no_overfitting(rows).verdict


CASES = {
    # Conclusion 1
    "1 false: oversampling, undersampling and two-phase equal": (_c1, lambda rng: simulate(rng, _trained(
        {"baseline": -0.02, "oversampling": 0.0, "undersampling": 0.0, "two_phase_oversampling": 0.0})), "false"),
    "1 false: ahead in 1 of 12 settings, behind in 11": (_c1, lambda rng: simulate(rng, _trained(
        {"baseline": lambda i, s: -0.01 if i == 0 else 0.01, "oversampling": 0.0,
         "undersampling": lambda i, s: -0.01 if i == 0 else 0.01})), "false"),
    "1 false: far ahead in 6 settings, slightly behind in 6": (_c1, lambda rng: simulate(rng, _trained(
        {"baseline": lambda i, s: -0.05 if i % 2 else 0.003, "oversampling": 0.0,
         "undersampling": lambda i, s: -0.05 if i % 2 else 0.003})), "false"),
    "1 true: ahead of each by 0.01 in every setting": (_c1, lambda rng: simulate(rng, _trained(
        {"baseline": -0.01, "oversampling": 0.0, "undersampling": -0.01, "two_phase_oversampling": -0.01})),
        "true"),
    # Conclusion 2
    "2 false: undersampling 0.03 behind": (_c2, lambda rng: simulate(rng, _trained(
        {"oversampling": 0.0, "undersampling": -0.03})), "false"),
    "2 false: undersampling behind by the margin": (_c2, lambda rng: simulate(rng, _trained(
        {"oversampling": 0.0, "undersampling": -conclusions.DEFAULT_MARGIN})), "false"),
    # absence of evidence: too noisy to tell the 0.02 apart, and too noisy to show equivalence either
    "2 false: undersampling 0.02 behind in a noisy study": (_c2, lambda rng: simulate(rng, _trained(
        {"oversampling": 0.0, "undersampling": -0.02}), noise=0.02), "false"),
    "2 true: undersampling equal": (_c2, lambda rng: simulate(rng, _trained(
        {"oversampling": 0.0, "undersampling": 0.0})), "true"),
    # Conclusion 3 (the rows' accuracy carries the same numbers)
    "3 false: thresholding gains nothing": (_c3, lambda rng: simulate(rng, _trained(
        {m: 0.0 for m in ("baseline", "oversampling", "undersampling", "thresholding", "oversampling_thresholding",
                          "undersampling_thresholding")})), "false"),
    "3 true: gains with baseline and oversampling, loses with undersampling": (_c3, lambda rng: simulate(
        rng, _trained({"baseline": 0.0, "oversampling": 0.0, "undersampling": 0.0, "thresholding": 0.05,
                       "oversampling_thresholding": 0.02, "undersampling_thresholding": -0.03})), "true"),
    # Conclusion 4
    "4 false: reduced ratios equal to full sampling": (_c4, _fig7(0.0, 0.0), "false"),
    "4 false: pure noise around the baseline": (_c4, lambda rng: simulate(rng, _trained(
        {m: 0.0 for m in ("baseline", "oversampling", "undersampling", *PARTIAL)}), settings=FIG7), "false"),
    "4 true: full oversampling ahead, reduced undersampling losing ground with mu": (_c4, _fig7(0.005, 0.04),
                                                                                     "true"),
    # Conclusion 5
    "5 false: oversampling and baseline both overfit (gap +0.03)": (_c5, lambda rng: _curves(
        rng, {"oversampling": 0.03, "baseline": 0.03}), "false"),
    "5 false: oversampling overfits against the balanced reference": (_c5, lambda rng: _curves(
        rng, {"oversampling": 0.03}, reference_growth=0.0), "false"),
    "5 true: no gap growth, as the balanced reference": (_c5, lambda rng: _curves(
        rng, {"oversampling": 0.0}, reference_growth=0.0), "true"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_verdicts_are_calibrated_on_studies_with_known_truth(case):
    check, make, truth = CASES[case]
    rate = _rate(check, make)
    print(f"\n{case}: 'holds' in {rate:.0%} of {SIMULATIONS} simulated studies")
    if truth == "false":
        assert rate <= 0.10, case
    else:
        assert rate >= 0.80, case


def test_two_repetitions_give_no_verdict_but_say_why():
    rows = simulate(np.random.default_rng(1), _trained(
        {"baseline": -0.05, "oversampling": 0.0, "undersampling": -0.05, "oversampling_thresholding": 0.01,
         "thresholding": 0.01, "undersampling_thresholding": 0.0}), reps=2)
    for finding in conclusions.findings(rows):
        assert finding.verdict in (conclusions.FEW, conclusions.ABSENT), finding
    c1 = conclusions.oversampling_wins(rows)
    assert "n=12 settings of fewer than 3 repetitions each; a test needs 3: no interval or test" in c1.evidence
