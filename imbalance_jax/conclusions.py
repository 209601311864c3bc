"""The paper's five conclusions (Section 5) checked against a study's results: each split into the claims it
makes, each claim with its evidence and a verdict that needs positive evidence.

- "holds" only where the study shows the claim, "does not hold" only where it shows the opposite, "not
  significant" where it can tell neither, "not in this study" where a method or setting it needs is absent,
  and "no test (n < 3)" where fewer than statistics.MIN_N units are there to test.
- Networks of one setting share its imbalance, so pooling over settings takes the setting as the unit: each
  setting's mean paired difference (two methods' networks of the same imbalanced set, split and repetition),
  then a test across settings. A conclusion about one setting takes the repetition as the unit.
- "Most settings" is a one-sided sign test over the settings; "on a par" is equivalence within the margin
  (two one-sided tests: the 90% interval inside +-margin); each conclusion's comparisons are one family,
  Holm-corrected.

Calibrated by simulated studies with known truth (tests/test_calibration.py).
"""
import math
from collections import defaultdict
from typing import NamedTuple, Optional

import numpy as np

from imbalance_jax import methods, statistics
from imbalance_jax.results import keeps_ranking, partial_sampling, sampling_reduced, selected, setting_label

HOLDS, FAILS, UNSURE, ABSENT = "holds", "does not hold", "not significant", "not in this study"
FEW = f"no test (n < {statistics.MIN_N})"
UNTESTABLE = "cannot be tested"  # no outcome of this study's size could reach significance; Part.needs says what would
PARTLY = "holds where tested"
# The equivalence margin (AUC, accuracy and train-test gap): the paper counts differences of 1-2 AUC points
# between runs as noise. A study's config sets it (statistics.margin).
DEFAULT_MARGIN = 0.01
# A slope over settings (conclusion 4) has k - 2 degrees of freedom: below 5 settings the critical t is 4.3 (k = 4)
# or 12.7 (k = 3), so only a trend many times the setting-to-setting scatter could show.
TREND_SETTINGS = 5
# The methods the paper's claims are about, by the part their registrations give them.
BASELINE, OVERSAMPLING, UNDERSAMPLING, BALANCED = (methods.with_role(r) for r in
                                                   (methods.NO_REMEDY, methods.ROS, methods.RUS, methods.REFERENCE))


class Part(NamedTuple):
    """One claim of a conclusion, what the study shows about it, and its verdict (needs: what an untestable claim
    would need, e.g. 'with 4 settings; needs 6')."""

    claim: str
    evidence: str
    verdict: str
    needs: str = ""

    @property
    def verdict_text(self) -> str:
        """The verdict with what an untestable claim would need."""
        return f"{self.verdict} {self.needs}".strip()


class Finding(NamedTuple):
    """One conclusion of the paper, its claims and the verdict they add up to."""

    number: int
    paper: str
    parts: tuple
    verdict: str

    @property
    def evidence(self) -> str:
        """The parts' evidence in one line."""
        return "; ".join(p.evidence for p in self.parts)

    @property
    def verdict_text(self) -> str:
        """The verdict, with what it would need where it cannot be tested."""
        needs = [p.needs for p in self.parts if p.verdict == UNTESTABLE and p.needs]
        return f"{self.verdict} ({needs[0]})" if self.verdict == UNTESTABLE and needs else self.verdict


def combine(verdicts) -> str:
    """A conclusion's verdict from its claims': fails if one fails, holds if all hold; otherwise the most
    telling of the rest."""
    verdicts = list(verdicts)
    if FAILS in verdicts:
        return FAILS
    if all(v == HOLDS for v in verdicts):
        return HOLDS
    if all(v == ABSENT for v in verdicts):
        return ABSENT
    for telling in (UNSURE, FEW):
        if telling in verdicts:
            return telling
    if HOLDS not in verdicts:
        return UNTESTABLE
    return PARTLY  # holds, and not in this study or cannot be tested


def _finding(number: int, paper: str, parts: list) -> Finding:
    return Finding(number, paper, tuple(parts), combine(p.verdict for p in parts))


def _pair(row: dict) -> tuple:
    return str(row.get("split") or 0), str(row.get("repetition", 0))


