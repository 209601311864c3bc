import jax
import pytest

from imbalance_jax import sizing, study, train
from imbalance_jax.models import LeNet5


def test_footprint_grows_with_networks_and_batch():
    model = LeNet5()
    fixed, per_network = sizing.measured_footprint(model, train.TrainHParams(), (500, 28, 28, 1), 500, 100, 5)
    assert fixed >= 0 and per_network > 3_400_000  # at least the params and velocity of one LeNet-5
    _, per_network_big_batch = sizing.measured_footprint(
        model, train.TrainHParams(batch_size=256), (500, 28, 28, 1), 500, 100, 5)
    assert per_network_big_batch > per_network


def test_cohort_size_for_fits_memory_and_grid():
    fraction = sizing.USABLE_FRACTION.get(jax.default_backend(), 0.5)
    assert sizing.cohort_size_for(0, 100, int(1000 / fraction), 1000) == 10
    assert sizing.cohort_size_for(0, 100, 10**12, 37) == 37
    assert sizing.cohort_size_for(10**9, 100, 1000, 37) == 1
    assert sizing.cohort_size_for(0, 100, int(4200 / fraction), 44) == 22  # 2 cohorts of 22, not 42 + 2


def test_auto_cohort_size_is_picked_once_and_kept(tiny_config, tmp_path):
    tiny_config.cohort_size = 0
    first = study.Study(tiny_config, str(tmp_path))
    assert first.cohort_size == 3  # all of the largest stage fits in host memory
    assert (tmp_path / "cohort_size.json").exists()
    assert study.Study(tiny_config, str(tmp_path)).cohort_size == 3


def test_negative_cohort_size_is_refused(tiny_config, tmp_path):
    tiny_config.cohort_size = -1
    with pytest.raises(ValueError, match="cohort_size=-1"):
        study.Study(tiny_config, str(tmp_path))
