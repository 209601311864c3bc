"""The runner: studies that grow, cohorts saved and resumed mid-way, the workdir as the source of truth."""
import csv
import os
import signal
import json
import subprocess
import sys
import time

import pytest

import tiny
from imbalance_jax import cli, cohort_training, host_memory, methods, study, study_setup
from imbalance_jax.workdir import Workdir

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _rows(path):
    with open(path) as f:
        return {(r["network"], r["method"]): r for r in csv.DictReader(f)}


def _count_training(monkeypatch):
    """Records the networks of every cohort the runner trains."""
    trained = []
    real = cohort_training.train_cohort

    def counted(run, record, position):
        trained.extend(n.name for n in record.networks)
        return real(run, record, position)

    monkeypatch.setattr(cohort_training, "train_cohort", counted)
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
        setup, workdir = study_setup.build(config, Workdir(str(tmp_path))), Workdir(str(tmp_path))
        assert [n.stage for n in setup.networks] == [0, 1, 2]
        assert [r["method"] for r in rows] == ["twice_tuned"]
        assert [[n.method for n in c.networks] for c in workdir.cohorts()] == [
            ["oversampling"], ["two_phase_oversampling"], ["twice_tuned"]]
        parent, child = (study.restore(setup, workdir, k)["params"]["params"] for k in (1, 2))
        assert (parent["fc1"]["kernel"] == child["fc1"]["kernel"]).all()
        assert not (parent["fc2"]["kernel"] == child["fc2"]["kernel"]).all()
    finally:
        methods.unregister("twice_tuned")


def _entry_points(tmp_path, *argvs):
    """Each `python -m` command (argv) in a child forked from one process that imports the project once:
    (exit status, stdout, stderr) per command (tests/run_documented.py)."""
    jobs = tmp_path / "jobs.json"
    jobs.write_text(json.dumps([dict(argv=list(argv), env={}) for argv in argvs]))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "tests")]))
    done = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "run_documented.py"), str(jobs), ROOT],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return [(j["status"], j["stdout"], j["stderr"]) for j in json.loads(jobs.read_text())]


def _launch(*args, **kwargs):
    """The entry point as a user starts it: without the suite's malloc settings, which it then sets itself."""
    env = {k: v for k, v in os.environ.items() if k not in host_memory.user_malloc_settings(os.environ)}
    env["PYTHONPATH"] = os.pathsep.join([ROOT, os.path.join(ROOT, "tests")])
    return subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


# Long enough that a signal sent once step 10 is saved lands before the next save (20), mid-cohort.
LONG = ["--config=tests/tiny.py", "--config.train.iterations=30", "--config.checkpoint_every=10",
        "--config.curve_every=30", "--config.cohort_size=5", "--config.report=False",
        "--config.methods=('baseline','oversampling')"]


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


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_study_resumes_from_its_last_save_to_the_same_results(tmp_path, uninterrupted, signum):
    proc = _launch("launch.study", f"--workdir={tmp_path}", *LONG)
    _wait_for_save(tmp_path, proc)
    if host_memory.on_glibc():  # the running study is the entry point restarted with malloc's settings
        with open(f"/proc/{proc.pid}/environ", "rb") as f:
            environ = dict(v.decode().partition("=")[::2] for v in f.read().split(b"\0") if v)
        assert {k: environ.get(k) for k in host_memory.SETTINGS} == host_memory.SETTINGS
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


@pytest.mark.slow
def test_report_needs_only_the_workdir_and_the_saved_config_is_a_config_file(tmp_path, uninterrupted_workdir):
    import shutil

    workdir = tmp_path / "copy"
    shutil.copytree(uninterrupted_workdir, workdir)
    (workdir / "report.md").unlink(missing_ok=True)
    # The saved config as a config file, with an override (launch.evaluate --workdir alone: test_study.py).
    (code, _, err), (evaluated, _, evaluate_err) = _entry_points(
        tmp_path, ["launch.report", f"--workdir={workdir}"],
        ["launch.evaluate", f"--config={workdir}/config.json", f"--workdir={workdir}", "--config.eval_batch_size=100"])
    assert code == 0 and (workdir / "report.md").exists(), err[-2000:]
    assert evaluated == 0, evaluate_err[-2000:]
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