def values(rows: list[dict], metric: str) -> dict:
    """{method: {setting: {(split, repetition): metric}}} of rows."""
    out = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        out[r["method"]][setting_label(r)][_pair(r)] = float(r[metric])
    return out


def differences(table: dict, a: str, b: str, settings=None) -> dict:
    """{setting: [a - b per network pair]} over the settings (all, or those given) where both have networks."""
    out = {}
    for setting, here in table.get(a, {}).items():
        there = table.get(b, {}).get(setting)
        if there and (settings is None or setting in settings):
            keys = sorted(set(here) & set(there))
            if keys:
                out[setting] = [here[k] - there[k] for k in keys]
    return out


class Pooled(NamedTuple):
    """A difference pooled over its units: per-setting means (several settings) or repetitions (one)."""

    unit: str  # "setting" or "repetition"
    units: list  # the unit values
    comparison: statistics.Paired  # mean, interval, one-sample t-test (no interval or p when few)
    ahead_p: float  # one-sided sign tests: most units above zero / below zero
    behind_p: float
    skipped: int  # settings left out for fewer than MIN_N pairs
    few: bool  # too few units, or no setting with MIN_N pairs: nothing tested


def pool(by_setting: dict, level: float = 0.95, bounds=statistics.DIFFERENCE_RANGE) -> Optional[Pooled]:
    """Pools {setting: differences}: None without any pair. Settings with fewer than MIN_N pairs are left out
    (their mean is hardly better than one network's); one setting left: the repetition is the unit."""
    if not by_setting:
        return None
    kept = {s: d for s, d in by_setting.items() if len(d) >= statistics.MIN_N}
    source = kept or by_setting
    if len(source) == 1:
        unit, units = "repetition", [float(v) for v in next(iter(source.values()))]
    else:
        unit, units = "setting", [float(np.mean(d)) for d in source.values()]
    few = not kept or len(units) < statistics.MIN_N
    if few:
        nan = math.nan
        return Pooled(unit, units, statistics.Paired(len(units), float(np.mean(units)), nan, nan, nan), nan, nan, 0,
                      True)
    return Pooled(unit, units, statistics.one_sample(units, bounds, level), statistics.sign_test(units, "greater"),
                  statistics.sign_test(units, "less"), len(by_setting) - len(kept), False)


def _p(p: float) -> str:
    return statistics.format_p(p)


def show(pooled: Pooled, adjusted: Optional[float] = None) -> str:
    """'+0.0152 [0.0020, 0.0284], p=0.012 (Holm 0.024), n=12 settings' (the t-test against zero), or what is missing
    for a test."""
    d, n = pooled.comparison, len(pooled.units)
    units = f"n={n} {pooled.unit}{'s' if n != 1 else ''}"
    if pooled.few:
        short = "" if n >= statistics.MIN_N else f"; a test needs {statistics.MIN_N}"
        if pooled.unit == "setting" and n >= statistics.MIN_N:
            short = f" of fewer than {statistics.MIN_N} repetitions each; a test needs {statistics.MIN_N}"
        return f"{d.mean_difference:+.4f} ({units}{short}: no interval or test)"
    if pooled.skipped:
        units += f"; {pooled.skipped} setting(s) of fewer than {statistics.MIN_N} repetitions left out"
    text = (f"{d.mean_difference:+.4f} {statistics.format_interval(d.ci_low, d.ci_high)}, "
            f"{statistics.p_text(d.p_value)}")
    if adjusted is not None:
        text += f" (Holm {_p(adjusted)})"
    return f"{text}, {units}"


def _imbalanced(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["imbalance"] != "balanced" and not partial_sampling(r["method"])]


def _few(pooled: Optional[Pooled]) -> bool:
    return pooled is not None and pooled.few


