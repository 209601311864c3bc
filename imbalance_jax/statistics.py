"""What repetitions can and cannot show: intervals inside the metric's range, paired and pooled tests,
equivalence within a margin, multiplicity corrections and the power a study has.

Rules every table and verdict of the report follows:
- Below MIN_N units (repetitions, or settings where the setting is the unit) there is no interval and no
  test: with two values a t interval's half-width is 12.7 standard errors.
- Intervals are t intervals on the logit scale of the metric's range (the delta method, then mapped back),
  so an AUC or accuracy interval stays inside [0, 1] and a difference's inside [-1, 1].
- Tests against zero are scipy's: the paired t-test (ttest_rel), the one-sample t-test on per-setting
  means, Welch's test for independent samples and the sign test (binomtest). Margin tests (equivalence,
  non-inferiority) read the same logit-scale intervals: a 90% interval inside +-margin is the two
  one-sided tests at 0.05.
- A family of tests (a table, a conclusion's comparisons) is corrected by Holm (family-wise error) or
  Benjamini-Hochberg (false discovery rate); the report names which.

The paired t-test is chosen over the Wilcoxon signed-rank test because the study's repetition counts are
small: with five or fewer pairs no two-sided Wilcoxon p-value can fall below 0.05, whatever the data.
"""
import math
from typing import NamedTuple, Optional, Sequence

import numpy as np

ALPHA = 0.05
MIN_N = 3  # units a test or an interval needs
POWER = 0.8
TEST_NAME = "paired t-test (scipy.stats.ttest_rel), two-sided"
UNIT_RANGE = (0.0, 1.0)  # AUC, accuracy, recall
DIFFERENCE_RANGE = (-1.0, 1.0)  # a difference of two of them


class Summary(NamedTuple):
    """A sample's size, mean, sample standard deviation (ddof=1) and 95% interval (nan below MIN_N)."""

    n: int
    mean: float
    sd: float  # nan for a single value
    ci_low: float
    ci_high: float


class Paired(NamedTuple):
    """A difference a - b: its n, mean, 95% interval, two-sided p-value and the sd it was measured with."""

    n: int
    mean_difference: float
    ci_low: float
    ci_high: float
    p_value: float  # nan below MIN_N, or when every difference is the same
    sd: float = math.nan


def _stats():
    """scipy.stats, imported when a statistic is asked for: it takes ~2 s, which every entry point
    (and every subprocess of the tests) would otherwise pay at start-up."""
    from scipy import stats

    return stats


def bounded_interval(mean: float, se: float, df: float, bounds=UNIT_RANGE, level: float = 0.95) -> tuple:
    """A t interval for a mean inside bounds: logit of the mean's position in the range, +- t x the delta
    method's standard error, mapped back. A mean on a bound has no spread (every value is on it)."""
    low, high = bounds
    if not (math.isfinite(se) and df > 0):
        return math.nan, math.nan
    if se == 0 or mean <= low or mean >= high:
        return mean, mean
    p = (mean - low) / (high - low)
    centre = math.log(p / (1 - p))
    half = float(_stats().t.ppf(0.5 + level / 2, df)) * se / ((high - low) * p * (1 - p))
    expit = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    return low + (high - low) * expit(centre - half), low + (high - low) * expit(centre + half)


def describe(values, bounds=UNIT_RANGE, level: float = 0.95) -> Summary:
    """The Summary of a sample (a list or array of numbers); its interval stays inside bounds."""
    values = np.asarray(values, np.float64)
    if values.size == 0:
        raise ValueError("describe() needs at least one value")
    n, mean = len(values), float(values.mean())
    sd = float(values.std(ddof=1)) if n > 1 else math.nan
    low = high = math.nan
    if n >= MIN_N:
        low, high = bounded_interval(mean, sd / math.sqrt(n), n - 1, bounds, level)
    return Summary(n, mean, sd, low, high)


def one_sample(differences, bounds=DIFFERENCE_RANGE, level: float = 0.95) -> Paired:
    """The mean of differences against zero: bounded interval, one-sample t-test (nan below MIN_N)."""
    d = np.asarray(differences, np.float64)
    if d.size == 0:
        return Paired(0, math.nan, math.nan, math.nan, math.nan)
    s = describe(d, bounds, level)
    p = math.nan  # no test without spread either: differences all equal (e.g. all zero)
    if s.n >= MIN_N and np.ptp(d) > 0:
        p = float(_stats().ttest_1samp(d, 0.0).pvalue)
    return Paired(s.n, s.mean, s.ci_low, s.ci_high, p, s.sd)


