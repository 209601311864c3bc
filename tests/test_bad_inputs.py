"""Every bad input ends in exit status 2 and one line on stderr naming the value, with nothing written that
a later run would trust; corrupted workdirs are redone or refused, never reported with other numbers."""
import csv
import gzip
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import tiny
from imbalance_jax import cli, study

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _one_line_exit(capsys, build):
    """Runs build() inside the entry points' error handling; returns its single stderr line."""
    with pytest.raises(SystemExit) as exit_info:
        with cli.one_line_errors():
            build()
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("key,value,expected", [
    ("train.iterations", 0, "config.train.iterations=0 is out of range; use a whole number >= 1"),
    ("train.iterations", -5, "config.train.iterations=-5 is out of range"),
    ("imbalance.repetitions", 0, "config.imbalance.repetitions=0 plans no network"),
    ("resplits", 0, "config.resplits=0 is out of range; use a whole number >= 1"),
    ("steps_per_call", 0, "config.steps_per_call=0 is out of range"),
    ("steps_per_call", -3, "config.steps_per_call=-3 is out of range"),
    ("eval_batch_size", 0, "config.eval_batch_size=0 is out of range"),
    ("train.batch_size", 0, "config.train.batch_size=0 is out of range"),
    ("checkpoint_every", -1, "config.checkpoint_every=-1 is out of range"),
    ("train.base_lr", -0.1, "config.train.base_lr=-0.1 is out of range; use a number > 0"),
    ("train.lr_grid", (0.1, -1.0), "config.train.lr_grid holds -1.0"),
    ("imbalance.step_rhos", (0.5,), "config.imbalance.step_rhos holds 0.5; every entry must be a number >= 1"),
    ("imbalance.step_mus", (1.5,), "config.imbalance.step_mus holds 1.5"),
    ("train.momentum", 1.0, "config.train.momentum=1.0 is out of range; use a number in [0, 1)"),
])
def test_out_of_range_values_are_refused_before_anything_loads(capsys, tmp_path, key, value, expected):
    config = tiny.tiny_config()
    section, _, leaf = key.rpartition(".")
    (config[section] if section else config)[leaf] = value
    line = _one_line_exit(capsys, lambda: study.open_study(config, str(tmp_path / "w")))
    assert line.startswith(f"error: {expected}"), line
    assert not (tmp_path / "w" / "config.json").exists()  # nothing a later run would trust


def _npz(path, **changes):
    rng = np.random.default_rng(0)
    arrays = dict(x_train=rng.integers(0, 255, (40, 20, 20), np.uint8), y_train=np.arange(40) % 4,
                  x_test=rng.integers(0, 255, (8, 20, 20), np.uint8), y_test=np.arange(8) % 4)
    arrays.update(changes)
    np.savez(path, **arrays)
    return f"npz:{path}"


@pytest.mark.parametrize("case,expected", [
    ("labels_n1", "labels are shaped (40, 1); give one label per image"),
    ("channels_first", "look channels-first; give [n, h, w, c]"),
    ("too_small", "images are 8x8; the models need at least 16x16"),
    ("test_size", "test images are (24, 24, 1) but training images (20, 20, 1)"),
])
def test_bad_npz_datasets_are_one_line(capsys, tmp_path, case, expected):
    rng = np.random.default_rng(1)
    changes = {"labels_n1": dict(y_train=(np.arange(40) % 4)[:, None]),
               "channels_first": dict(x_train=rng.integers(0, 255, (40, 3, 20, 20), np.uint8)),
               "too_small": dict(x_train=rng.integers(0, 255, (40, 8, 8), np.uint8),
                                 x_test=rng.integers(0, 255, (8, 8, 8), np.uint8)),
               "test_size": dict(x_test=rng.integers(0, 255, (8, 24, 24), np.uint8))}[case]
    config = tiny.tiny_config()
    config.dataset = _npz(tmp_path / "d.npz", **changes)
    line = _one_line_exit(capsys, lambda: study.open_study(config, str(tmp_path / "w")))
    assert expected in line, line


def test_an_unreadable_image_met_by_a_grain_worker_is_one_line_naming_it(tmp_path, capsys):
    from PIL import Image

    from imbalance_jax import train
    from imbalance_jax.data import grain_stream, streaming

    rng = np.random.default_rng(0)
    for split, count in (("train", 4), ("test", 1)):
        for name in ("a", "b"):
            (tmp_path / split / name).mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(tmp_path / split / name / f"{i}.jpg")
    (tmp_path / "train" / "a" / "2.jpg").write_bytes(b"not a jpeg")  # found only when a worker decodes it
    data = streaming.load_stream(f"folder:{tmp_path / 'train'},{tmp_path / 'test'}", 4, 1, 36, 32)
    stream = grain_stream.GrainStream(data, train.plain_inputs([np.arange(8)]), 8, workers=2, end_step=2)
    line = _one_line_exit(capsys, lambda: stream.chunk(0, 2))  # step 0's batch holds all 8 images
    assert line.endswith("a/2.jpg is not a readable image (cannot identify image file "
                         f"'{tmp_path / 'train' / 'a' / '2.jpg'}'); delete or replace it")
    stream.close()


