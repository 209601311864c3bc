"""What repetitions can and cannot show: sample spread, t confidence intervals and paired tests.

Networks of one repetition share their imbalanced set and their initial weights, so two methods'
results are paired by repetition; the paired t-test (scipy.stats.ttest_rel) compares them. It is
chosen over the Wilcoxon signed-rank test because the study's repetition counts are small: with
five or fewer pairs no Wilcoxon p-value can fall below 0.05, whatever the data.
"""
import math
from typing import NamedTuple

import numpy as np

ALPHA = 0.05
TEST_NAME = "paired t-test (scipy.stats.ttest_rel), two-sided"


class Summary(NamedTuple):
    """A sample's size, mean, sample standard deviation (ddof=1) and 95% t confidence interval."""

    n: int
    mean: float
    sd: float  # nan for a single value
    ci_low: float
    ci_high: float


class Paired(NamedTuple):
    """A paired comparison a - b over the repetitions both have."""

    n: int
    mean_difference: float
    ci_low: float
    ci_high: float
    p_value: float  # nan when fewer than two pairs, or when every difference is the same


def _t_interval(values: np.ndarray) -> tuple[float, float, float]:
    n = len(values)
    mean = float(values.mean())
    if n < 2:
        return math.nan, math.nan, math.nan
    sd = float(values.std(ddof=1))
    half = float(_stats().t.ppf(1 - ALPHA / 2, n - 1)) * sd / math.sqrt(n)
    return sd, mean - half, mean + half


def describe(values) -> Summary:
    """The Summary of a sample (a list or array of numbers)."""
    values = np.asarray(values, np.float64)
    if values.size == 0:
        raise ValueError("describe() needs at least one value")
    sd, low, high = _t_interval(values)
    return Summary(len(values), float(values.mean()), sd, low, high)


def paired(a: dict, b: dict) -> Paired:
    """Compares two {pair key: value} samples (e.g. keyed by repetition) over their common keys."""
    keys = sorted(set(a) & set(b))
    diff = np.asarray([a[k] - b[k] for k in keys], np.float64)
    if len(diff) == 0:
        return Paired(0, math.nan, math.nan, math.nan, math.nan)
    _, low, high = _t_interval(diff)
    p = math.nan  # no test without spread: one pair, or differences all equal (e.g. all zero)
    if len(diff) >= 2 and np.ptp(diff) > 0:
        p = float(_stats().ttest_rel([a[k] for k in keys], [b[k] for k in keys]).pvalue)
    return Paired(len(diff), float(diff.mean()), low, high, p)


def significant(comparison: Paired) -> bool:
    """Whether a paired difference is significant at ALPHA (never, with fewer than two pairs)."""
    return not math.isnan(comparison.p_value) and comparison.p_value < ALPHA


def format_p(p: float) -> str:
    """A p-value for a table: '<0.001', '0.034', or 'n/a' where no test was possible."""
    if math.isnan(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def format_interval(low: float, high: float, digits: int = 4) -> str:
    """'[low, high]', or 'n/a' for a single value."""
    if math.isnan(low):
        return "n/a"
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def unpaired(a, b) -> Paired:
    """mean(a) - mean(b) of two independent samples, with Welch's t interval and test (two studies
    whose networks do not correspond one to one)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    diff = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2 or (np.ptp(a) == 0 and np.ptp(b) == 0):
        return Paired(min(len(a), len(b)), diff, math.nan, math.nan, math.nan)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    dof = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = float(_stats().t.ppf(1 - ALPHA / 2, dof)) * math.sqrt(va + vb)
    p = float(_stats().ttest_ind(a, b, equal_var=False).pvalue)
    return Paired(min(len(a), len(b)), diff, diff - half, diff + half, p)


def _stats():
    """scipy.stats, imported when a statistic is asked for: it takes ~2 s, which every entry point
    (and every subprocess of the tests) would otherwise pay at start-up."""
    from scipy import stats

    return stats
