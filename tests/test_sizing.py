import jax
import pytest

from imbalance_jax import sizing, study, train
from imbalance_jax.models import LeNet5


def test_footprint_grows_with_networks_and_batch():
    model = LeNet5()
    small = sizing.measured_footprint(model, train.TrainHParams(), (500, 28, 28, 1), 500, 5)
    assert small.fixed >= 0 and small.per_network > 3_400_000  # at least the params and velocity of one LeNet-5
    # conv1's output alone is 24 * 24 * 20 floats per image
    assert small.per_eval_image >= 24 * 24 * 20 * 4
    big = sizing.measured_footprint(model, train.TrainHParams(batch_size=256), (500, 28, 28, 1), 500, 5)
    assert big.per_network > small.per_network


def test_eval_batch_shrinks_with_the_cohort_and_never_exceeds_the_config():
    fraction = sizing.USABLE_FRACTION.get(jax.default_backend(), 0.5)
    footprint = sizing.Footprint(fixed=0, per_network=100, per_eval_image=10)
    free = int(100_000 / fraction)
    assert sizing.eval_batch_for(footprint, free, 10, 5000) == 1000
    assert sizing.eval_batch_for(footprint, free, 100, 5000) == 100
    assert sizing.eval_batch_for(footprint, free, 1, 500) == 500
    assert sizing.eval_batch_for(footprint, 0, 1, 500) == 1


def test_cohort_size_for_fits_memory_and_grid():
    fraction = sizing.USABLE_FRACTION.get(jax.default_backend(), 0.5)
    assert sizing.cohort_size_for(0, 100, int(1000 / fraction), 1000) == 10
    assert sizing.cohort_size_for(0, 100, 10**12, 37) == 37
    assert sizing.cohort_size_for(10**9, 100, 1000, 37) == 1
    assert sizing.cohort_size_for(0, 100, int(4200 / fraction), 44) == 22  # 2 cohorts of 22, not 42 + 2


def test_auto_cohort_size_is_picked_once_and_kept(tiny_config, tmp_path, monkeypatch):
    tiny_config.cohort_size = 0
    first, _ = study.open_study(tiny_config, str(tmp_path))
    assert first.cohort_size == 3 and first.sizes.source == "measured"  # all of the largest stage fits in memory
    assert first.sizes.eval_batch_size == tiny_config.eval_batch_size  # tiny networks: the config's batch fits
    assert (tmp_path / "cohort_size.json").exists()
    # A second run reads the kept sizes and never measures (a planted size shows which it used).
    (tmp_path / "cohort_size.json").write_text('{"cohort_size": 2, "eval_batch_size": 7}')
    monkeypatch.setattr(sizing, "measured_footprint", lambda *a, **k: pytest.fail("measured the sizes again"))
    again, _ = study.open_study(tiny_config, str(tmp_path))
    assert (again.cohort_size, again.sizes.eval_batch_size, again.sizes.source) == (2, 7, "cohort_size.json")


def test_negative_cohort_size_is_refused(tiny_config, tmp_path):
    tiny_config.cohort_size = -1
    with pytest.raises(ValueError, match="cohort_size=-1"):
        study.open_study(tiny_config, str(tmp_path))


def test_launch_plan_and_the_study_pack_the_same_cohorts(tiny_config, tmp_path):
    import re

    from configs import mnist
    from imbalance_jax import estimate

    def counts(config, workdir):
        planned = estimate.plan_table(config, workdir, measure=False)
        dry = study.dry_run(config, workdir)
        return tuple(int(re.search(r"cohorts  ([\d,]+) to train", text).group(1).replace(",", ""))
                     for text in (planned, dry))

    grid = mnist.get_config()  # the paper's grid, on the embedded digits
    grid.dataset, grid.train_per_class, grid.test_per_class, grid.cohort_size = "digits", 0, 0, 352
    planned, studied = counts(grid, str(tmp_path / "grid"))
    assert planned == studied == 65  # 22,550 networks: stage 0's 13,550 and stage 1's 9,000 in cohorts of 352
    plan_text = estimate.plan_table(grid, str(tmp_path / "grid"), measure=False)
    dry = study.dry_run(grid, str(tmp_path / "grid"))
    for stage, total in ((0, 13_550), (1, 9_000)):  # both count each stage's networks per method alike
        assert f"stage {stage}  {total:,} networks (" in plan_text
        per_method = re.search(rf"stage {stage}  {total:,} networks \((.*)\)", plan_text).group(1)
        assert f"stage {stage}  {total:,} networks ({per_method})" in dry
        assert sum(int(c.rsplit(" ", 1)[1].replace(",", "")) for c in per_method.split(", ")) == total
    study.run_study(tiny_config, str(tmp_path / "tiny"))
    tiny_config.imbalance.repetitions, tiny_config.cohort_size = 3, 2  # grown: 2 more repetitions of 5 methods
    planned, studied = counts(tiny_config, str(tmp_path / "tiny"))
    assert planned == studied == 5  # stage 0: 6 new networks in 3 cohorts, stage 1: 4 in 2
    tiny_config.cohort_size = 0  # a size measured once and kept: both read cohort_size.json
    (tmp_path / "tiny" / "cohort_size.json").write_text('{"cohort_size": 4, "eval_batch_size": 100}')
    assert counts(tiny_config, str(tmp_path / "tiny")) == (3, 3)  # 6 new networks in cohorts of 4 and 2, 4 in one
    assert "cohorts  4 networks each (cohort_size.json)" in estimate.plan_table(tiny_config, str(tmp_path / "tiny"),
                                                                              measure=False)


def test_planning_downloads_nothing(monkeypatch):
    import tensorflow_datasets as tfds

    from configs import mnist
    from imbalance_jax import study_setup

    monkeypatch.setattr(tfds, "builder", lambda *a, **k: pytest.fail("planning tried to prepare (download) a dataset"))
    data, facts = study_setup.load_facts(mnist.get_config(), prepare=False, known_shape=True)  # not prepared here
    assert data is None and not facts.loaded and facts.facts.num_classes == 10 and "is not prepared in" in facts.source