def test_truncated_gzip_idx_and_corrupt_folder_image_are_one_line(capsys, tmp_path):
    from imbalance_jax import data

    idx = tmp_path / "idx"
    idx.mkdir()
    with gzip.open(idx / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28]) + bytes(2 * 28 * 28))
    raw = (idx / "train-images-idx3-ubyte.gz").read_bytes()
    (idx / "train-images-idx3-ubyte.gz").write_bytes(raw[: len(raw) // 2])
    line = _one_line_exit(capsys, lambda: data.load(f"idx:{idx}", "train"))
    assert "train-images-idx3-ubyte.gz could not be read" in line and "truncated or corrupt" in line
    folder = tmp_path / "images"
    for name in ("a", "b"):
        (folder / name).mkdir(parents=True)
    (folder / "a" / "x.png").write_bytes(b"not a png")
    (folder / "b" / "y.png").write_bytes(b"not a png either")  # b is not empty: the first bad image is named
    line = _one_line_exit(capsys, lambda: data.load(f"folder:{folder}@28", "train"))
    assert "a/x.png is not a readable image" in line


def test_a_workdir_that_is_a_file_is_one_line(capsys, tmp_path):
    (tmp_path / "f").write_text("")
    line = _one_line_exit(capsys, lambda: study.open_study(tiny.tiny_config(), str(tmp_path / "f")))
    assert line == f"error: --workdir={tmp_path / 'f'} is a file; give a folder"


def test_a_diverged_network_is_flagged_and_the_others_are_unaffected(tmp_path):
    def lr_runs(grid):
        config = tiny.tiny_config()
        config.methods = ("baseline",)
        config.train.lr_grid, config.cohort_size = grid, 3
        return config

    rows = {r["network"]: r for r in study.run_study(lr_runs((0.01, 1e6, 0.005)), str(tmp_path / "a"))}
    clean = {r["network"]: r for r in study.run_study(lr_runs((0.01, 0.005)), str(tmp_path / "b"))}
    bad = rows.pop("step_rho10_mu0.5_rep0/baseline/lr1e+06_run0")
    assert bad["diverged"] != "" and int(bad["diverged"]) <= 20 and bad["auc"] == "" and bad["selected"] == 0
    for name, row in clean.items():  # the cohort's other networks train as if it were not there
        assert row["diverged"] == "" and rows[name]["auc"] == pytest.approx(row["auc"], abs=1e-4)
    with open(tmp_path / "a" / "results.csv") as f:
        written = list(csv.DictReader(f))
    assert sum(r["diverged"] != "" for r in written) == 1
    from imbalance_jax import report

    text = open(report.write_report(str(tmp_path / "a"))).read()
    assert "## Diverged networks" in text and "lr1e+06_run0: step" in text


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("finished")
    config = tiny.tiny_config()
    config.methods = ("baseline", "oversampling", "undersampling")
    config.cohort_size = 1  # three cohorts of one network: cohorts of equal size whose members could be swapped
    study.run_study(config, str(workdir))
    return workdir, config


def _copy(finished, tmp_path):
    workdir = tmp_path / "w"
    shutil.copytree(finished[0], workdir)
    (workdir / "lock").unlink(missing_ok=True)
    return workdir


def _results(workdir):
    with open(workdir / "results.csv") as f:
        return [(r["network"], r["method"], r["auc"]) for r in csv.DictReader(f)]


def _state_file(workdir):
    files = [p for p in (workdir / "cohorts" / "cohort_00000" / "checkpoints").rglob("*")
             if p.is_file() and "state" in p.parts and p.stat().st_size > 1000]
    return max(files, key=lambda p: p.stat().st_size)


@pytest.mark.parametrize("corruption", ["eval_emptied", "eval_of_another_cohort", "eval_garbage", "retrained",
                                        "cohort_size_edited", "config_garbage", "config_deleted_and_changed",
                                        "state_truncated", "state_deleted", "bytes_overwritten"])
def test_a_corrupted_workdir_is_redone_or_refused(capsys, tmp_path, finished, corruption):
    workdir, config = _copy(finished, tmp_path), finished[1].copy_and_resolve_references()
    before = _results(workdir)
    evals = workdir / "eval"
    if corruption == "eval_emptied":
        (evals / "cohort_00000.json").write_text("[]")
    elif corruption == "eval_of_another_cohort":
        shutil.copy(evals / "cohort_00000.json", evals / "cohort_00001.json")
    elif corruption == "eval_garbage":
        (evals / "cohort_00000.json").write_text("{not json")
    elif corruption == "retrained":  # its old evaluation must not be read for the new checkpoint
        shutil.rmtree(workdir / "cohorts" / "cohort_00001" / "checkpoints")
        (workdir / "cohorts" / "cohort_00001" / "state_files.json").unlink()
        stale = json.loads((evals / "cohort_00001.json").read_text())
        stale["rows"][0]["auc"] = 0.123  # what reusing it would report
        (evals / "cohort_00001.json").write_text(json.dumps(stale))
    elif corruption == "cohort_size_edited":  # a cache of measured sizes: it packs new cohorts only
        (workdir / "cohort_size.json").write_text(json.dumps({"cohort_size": 1, "eval_batch_size": 7}))
        config.cohort_size = 0
    elif corruption == "config_garbage":
        (workdir / "config.json").write_text("{")
    elif corruption == "config_deleted_and_changed":
        (workdir / "config.json").unlink()
        config.train.iterations = 30
    elif corruption == "state_truncated":
        path = _state_file(workdir)
        path.write_bytes(path.read_bytes()[:100])
    elif corruption == "state_deleted":
        shutil.rmtree(_state_file(workdir).parent)
    elif corruption == "bytes_overwritten":
        path = _state_file(workdir)
        data = bytearray(path.read_bytes())
        data[len(data) // 2:len(data) // 2 + 12] = b"\xff" * 12
        path.write_bytes(bytes(data))
        (evals / "cohort_00000.json").unlink()  # so the rerun has to read the state
    refused = {  # each refusal names what is wrong and the fix
        "config_garbage": ("config.json is not valid JSON", "pass the config file the study was started with"),
        "config_deleted_and_changed": ("holds step_rho10_mu0.5_rep0/baseline trained with other settings",
                                       "restore the config it was trained with or use a new --workdir"),
        "state_truncated": ("cohort_00000", "then rerun the study to retrain that cohort"),
        "state_deleted": ("cohort_00000", "then rerun the study to retrain that cohort"),
        "bytes_overwritten": ("cohort_00000", "then rerun the study to retrain that cohort")}
    if corruption in refused:
        line = _one_line_exit(capsys, lambda: study.run_study(config, str(workdir)))
        what, fix = refused[corruption]
        assert (what in line) and (fix in line) and (corruption.startswith("config") or "delete" in line), line
        assert _results(workdir) == before  # nothing rewritten from the corrupt files
    else:  # the evaluation is redone: the same numbers as before the corruption
        study.run_study(config, str(workdir))
        assert _results(workdir) == before


def test_out_of_device_memory_names_the_cohort_size_that_fits(capsys, tmp_path, monkeypatch):
    from imbalance_jax import cohort_training, sizing

    def exhausted(run, record, position):
        raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 9 GiB")

    monkeypatch.setattr(cohort_training, "train_cohort", exhausted)
    monkeypatch.setattr(sizing, "free_device_bytes", lambda: 1_000_000_000)  # room for a few networks
    line = _one_line_exit(capsys, lambda: study.run_study(tiny.tiny_config(), str(tmp_path)))
    assert line.startswith("error: out of device memory training cohort_00000 (2 networks, batch 64); "), line
    assert "--config.cohort_size=" in line and "fits" in line


@pytest.mark.slow
def test_a_second_run_on_a_busy_workdir_exits_at_once(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "tests")]))
    args = [sys.executable, "-m", "launch.study", "--config=tests/tiny.py", f"--workdir={tmp_path}",
            "--config.train.iterations=200"]
    first = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not (tmp_path / "lock").exists():
            assert first.poll() is None and time.time() < deadline
            time.sleep(0.05)
        second = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: workdir {tmp_path} is in use by pid {first.pid} on ")
    finally:
        first.kill()
        first.communicate()
    holder = json.loads((tmp_path / "lock").read_text())  # killed: its system released the lock, the next run takes it
    assert holder["pid"] == first.pid
    from imbalance_jax import workdir as workdir_lib

    assert workdir_lib.acquire_lock(str(tmp_path)) == str(tmp_path / "lock")
    assert json.loads((tmp_path / "lock").read_text())["pid"] == os.getpid()
    assert workdir_lib.acquire_lock(str(tmp_path)) == str(tmp_path / "lock")  # this process holds it already
    workdir_lib.release_lock(str(tmp_path / "lock"))
    free = subprocess.run([sys.executable, "-c", "import sys; from imbalance_jax import workdir; "
                           "print(workdir.acquire_lock(sys.argv[1]))", str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert free.returncode == 0 and free.stdout.strip() == str(tmp_path / "lock"), free.stderr[-2000:]


def _run_app(capsys, monkeypatch, *argv):
    """The single stderr line of an entry point's run_app refusing argv (before absl parses it)."""
    monkeypatch.setattr(sys, "argv", ["launch.study", *argv])
    with pytest.raises(SystemExit) as exit_info:
        cli.run_app(lambda args: pytest.fail("the entry point ran"))
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_a_missing_workdir_or_a_file_that_is_no_config_is_one_line(capsys, monkeypatch, tmp_path):
    assert _run_app(capsys, monkeypatch, "--config=configs/quick.py").startswith("error: give --workdir=<folder>")
    (tmp_path / "results.csv").write_text("a,b\n1,2\n")
    line = _run_app(capsys, monkeypatch, f"--config={tmp_path / 'results.csv'}", f"--workdir={tmp_path}")
    assert "results.csv is neither a config file (.py) nor a study's config.json" in line
    (tmp_path / "empty.py").write_text("")
    line = _run_app(capsys, monkeypatch, f"--config={tmp_path / 'empty.py'}", f"--workdir={tmp_path}")
    assert line.endswith("empty.py defines no get_config(); use one of configs/*.py or a study's config.json")
    line = _run_app(capsys, monkeypatch, "--config=configs/quick.py:foo", f"--workdir={tmp_path}")
    assert line == ("error: --config=configs/quick.py:foo: configs/quick.py takes no variant after ':'; use "
                    "--config=configs/quick.py")
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "config.json").write_text("{garbage")
    line = _run_app(capsys, monkeypatch, f"--workdir={tmp_path / 'w'}")
    assert "config.json is not valid JSON" in line and "pass the config file the study was started with" in line
    (tmp_path / "w" / "config.json").write_text("[1, 2]")
    line = _run_app(capsys, monkeypatch, f"--workdir={tmp_path / 'w'}", "--config.train.iterations=5")
    assert "config.json holds list, not a study's config" in line


@pytest.mark.parametrize("key,value,expected", [
    ("methods", ("baseline", "baseline"), "config.methods=('baseline', 'baseline') holds 'baseline' twice"),
    ("imbalance.step_rhos", (10, 10), "config.imbalance.step_rhos=(10, 10) holds 10 twice; give each once"),
])
def test_duplicated_methods_or_settings_are_refused_before_training(capsys, tmp_path, key, value, expected):
    config = tiny.tiny_config()
    section, _, leaf = key.rpartition(".")
    (config[section] if section else config)[leaf] = value
    line = _one_line_exit(capsys, lambda: study.run_study(config, str(tmp_path / "w")))
    assert line.startswith(f"error: {expected}"), line
    assert not (tmp_path / "w" / "cohorts").exists()  # nothing trained


def test_state_files_of_the_wrong_shape_are_one_line(capsys, tmp_path, finished):
    workdir, config = _copy(finished, tmp_path), finished[1].copy_and_resolve_references()
    (workdir / "cohorts" / "cohort_00000" / "state_files.json").write_text('{"step": "20", "files": []}')
    line = _one_line_exit(capsys, lambda: study.run_study(config, str(workdir)))
    assert "state_files.json does not hold a step and file sizes" in line and "delete" in line, line


def test_swapped_members_are_refused_not_reported_under_other_names(capsys, tmp_path, finished):
    workdir, config = _copy(finished, tmp_path), finished[1].copy_and_resolve_references()
    first, second = (workdir / "cohorts" / c / "members.json" for c in ("cohort_00000", "cohort_00001"))
    a, b = first.read_text(), second.read_text()
    first.write_text(b)
    second.write_text(a)
    shutil.rmtree(workdir / "eval")  # their evaluations gone: the checkpoints are read again
    line = _one_line_exit(capsys, lambda: study.run_study(config, str(workdir)))
    assert "checkpoint holds other networks than its members.json lists" in line and "delete" in line, line


def test_a_results_csv_cut_short_is_one_line_naming_launch_evaluate(capsys, tmp_path, finished):
    from imbalance_jax import report

    workdir = _copy(finished, tmp_path)
    text = (workdir / "results.csv").read_text()
    (workdir / "results.csv").write_text(text[: len(text) - 40])  # the last row cut mid-way
    line = _one_line_exit(capsys, lambda: report.write_report(str(workdir)))
    assert "results.csv line 4 is cut short or malformed" in line, line
    assert line.endswith(f"write it again with `uv run python -m launch.evaluate --workdir={workdir}`")


def test_a_study_whose_every_network_diverged_writes_its_report_and_says_so(tmp_path):
    from imbalance_jax import report

    config = tiny.tiny_config()
    config.methods, config.train.base_lr = ("baseline",), 1e6
    rows = study.run_study(config, str(tmp_path))
    assert rows and all(r["diverged"] != "" for r in rows)
    assert report.summary_table(rows).startswith("No network trained to the end: all 1 diverged")
    text = open(report.write_report(str(tmp_path))).read()
    assert "every network diverged" in text and "- step_rho10_mu0.5_rep0/baseline: step" in text


def test_a_run_that_fails_early_leaves_its_error_in_log_txt(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "tests")]))
    done = subprocess.run([sys.executable, "-m", "launch.study", "--config=tests/tiny.py", f"--workdir={tmp_path}",
                           f"--config.dataset=idx:{tmp_path / 'no_such_folder'}"], cwd=ROOT, env=env,
                          capture_output=True, text=True)  # a valid config whose data is missing
    line = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 2 and line.startswith("error: dataset='idx:") and "no_such_folder" in line
    assert (tmp_path / "log.txt").read_text().strip().splitlines()[-1] == line