@pytest.mark.slow
def test_sigint_saves_the_cohort_in_flight_and_a_second_sigint_stops_at_once(tmp_path):
    proc = _launch("launch.study", f"--workdir={tmp_path / 'once'}", *LONG)
    _wait_for_save(tmp_path / "once", proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signal.SIGINT, err[-2000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted: stopped by SIGINT at cohort_00000 step ") and last.endswith(
        f"rerun `uv run python -m launch.study --workdir={tmp_path / 'once'}` to resume from that save")
    step = int(last.split(" step ")[1].split("/")[0])
    assert os.path.isdir(tmp_path / "once" / "cohorts" / "cohort_00000" / "checkpoints" / str(step))
    twice = _launch("launch.study", f"--workdir={tmp_path / 'twice'}", *LONG)
    _wait_for_save(tmp_path / "twice", twice)
    twice.send_signal(signal.SIGINT)
    seen = []
    for line in twice.stderr:  # once the first is handled (a second one still pending would merge with it)
        seen.append(line)
        if "SIGINT received" in line:
            break
    twice.send_signal(signal.SIGINT)  # asked twice: no waiting for the call and its save
    _, err = twice.communicate(timeout=300)
    err = "".join(seen) + err
    assert twice.returncode == 130, err[-2000:]
    assert err.strip().splitlines()[-1].startswith("interrupted: saved cohorts are kept; rerun `uv run python -m "
                                                   f"launch.study --workdir={tmp_path / 'twice'}` to resume")


@pytest.mark.parametrize("errno_name", ["ENOSPC", "EROFS"])
def test_a_full_or_read_only_disk_is_one_line(capsys, tmp_path, errno_name):
    import errno

    from imbalance_jax import files

    def refused(path, write, binary=False):
        raise OSError(getattr(errno, errno_name), os.strerror(getattr(errno, errno_name)), path)

    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(files, "write_atomically", refused)
    try:
        with pytest.raises(SystemExit) as exited:
            with cli.one_line_errors(str(tmp_path)):
                study.run_study(tiny.tiny_config(), str(tmp_path))
    finally:
        monkeypatch.undo()
    lines = capsys.readouterr().err.strip().splitlines()
    assert exited.value.code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: {tmp_path}") and os.strerror(getattr(errno, errno_name)) in lines[0]
    assert lines[0].endswith("free space or give a --workdir on another disk, then rerun to resume" if
                             errno_name == "ENOSPC" else "check the workdir's permissions and free space, then rerun "
                             "to resume")


def test_imbalance_jax_traceback_shows_the_traceback_instead_of_the_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "tests")]))
    args = [sys.executable, "-m", "launch.study", "--config=tests/tiny.py", f"--workdir={tmp_path}",
            "--config.train.iterations=0"]
    plain = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    traced = subprocess.run(args, cwd=ROOT, env=dict(env, IMBALANCE_JAX_TRACEBACK="1"), capture_output=True,
                            text=True)
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    assert traced.returncode != 0 and "Traceback (most recent call last)" in traced.stderr
    assert "ValueError: config.train.iterations=0 is out of range" in traced.stderr


@pytest.mark.slow
def test_union_and_labels_through_the_entry_point_with_their_errors(tmp_path, uninterrupted_workdir):
    import shutil

    for name in ("a", "b"):
        shutil.copytree(uninterrupted_workdir, tmp_path / name, ignore=shutil.ignore_patterns("cohorts", "jax_cache"))
    both = [f"--workdir={tmp_path / 'a'}", f"--workdir={tmp_path / 'b'}"]
    other = tmp_path / "other"
    shutil.copytree(tmp_path / "a", other)
    saved = json.loads((other / "config.json").read_text())
    saved["dataset"] = "mnist"  # another study's config: an identity key differs
    (other / "config.json").write_text(json.dumps(saved))
    bad_labels = ((["--label=only_one"], "error: 1 --label values for 2 --workdir values; give one per study"),
                  (["--label=x", "--label=x"],
                   "error: --label values ['x', 'x'] repeat; give each study its own label"))
    (joined, out, err), (labelled, _, labelled_err), *bad, (mixed, _, err_mixed) = _entry_points(
        tmp_path, ["launch.report", *both, "--union", f"--out={tmp_path / 'u'}"],
        ["launch.report", *both, "--label=fp32", "--label=bf16", f"--out={tmp_path / 'c'}"],
        *(["launch.report", *both, *extra, f"--out={tmp_path / 'bad'}"] for extra, _ in bad_labels),
        ["launch.report", f"--workdir={tmp_path / 'a'}", f"--workdir={other}", "--union", f"--out={tmp_path / 'm'}"])
    assert joined == 0, err[-2000:]
    assert out.strip() == str(tmp_path / "u" / "report.md")
    assert len(_rows(tmp_path / "u" / "results.csv")) == len(_rows(uninterrupted_workdir / "results.csv"))
    assert labelled == 0, labelled_err[-2000:]
    with open(tmp_path / "c" / "results.csv") as f:
        assert {r["study"] for r in csv.DictReader(f)} == {"fp32", "bf16"}
    for (code, _, err), (_, message) in zip(bad, bad_labels):
        assert code == 2 and err.strip().splitlines()[-1] == message, err[-1000:]
    err = err_mixed
    assert mixed == 2 and "compare them instead (leave out --union)" in err.strip().splitlines()[-1], err
    assert 'dataset: "digits" -> "mnist"' in err.strip().splitlines()[-1]