def _sign_evidence(pooled: Pooled, direction: str, p: float, holm: float, above: float = 0.0) -> str:
    """'ahead in 11 and behind in 1 of 12 settings (one-sided sign test for ahead p=0.003, Holm 0.009); mean
    difference +0.0152 [0.0020, 0.0284], n=12 settings' (above: the sign counted against a bound, not zero)."""
    n = len(pooled.units)
    up, down = sum(u > above for u in pooled.units), sum(u < above for u in pooled.units)
    where = "" if above == 0 else f" {above:+g}"
    d = pooled.comparison
    units = f"n={n} {pooled.unit}{'s' if n != 1 else ''}"
    if pooled.skipped:
        units += f"; {pooled.skipped} setting(s) of fewer than {statistics.MIN_N} repetitions left out"
    return (f"above{where} in {up} and below{where} in {down} of {n} {pooled.unit}s" if above else
            f"ahead in {up} and behind in {down} of {n} {pooled.unit}s") + (
        f" (one-sided sign test for {direction} {statistics.p_text(p)}, Holm {_p(holm)}); mean difference "
        f"{d.mean_difference:+.4f} {statistics.format_interval(d.ci_low, d.ci_high)}, {units}")


def _most_units(claims: list) -> list:
    """Parts for a family of 'in most units' claims, each a (claim, label, pooled, hold, fail, above, words) with the
    one-sided sign tests' p-values for the claim (hold) and for its opposite (fail), named by words: Holm over the
    family in each direction; below the units a sign test of that family needs, the claim cannot be tested."""
    tested = [c for c in claims if c[2] is not None and not _few(c[2])]
    need = statistics.sign_units_needed(len(tested)) if tested else statistics.MIN_N
    hold = statistics.holm([c[3] for c in tested])
    fail = statistics.holm([c[4] for c in tested])
    adjusted = {c[0]: (h, f) for c, h, f in zip(tested, hold, fail)}
    parts = []
    for claim, label, pooled, hold_p, fail_p, above, words in claims:
        if pooled is None:
            parts.append(Part(claim, f"{label}: no setting has both", ABSENT))
        elif claim not in adjusted:
            parts.append(Part(claim, f"{label}: {show(pooled)}", FEW))
        else:
            h, f = adjusted[claim]
            held, failed = h < statistics.ALPHA, f < statistics.ALPHA
            direction, p, holm = (words[0], hold_p, h) if held or hold_p <= fail_p else (words[1], fail_p, f)
            evidence = f"{label}: {_sign_evidence(pooled, direction, p, holm, above)}"
            n = len(pooled.units)
            if not held and not failed and n < need:
                parts.append(Part(claim, evidence, UNTESTABLE,
                                  f"with {n} {pooled.unit}s; needs {need} (a sign test, Holm over {len(tested)})"))
            else:
                parts.append(Part(claim, evidence, HOLDS if held else FAILS if failed else UNSURE))
    return parts


def oversampling_wins(rows: list[dict], margin: float = DEFAULT_MARGIN) -> Finding:
    """1: oversampling ahead of every other trained method in most settings (a one-sided sign test over
    per-setting mean differences for each, Holm over the methods)."""
    paper = "Oversampling outperforms every other method on ROC AUC in most cases."
    rows = _imbalanced(rows)
    found = {r["method"] for r in rows}
    others = [m for m in sorted(found - {OVERSAMPLING}) if not keeps_ranking(m)]
    if OVERSAMPLING not in found or not others:
        return _finding(1, paper, [Part("oversampling ahead of the others", "needs oversampling and another trained "
                                        "method", ABSENT)])
    table = values(rows, "auc")
    claims = []
    for m in others:
        pooled = pool(differences(table, OVERSAMPLING, m))
        hold, fail = (pooled.ahead_p, pooled.behind_p) if pooled is not None else (math.nan, math.nan)
        claims.append((f"oversampling ahead of {m} in most settings", m, pooled, hold, fail, 0.0, ("ahead", "behind")))
    return _finding(1, paper, _most_units(claims))