def test_a_bad_config_value_leaves_no_workdir_behind(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "tests")]))
    done = subprocess.run([sys.executable, "-m", "launch.study", "--config=tests/tiny.py",
                           f"--workdir={tmp_path / 'w'}", "--config.methods=('baseline','baseline')"], cwd=ROOT,
                          env=env, capture_output=True, text=True)
    assert done.returncode == 2 and "holds 'baseline' twice" in done.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "w").exists()


def _edit_csv(path, edit):
    """Rewrites a CSV through edit(rows) -> rows (the header kept unless the rows drop a column)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    columns = list(rows[0]) if rows else open(path).readline().strip().split(",")
    rows = edit(rows)
    columns = [c for c in columns if not rows or c in rows[0]]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)


_OTHER = "step_rho20_mu0.5_rep0/baseline"
RESULTS_EDITS = {  # an edit of results.csv, and what the one line must say
    "auc_above_one": (lambda rows: [dict(rows[0], auc="2.0"), *rows[1:]], "line 2: column auc='2.0' is not a finite "
                      "number in [0, 1]"),
    "auc_negative": (lambda rows: [dict(rows[0], auc="-0.5"), *rows[1:]], "column auc='-0.5' is not"),
    "auc_inf": (lambda rows: [dict(rows[0], auc="inf"), *rows[1:]], "column auc='inf' is not a finite number"),
    "auc_nan": (lambda rows: [dict(rows[0], auc="nan"), *rows[1:]], "column auc='nan' is not a finite number"),
    "accuracy_text": (lambda rows: [*rows[:-1], dict(rows[-1], accuracy="high")], "line 4: column accuracy='high'"),
    "rho_zero": (lambda rows: [dict(r, rho="0") for r in rows], "line 2: column rho='0' is not a finite number >= 1"),
    "duplicated": (lambda rows: rows + rows[:1], "line 5 repeats line 2's network=step_rho10_mu0.5_rep0/baseline, "
                   "method=baseline (one row each)"),
    "another_study": (lambda rows: rows + [dict(rows[0], network=_OTHER)], f"line 5: network '{_OTHER}' is not one "
                      "of this study's networks"),
    "other_method": (lambda rows: [dict(rows[0], method="undersampling"), *rows[1:]],
                     "line 2: method 'undersampling' is not one this study reports for step_rho10_mu0.5_rep0/baseline"),
    "row_deleted": (lambda rows: rows[1:], "results.csv was changed after the study wrote it"),
    "header_only": (lambda rows: [], "results.csv holds no rows"),
    "none_selected": (lambda rows: [dict(r, selected="0") for r in rows], "has 0 rows with selected=1"),
    "auc_edited": (lambda rows: [dict(rows[0], auc="0.999"), *rows[1:]], "results.csv was changed after the study"),
}


@pytest.mark.parametrize("case", list(RESULTS_EDITS))
def test_a_results_csv_out_of_range_or_not_the_studys_is_refused_by_the_report(capsys, tmp_path, finished, case):
    from imbalance_jax import report

    workdir = _copy(finished, tmp_path)
    edit, expected = RESULTS_EDITS[case]
    _edit_csv(workdir / "results.csv", edit)
    line = _one_line_exit(capsys, lambda: report.write_report(str(workdir)))
    assert expected in line and f"{workdir}/results.csv" in line, line
    assert line.endswith(f"write it again with `uv run python -m launch.evaluate --workdir={workdir}`"), line
    assert not (workdir / "report.md").exists()


def test_the_study_writes_tables_its_own_reader_accepts(tmp_path, finished):
    from imbalance_jax import report
    from imbalance_jax.workdir import Workdir

    workdir = _copy(finished, tmp_path)
    study = Workdir(str(workdir)).tables
    rows = study.results()
    assert len(rows) == 3 and len(study.per_class(rows)) == 30 and study.curves(rows)
    assert "## Which method wins" in open(report.write_report(str(workdir))).read()


SIDE_EDITS = {  # an edit of per_class.csv or curves.csv, and what the one line must say
    "per_class_other_network": ("per_class.csv", lambda rows: rows + [dict(rows[0], network=_OTHER)],
                                f"per_class.csv line 32: {_OTHER} baseline has no trained row in results.csv"),
    "per_class_class_missing": ("per_class.csv", lambda rows: rows[1:],
                                "per_class.csv holds classes [1, 2, 3, 4, 5, 6, 7, 8, 9] of "
                                "step_rho10_mu0.5_rep0/baseline baseline, not 0 to 9"),
    "per_class_no_recall": ("per_class.csv", lambda rows: [{k: v for k, v in r.items() if k != "recall"} for r in rows],
                            "per_class.csv lacks the column(s) recall"),
    "per_class_recall_above_one": ("per_class.csv", lambda rows: [dict(rows[0], recall="1.5"), *rows[1:]],
                                   "per_class.csv line 2: column recall='1.5' is not a finite number in [0, 1]"),
    "curves_other_network": ("curves.csv", lambda rows: rows + [dict(rows[0], network=_OTHER)],
                             f"network '{_OTHER}' has no row in results.csv"),
    "curves_no_step": ("curves.csv", lambda rows: [{k: v for k, v in r.items() if k != "step"} for r in rows],
                       "curves.csv lacks the column(s) step"),
    "curves_accuracy_text": ("curves.csv", lambda rows: [dict(rows[0], test_accuracy="x"), *rows[1:]],
                             "curves.csv line 2: column test_accuracy='x' is not a finite number in [0, 1]"),
}


@pytest.mark.parametrize("case", list(SIDE_EDITS))
def test_per_class_and_curves_are_checked_and_matched_to_results(capsys, tmp_path, finished, case):
    from imbalance_jax import report

    workdir = _copy(finished, tmp_path)
    name, edit, expected = SIDE_EDITS[case]
    _edit_csv(workdir / name, edit)
    line = _one_line_exit(capsys, lambda: report.write_report(str(workdir)))
    assert expected in line and f"launch.evaluate --workdir={workdir}`" in line, line


def test_a_hand_edited_evaluation_record_is_evaluated_again(tmp_path, finished):
    workdir, config = _copy(finished, tmp_path), finished[1].copy_and_resolve_references()
    before = _results(workdir)
    path = workdir / "eval" / "cohort_00000.json"
    record = json.loads(path.read_text())
    record["rows"][0]["auc"] = 0.999
    path.write_text(json.dumps(record))
    study.evaluate_study(config, str(workdir))
    assert _results(workdir) == before  # redone from the checkpoint, not copied from the edit
    assert json.loads(path.read_text())["rows"][0]["auc"] != 0.999


def test_compute_dtype_is_kept_by_the_workdir(capsys, tmp_path, finished):
    workdir, config = _copy(finished, tmp_path), finished[1].copy_and_resolve_references()
    config.compute_dtype = "bfloat16"
    config.imbalance.repetitions = 2  # a grow in bf16
    line = _one_line_exit(capsys, lambda: study.run_study(config, str(workdir)))
    assert 'compute_dtype: "float32" -> "bfloat16"' in line and "use a new --workdir" in line, line
    line = _one_line_exit(capsys, lambda: study.evaluate_study(config, str(workdir), force=True))
    assert 'compute_dtype: "float32" -> "bfloat16"' in line, line
    assert json.loads((workdir / "config.json").read_text())["compute_dtype"] == "float32"


def test_plan_and_dry_run_count_a_cohort_killed_mid_training_as_unfinished(tmp_path, finished):
    from imbalance_jax import estimate

    workdir, config = _copy(finished, tmp_path), finished[1].copy_and_resolve_references()
    checkpoints = workdir / "cohorts" / "cohort_00002" / "checkpoints"
    os.rename(checkpoints / "20", checkpoints / "10")  # its last save before the end, as a kill leaves it
    dry = study.dry_run(config, str(workdir))
    said = f"2 networks already trained in {workdir}; 1 in 1 unfinished cohorts to resume; 0 to train"
    assert said in dry and "cohorts  1 to train (1 resumed, 0 new): 1 x 1 networks" in dry, dry
    planned = estimate.plan_table(config, str(workdir), measure=False)
    assert said in planned and "cohorts  1 to train (1 resumed, 0 new)" in planned, planned


def test_a_report_while_a_run_holds_the_workdir_says_so(tmp_path, finished):
    import socket

    from imbalance_jax import report

    workdir = _copy(finished, tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", "import filelock, json, os, socket, sys, time\n"
                               f"lock = filelock.FileLock({str(workdir / 'lock')!r}, timeout=0); lock.acquire()\n"
                               f"open({str(workdir / 'lock')!r}, 'w').write(json.dumps(dict(pid=os.getpid(), "
                               "host=socket.gethostname(), started='2026-12-03 10:00:00')))\n"
                               "print('held', flush=True); time.sleep(120)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"  # a live run holds the workdir's lock
        text = open(report.write_report(str(workdir))).read()
        assert (f"A run (pid {holder.pid} on {socket.gethostname()}, since 2026-12-03 10:00:00) is using {workdir}"
                in text)
    finally:
        holder.kill()
        holder.wait()
    assert "is using" not in open(report.write_report(str(workdir))).read()  # its death released the lock


def test_a_class_name_holding_a_bar_keeps_the_class_table_whole():
    from imbalance_jax import report

    rows = [dict(network="a", method="baseline", selected="1", minority="1", recall="0.5", **{"class": "0"},
                 class_name="cat|dog")]
    table = report.class_table(rows).splitlines()
    assert table[2] == "| cat\\|dog | Baseline | 0.5000 (1) |  |"
    assert all(line.replace("\\|", "").count("|") == 5 for line in table)


def _launch(*args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "tests")]))
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_launch_report_refuses_unknown_config_keys_and_overrides_it_cannot_use(tmp_path, finished):
    workdir = _copy(finished, tmp_path)
    done = _launch("launch.report", f"--workdir={workdir}", "--config.train.iterations=5")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "--config.train.iterations changes how a study trains" in lines[0] and "--config.statistics." in lines[0]
    saved = json.loads((workdir / "config.json").read_text())
    (workdir / "config.json").write_text(json.dumps(dict(saved, colour="red")))
    done = _launch("launch.report", f"--workdir={workdir}")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert lines[0] == (f"error: {workdir}/config.json: config.colour is not a key of a study's config; see "
                        "imbalance_jax/config_schema.py for the keys")
    assert not (workdir / "report.md").exists()


@pytest.mark.parametrize("args,expected", [
    (("--config.imbalance.step_rhos=(10,)", "--config.imbalance.step_rhos=(250,1000)"),
     "error: --config.imbalance.step_rhos is given 2 times (--config.imbalance.step_rhos=(10,) "
     "--config.imbalance.step_rhos=(250,1000)); give it once"),
    (("--config.train.iterations=5", "--config.train.iterations=6"),
     "error: --config.train.iterations is given 2 times"),
    (("--config.train.iterations=True",), "error: --config.train.iterations=True: expected int (like 20)"),
])
def test_an_override_given_twice_or_of_the_wrong_type_is_one_line(capsys, monkeypatch, tmp_path, args, expected):
    line = _run_app(capsys, monkeypatch, "--config=tests/tiny.py", f"--workdir={tmp_path}", *args)
    assert line.startswith(expected), line


@pytest.mark.parametrize("args,expected", [
    (("my", "study"), "error: 'my' 'study' is not a flag (--name=value); quote a value that holds spaces"),
    (("--dry-run",), "(flags are written with '_', e.g. --dry_run)"),
])
def test_stray_words_and_dashed_flags_are_one_line_exit_2(tmp_path, args, expected):
    done = _launch("launch.study", "--config=tests/tiny.py", f"--workdir={tmp_path / 'w'}", *args)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and expected in lines[0], done.stderr
    assert not (tmp_path / "w").exists()


def test_help_prints_the_flags_without_a_workdir():
    done = _launch("launch.study", "--help")
    assert "--workdir: Where checkpoints and results go" in done.stdout and not done.stderr.strip(), done.stderr
    assert done.returncode == 0  # help asked for is a success (absl alone ends it with 1)


def _folders(root, counts, size=20, seed=0):
    """A folder dataset with counts[name] random greyscale images per class."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 255, (size, size), dtype=np.uint8)).save(root / name / f"{i}.png")
    return root


