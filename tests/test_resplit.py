"""Appendix A's re-splits: split k > 0 redraws train and test from the pooled balanced sets, a study
trains and scores every network on each split, and the report pools the splits and shows each."""
import contextlib
import csv

import numpy as np
import pytest

import tiny
from imbalance_jax import cohort_training, config_schema, design, report, study, study_setup
from imbalance_jax.workdir import Workdir
from imbalance_jax.data import BalancedData, resplit


def _numbered(train_per_class=6, test_per_class=2, classes=3):
    """Balanced data whose every image holds its own number, so where each one went can be read back."""
    y_train = np.repeat(np.arange(classes), train_per_class)
    y_test = np.repeat(np.arange(classes), test_per_class)
    ids = np.arange(len(y_train) + len(y_test))
    images = np.broadcast_to(ids[:, None, None, None], (len(ids), 1, 1, 1)).astype(np.int32)
    return BalancedData(images[:len(y_train)], y_train, images[len(y_train):], y_test, classes)


def test_a_resplit_keeps_each_class_count_and_redraws_train_and_test_from_the_pool():
    data = _numbered()
    assert resplit(data, 0, seed=7) is data  # split 0: the dataset's own
    other = resplit(data, 1, seed=7)
    for label in range(3):
        assert (other.y_train == label).sum() == 6 and (other.y_test == label).sum() == 2
    train_ids, test_ids = other.x_train.ravel(), other.x_test.ravel()
    pool = np.concatenate([data.y_train, data.y_test])
    assert sorted([*train_ids, *test_ids]) == list(range(24))  # every pooled image once, in train or test
    assert (pool[train_ids] == other.y_train).all() and (pool[test_ids] == other.y_test).all()  # labels follow
    assert set(test_ids) != set(data.x_test.ravel())  # other test images than split 0's
    assert np.array_equal(resplit(data, 1, seed=7).x_test, other.x_test)  # seeded
    assert not np.array_equal(resplit(data, 2, seed=7).x_test, other.x_test)  # each split its own draw


def test_resplits_add_networks_on_each_split_and_keep_split_0_identities():
    config = tiny.tiny_config()
    one = design.all_networks(config, design.DatasetFacts(10, 100))
    config.resplits = 3
    three = design.all_networks(config, design.DatasetFacts(10, 100))
    assert len(three) == 3 * len(one)
    assert [(n.name, n.training_hash) for n in three if n.split == 0] == [(n.name, n.training_hash) for n in one]
    twins = {n.name: n for n in three}
    for n in one:  # the same imbalanced counts and seeds, its own name and identity on each split
        for k in (1, 2):
            twin = twins[n.name.replace(n.set_name, f"{n.set_name}_split{k}")]
            assert twin.split == k and twin.class_counts == n.class_counts and twin.init_seed == n.init_seed
            assert twin.training_hash != n.training_hash
            if n.parent:
                assert twin.parent == n.parent.replace(n.set_name, f"{n.set_name}_split{k}")
    assert all(len({n.split for n in c}) == 1 for c in design.pack_cohorts(three, 4))  # cohorts keep to a split


def test_a_two_split_study_grows_from_one_differs_in_its_test_sets_and_pools_correctly(tmp_path, monkeypatch):
    config = tiny.tiny_config()
    config.methods = ("baseline", "oversampling")
    first = study.run_study(config, str(tmp_path))
    config.resplits = 2
    fed = []  # (cohort, training images) each chunk call was given
    real_images, real_train = cohort_training.training_images, cohort_training.train_cohort

    @contextlib.contextmanager
    def recording_images(setup, inputs):
        with real_images(setup, inputs) as images:
            fed.append(np.asarray(images.images))
            yield images

    trained = []
    monkeypatch.setattr(cohort_training, "training_images", recording_images)
    monkeypatch.setattr(cohort_training, "train_cohort", lambda run, record, position: (
        trained.extend(n.name for n in record.networks), real_train(run, record, position))[1])
    rows = study.run_study(config, str(tmp_path))
    grown, workdir = study_setup.build(config, Workdir(str(tmp_path))), Workdir(str(tmp_path))
    split1 = grown.on_split(1)
    # Only split 1's networks trained, on split 1's images; split 0's rows are the first run's.
    assert sorted(trained) == ["step_rho10_mu0.5_rep0_split1/baseline", "step_rho10_mu0.5_rep0_split1/oversampling"]
    assert fed and all(np.array_equal(x, split1.data.x_train) for x in fed)
    assert not np.array_equal(split1.data.x_test, grown.data.x_test)
    assert [(r["network"], r["auc"]) for r in rows if r["split"] == 0] == [(r["network"], r["auc"]) for r in first]
    # Each split-1 row scores its network on split 1's test set.
    cohorts = [r.networks for r in workdir.cohorts()]
    record = next(r for r in cohorts if r[0].split == 1)
    state = study.restore(grown, workdir, next(i for i, c in enumerate(cohorts) if c[0].split == 1))
    probs = np.asarray(grown.predict()(state, split1.data.x_test))
    for j, network in enumerate(record):
        row = next(r for r in rows if r["network"] == network.name and r["method"] == network.method)
        assert row["split"] == 1
        assert row["accuracy"] == pytest.approx(np.mean(probs[j].argmax(-1) == split1.data.y_test), abs=1e-6)
    # The report pools both splits (n = 2, paired within a split) and shows each split's table.
    path = report.write_report(str(tmp_path))
    text = open(path).read()
    with open(tmp_path / "results.csv") as f:
        written = list(csv.DictReader(f))
    aucs = [float(r["auc"]) for r in written if r["method"] == "baseline"]
    assert sorted(int(r["split"]) for r in written if r["method"] == "baseline") == [0, 1]
    assert f"| baseline | {100 * np.mean(aucs):.2f} |" in text.split("## Per train/test split")[0]
    assert "each is a mean over repetitions and train/test splits (n)" in text
    per_split = text.split("## Per train/test split (Appendix A)")[1].split("\n## ")[0]
    for k, auc in enumerate(aucs):
        assert f"### Split {k}" in per_split and f"| baseline | {100 * auc:.2f} |" in per_split
    assert "| step rho=10 mu=0.5 | baseline | 2 |" in text  # summary_table's n


def test_a_streamed_study_refuses_resplits_in_one_line():
    config = tiny.tiny_config()
    config.input_pipeline, config.train_per_class, config.resplits = "stream", 10, 2
    with pytest.raises(ValueError, match=r"^resplits=2 re-splits a resident dataset; .* so set resplits=1$"):
        config_schema.validate(config)