def undersampling_on_par(rows: list[dict], margin: float = DEFAULT_MARGIN) -> Finding:
    """2: at the most extreme imbalance with most classes minority, undersampling is equivalent to
    oversampling within the margin (two one-sided tests, its 90% interval), on a much smaller training set."""
    paper = ("At extreme imbalance with a large share of minority classes, undersampling is on a par with "
             "oversampling (and trains on far fewer images).")
    claim = f"undersampling equivalent to oversampling within +-{margin:g} AUC"
    step = [r for r in rows if r["imbalance"] == "step" and r["method"] in (OVERSAMPLING, UNDERSAMPLING)]
    if not step or {r["method"] for r in step} != {OVERSAMPLING, UNDERSAMPLING}:
        return _finding(2, paper, [Part(claim, "needs step imbalance with oversampling and undersampling", ABSENT)])
    rho = max(float(r["rho"]) for r in step)
    mu = max(float(r["mu"]) for r in step if float(r["rho"]) == rho)
    here = [r for r in step if float(r["rho"]) == rho and float(r["mu"]) == mu]
    table = values(here, "auc")
    diffs = differences(table, UNDERSAMPLING, OVERSAMPLING)
    if not diffs:
        return _finding(2, paper, [Part(claim, f"rho={rho:g}, mu={mu:g} has no pair of both", ABSENT)])
    (d,) = diffs.values()
    wide = statistics.one_sample(d, level=0.90)
    sizes = [np.mean([float(r["train_size"]) for r in here if r["method"] == m]) for m in (UNDERSAMPLING, OVERSAMPLING)]
    evidence = (f"rho={rho:g}, mu={mu:g}: undersampling minus oversampling {wide.mean_difference:+.4f}, 90% interval "
                f"{statistics.format_interval(wide.ci_low, wide.ci_high)} (n={wide.n} repetitions), on "
                f"{sizes[0]:,.0f} against {sizes[1]:,.0f} training images")
    if wide.n < statistics.MIN_N:
        return _finding(2, paper, [Part(claim, evidence + f"; a test needs {statistics.MIN_N} repetitions", FEW)])
    inside = statistics.equivalence_p(d, margin)
    outside = min(statistics.one_sample_beyond(d, -margin, "less"), statistics.one_sample_beyond(d, margin, "greater"))
    if inside < statistics.ALPHA:
        verdict = HOLDS
        evidence += f": inside +-{margin:g}, equivalent (two one-sided tests {statistics.p_text(inside)})"
    elif outside < statistics.ALPHA:
        verdict, evidence = FAILS, evidence + (f": outside +-{margin:g}, not on a par (one-sided test beyond the "
                                               f"margin {statistics.p_text(outside)})")
    else:
        verdict, evidence = UNSURE, evidence + (f": neither inside nor outside +-{margin:g} (two one-sided tests "
                                                f"{statistics.p_text(inside)})")
    return _finding(2, paper, [Part(claim, evidence, verdict)])


THRESHOLD_PAIRS = tuple(methods.thresholded())  # (thresholded method, its network's method)


def thresholding_accuracy(rows: list[dict], margin: float = DEFAULT_MARGIN) -> Finding:
    """3: thresholding raises accuracy with the baseline and oversampling in most settings, and does not raise
    undersampling's by more than the margin in most settings: one-sided sign tests over per-setting mean gains (the
    same test as conclusion 1's), Holm over the three."""
    paper = "For accuracy, apply thresholding: with the baseline and oversampling, not with undersampling."
    rows = _imbalanced(rows)
    table = values(rows, "accuracy")
    pairs = [(a, b) for a, b in THRESHOLD_PAIRS if a in table and b in table]
    if not pairs:
        return _finding(3, paper, [Part("thresholding raises accuracy", "needs a thresholded method and its "
                                        "network's method", ABSENT)])
    claims = []
    for a, b in pairs:
        pooled = pool(differences(table, a, b))
        if b != UNDERSAMPLING:
            claim = f"thresholding raises {b}'s accuracy in most settings"
            hold, fail, above = (pooled.ahead_p, pooled.behind_p, 0.0) if pooled else (math.nan, math.nan, 0.0)
            words = ("a gain", "a loss")
        else:
            claim = f"thresholding does not raise {b}'s accuracy by more than {margin:g} in most settings"
            hold = statistics.sign_test([u - margin for u in pooled.units], "less") if pooled else math.nan
            fail = statistics.sign_test([u - margin for u in pooled.units], "greater") if pooled else math.nan
            above, words = margin, (f"below +{margin:g}", f"above +{margin:g}")
        claims.append((claim, f"{b}'s gain", pooled, hold, fail, above, words))
    return _finding(3, paper, _most_units(claims))