@pytest.mark.parametrize("case", ["npz_last_label", "folder_last_class"])  # a middle label: _checked's line
def test_a_test_split_missing_a_class_is_one_line(capsys, tmp_path, case):
    from imbalance_jax.data import balanced

    if case.startswith("npz"):
        name, missing = _npz(tmp_path / "d.npz", y_test=np.array([0, 1, 2, 0, 1, 2, 0, 1])), 3
    else:
        train = _folders(tmp_path / "train", {"a": 6, "b": 6, "c": 6})
        test = _folders(tmp_path / "test", {"a": 2, "b": 2}, seed=1)  # class c has no test folder
        name, missing = f"folder:{train},{test}", 2
    line = _one_line_exit(capsys, lambda: balanced.load_balanced(name, 0, 0))
    assert f"the test split has no images of class {missing} (of 0..{2 if case == 'folder_last_class' else 3})" \
        in line and "give every class test images" in line, line


def test_a_one_class_dataset_and_a_class_of_one_image_are_named(capsys, tmp_path):
    from imbalance_jax.data import balanced

    name = _npz(tmp_path / "one.npz", y_train=np.zeros(40, np.int64), y_test=np.zeros(8, np.int64))
    line = _one_line_exit(capsys, lambda: balanced.load_balanced(name, 0, 0))
    assert "has 1 class in its training split; a class imbalance study needs two or more classes" in line, line
    folder = _folders(tmp_path / "f", {"a": 5, "b": 1})
    line = _one_line_exit(capsys, lambda: balanced.load_balanced(f"folder:{folder}", 0, 0))
    assert "class folder 'b' has 1 image; each class needs two or more (one is held out for testing)" in line, line


