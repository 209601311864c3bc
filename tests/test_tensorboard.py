"""The event files a study writes are TensorBoard's own format: its reader finds every scalar."""
import glob

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from imbalance_jax import tensorboard


def test_crc32c_matches_the_standard_check_value():
    assert tensorboard.crc32c(b"123456789") == 0xE3069283  # the CRC-32C catalogue's check value


def test_tensorboards_reader_reads_what_the_writer_wrote(tmp_path):
    writer = tensorboard.EventWriter(str(tmp_path))
    writer.scalars(10, {"train_loss/a": 0.5, "train_accuracy/a": 0.25, "skipped": float("nan")})
    writer.scalars(20, {"train_loss/a": 0.125})
    writer.close()
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert sorted(events.Tags()["scalars"]) == ["train_accuracy/a", "train_loss/a"]
    assert [(e.step, e.value) for e in events.Scalars("train_loss/a")] == [(10, 0.5), (20, 0.125)]


def test_a_study_writes_per_setting_and_method_scalars(tmp_path):
    import tiny
    from imbalance_jax import study

    study.run_study(tiny.tiny_config(), str(tmp_path))
    (logdir,) = {p.rsplit("/", 1)[0] for p in glob.glob(f"{tmp_path}/tensorboard/events.out.tfevents.*")}
    events = EventAccumulator(logdir)
    events.Reload()
    tags = set(events.Tags()["scalars"])
    for method in ("baseline", "oversampling", "undersampling", "two_phase_oversampling"):
        for metric in ("train_loss", "train_accuracy", "test_accuracy"):
            assert f"{metric}/step rho=10 mu=0.5/{method}" in tags, (metric, method)
    assert [e.step for e in events.Scalars("train_loss/step rho=10 mu=0.5/baseline")] == [10, 20]
    assert [e.step for e in events.Scalars("test_accuracy/step rho=10 mu=0.5/baseline")] == [10, 20]
    rates = events.Scalars("images_per_s/cohort_00000")  # the compiling call has no rate
    assert [e.step for e in rates] == [20] and rates[0].value > 0
    assert all(0 <= e.value <= 1 for e in events.Scalars("test_accuracy/step rho=10 mu=0.5/oversampling"))
    assert np.isfinite([e.value for e in events.Scalars("train_loss/step rho=10 mu=0.5/undersampling")]).all()
