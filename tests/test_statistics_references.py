"""Each interval, test and correction of imbalance_jax.statistics against a recomputation that shares none of
its code: scipy's tests and distributions, the delta method written out, the corrections from their textbook
definitions, the power by simulation. Hundreds of random samples, with ties, zeros and n at the MIN_N edge."""
import math

import numpy as np
import pytest
import scipy.special
import scipy.stats

from imbalance_jax import statistics

DRAWS = 300


def _logit_interval(mean, se, df, low=0.0, high=1.0, level=0.95):
    """The t interval of the logit of the mean's position in [low, high], by the delta method, mapped back."""
    if se == 0 or mean <= low or mean >= high:
        return mean, mean
    p = (mean - low) / (high - low)
    half = scipy.stats.t.ppf(0.5 + level / 2, df) * se / (p * (1 - p) * (high - low))
    return tuple(low + (high - low) * scipy.special.expit(scipy.special.logit(p) + s * half) for s in (-1, 1))


def _sample(rng, n, bounds=(0.0, 1.0)):
    """A sample inside bounds: ties (values rounded to a coarse grid), values on the bounds, or spread."""
    low, high = bounds
    kind = rng.integers(4)
    centre = rng.uniform(low + 0.05 * (high - low), high - 0.05 * (high - low))
    values = np.clip(centre + rng.normal(0, 0.05 * (high - low), n), low, high)
    if kind == 1:
        values = np.round(values, 1)  # ties
    elif kind == 2:
        values[rng.integers(n)] = high if rng.integers(2) else low  # a value on a bound
    elif kind == 3 and low < 0:
        values = np.round(values, 1) * rng.integers(0, 2, n)  # zero differences
    return values


def _nan_pair(pair):
    return all(math.isnan(v) for v in pair)


def test_describe_is_the_delta_method_t_interval_on_hundreds_of_samples():
    rng = np.random.default_rng(1)
    for _ in range(DRAWS):
        n = int(rng.choice([1, 2, 3, 3, 4, 7, 20]))
        values = _sample(rng, n)
        s = statistics.describe(values)
        assert s.n == n and s.mean == pytest.approx(np.mean(values), abs=1e-15)
        if n == 1:
            assert math.isnan(s.sd)
        else:
            assert s.sd == pytest.approx(np.sqrt(np.sum((values - values.mean()) ** 2) / (n - 1)), rel=1e-12, abs=1e-15)
        if n < statistics.MIN_N:  # no interval below three values
            assert _nan_pair(s[3:])
            continue
        expected = _logit_interval(values.mean(), s.sd / math.sqrt(n), n - 1)
        assert s[3:] == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert 0.0 <= s.ci_low <= s.mean <= s.ci_high <= 1.0