def test_sixteen_bit_greyscale_pngs_keep_their_grey_levels(tmp_path):
    from PIL import Image

    from imbalance_jax import data

    levels = np.linspace(0, 65535, 20 * 20).reshape(20, 20).astype(np.uint16)  # a 16-bit ramp
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(3):
            Image.fromarray(levels).save(tmp_path / name / f"{i}.png")
    assert Image.open(tmp_path / "a" / "0.png").mode in ("I;16", "I")
    images, _ = data.load(f"folder:{tmp_path}", "train")
    assert images.dtype == np.uint8 and images.shape[1:] == (20, 20, 1)
    np.testing.assert_array_equal(images[0, ..., 0], np.round(levels / 257).astype(np.uint8))
    assert len(np.unique(images[0])) > 200  # a ramp, not black and white


def test_rhos_above_what_n_max_holds_say_the_ratio_they_give(caplog, tmp_path):
    config = tiny.tiny_config()  # digits: 144 training images per class
    config.imbalance.step_rhos = (10, 250, 1000)
    study.dry_run(config, str(tmp_path / "w"))
    said = [r.getMessage() for r in caplog.records if "config.imbalance: with n_max" in r.getMessage()]
    assert said == ["config.imbalance: with n_max=144 examples per class, rho 250, 1000 give a ratio of 144 (a class "
                    "keeps at least one example; results.csv keeps the rho asked for); use more examples per class "
                    "or rho <= n_max for the ratios asked for"], said


