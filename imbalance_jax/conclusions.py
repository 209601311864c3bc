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
PARTLY = "holds where tested"
# The equivalence margin (AUC, accuracy and train-test gap): the paper counts differences of 1-2 AUC points
# between runs as noise. A study's config sets it (statistics.margin).
DEFAULT_MARGIN = 0.01
# The methods the paper's claims are about, by the part their registrations give them.
BASELINE, OVERSAMPLING, UNDERSAMPLING, BALANCED = (methods.with_role(r) for r in
                                                   (methods.NO_REMEDY, methods.ROS, methods.RUS, methods.REFERENCE))


class Part(NamedTuple):
    """One claim of a conclusion, what the study shows about it, and its verdict."""

    claim: str
    evidence: str
    verdict: str


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
    if UNSURE in verdicts:
        return UNSURE
    if FEW in verdicts:
        return FEW
    return PARTLY  # holds and not in this study


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


def show(pooled: Pooled, adjusted: Optional[float] = None, sign: bool = False,
         behind_adjusted: Optional[float] = None) -> str:
    """'+0.0152 [0.0020, 0.0284], p=0.012 (Holm 0.024), n=12 settings'; with sign, the sign test's counts first
    and its p in the direction most units go (behind_adjusted: the Holm p of the test for behind)."""
    d, n = pooled.comparison, len(pooled.units)
    units = f"n={n} {pooled.unit}{'s' if n != 1 else ''}"
    if pooled.few:
        short = "" if n >= statistics.MIN_N else f"; a test needs {statistics.MIN_N}"
        if pooled.unit == "setting" and n >= statistics.MIN_N:
            short = f" of fewer than {statistics.MIN_N} repetitions each; a test needs {statistics.MIN_N}"
        return f"{d.mean_difference:+.4f} ({units}{short}: no interval or test)"
    if pooled.skipped:
        units += f"; {pooled.skipped} setting(s) of fewer than {statistics.MIN_N} repetitions left out"
    interval = f"{d.mean_difference:+.4f} {statistics.format_interval(d.ci_low, d.ci_high)}"
    if sign:
        ahead, behind = sum(u > 0 for u in pooled.units), sum(u < 0 for u in pooled.units)
        direction, p, holm = ("ahead", pooled.ahead_p, adjusted) if ahead >= behind else \
            ("behind", pooled.behind_p, behind_adjusted)
        return (f"ahead in {ahead} and behind in {behind} of {n} {pooled.unit}s (one-sided sign test for {direction} "
                f"p={_p(p)}" + (f", Holm {_p(holm)}" if holm is not None else "") +
                f"); mean difference {interval}, {units}")
    text = f"{interval}, p={_p(d.p_value)}"
    if adjusted is not None:
        text += f" (Holm {_p(adjusted)})"
    return f"{text}, {units}"


def _imbalanced(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["imbalance"] != "balanced" and not partial_sampling(r["method"])]


def _few(pooled: Optional[Pooled]) -> bool:
    return pooled is not None and pooled.few


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
    pooled = {m: pool(differences(table, OVERSAMPLING, m)) for m in others}
    tested = [m for m in others if pooled[m] is not None and not _few(pooled[m])]
    ahead = dict(zip(tested, statistics.holm([pooled[m].ahead_p for m in tested])))
    behind = dict(zip(tested, statistics.holm([pooled[m].behind_p for m in tested])))
    parts = []
    for m in others:
        claim = f"oversampling ahead of {m} in most settings"
        if pooled[m] is None:
            parts.append(Part(claim, f"{m}: no setting has both", ABSENT))
        elif m not in ahead:
            parts.append(Part(claim, f"{m}: {show(pooled[m])}", FEW))
        else:
            verdict = HOLDS if ahead[m] < statistics.ALPHA else FAILS if behind[m] < statistics.ALPHA else UNSURE
            shown = show(pooled[m], ahead[m], sign=True, behind_adjusted=behind[m])
            parts.append(Part(claim, f"{m}: {shown}", verdict))
    return _finding(1, paper, parts)


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
    if statistics.within(wide, margin):
        verdict, evidence = HOLDS, evidence + f": inside +-{margin:g}, equivalent"
    elif wide.ci_high < -margin or wide.ci_low > margin:
        verdict, evidence = FAILS, evidence + f": outside +-{margin:g}, not on a par"
    else:
        verdict, evidence = UNSURE, evidence + f": neither inside nor outside +-{margin:g}"
    return _finding(2, paper, [Part(claim, evidence, verdict)])


