import jax.numpy as jnp
import numpy as np
import pytest

from imbalance_jax import samplers
from imbalance_jax.samplers import mechanics

LABELS = np.repeat(np.arange(4), [5, 20, 50, 50])
rng = np.random.default_rng(0)
LABELS = LABELS[rng.permutation(len(LABELS))]


def test_full_oversampling_balances_and_keeps_every_original():
    idx = mechanics.oversample(LABELS, seed=0)
    assert np.bincount(LABELS[idx]).tolist() == [50, 50, 50, 50]
    assert set(idx.tolist()) == set(range(len(LABELS)))
    assert idx.min() >= 0 and idx.max() < len(LABELS)


def test_oversampling_replicates_evenly():
    idx = mechanics.oversample(LABELS, seed=0)
    copies = np.bincount(idx[LABELS[idx] == 0])
    assert copies[copies > 0].tolist() == [10] * 5  # 5 examples x 10 copies = 50


def test_partial_oversampling_stops_at_target_ratio():
    idx = mechanics.oversample(LABELS, seed=0, target_rho=5)
    assert np.bincount(LABELS[idx]).tolist() == [10, 20, 50, 50]


def test_full_undersampling_balances_without_duplicates():
    idx = mechanics.undersample(LABELS, seed=0)
    assert np.bincount(LABELS[idx]).tolist() == [5, 5, 5, 5]
    assert len(set(idx.tolist())) == len(idx)


def test_partial_undersampling_stops_at_target_ratio():
    idx = mechanics.undersample(LABELS, seed=0, target_rho=4)
    assert np.bincount(LABELS[idx]).tolist() == [5, 20, 20, 20]


@pytest.mark.parametrize("sampler", [mechanics.oversample, mechanics.undersample])
def test_seeds_reproducible_and_distinct(sampler):
    assert np.array_equal(sampler(LABELS, 3), sampler(LABELS, 3))
    assert not np.array_equal(sampler(LABELS, 3), sampler(LABELS, 4))


@pytest.mark.parametrize("sampler", [mechanics.oversample, mechanics.undersample])
def test_target_rho_below_one_is_an_error(sampler):
    with pytest.raises(ValueError, match="target_rho=0.5"):
        sampler(LABELS, 0, target_rho=0.5)


def test_index_table_pads_to_width():
    table = mechanics.index_table([np.array([4, 5]), np.array([1, 2, 3])], width=5)
    assert table.indices.shape == (2, 5) and table.lengths.tolist() == [2, 3]
    assert table.indices[1, :3].tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="width=2"):
        mechanics.index_table([np.arange(3)], width=2)


@pytest.mark.parametrize("n", [1, 2, 7, 64, 1000, 4099])
def test_permute_is_a_permutation(n):
    out = np.asarray(mechanics.permute(jnp.arange(n), jnp.int32(n), jnp.uint32(12345)))
    assert sorted(out.tolist()) == list(range(n))


def test_each_epoch_walks_a_fresh_permutation():
    n, batch = 10, 4
    walk = np.concatenate([np.asarray(mechanics.batch_positions(jnp.int32(s), batch, jnp.int32(n), jnp.int32(7)))
                           for s in range(15)])  # 60 positions = 6 epochs
    epochs = walk.reshape(6, n)
    for e in epochs:
        assert sorted(e.tolist()) == list(range(n))
    assert len({tuple(e) for e in epochs}) == 6
    other_seed = np.asarray(mechanics.batch_positions(jnp.int32(0), batch, jnp.int32(n), jnp.int32(8)))
    assert not np.array_equal(other_seed, walk[:batch])


def test_sqrt_sampling_shares():
    idx = mechanics.sqrt_sample(LABELS, seed=0)
    counts = np.bincount(LABELS[idx])
    expected = np.sqrt([5, 20, 50, 50]) / np.sqrt([5, 20, 50, 50]).sum() * len(LABELS)
    assert np.abs(counts - expected).max() <= 1 and idx.max() < len(LABELS)
    assert set(np.flatnonzero(LABELS == 0)) <= set(idx.tolist())  # the smallest class is kept whole


def test_class_aware_batches_are_balanced_and_walk_each_class():
    labels = np.repeat(np.arange(4), [2, 5, 9, 30])
    table = mechanics.index_table([np.arange(len(labels))], labels=labels, num_classes=4)
    row = table.indices[0]
    assert labels[row[: table.lengths[0]]].tolist() == sorted(labels.tolist())
    draws = np.concatenate([np.asarray(mechanics.class_aware_positions(
        jnp.int32(s), 8, jnp.asarray(table.class_offsets[0]), jnp.asarray(table.class_counts[0]), jnp.uint32(3)))
        for s in range(10)])
    for batch in draws.reshape(10, 8):
        assert np.bincount(labels[row[batch]], minlength=4).tolist() == [2, 2, 2, 2]
    smallest = row[draws][labels[row[draws]] == 0]
    assert sorted(smallest[:2].tolist()) == [0, 1]  # each pass over a class visits all its examples


def test_the_host_walk_equals_the_device_walk():
    """The grain workers' numpy walk gives the compiled step's integers (permutation and class-aware)."""
    labels = np.repeat(np.arange(3), [3, 11, 40])
    table = mechanics.index_table([np.arange(54), np.arange(40, 54), np.arange(3, 54)], labels=labels,
                                 num_classes=3)
    for n in range(3):
        row, length, offsets, counts = (table.indices[n], table.lengths[n], table.class_offsets[n],
                                        table.class_counts[n])
        for step in (0, 5, 77, 123456):
            for aware in (False, True):
                rule = samplers.rule_index("class_aware" if aware else "walk")
                device = samplers.network_batch(jnp.asarray(row), jnp.int32(length), jnp.uint32(n + 9), jnp.int32(step),
                                                7, jnp.int32(rule), jnp.asarray(offsets), jnp.asarray(counts),
                                                jnp.int32(1000))
                host = samplers.network_batch(row, length, np.uint32(n + 9), step, 7, rule, offsets, counts, 1000,
                                              xp=np)
                assert host.tolist() == np.asarray(device).tolist()
    for n in (1, 2, 7, 1000, 4099):  # the cycle walk on sizes that are not powers of four
        assert (mechanics.permute(np.arange(n), n, 77, xp=np).tolist()
                == np.asarray(mechanics.permute(jnp.arange(n), jnp.int32(n), jnp.uint32(77))).tolist())
