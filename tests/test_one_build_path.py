"""One build path: the study, every --dry_run and launch.plan assemble a study by study_setup.build alone and
describe it by study_plan.lines alone, so what they print is what the study would train. Checked on the paper's
MNIST grid (22,550 networks), which this machine has not downloaded: its known shape stands in, nothing is
downloaded, measured or compiled."""
import collections
import re

import pytest

from configs import mnist
from imbalance_jax import design, estimate, sizing, stages, study, study_setup
from imbalance_jax.workdir import Workdir

COHORT_SIZE = 1024


def _grid():
    config = mnist.get_config()
    config.cohort_size = COHORT_SIZE
    return config


def _refuse_downloads_and_measurements(monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.setattr(tfds, "builder", lambda *a, **k: pytest.fail("tried to prepare (download) a dataset"))
    monkeypatch.setattr(sizing, "measured_footprint", lambda *a, **k: pytest.fail("measured the cohort sizes"))
    monkeypatch.setattr(estimate, "measured_rate", lambda *a, **k: pytest.fail("measured the step"))


@pytest.fixture(scope="module")
def setup():
    """The MNIST grid's study as a dry run assembles it (built once: 22,550 networks take a few seconds)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _refuse_downloads_and_measurements(monkeypatch)
        return study_setup.build(_grid(), measure=False, prepare=False, known_shape=True)


@pytest.fixture
def grid(monkeypatch):
    """The MNIST grid's config, with downloads, measurements and compiles refused."""
    _refuse_downloads_and_measurements(monkeypatch)
    return _grid()


def _built(monkeypatch) -> list:
    """Every Setup study_setup.build returns from now on, in order."""
    built, real = [], study_setup.build
    monkeypatch.setattr(study_setup, "build", lambda *a, **k: built.append(real(*a, **k)) or built[-1])
    return built


def _study_lines(text: str) -> list:
    """The lines study_plan.lines wrote: from the dataset line to the last cohorts line."""
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("  dataset  "))
    last = max(i for i, line in enumerate(lines) if line.startswith("  cohorts  "))
    return lines[first:last + 1]


def _printed_cohorts(text: str) -> tuple:
    """(cohorts to train, Counter {size: cohorts of that size}) as the text prints them."""
    line = re.search(r"^  cohorts  ([\d,]+) to train.*: (.*)$", text, re.M)
    sizes = collections.Counter()
    for count, size in re.findall(r"([\d,]+) x ([\d,]+)", line.group(2)):
        sizes[int(size.replace(",", ""))] += int(count.replace(",", ""))
    return int(line.group(1).replace(",", "")), sizes


def test_the_study_launch_plan_and_the_dry_run_build_one_study(setup, grid, monkeypatch, tmp_path):
    assert setup.data is None and setup.splits == () and not setup.data_facts.loaded
    assert "(its known shape)" in setup.data_facts.source and "is not prepared in" in setup.data_facts.source
    assert setup.data_facts.facts == design.DatasetFacts(10, 5000) and setup.input_shape == (28, 28, 1)
    assert len(setup.networks) == 22_550  # 4,500 sets x 5 trained methods, and 50 balanced references
    assert (setup.cohort_size, setup.sizes.source) == (COHORT_SIZE, "the config")

    built = _built(monkeypatch)
    path = str(tmp_path / "mnist")
    planned = estimate.plan_table(grid, path, measure=False)  # what launch.plan --dry_run prints
    dry = study.dry_run(grid, path)  # what launch.study --dry_run prints
    assert len(built) == 2  # each assembled its study by build, once
    for other in built:
        assert [(n.name, n.training_hash) for n in other.networks] == [(n.name, n.training_hash)
                                                                       for n in setup.networks]
        assert other.sizes == setup.sizes and other.data_facts.facts == setup.data_facts.facts
    assert _study_lines(planned) == _study_lines(dry)  # one printer
    assert f"plan of {len(setup.networks):,} networks" in planned and f"dry run of {len(setup.networks):,}" in dry

    cohorts = design.pack_cohorts(list(setup.networks), COHORT_SIZE)
    assert _printed_cohorts(dry) == (len(cohorts), collections.Counter(map(len, cohorts)))
    assert _printed_cohorts(dry) == (23, {1024: 21, 808: 1, 238: 1})  # stage 0: 13,550; stage 1: 9,000
    for stage, counts in design.methods_per_stage(setup.networks).items():
        per_method = ", ".join(f"{m} {c:,}" for m, c in counts.items())
        assert f"  stage {stage}  {counts.total():,} networks ({per_method})" in dry
    assert f"  workdir  0 networks already trained in {path}; 22,550 to train" in dry


def test_a_workdir_holding_a_cohort_is_read_alike_by_the_plan_and_the_dry_run(setup, grid, tmp_path):
    workdir = Workdir(str(tmp_path / "mnist"))
    workdir.prepare()
    workdir.save_config(grid)
    first = design.pack_cohorts(list(setup.networks), COHORT_SIZE)[0]
    workdir.new_cohort("cohort_00000", first)  # its members written, killed before its first save: resumed
    planned = estimate.plan_table(grid, workdir.path, measure=False)
    dry = study.dry_run(grid, workdir.path)
    assert _study_lines(planned) == _study_lines(dry)
    located, new = stages.pending_cohorts(setup.networks, COHORT_SIZE, workdir.cohorts())
    assert set(located) == {n.name for n in first} and len(new) == 22
    expected = collections.Counter(map(len, [first, *new]))
    assert _printed_cohorts(dry) == (23, expected) and expected == {1024: 21, 808: 1, 238: 1}
    assert (f"workdir  0 networks already trained in {workdir.path}; 1,024 in 1 unfinished cohorts to resume; "
            f"{22_550 - 1024:,} to train") in dry
    assert "cohorts  23 to train (1 resumed, 22 new)" in dry