THRESHOLD_PAIRS = tuple(methods.thresholded())  # (thresholded method, its network's method)


def thresholding_accuracy(rows: list[dict], margin: float = DEFAULT_MARGIN) -> Finding:
    """3: thresholding raises accuracy with the baseline and oversampling (significantly), not with
    undersampling (significantly lower, or no gain above the margin); Holm over the three."""
    paper = "For accuracy, apply thresholding: with the baseline and oversampling, not with undersampling."
    rows = _imbalanced(rows)
    table = values(rows, "accuracy")
    pairs = [(a, b) for a, b in THRESHOLD_PAIRS if a in table and b in table]
    if not pairs:
        return _finding(3, paper, [Part("thresholding raises accuracy", "needs a thresholded method and its "
                                        "network's method", ABSENT)])
    pooled = {a: pool(differences(table, a, b)) for a, b in pairs}
    upper = {a: pool(differences(table, a, b), level=0.90) for a, b in pairs}
    tested = [a for a, _ in pairs if pooled[a] is not None and not _few(pooled[a])]
    adjusted = dict(zip(tested, statistics.holm([pooled[a].comparison.p_value for a in tested])))
    parts = []
    for a, b in pairs:
        raise_ = b != UNDERSAMPLING
        claim = f"thresholding {'raises' if raise_ else 'does not raise'} {b}'s accuracy"
        if pooled[a] is None:
            parts.append(Part(claim, f"{b}: no pairs", ABSENT))
            continue
        if a not in adjusted:
            parts.append(Part(claim, f"{b}: {show(pooled[a])}", FEW))
            continue
        d, sig = pooled[a].comparison, adjusted[a] < statistics.ALPHA
        evidence = f"{b} {show(pooled[a], adjusted[a])}"
        if raise_:
            verdict = HOLDS if sig and d.mean_difference > 0 else FAILS if sig else UNSURE
        else:
            top = upper[a].comparison.ci_high
            evidence += f", 90% upper bound {top:+.4f}"
            verdict = (HOLDS if (sig and d.mean_difference < 0) or top < margin else
                       FAILS if sig else UNSURE)
        parts.append(Part(claim, evidence, verdict))
    return _finding(3, paper, parts)


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
    adjusted = dict(zip(tested, statistics.holm([pooled[m].comparison.p_value for m in tested])))
    verdicts, shown = [], []
    for m in present:
        if m not in adjusted:
            verdicts.append(FEW)
            shown.append(f"{m} {show(pooled[m])}")
            continue
        d, bottom = pooled[m].comparison, lower[m].comparison.ci_low
        sig = adjusted[m] < statistics.ALPHA
        verdicts.append(HOLDS if bottom > -margin else FAILS if sig and d.mean_difference < 0 else UNSURE)
        shown.append(f"{m} {show(pooled[m], adjusted[m])}, 90% lower bound {bottom:+.4f}")
    return Part(claim, "full oversampling minus " + "; ".join(shown), combine(verdicts))