def paired(a: dict, b: dict, bounds=DIFFERENCE_RANGE, level: float = 0.95) -> Paired:
    """Compares two {pair key: value} samples (e.g. keyed by repetition) over their common keys (the
    one-sample t-test of the differences is scipy's ttest_rel)."""
    keys = sorted(set(a) & set(b))
    return one_sample([a[k] - b[k] for k in keys], bounds, level)


def unpaired(a, b, bounds=DIFFERENCE_RANGE, level: float = 0.95) -> Paired:
    """mean(a) - mean(b) of two independent samples, with Welch's interval (inside bounds) and test
    (two studies whose networks do not correspond one to one). n is the smaller sample's size."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    diff = float(a.mean() - b.mean()) if len(a) and len(b) else math.nan
    n = min(len(a), len(b))
    if n < MIN_N or (np.ptp(a) == 0 and np.ptp(b) == 0):
        return Paired(n, diff, math.nan, math.nan, math.nan)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    dof = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    low, high = bounded_interval(diff, math.sqrt(va + vb), dof, bounds, level)
    p = float(_stats().ttest_ind(a, b, equal_var=False).pvalue)
    return Paired(n, diff, low, high, p, math.sqrt(va + vb) * math.sqrt(n))


def trend(x, y):
    """The least-squares line of y on x with its two-sided test of a zero slope (scipy.stats.linregress)."""
    return _stats().linregress(np.asarray(x, np.float64), np.asarray(y, np.float64))


def _position(value: float, bounds) -> float:
    low, high = bounds
    return (value - low) / (high - low)


def beyond_p(mean: float, se: float, df: float, bound: float, alternative: str, bounds=DIFFERENCE_RANGE) -> float:
    """One-sided p that the true mean lies above (alternative='greater') or below ('less') `bound`, a t-test on the
    logit scale of bounds: p < ALPHA exactly when the (1 - 2 x ALPHA) bounded_interval lies wholly beyond bound, so
    the p printed beside a margin verdict is the test that decided it. nan without spread or degrees of freedom."""
    if not (math.isfinite(se) and math.isfinite(mean) and df > 0):
        return math.nan
    if not bounds[0] < bound < bounds[1]:
        raise ValueError(f"bound {bound} must lie inside {bounds}")
    p, q = _position(mean, bounds), _position(bound, bounds)
    if se == 0 or p <= 0 or p >= 1:  # every value the same, or on a range's edge: the side decides
        above = mean > bound
        return 0.0 if above == (alternative == "greater") and mean != bound else 1.0
    logit = lambda v: math.log(v / (1 - v))  # noqa: E731
    t = (logit(p) - logit(q)) / (se / ((bounds[1] - bounds[0]) * p * (1 - p)))
    t = t if alternative == "greater" else -t
    return float(_stats().t.sf(t, df))


def one_sample_beyond(values, bound: float, alternative: str, bounds=DIFFERENCE_RANGE) -> float:
    """beyond_p for the mean of a sample (nan below MIN_N)."""
    v = np.asarray(values, np.float64)
    if len(v) < MIN_N:
        return math.nan
    return beyond_p(float(v.mean()), float(v.std(ddof=1)) / math.sqrt(len(v)), len(v) - 1, bound, alternative, bounds)


def welch_beyond(a, b, bound: float, alternative: str, bounds=DIFFERENCE_RANGE) -> float:
    """beyond_p for mean(a) - mean(b) of two independent samples, with Welch's standard error and degrees of freedom
    (nan where either has fewer than MIN_N values)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if min(len(a), len(b)) < MIN_N:
        return math.nan
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    if va + vb == 0:
        return beyond_p(float(a.mean() - b.mean()), 0.0, 1, bound, alternative, bounds)
    dof = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return beyond_p(float(a.mean() - b.mean()), math.sqrt(va + vb), dof, bound, alternative, bounds)


def equivalence_p(values, margin: float, bounds=DIFFERENCE_RANGE) -> float:
    """Two one-sided tests: the larger of the p-values that the mean lies above -margin and below +margin; p < ALPHA
    exactly when the 90% bounded interval lies inside +-margin."""
    return max(one_sample_beyond(values, -margin, "greater", bounds), one_sample_beyond(values, margin, "less", bounds))


