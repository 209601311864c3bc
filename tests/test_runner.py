"""The runner: studies that grow, cohorts saved and resumed mid-way, the workdir as the source of truth."""
import csv
import os
import signal
import subprocess
import sys
import time

import pytest

import tiny
from imbalance_jax import cli, methods, run, study
from imbalance_jax import setup as setup_lib
from imbalance_jax.workdir import Workdir

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _rows(path):
    with open(path) as f:
        return {(r["network"], r["method"]): r for r in csv.DictReader(f)}


def _count_training(monkeypatch):
    """Records the networks of every cohort the runner trains."""
    trained = []
    real = run.CohortTraining.run

    def counted(self):
        trained.extend(n.name for n in self.networks)
        return real(self)

    monkeypatch.setattr(run.CohortTraining, "run", counted)
    return trained


def test_growing_a_study_trains_only_the_new_networks(tmp_path, monkeypatch):
    trained = _count_training(monkeypatch)
    config = tiny.tiny_config()
    config.methods = ("baseline", "oversampling")
    study.run_study(config, str(tmp_path))
    first = _rows(tmp_path / "results.csv")
    assert sorted(trained) == ["step_rho10_mu0.5_rep0/baseline", "step_rho10_mu0.5_rep0/oversampling"]

    trained.clear()
    config.imbalance.repetitions = 2
    config.methods = ("baseline", "oversampling", "undersampling", "thresholding")
    study.run_study(config, str(tmp_path))
    assert sorted(trained) == ["step_rho10_mu0.5_rep0/undersampling", "step_rho10_mu0.5_rep1/baseline",
                               "step_rho10_mu0.5_rep1/oversampling", "step_rho10_mu0.5_rep1/undersampling"]
    grown = _rows(tmp_path / "results.csv")
    assert len(grown) == 2 * 4  # 2 repetitions x 4 reported methods
    for key, row in first.items():  # the old rows are unchanged
        assert grown[key] == row
    assert grown[("step_rho10_mu0.5_rep0/baseline", "thresholding")]["auc"] == first[
        ("step_rho10_mu0.5_rep0/baseline", "baseline")]["auc"]


def test_a_method_registered_in_a_test_file_runs_through_a_study(tmp_path):
    # Three stages: oversampling -> two-phase -> its own output layer fine-tuned again with class-aware batches.
    methods.register(methods.Method("twice_tuned", "twice_tuned", methods.Training(
        sampler="class_aware", parent="two_phase_oversampling", layers="finetune", lr_scale=0.5), family="test"))
    try:
        config = tiny.tiny_config()
        config.methods = ("twice_tuned",)
        rows = study.run_study(config, str(tmp_path))
        setup, workdir = setup_lib.build(config, Workdir(str(tmp_path))), Workdir(str(tmp_path))
        assert [n.stage for n in setup.networks] == [0, 1, 2]
        assert [r["method"] for r in rows] == ["twice_tuned"]
        assert [[n.method for n in c.networks] for c in workdir.cohorts()] == [
            ["oversampling"], ["two_phase_oversampling"], ["twice_tuned"]]
        parent, child = (study.restore(setup, workdir, k)["params"]["params"] for k in (1, 2))
        assert (parent["fc1"]["kernel"] == child["fc1"]["kernel"]).all()
        assert not (parent["fc2"]["kernel"] == child["fc2"]["kernel"]).all()
    finally:
        methods.unregister("twice_tuned")


def _launch(*args, **kwargs):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "tests")]))
    return subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


LONG = ["--config=tests/tiny.py", "--config.train.iterations=80", "--config.checkpoint_every=10",
        "--config.curve_every=40", "--config.cohort_size=5", "--config.report=False", "--config.methods=('baseline','oversampling')"]


@pytest.fixture(scope="module")
def uninterrupted_workdir(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("whole")
    out, err = _launch("launch.study", f"--workdir={workdir}", *LONG).communicate(timeout=600)
    assert "error" not in err.lower(), err[-2000:]
    return workdir


@pytest.fixture(scope="module")
def uninterrupted(uninterrupted_workdir):
    return _rows(uninterrupted_workdir / "results.csv")


def _wait_for_save(workdir, proc, step_dir="10"):
    path = os.path.join(workdir, "cohorts", "cohort_00000", "checkpoints", step_dir)
    deadline = time.time() + 300
    while not os.path.isdir(path):
        assert proc.poll() is None and time.time() < deadline, "the study ended before its first periodic save"
        time.sleep(0.02)


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_study_resumes_from_its_last_save_to_the_same_results(tmp_path, uninterrupted, signum):
    proc = _launch("launch.study", f"--workdir={tmp_path}", *LONG)
    _wait_for_save(tmp_path, proc)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == (-9 if signum == signal.SIGKILL else 128 + signal.SIGTERM), err[-2000:]
    if signum == signal.SIGTERM:  # saved in flight, one line on how to resume
        last = err.strip().splitlines()[-1]
        assert last.startswith("interrupted: stopped by SIGTERM at cohort_00000 step ") and "rerun `" in last
    resumed = _launch("launch.study", f"--workdir={tmp_path}")  # the workdir's config, nothing else
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-2000:]
    assert "cohort_00000 resumes at step " in err
    assert "cohort 1 of 1 (cohort_00000): 2 LeNet5 networks, resuming at step " in err  # said before it compiles
    assert "2/2 networks evaluated" in err
    # Same backend, same compiled step, the data order a function of the step: bit-equal results.
    assert _rows(tmp_path / "results.csv") == uninterrupted


def test_report_needs_only_the_workdir_and_the_saved_config_is_a_config_file(tmp_path, uninterrupted_workdir):
    import shutil

    workdir = tmp_path / "copy"
    shutil.copytree(uninterrupted_workdir, workdir)
    (workdir / "report.md").unlink(missing_ok=True)
    proc = _launch("launch.report", f"--workdir={workdir}")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and (workdir / "report.md").exists(), err[-2000:]
    # The saved config as a config file, with an override (launch.evaluate --workdir alone: test_study.py).
    proc = _launch("launch.evaluate", f"--config={workdir}/config.json", f"--workdir={workdir}",
                   "--config.eval_batch_size=100")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert _rows(workdir / "results.csv") == _rows(uninterrupted_workdir / "results.csv")


@pytest.mark.parametrize("override,message", [
    ("--config.train.iteratons=5", "error: --config.train.iteratons: no such config key; did you mean "
                                   "train.iterations"),
    ("--config.train.iterations=abc", "error: --config.train.iterations=abc: expected int (like 20)"),
    ("--config.imbalance.step_rhos=ten", "error: --config.imbalance.step_rhos=ten: expected tuple"),
])
def test_a_bad_override_is_one_line(capsys, tmp_path, override, message):
    # What cli.run_app checks before absl parses (one entry point's exit path: test_study.py).
    with pytest.raises(SystemExit) as exited:
        cli.check_overrides([override], tiny.tiny_config())
    err = capsys.readouterr().err
    assert exited.value.code == 2 and len(err.strip().splitlines()) == 1 and err.strip().startswith(message), err


def test_a_changed_training_key_is_refused_by_name(tmp_path):
    config = tiny.tiny_config()
    config.methods = ("baseline",)
    study.run_study(config, str(tmp_path))
    config.train.momentum = 0.5
    with pytest.raises(ValueError, match=r"\(train.momentum: 0.9 -> 0.5\)"):
        study.open_study(config, str(tmp_path))
    config.train.momentum = 0.9
    config.cohort_size, config.steps_per_call = 3, 5  # execution settings may change
    study.run_study(config, str(tmp_path))