@pytest.mark.parametrize("method,expected", [
    ("oversampling_to_0.5", "config.methods holds 'oversampling_to_0.5': method 'oversampling_to_0.5': the target "
     "ratio must be >= 1"),
    ("posthoc_adjustment_tau-1", "config.methods holds 'posthoc_adjustment_tau-1': '-1' is not a number >= 0, the <t> "
     "of posthoc_adjustment_tau<t>; e.g. posthoc_adjustment_tau2"),
])
def test_a_parametrised_method_with_a_bad_parameter_says_why(capsys, tmp_path, method, expected):
    config = tiny.tiny_config()
    config.methods = ("baseline", method)
    line = _one_line_exit(capsys, lambda: study.open_study(config, str(tmp_path / "w")))
    assert line == f"error: {expected}", line


@pytest.mark.parametrize("error", [OSError(28, "No space left on device", "/w/cohorts/x"),
                                   RuntimeError("RESOURCE_EXHAUSTED: write failed: No space left on device")])
def test_a_full_disk_is_called_a_full_disk(capsys, error):
    def build():
        raise error
    line = _one_line_exit(capsys, build)
    assert ": No space left on device (the disk is full); free space or give a --workdir on another disk" in line, line
    assert "device memory" not in line


def test_a_workdir_path_too_long_is_one_line(capsys, monkeypatch, tmp_path):
    line = _run_app(capsys, monkeypatch, "--config=tests/tiny.py", f"--workdir={tmp_path / ('x' * 4000)}")
    assert "is too long for the file system (" in line and "give a shorter --workdir" in line, line
    assert len(line) < 400 and "b'" not in line


