"""Progressively-balanced sampling, added as one file (imbalance_jax/samplers/progressive.py): class frequencies
move from instance- to class-balanced over training, the host and device draws agree, and the method trains
through a study."""
import csv

import jax
import jax.numpy as jnp
import numpy as np

import tiny
from imbalance_jax import methods, samplers, study
from imbalance_jax.samplers import mechanics

LABELS = np.repeat(np.arange(4), [5, 20, 100, 400])  # counts 5 / 20 / 100 / 400
TABLE = mechanics.index_table([np.arange(len(LABELS))], labels=LABELS, num_classes=4)
RULE = samplers.rule_index("progressive")
TOTAL = 1000


def _classes(step, draws=40, batch=256, xp=jnp):
    """Labels of `draws` batches at (about) a step, through the registered rule."""
    row, offsets, counts = TABLE.indices[0], TABLE.class_offsets[0], TABLE.class_counts[0]
    if xp is jnp:  # the draws of every step in one compiled call, as inside the training step
        draw = jax.jit(jax.vmap(lambda s: samplers.network_batch(
            jnp.asarray(row), jnp.int32(len(LABELS)), jnp.uint32(3), s, batch, jnp.int32(RULE), jnp.asarray(offsets),
            jnp.asarray(counts), jnp.int32(TOTAL))))
        return LABELS[np.asarray(draw(jnp.arange(step, step + draws, dtype=jnp.int32))).reshape(-1)]
    out = [samplers.network_batch(row, len(LABELS), np.uint32(3), step + k, batch, RULE, offsets, counts, TOTAL, xp=np)
           for k in range(draws)]
    return LABELS[np.concatenate([np.asarray(idx) for idx in out])]


def test_class_frequencies_move_from_instance_to_class_balanced():
    counts = np.array([5, 20, 100, 400])
    for step, t in ((0, 0.0), (TOTAL // 2, 0.5), (TOTAL, 1.0)):
        expected = (1 - t) * counts / counts.sum() + t / 4
        seen = np.bincount(_classes(step), minlength=4) / (40 * 256)
        assert np.abs(seen - expected).max() < 0.015, (step, seen, expected)


def test_each_drawn_example_is_of_its_class_and_the_host_draws_what_the_device_draws():
    for step in (0, 333, 999, 5000):
        assert _classes(step, draws=3, xp=np).tolist() == _classes(step, draws=3).tolist()
    row, offsets, counts = TABLE.indices[0], TABLE.class_offsets[0], TABLE.class_counts[0]
    idx = np.asarray(samplers.network_batch(row, len(LABELS), np.uint32(3), 700, 512, RULE, offsets, counts, TOTAL,
                                            xp=np))
    small = idx[LABELS[idx] == 0]
    assert set(small.tolist()) == set(np.flatnonzero(LABELS == 0).tolist())  # all of the smallest class is reached


def test_the_method_trains_through_a_study(tmp_path):
    assert methods.get("progressively_balanced_sampling").training.sampler == "progressive"
    config = tiny.tiny_config()
    config.methods = ("progressively_balanced_sampling",)
    config.cohort_size = 1
    rows = study.run_study(config, str(tmp_path))
    assert [r["method"] for r in rows] == ["progressively_balanced_sampling"]
    with open(tmp_path / "results.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert 0.5 < float(row["auc"]) <= 1 and int(row["train_size"]) == sum(plan_counts(config))


def plan_counts(config):
    """The imbalanced set's class counts of the tiny study's one network (the set it trains on, unsampled)."""
    from imbalance_jax import design

    (network,) = design.all_networks(config, design.DatasetFacts(10, 144))
    return network.class_counts