def sampling_levels(rows: list[dict], margin: float = DEFAULT_MARGIN) -> Finding:
    """4: full oversampling is not worse than oversampling to a reduced ratio (non-inferior within the margin),
    and the benefit of undersampling only to a reduced ratio falls as the share of minority classes grows
    (the slope of reduced minus full undersampling against mu, per ratio, Holm)."""
    paper = ("Oversample until the imbalance is gone; the best undersampling ratio depends on the imbalance, "
             "lower with more minority classes (Fig. 7).")
    step = [r for r in rows if r["imbalance"] == "step"]
    partial = sorted({r["method"] for r in step if partial_sampling(r["method"])})
    if not partial:
        return _finding(4, paper, [Part("oversample fully; a lower undersampling ratio with more minority classes",
                                        "needs sampling to reduced ratios (configs/mnist_fig7.py)", ABSENT)])
    table = values(step, "auc")
    over = [m for m in partial if sampling_reduced(m) == OVERSAMPLING]
    under = [m for m in partial if sampling_reduced(m) == UNDERSAMPLING]
    return _finding(4, paper, [_full_oversampling(table, over, margin), _undersampling_trend(step, under)])


def _full_oversampling(table: dict, reduced: list, margin: float) -> Part:
    claim = f"full oversampling not worse than oversampling to a reduced ratio (by more than {margin:g})"
    pooled = {m: pool(differences(table, OVERSAMPLING, m)) for m in reduced}
    lower = {m: pool(differences(table, OVERSAMPLING, m), level=0.90) for m in reduced}
    present = [m for m in reduced if pooled[m] is not None]
    if not present:
        return Part(claim, "needs oversampling and oversampling to a reduced ratio in one setting", ABSENT)
    tested = [m for m in present if not _few(pooled[m])]
    # Non-inferiority: the mean over units above -margin (one-sided, on the logit scale of the 90% interval).
    hold = dict(zip(tested, statistics.holm([statistics.one_sample_beyond(pooled[m].units, -margin, "greater")
                                             for m in tested])))
    fail = dict(zip(tested, statistics.holm([statistics.one_sample_beyond(pooled[m].units, -margin, "less")
                                             for m in tested])))
    verdicts, shown = [], []
    for m in present:
        if m not in hold:
            verdicts.append(FEW)
            shown.append(f"{m} {show(pooled[m])}")
            continue
        d, bottom, n = pooled[m].comparison, lower[m].comparison.ci_low, len(pooled[m].units)
        held, failed = hold[m] < statistics.ALPHA, fail[m] < statistics.ALPHA
        verdicts.append(HOLDS if held else FAILS if failed else UNSURE)
        test = (f"non-inferiority {statistics.p_text(hold[m])} (Holm)" if held or not failed else
                f"worse by more than {margin:g} {statistics.p_text(fail[m])} (Holm)")
        shown.append(f"{m} {d.mean_difference:+.4f}, 90% lower bound {bottom:+.4f}, {test}, n={n} {pooled[m].unit}s")
    return Part(claim, "full oversampling minus " + "; ".join(shown), combine(verdicts))


