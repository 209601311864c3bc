import numpy as np
import pytest

from imbalance_jax import imbalance


def test_step_counts_fig1a():
    assert imbalance.step_counts(10, 5000, 10, 0.5).tolist() == [500] * 5 + [5000] * 5


def test_step_counts_fig1b():
    assert imbalance.step_counts(10, 5000, 2, 0.9).tolist() == [2500] * 9 + [5000]


def test_step_counts_at_least_one_example():
    assert imbalance.step_counts(10, 5000, 10_000, 0.1).tolist() == [1] + [5000] * 9


def test_linear_counts_fig1c():
    assert imbalance.linear_counts(10, 5000, 10).tolist() == list(range(500, 5001, 500))


def test_linear_counts_constant_difference_rounded():
    counts = imbalance.linear_counts(10, 5000, 5000)
    assert counts[0] == 1 and counts[-1] == 5000
    assert np.abs(np.diff(counts) - np.diff(counts).mean()).max() <= 1


@pytest.mark.parametrize("call, message", [
    (lambda: imbalance.step_counts(10, 5000, 0.5, 0.5), "rho=0.5"),
    (lambda: imbalance.linear_counts(10, 5000, 0.9), "rho=0.9"),
    (lambda: imbalance.step_counts(10, 5000, 10, 0.0), "mu=0.0"),
    (lambda: imbalance.step_counts(10, 5000, 10, 1.0), "mu=1.0"),
    (lambda: imbalance.step_counts(10, 5000, 10, 0.25), "mu=0.25"),
    (lambda: imbalance.subsample(np.repeat(np.arange(2), 5), np.array([6, 5]), 0), "counts[0]=6"),
    (lambda: imbalance.subsample(np.repeat(np.arange(2), 5), np.array([2, -1]), 0), "counts[1]=-1"),
    (lambda: imbalance.assign_counts(np.array([1, 2]), "sideways", 0), "order='sideways'"),
])
def test_invalid_parameters_name_the_value(call, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        call()


def test_subsample_exact_counts_sorted_and_seeded():
    labels = np.random.default_rng(0).integers(0, 4, 400)
    counts = np.array([3, 0, 10, 7])
    idx = imbalance.subsample(labels, counts, seed=5)
    assert np.all(np.diff(idx) > 0)
    assert np.bincount(labels[idx], minlength=4).tolist() == counts.tolist()
    assert np.array_equal(idx, imbalance.subsample(labels, counts, seed=5))
    assert not np.array_equal(idx, imbalance.subsample(labels, counts, seed=6))


def test_assign_counts_random_and_lowest():
    counts = imbalance.step_counts(10, 100, 10, 0.3)
    assert imbalance.assign_counts(counts, "lowest", 0).tolist() == counts.tolist()
    by_label = imbalance.assign_counts(counts, "random", 1)
    assert sorted(by_label.tolist()) == sorted(counts.tolist())
    minorities = {tuple(imbalance.minority_classes(imbalance.assign_counts(counts, "random", s)))
                  for s in range(10)}
    assert len(minorities) > 1  # different seeds pick different minority classes


def test_exponential_counts_long_tail():
    counts = imbalance.exponential_counts(10, 5000, 100)
    assert counts[0] == 50 and counts[-1] == 5000
    expected = 5000 * 100.0 ** (-(9 - np.arange(10)) / 9)
    assert np.abs(counts - expected).max() <= 0.5
    ratios = counts[1:] / counts[:-1]
    assert np.allclose(ratios, 100 ** (1 / 9), rtol=0.02)  # a constant ratio between neighbours
    with pytest.raises(ValueError, match="rho=0.5"):
        imbalance.exponential_counts(10, 5000, 0.5)
