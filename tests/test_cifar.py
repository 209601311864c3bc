"""The CIFAR-10 setting end to end on a small CIFAR-format folder the test writes."""
import csv
import pickle
from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np
import pytest

from configs import cifar10
from imbalance_jax import data, imbalance, study
from imbalance_jax import study_setup
from imbalance_jax.workdir import Workdir
from imbalance_jax.data import preprocessing


def _write_cifar(directory, per_class_train=24, per_class_test=6):
    rng = np.random.default_rng(0)

    def batch(n_per_class):
        labels = np.repeat(np.arange(10), n_per_class)
        images = rng.integers(0, 120, (len(labels), 3, 32, 32))
        for i, c in enumerate(labels):
            images[i, c % 3, :, 3 * c:3 * c + 3] = 250  # a learnable stripe per class
        order = rng.permutation(len(labels))
        return images[order].reshape(len(labels), -1).astype(np.uint8), labels[order].tolist()

    x, y = batch(per_class_train)
    for i, part in enumerate(np.array_split(np.arange(len(y)), 5)):
        with open(directory / f"data_batch_{i + 1}", "wb") as f:
            pickle.dump({b"data": x[part], b"labels": [y[j] for j in part]}, f)
    x, y = batch(per_class_test)
    with open(directory / "test_batch", "wb") as f:
        pickle.dump({b"data": x, b"labels": y}, f)


def test_cifar_loader_reads_python_pickles(tmp_path):
    _write_cifar(tmp_path)
    x, y = data.load(f"cifar:{tmp_path}", "train")
    assert x.shape == (240, 32, 32, 3) and x.dtype == np.uint8 and np.bincount(y).tolist() == [24] * 10
    with pytest.raises(data.DatasetError, match="test_batch"):
        (tmp_path / "test_batch").unlink()
        data.load(f"cifar:{tmp_path}", "test")


def test_zca_whitens_the_training_data():
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(48, 48))
    images = np.clip(rng.normal(size=(3000, 48)) @ mixing * 20 + 128, 0, 255).astype(np.uint8).reshape(3000, 4, 4, 3)
    fitted = preprocessing.fit_zca(images, epsilon=1e-6)
    white = np.asarray(preprocessing.apply("gcn_zca", jnp.asarray(images), fitted, 1.0)).reshape(3000, -1)
    cov = np.cov(white.T, bias=True)
    # GCN removes each image's mean, so the data span all directions but the constant one.
    projection = np.eye(48) - np.full((48, 48), 1 / 48)
    assert np.abs(cov - projection).max() < 0.05


@pytest.mark.slow
def test_cifar_like_study_end_to_end(tmp_path, monkeypatch):
    (tmp_path / "cifar").mkdir()
    _write_cifar(tmp_path / "cifar")
    config = cifar10.get_config()
    config.dataset = f"cifar:{tmp_path / 'cifar'}"
    config.train_per_class, config.test_per_class = 0, 0
    config.imbalance.step_rhos, config.imbalance.step_mus, config.imbalance.linear_rhos = (4,), (0.5,), ()
    config.methods = ("baseline", "oversampling", "two_phase_oversampling", "thresholding")
    config.train.lr_grid, config.train.lr_repeats = (0.05, 0.005), 1
    # All-CNN is ~1 GFLOP an image: a batch of 2 keeps the real path at seconds on a 2-core CPU
    config.train.batch_size, config.train.iterations, config.steps_per_call, config.curve_every = 2, 4, 2, 4
    config.train.lr_steps = (2,)
    config.cohort_size, config.eval_batch_size = 2, 60  # every cohort 2 networks: the step compiles once
    fits = []  # (images, epsilon, fitted) of each ZCA fit: a fit costs ~10 s on 2 cores, so none is repeated here
    real_fit = preprocessing.fit_zca

    def recorded(images, epsilon, *a, **k):
        fits.append((np.array(images), epsilon, real_fit(images, epsilon, *a, **k)))
        return fits[-1][2]

    monkeypatch.setattr(preprocessing, "fit_zca", recorded)
    study.run_study(config, str(tmp_path / "run"))
    assert len(fits) == 1  # one imbalanced set: its two first-stage cohorts share one ZCA fit
    with open(tmp_path / "run" / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8  # 4 methods x 2 learning rates
    assert sorted({float(r["lr"]) for r in rows}) == [0.005, 0.05]
    assert sum(int(r["selected"]) for r in rows) == 4  # one lr kept per method
    # The ZCA saved with each network is the one fitted on its imbalanced set, before sampling.
    setup, workdir = study_setup.build(config, Workdir(str(tmp_path / "run"))), Workdir(str(tmp_path / "run"))
    s = SimpleNamespace(data=setup.data, cohorts=[r.networks for r in workdir.cohorts()],
                        restore=lambda k: study.restore(setup, workdir, k))
    restored = s.restore(0)
    spec = s.cohorts[0][1]
    subset = imbalance.subsample(s.data.y_train, np.array(spec.class_counts), spec.set_seed)
    fitted_on, epsilon, expected = fits[0]
    assert np.array_equal(fitted_on, s.data.x_train[subset]) and epsilon == config.zca_epsilon
    assert np.allclose(restored["preprocess"]["whiten"][1], expected["whiten"], atol=1e-4)
    # Two-phase networks (the last cohort) evaluate with their parents' transforms (oversampling's cohort).
    assert [n.parent for n in s.cohorts[2]] == [n.name for n in s.cohorts[1]]
    assert np.array_equal(s.restore(2)["preprocess"]["whiten"], s.restore(1)["preprocess"]["whiten"])