@pytest.mark.parametrize("case,expected", [
    ("not_zip", "cannot be read as an .npz of numeric arrays"),
    ("objects", "cannot be read as an .npz of numeric arrays (Object arrays cannot be loaded"),
    ("npy", "holds one array, not an .npz archive"),
])
def test_an_npz_that_is_no_archive_of_numbers_names_the_file(capsys, tmp_path, case, expected):
    from imbalance_jax import data

    path = tmp_path / "d.npz"
    if case == "not_zip":
        path.write_bytes(b"this is not a zip archive" * 10)
    elif case == "objects":
        np.savez(path, x_train=np.array([object(), 1], dtype=object), y_train=np.arange(2), x_test=np.zeros(2),
                 y_test=np.arange(2))
    else:
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    line = _one_line_exit(capsys, lambda: data.load(f"npz:{path}", "train"))
    assert line.startswith(f"error: dataset='npz:{path}' ") and expected in line, line


def test_an_oversized_train_per_class_names_the_key(capsys, tmp_path):
    config = tiny.tiny_config()
    config.train_per_class = 100_000
    line = _one_line_exit(capsys, lambda: study.open_study(config, str(tmp_path / "w")))
    assert line.startswith("error: config.train_per_class=100000 but the smallest class of 'digits' train has "), line


