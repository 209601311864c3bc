"""TensorBoard as a user opens it: a run per (setting, method), curve and evaluation means over the group's
networks (checked against the CSVs), hyperparameters and the config, live runs per cohort, and no repeated
step after the study grows. Read back with tensorboard's own reader."""
import csv
import os

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

import tiny
from imbalance_jax import study


def _read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def _run(logdir, name):
    events = EventAccumulator(os.path.join(logdir, name))
    events.Reload()
    return events


def _scalars(events, tag):
    """[(step, value)] of a scalar written by tensorboard.summary.Writer (a tensor summary)."""
    return [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag)]


@pytest.mark.slow
def test_a_grown_study_has_a_run_per_setting_and_method_with_true_means_and_no_repeated_steps(tmp_path):
    config = tiny.tiny_config()
    config.methods = ("baseline", "oversampling")
    config.imbalance.repetitions, config.cohort_size = 2, 4  # two networks per (setting, method)
    study.run_study(config, str(tmp_path))
    config.imbalance.repetitions = 3  # grown: a third network per group, in a new cohort
    study.run_study(config, str(tmp_path))
    logdir = tmp_path / "tensorboard"
    results, curves, per_class = (_read(tmp_path / f) for f in ("results.csv", "curves.csv", "per_class.csv"))
    for method in ("baseline", "oversampling"):
        events = _run(logdir, f"step_rho10_mu0.5/{method}")
        mine = [r for r in results if r["method"] == method]
        assert len(mine) == 3
        for split in ("train", "test"):
            got = _scalars(events, f"{split}/accuracy")
            assert [s for s, _ in got] == [10, 20]  # every curve point once, though the study grew
            for step, value in got:
                expected = np.mean([float(c[f"{split}_accuracy"]) for c in curves
                                    if c["method"] == method and int(c["step"]) == step])
                assert value == pytest.approx(expected, abs=1e-6)
        for metric in ("auc", "accuracy", "balanced_accuracy"):
            ((step, value),) = _scalars(events, f"eval/{metric}")
            assert step == 20 and value == pytest.approx(np.mean([float(r[metric]) for r in mine]), abs=1e-6)
        minority = [np.mean([float(c["recall"]) for c in per_class if c["network"] == r["network"]
                             and c["method"] == method and c["minority"] == "1"]) for r in mine]
        ((_, value),) = _scalars(events, "eval/minority_recall")
        assert value == pytest.approx(np.mean(minority), abs=1e-6)
        hparams = events.PluginTagToContent("hparams")
        session = next(v for v in hparams.values() if b"method" in v)
        assert method.encode() in session and b"rho" in session
    config_run = _run(logdir, "config")
    assert {"config", "_hparams_/experiment"} <= set(config_run.Tags()["tensors"])
    text = config_run.Tensors("config")[0].tensor_proto.string_val[0].decode()
    assert '"repetitions": 3' in text
    live = _run(logdir, "live/cohort_00000")
    assert {"train/loss", "train/accuracy"} <= set(live.Tags()["tensors"])
    assert [step for step, _ in _scalars(live, "train/loss")] == [10, 20]
    assert os.path.isdir(logdir / "live" / "cohort_00001")  # the grown study's cohort trained live too