def sign_units_needed(family: int, alpha: float = ALPHA) -> int:
    """The fewest units at which a one-sided sign test, Holm-corrected over `family` tests, can reach alpha at all
    (every unit in one direction): below it a 'most units' claim cannot be tested, whatever the data."""
    n = MIN_N
    while family * 0.5 ** n >= alpha:
        n += 1
    return n


def sign_test(differences, alternative: str = "greater") -> float:
    """One-sided sign test: p of at least this many positive (alternative='greater') or negative ('less')
    differences among the non-zero ones if each sign were a coin flip; nan below MIN_N non-zero."""
    d = np.asarray(differences, np.float64)
    d = d[d != 0]
    if len(d) < MIN_N:
        return math.nan
    hits = int((d > 0).sum()) if alternative == "greater" else int((d < 0).sum())
    return float(_stats().binomtest(hits, len(d), 0.5, alternative="greater").pvalue)


def holm(p_values: Sequence[float]) -> list:
    """Holm's step-down adjusted p-values (family-wise error); nan entries stay nan and do not count."""
    p = [float(v) for v in p_values]
    order = sorted((i for i, v in enumerate(p) if not math.isnan(v)), key=lambda i: p[i])
    m, out, running = len(order), [math.nan] * len(p), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def benjamini_hochberg(p_values: Sequence[float]) -> list:
    """Benjamini-Hochberg adjusted p-values (false discovery rate, scipy.stats.false_discovery_control); nan entries
    stay nan and do not count."""
    p = [float(v) for v in p_values]
    tested = [i for i, v in enumerate(p) if not math.isnan(v)]
    out = [math.nan] * len(p)
    if tested:
        adjusted = _stats().false_discovery_control([p[i] for i in tested], method="bh")
        for i, v in zip(tested, np.atleast_1d(adjusted)):
            out[i] = float(v)
    return out


def significant(comparison: Paired, p_value: Optional[float] = None) -> bool:
    """Whether a difference is significant at ALPHA (p_value: an adjusted one in place of the raw)."""
    p = comparison.p_value if p_value is None else p_value
    return not math.isnan(p) and p < ALPHA


def within(comparison: Paired, margin: float) -> bool:
    """Equivalence by two one-sided tests at ALPHA: the comparison's 90% interval inside +-margin (the
    comparison must be computed with level=0.90)."""
    return not math.isnan(comparison.ci_low) and -margin < comparison.ci_low and comparison.ci_high < margin


def detectable_difference(sd: float, n: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest mean difference a two-sided one-sample (paired) t-test at alpha detects with the given
    power, for n units whose differences have standard deviation sd (the noncentral t)."""
    if n < MIN_N or not math.isfinite(sd) or sd <= 0:
        return math.nan
    stats = _stats()
    df, crit = n - 1, float(stats.t.ppf(1 - alpha / 2, n - 1))

    def shortfall(delta):
        nc = delta * math.sqrt(n) / sd
        reached = float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))
        return (1.0 if math.isnan(reached) else reached) - power  # scipy's nct gives nan far in the tail: power 1

    high = sd
    while shortfall(high) < 0:
        high *= 2
    from scipy.optimize import brentq

    return float(brentq(shortfall, 0.0, high, xtol=sd * 1e-6))


def units_needed(sd: float, difference: float, alpha: float = ALPHA, power: float = POWER,
                 most: int = 10_000) -> int:
    """The fewest units (repetitions) at which a paired t-test detects `difference` with the power."""
    if not (math.isfinite(sd) and sd > 0 and difference > 0):
        return MIN_N
    n = MIN_N
    while n < most and detectable_difference(sd, n, alpha, power) > difference:
        n = n + 1 if n < 64 else int(n * 1.1)
    return n


def format_p(p: float) -> str:
    """A p-value for a table: '<0.001', '0.034', or 'n/a' where no test was possible."""
    if math.isnan(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def p_text(p: float) -> str:
    """'p=0.034', 'p<0.001', or 'p=n/a' where no test was possible."""
    shown = format_p(p)
    return f"p{shown}" if shown.startswith("<") else f"p={shown}"


def format_interval(low: float, high: float, digits: int = 4) -> str:
    """'[low, high]', or 'n/a' where no interval is given (fewer than MIN_N units)."""
    if math.isnan(low):
        return "n/a"
    return f"[{low:.{digits}f}, {high:.{digits}f}]"