def test_a_folder_resized_beyond_the_machines_memory_is_refused(capsys, tmp_path, monkeypatch):
    from imbalance_jax import data
    from imbalance_jax.data import loaders

    folder = _folders(tmp_path / "f", {"a": 3, "b": 3})
    monkeypatch.setattr(loaders, "_memory_bytes", lambda: 2**30)
    line = _one_line_exit(capsys, lambda: data.load(f"folder:{folder}@100000", "train"))
    assert "6 images of 100000x100000 take" in line and "give a smaller @<size>" in line, line


def test_an_identity_key_edited_in_config_json_is_named(capsys, tmp_path, finished):
    from imbalance_jax import config_files

    workdir = _copy(finished, tmp_path)
    saved = json.loads((workdir / "config.json").read_text())
    saved["train"]["iterations"] = 30  # edited by hand: the saved config now agrees with itself, not the cohorts
    (workdir / "config.json").write_text(json.dumps(saved))
    config = config_files.read_saved(str(workdir / "config.json"))
    line = _one_line_exit(capsys, lambda: study.run_study(config, str(workdir)))
    assert "holds step_rho10_mu0.5_rep0/baseline trained with other settings (train.iterations: 20 -> 30)" in line, line


def test_sigterm_outside_training_ends_with_a_line_and_frees_the_lock(tmp_path):
    import signal

    script = ("import sys, time\nfrom imbalance_jax import cli, workdir\n"
              "with cli.one_line_errors(sys.argv[1]):\n"
              "    workdir.acquire_lock(sys.argv[1])\n"
              "    print('evaluating', flush=True)\n"
              "    time.sleep(60)\n")  # as a run evaluating: no training handler is installed then
    env = dict(os.environ, PYTHONPATH=ROOT)
    run = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    assert run.stdout.readline().strip() == "evaluating"
    assert (tmp_path / "lock").exists()
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 128 + signal.SIGTERM
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted: SIGTERM received;"), err
    assert f"--workdir={tmp_path}`" in lines[0]
    import filelock

    free = filelock.FileLock(str(tmp_path / "lock"), timeout=0)
    free.acquire()  # released on the way out, not left for the next run to take over
    free.release()


def test_a_checksums_record_of_another_shape_is_refused_and_a_byte_order_mark_is_no_column(capsys, tmp_path,
                                                                                           finished):
    from imbalance_jax import report, tables

    workdir = _copy(finished, tmp_path)
    (workdir / "checksums.json").write_text("[1, 2]")  # trusting no checksum would let any edit through
    line = _one_line_exit(capsys, lambda: report.write_report(str(workdir)))
    assert "checksums.json does not hold a sha256 per table; delete it and write it again with" in line, line
    text = (workdir / "results.csv").read_text()
    (tmp_path / "bom.csv").write_text(text, encoding="utf-8-sig")  # as a spreadsheet saves it
    assert len(tables.read(str(tmp_path / "bom.csv"), tables.RESULTS, "fix")) == 3