def _undersampling_trend(step: list[dict], reduced: list) -> Part:
    """The slope of (reduced minus full undersampling) against mu with the setting as the unit (each setting's mean
    paired difference), per rho and ratio, Holm over them; below TREND_SETTINGS values of mu it cannot be tested."""
    claim = "undersampling to a reduced ratio loses ground to full undersampling as minority classes grow"
    if not reduced:
        return Part(claim, "needs undersampling to a reduced ratio", ABSENT)
    slopes, shown, short = {}, [], []
    for rho in sorted({float(r["rho"]) for r in step if r["method"] in reduced}):
        here = [r for r in step if float(r["rho"]) == rho]
        table = values(here, "auc")
        mu_of = {setting_label(r): float(r["mu"]) for r in here}
        for m in reduced:
            diffs = differences(table, m, UNDERSAMPLING)
            means = sorted((mu_of[s], float(np.mean(d))) for s, d in diffs.items() if len(d) >= statistics.MIN_N)
            per_mu = ", ".join(f"mu={mu:g}: {v:+.4f}" for mu, v in means)
            if not diffs:
                continue
            if len(means) < TREND_SETTINGS:
                short.append(len(means))
                shown.append(f"{m} minus undersampling at rho={rho:g} ({per_mu or 'no setting of 3+ repetitions'}): "
                             f"{len(means)} values of mu with {statistics.MIN_N}+ repetitions")
                continue
            fit = statistics.trend([mu for mu, _ in means], [v for _, v in means])
            slopes[(rho, m)] = (fit.slope, float(fit.pvalue), len(means), per_mu)
    if not slopes:
        if not short:
            return Part(claim, "; ".join(shown) or "needs undersampling and its reduced ratios in two or more settings",
                        ABSENT)
        return Part(claim, "; ".join(shown) + " (the setting is the unit: a slope over settings)", UNTESTABLE,
                    f"with {max(short)} values of mu; needs {TREND_SETTINGS} (e.g. --config.imbalance.step_mus="
                    "0.1,0.3,0.5,0.7,0.9)")
    adjusted = dict(zip(slopes, statistics.holm([p for _, p, _, _ in slopes.values()])))
    falling = [k for k, (s, _, _, _) in slopes.items() if s < 0 and adjusted[k] < statistics.ALPHA]
    rising = [k for k, (s, _, _, _) in slopes.items() if s > 0 and adjusted[k] < statistics.ALPHA]
    for (rho, m), (slope, p, n, per_mu) in slopes.items():
        shown.append(f"{m} minus undersampling at rho={rho:g} ({per_mu}): slope {slope:+.4f} per unit of mu, "
                     f"{statistics.p_text(p)} (Holm {_p(adjusted[(rho, m)])}), n={n} settings")
    verdict = HOLDS if falling and not rising else FAILS if rising and not falling else UNSURE
    return Part(claim, "; ".join(shown), verdict)


def _change_from_second(points: list) -> float:
    """The last value minus the second's, of (step, value) points (the first's where there are only two): the
    first point's training accuracy is the mean over the first iterations, still learning, which would count
    as a growing gap."""
    ordered = sorted(points)
    return ordered[-1][1] - ordered[1 if len(ordered) > 2 else 0][1]


def _gap_growth(curve_rows: list[dict], method: str) -> dict:
    """{setting: [growth of the train-test accuracy gap per network]} of one method's curves."""
    gaps = defaultdict(list)
    for r in curve_rows:
        if r["method"] == method:
            gaps[(setting_label(r),) + _pair(r)].append(
                (int(r["step"]), float(r["train_accuracy"]) - float(r["test_accuracy"])))
    out = defaultdict(list)
    for (setting, *_), points in gaps.items():
        if len(points) > 1:
            out[setting].append(_change_from_second(points))
    return out