def _undersampling_trend(step: list[dict], reduced: list) -> Part:
    claim = "undersampling to a reduced ratio loses ground to full undersampling as minority classes grow"
    if not reduced:
        return Part(claim, "needs undersampling to a reduced ratio", ABSENT)
    slopes, shown = {}, []
    for rho in sorted({float(r["rho"]) for r in step if r["method"] in reduced}):
        here = [r for r in step if float(r["rho"]) == rho]
        table = values(here, "auc")
        mu_of = {setting_label(r): float(r["mu"]) for r in here}
        for m in reduced:
            diffs = differences(table, m, UNDERSAMPLING)
            mus = sorted({mu_of[s] for s, d in diffs.items() if len(d) >= statistics.MIN_N})
            if len(mus) < 2:
                if diffs:
                    shown.append(f"{m} at rho={rho:g}: {len(mus)} value(s) of mu with {statistics.MIN_N}+ pairs, "
                                 "no trend to test")
                continue
            x = [mu_of[s] for s, d in diffs.items() for _ in d if mu_of[s] in mus]
            y = [v for s, d in diffs.items() for v in d if mu_of[s] in mus]
            fit = statistics.trend(x, y)
            per_mu = ", ".join(f"mu={mu_of[s]:g}: {np.mean(d):+.4f}" for s, d in sorted(diffs.items(),
                                                                                          key=lambda sd: mu_of[sd[0]]))
            slopes[(rho, m)] = (fit.slope, float(fit.pvalue), len(y), per_mu)
    if not slopes:
        return Part(claim, "; ".join(shown) or "needs undersampling and its reduced ratios in two or more settings",
                    FEW if shown else ABSENT)
    adjusted = dict(zip(slopes, statistics.holm([p for _, p, _, _ in slopes.values()])))
    falling = [k for k, (s, _, _, _) in slopes.items() if s < 0 and adjusted[k] < statistics.ALPHA]
    rising = [k for k, (s, _, _, _) in slopes.items() if s > 0 and adjusted[k] < statistics.ALPHA]
    for (rho, m), (slope, p, n, per_mu) in slopes.items():
        shown.append(f"{m} minus undersampling at rho={rho:g} ({per_mu}): slope {slope:+.4f} per unit of mu, "
                     f"p={_p(p)} (Holm {_p(adjusted[(rho, m)])}), n={n} network pairs")
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
    """5: oversampling's train-test accuracy gap grows no more than the balanced reference's (a network
    trained on as many images per class, none repeated), or than zero without one: its 90% upper bound
    below the margin (non-inferiority), "does not hold" where it grows significantly more."""
    paper = "Oversampling does not make CNNs overfit (Fig. 8)."
    rows = [r for r in curve_rows or [] if selected(r)]
    over = {s: g for s, g in _gap_growth([r for r in rows if r["imbalance"] != "balanced"], OVERSAMPLING).items()}
    reference = [g for gs in _gap_growth(rows, BALANCED).values() for g in gs]
    claim = f"oversampling's train-test gap grows no more than {margin:g} beyond the reference's"
    if not over:
        return _finding(5, paper, [Part(claim, "needs curves.csv with two or more points of oversampling", ABSENT)])
    growth = pool(over, bounds=(-2.0, 2.0))
    points = max(len({r["step"] for r in rows if _pair(r) == key and r["method"] == OVERSAMPLING})
                 for key in {_pair(r) for r in rows})
    span = ("from the second curve point to the last (the first point's training accuracy averages the "
            "still-learning first iterations)" if points > 2 else "from the first curve point to the last (the "
            "curves have two points; more, with a smaller curve_every, leave out the still-learning first one)")
    if len(reference) >= statistics.MIN_N:
        against = f"the balanced reference's ({np.mean(reference):+.4f}, n={len(reference)} networks)"
        wide = statistics.unpaired(growth.units, reference, (-4.0, 4.0), level=0.90)
        narrow = statistics.unpaired(growth.units, reference, (-4.0, 4.0))
    else:
        against = (f"zero (the balanced reference has {len(reference)} networks with curves; comparing with it needs "
                   f"{statistics.MIN_N})" if reference else "zero (no balanced reference with curves)")
        wide = statistics.one_sample(growth.units, (-2.0, 2.0), level=0.90)
        narrow = growth.comparison
    evidence = f"oversampling's gap grew {span}: {show(growth)}"
    if growth.few or math.isnan(wide.ci_high):
        return _finding(5, paper, [Part(claim, evidence + f"; compared with {against}", FEW)])
    evidence += (f"; against {against}: {wide.mean_difference:+.4f}, 90% interval "
                 f"{statistics.format_interval(wide.ci_low, wide.ci_high)}, p={_p(narrow.p_value)}")
    if wide.ci_high < margin:
        verdict = HOLDS
    elif statistics.significant(narrow) and narrow.mean_difference > 0:
        verdict = FAILS
    else:
        verdict = UNSURE
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
    lines += [f"| {f.number} | {f.paper} | {f.verdict} |" for f in found]
    lines.append("")
    for f in found:
        lines.append(f"{f.number}. **{f.verdict}**: {f.paper}")
        lines += [f"   - {p.claim}: **{p.verdict}**. {p.evidence}." for p in f.parts]
    return lines