def test_one_sample_and_paired_are_scipys_t_tests_on_hundreds_of_samples():
    rng = np.random.default_rng(2)
    for _ in range(DRAWS):
        n = int(rng.choice([2, 3, 3, 4, 6, 15]))
        a = _sample(rng, n)
        b = np.clip(a - rng.normal(0.02, 0.03, n), 0, 1)
        if rng.integers(4) == 0:
            b[: n // 2] = a[: n // 2]  # zero differences among the rest
        d = a - b
        pairs = statistics.paired(dict(enumerate(a)), dict(enumerate(b)))
        alone = statistics.one_sample(d)
        for got in (pairs, alone):
            assert got.n == n and got.mean_difference == pytest.approx(d.mean(), abs=1e-15)
            if n < statistics.MIN_N or np.ptp(d) == 0:
                assert math.isnan(got.p_value)
            else:
                assert got.p_value == pytest.approx(scipy.stats.ttest_rel(a, b).pvalue, rel=1e-9)
                assert got.p_value == pytest.approx(scipy.stats.ttest_1samp(d, 0).pvalue, rel=1e-9)
            if n < statistics.MIN_N:
                assert _nan_pair((got.ci_low, got.ci_high))
            else:
                se = np.std(d, ddof=1) / math.sqrt(n)
                assert (got.ci_low, got.ci_high) == pytest.approx(_logit_interval(d.mean(), se, n - 1, -1.0, 1.0),
                                                                  rel=1e-9, abs=1e-12)
                assert -1 <= got.ci_low <= got.mean_difference <= got.ci_high <= 1


def test_paired_reads_only_the_common_keys():
    a, b = {0: 0.9, 1: 0.7, 2: 0.8, 5: 0.1}, {0: 0.8, 1: 0.75, 2: 0.6, 6: 0.9}
    got = statistics.paired(a, b)
    assert got.n == 3 and got.p_value == pytest.approx(scipy.stats.ttest_rel([0.9, 0.7, 0.8], [0.8, 0.75, 0.6]).pvalue)


@pytest.mark.filterwarnings("ignore:Precision loss occurred")  # scipy's, on samples of near-equal values
def test_unpaired_is_welchs_test_and_interval_on_hundreds_of_samples():
    rng = np.random.default_rng(3)
    for _ in range(DRAWS):
        na, nb = (int(v) for v in rng.choice([2, 3, 4, 9], 2))
        a, b = _sample(rng, na), _sample(rng, nb)
        got = statistics.unpaired(a, b)
        assert got.n == min(na, nb) and got.mean_difference == pytest.approx(a.mean() - b.mean(), abs=1e-15)
        if min(na, nb) < statistics.MIN_N or (np.ptp(a) == 0 and np.ptp(b) == 0):
            assert math.isnan(got.p_value) and _nan_pair((got.ci_low, got.ci_high))
            continue
        reference = scipy.stats.ttest_ind(a, b, equal_var=False)
        assert got.p_value == pytest.approx(reference.pvalue, rel=1e-9)
        se = math.sqrt(a.var(ddof=1) / na + b.var(ddof=1) / nb)
        expected = _logit_interval(a.mean() - b.mean(), se, reference.df, -1.0, 1.0)  # scipy's Welch df
        assert (got.ci_low, got.ci_high) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_sign_test_drops_zero_differences_and_is_scipys_binomial_test():
    rng = np.random.default_rng(4)
    for _ in range(DRAWS):
        d = rng.choice([-0.02, 0.0, 0.0, 0.01, 0.03], size=int(rng.integers(1, 12)))
        nonzero = d[d != 0]
        for alternative, hits in (("greater", (nonzero > 0).sum()), ("less", (nonzero < 0).sum())):
            got = statistics.sign_test(d, alternative)
            if len(nonzero) < statistics.MIN_N:
                assert math.isnan(got)
            else:  # P(at least `hits` of len(nonzero) fair coin flips)
                k = np.arange(hits, len(nonzero) + 1)
                expected = float(np.sum(scipy.special.comb(len(nonzero), k) * 0.5 ** len(nonzero)))
                assert got == pytest.approx(expected, rel=1e-9)
                assert got == pytest.approx(scipy.stats.binomtest(int(hits), len(nonzero), 0.5, "greater").pvalue)
    assert statistics.sign_test([0.1, 0.2, 0.0, 0.0, 0.0]) != statistics.sign_test([0.1, 0.2, -1e-9, -1e-9, -1e-9])
    assert statistics.sign_test([0.1, 0.2, 0.3, 0.0, 0.0]) == pytest.approx(0.125)  # 3 of 3 non-zero positive
    assert math.isnan(statistics.sign_test([0.1, 0.2, 0.0, 0.0]))  # two non-zero: no test


def _holm_by_definition(p):
    """Holm: the i-th smallest p times (m - i + 1), made monotone by the running maximum, capped at 1."""
    order = np.argsort(p, kind="stable")
    m = len(p)
    steps = np.minimum(1.0, (m - np.arange(m)) * np.asarray(p)[order])
    out = np.empty(m)
    out[order] = np.maximum.accumulate(steps)
    return out


def _bh_by_definition(p):
    """Benjamini-Hochberg: the i-th smallest p times m / i, made monotone from the largest down, capped at 1."""
    order = np.argsort(p, kind="stable")
    m = len(p)
    steps = np.asarray(p)[order] * m / np.arange(1, m + 1)
    out = np.empty(m)
    out[order] = np.minimum(1.0, np.minimum.accumulate(steps[::-1])[::-1])
    return out


def test_holm_and_benjamini_hochberg_are_their_definitions_on_hundreds_of_families():
    rng = np.random.default_rng(5)
    for _ in range(DRAWS):
        m = int(rng.integers(1, 12))
        p = np.where(rng.random(m) < 0.5, rng.random(m) * 0.05, rng.random(m))
        if rng.integers(3) == 0:
            p = np.round(p, 2)  # ties
        with_nan = list(p) + [math.nan]  # a comparison without a test stays without one and does not count
        holm, bh = statistics.holm(with_nan), statistics.benjamini_hochberg(with_nan)
        assert math.isnan(holm[-1]) and math.isnan(bh[-1])
        np.testing.assert_allclose(holm[:-1], _holm_by_definition(p), rtol=1e-12)
        np.testing.assert_allclose(bh[:-1], _bh_by_definition(p), rtol=1e-12)
        order = np.argsort(p, kind="stable")  # monotone: a smaller p never gets a larger adjusted p
        assert np.all(np.diff(np.asarray(holm[:-1])[order]) >= 0) and np.all(np.diff(np.asarray(bh[:-1])[order]) >= 0)
        assert np.all(np.asarray(holm[:-1]) >= p - 1e-15) and np.all(np.asarray(bh[:-1]) >= p - 1e-15)
        assert np.all(np.asarray(bh[:-1]) <= np.asarray(holm[:-1]) + 1e-15)  # BH never stricter than Holm
    # By hand: 0.01 x 3 = 0.03, 0.02 x 2 = 0.04, and Holm's running maximum lifts 0.021 x 1 to 0.04.
    assert statistics.holm([0.021, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    bh = statistics.benjamini_hochberg([0.01, 0.04, 0.03, 0.5])  # 0.03 x 4/2 = 0.06 steps down to 0.04 x 4/3
    assert bh == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])


def test_bounded_interval_at_its_edges():
    assert statistics.bounded_interval(1.0, 0.1, 4) == (1.0, 1.0)  # a mean on the bound: every value is on it
    assert statistics.bounded_interval(0.3, 0.0, 4) == (0.3, 0.3)
    assert _nan_pair(statistics.bounded_interval(0.3, 0.1, 0))  # no degrees of freedom
    assert _nan_pair(statistics.bounded_interval(0.3, math.nan, 4))
    got = statistics.bounded_interval(0.02, 0.05, 3, (-1.0, 1.0), level=0.9)
    assert got == pytest.approx(_logit_interval(0.02, 0.05, 3, -1.0, 1.0, 0.9), rel=1e-12)


@pytest.mark.parametrize("n", [statistics.MIN_N, 5, 12])
def test_detectable_difference_has_the_stated_power_by_simulation(n):
    sd = 0.02
    delta = statistics.detectable_difference(sd, n)
    rng = np.random.default_rng(n)
    d = rng.normal(delta, sd, (20_000, n))
    t = d.mean(1) / (d.std(1, ddof=1) / math.sqrt(n))
    power = np.mean(np.abs(t) > scipy.stats.t.ppf(1 - statistics.ALPHA / 2, n - 1))
    assert power == pytest.approx(statistics.POWER, abs=0.015)
    assert math.isnan(statistics.detectable_difference(sd, statistics.MIN_N - 1))
    assert math.isnan(statistics.detectable_difference(0.0, n))