def no_overfitting(curve_rows: Optional[list[dict]], margin: float = DEFAULT_MARGIN) -> Finding:
    """5: oversampling's train-test accuracy gap grows no more than the margin beyond the balanced reference's (a
    network trained on as many images per class, none repeated), or beyond zero without one, on average over the
    study's settings and over its iterations: non-inferiority (one-sided, the 90% interval's upper bound below the
    margin); "does not hold" where it is shown to grow more than the margin beyond it."""
    paper = "Oversampling does not make CNNs overfit (Fig. 8)."
    rows = [r for r in curve_rows or [] if selected(r)]
    over = {s: g for s, g in _gap_growth([r for r in rows if r["imbalance"] != "balanced"], OVERSAMPLING).items()}
    reference = [g for gs in _gap_growth(rows, BALANCED).values() for g in gs]
    steps = sorted({int(r["step"]) for r in rows if r["method"] == OVERSAMPLING})
    claim = f"oversampling's train-test gap grows no more than {margin:g} beyond the reference's"
    if not over:
        return _finding(5, paper, [Part(claim, "needs curves.csv with two or more points of oversampling", ABSENT)])
    growth = pool(over, bounds=(-2.0, 2.0))
    points = max(len({r["step"] for r in rows if _pair(r) == key and r["method"] == OVERSAMPLING})
                 for key in {_pair(r) for r in rows})
    span = ("from the second curve point to the last (the first point's training accuracy averages the "
            "still-learning first iterations)" if points > 2 else "from the first curve point to the last (the "
            "curves have two points; more, with a smaller curve_every, leave out the still-learning first one)")
    scope = (f"on average over these {len(growth.units)} {growth.unit}s, up to {steps[-1]:,} iterations"
             if steps else "")
    if len(reference) >= statistics.MIN_N:
        against = f"the balanced reference's ({np.mean(reference):+.4f}, n={len(reference)} networks)"
        wide = statistics.unpaired(growth.units, reference, (-4.0, 4.0), level=0.90)
        hold = statistics.welch_beyond(growth.units, reference, margin, "less", (-4.0, 4.0))
        fail = statistics.welch_beyond(growth.units, reference, margin, "greater", (-4.0, 4.0))
    else:
        against = (f"zero (the balanced reference has {len(reference)} networks with curves; comparing with it needs "
                   f"{statistics.MIN_N})" if reference else "zero (no balanced reference with curves)")
        wide = statistics.one_sample(growth.units, (-2.0, 2.0), level=0.90)
        hold = statistics.one_sample_beyond(growth.units, margin, "less", (-2.0, 2.0))
        fail = statistics.one_sample_beyond(growth.units, margin, "greater", (-2.0, 2.0))
    own = growth.comparison
    evidence = f"oversampling's gap grew {span}: {show(growth)}"
    if growth.few or math.isnan(wide.ci_high):
        return _finding(5, paper, [Part(claim, evidence + f"; compared with {against}", FEW)])
    grows = (f" (its own growth is {'significant' if statistics.significant(own) else 'not significant'} against "
             "zero)")
    evidence += (f"{grows}; minus {against}: {wide.mean_difference:+.4f}, 90% interval "
                 f"{statistics.format_interval(wide.ci_low, wide.ci_high)}")
    if hold < statistics.ALPHA:
        verdict = HOLDS
        evidence += (f", non-inferiority {statistics.p_text(hold)}: not more than {margin:g} beyond it, {scope}; what "
                     "happens over longer training or in other settings is not shown")
    elif fail < statistics.ALPHA:
        verdict = FAILS
        evidence += f", more than {margin:g} beyond it {statistics.p_text(fail)}, {scope}"
    else:
        verdict = UNSURE
        evidence += f", non-inferiority {statistics.p_text(hold)}, {scope}"
    return _finding(5, paper, [Part(claim, evidence, verdict)])


def balanced_reference(rows: list[dict]) -> str:
    """The balanced reference's test accuracy with its interval, or '' without one."""
    accuracy = [float(r["accuracy"]) for r in rows if r["method"] == BALANCED]
    if not accuracy:
        return ""
    s = statistics.describe(accuracy)
    interval = (f" {statistics.format_interval(s.ci_low, s.ci_high)} (n={s.n})" if s.n >= statistics.MIN_N
                else f" (n={s.n}; no interval below {statistics.MIN_N} networks)")
    return (f"The balanced reference (Section 4.3) reaches test accuracy {s.mean:.4f}{interval}, "
            f"a test error of {100 * (1 - s.mean):.2f}%.")


def findings(rows: list[dict], curve_rows: Optional[list[dict]] = None,
             margin: float = DEFAULT_MARGIN) -> list[Finding]:
    """The five conclusions, each checked against the rows (and curves.csv's rows for the fifth)."""
    return [oversampling_wins(rows, margin), undersampling_on_par(rows, margin), thresholding_accuracy(rows, margin),
            sampling_levels(rows, margin), no_overfitting(curve_rows, margin)]


def section(rows: list[dict], curve_rows: Optional[list[dict]] = None, margin: float = DEFAULT_MARGIN) -> list[str]:
    """Markdown lines: a short table of the five verdicts, then each conclusion's claims and evidence as a list."""
    found = findings(rows, curve_rows, margin)
    lines = ["| # | the paper concludes | verdict |", "|---|---|---|"]
    lines += [f"| {f.number} | {f.paper} | {f.verdict_text} |" for f in found]
    lines.append("")
    for f in found:
        lines.append(f"{f.number}. **{f.verdict_text}**: {f.paper}")
        lines += [f"   - {p.claim}: **{p.verdict_text}**. {p.evidence}." for p in f.parts]
    return lines
