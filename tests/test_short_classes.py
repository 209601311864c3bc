"""Datasets whose classes have fewer examples than n_max (ILSVRC-2012 has classes of 732-999 images):
they are always minority, oversampling still reaches n_max for every class, and a setting with
fewer minority slots than short classes is refused in one line."""
import csv

import numpy as np
import pytest

from configs import imagenet
from imbalance_jax import design, samplers, study
from imbalance_jax.samplers import mechanics
from configs import quick


@pytest.mark.parametrize("sampler,target", [("none", 1), ("oversample", 1), ("oversample", 10), ("undersample", 1),
                                            ("undersample", 5), ("sqrt", 1)])
def test_sampled_counts_match_the_samplers(sampler, target):
    rng = np.random.default_rng(target)
    for _ in range(20):
        counts = rng.integers(1, 60, rng.integers(2, 12))
        labels = np.repeat(np.arange(len(counts)), counts)
        real = {"none": lambda: np.arange(len(labels)),
                "oversample": lambda: mechanics.oversample(labels, 3, target),
                "undersample": lambda: mechanics.undersample(labels, 3, target),
                "sqrt": lambda: mechanics.sqrt_sample(labels, 3)}[sampler]()
        expected = np.bincount(labels[real], minlength=len(counts))
        registered = samplers.get(sampler)
        assert registered.counts(counts, target).tolist() == expected.tolist()  # counted without drawing
        if registered.draw is not None:  # and the registered draw is the one counted
            assert np.array_equal(registered.draw(labels, 3, target), real)


def _facts_with_short_classes():
    available = (100, 100, 60, 100, 100, 70, 100, 100, 100, 80)  # three short classes of n_max = 100
    return design.DatasetFacts(10, 100, available)


def test_short_classes_are_minority_at_mu_09_and_the_table_holds_every_oversampled_set():
    config = quick.get_config()
    config.imbalance.step_rhos, config.imbalance.step_mus, config.imbalance.linear_rhos = (10,), (0.9,), ()
    config.imbalance.repetitions = 3
    facts = _facts_with_short_classes()
    networks = design.all_networks(config, facts)
    for n in (n for n in networks if n.imbalance == "step"):  # (the balanced reference has no minority)
        counts = np.asarray(n.class_counts)
        assert all(counts[c] == 10 for c in (2, 5, 9))  # short classes always take minority slots
    width = design.table_width(networks, sum(min(a, 100) for a in facts.available))
    assert width == 10 * 100  # oversampling fills every class to n_max: longer than the capped set (910)


def test_more_short_classes_than_minority_slots_is_refused_naming_the_fix():
    config = quick.get_config()
    config.imbalance.step_rhos, config.imbalance.step_mus, config.imbalance.linear_rhos = (10,), (0.2,), ()
    with pytest.raises(ValueError, match=r"3 classes have fewer than n_max=100 examples .* step mu=0.2 rho=10 has "
                                         r"only 2 minority classes.*train_per_class"):
        design.all_networks(config, _facts_with_short_classes())


@pytest.fixture
def mock_imagenette():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=120):  # 120 images, class counts 11 19 11 6 9 17 18 10 8 11
        yield


def test_a_streamed_study_with_short_classes_oversamples_to_n_max(mock_imagenette, tmp_path):
    config = imagenet.get_config()
    config.dataset = "imagenette"
    config.train_per_class, config.test_per_class = 10, 2  # classes 3, 4 and 8 are short (6, 9, 8)
    config.methods = ("baseline", "oversampling")
    config.stream.resize, config.stream.crop, config.stream.workers = 20, 16, 2
    config.stream.loader = "threads"  # the thread pool's end-to-end run (test_imagenet runs grain's)
    config.imbalance.step_settings = ((0.5, 2, 1),)
    config.train.batch_size, config.train.iterations = 4, 2
    config.steps_per_call, config.curve_every, config.eval_batch_size = 2, 0, 8
    study.run_study(config, str(tmp_path))
    with open(tmp_path / "results.csv") as f:
        sizes = {r["method"]: int(r["train_size"]) for r in csv.DictReader(f)}
    assert sizes == {"baseline": 5 * 10 + 5 * 5, "oversampling": 10 * 10}  # the capped set holds 93
