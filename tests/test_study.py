import csv
import subprocess
import sys

import numpy as np
import pytest

from imbalance_jax import checkpoint, cohort_training, design, evaluate, results, stages, study, study_setup
from imbalance_jax.workdir import Workdir
from imbalance_jax.methods import PAPER_METHODS


def _read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The tiny study, trained and evaluated once for the tests that only read it."""
    import tiny

    workdir = str(tmp_path_factory.mktemp("study"))
    study.run_study(tiny.tiny_config(), workdir)
    return Finished(tiny.tiny_config(), workdir)


class Finished:
    """A trained study as the tests read it: its setup's values, its cohorts and their states."""

    def __init__(self, config, workdir):
        self.config, self.workdir, self._workdir = config, workdir, Workdir(workdir)
        self.setup = study_setup.build(config, self._workdir)
        self.networks, self.data, self.hp = self.setup.networks, self.setup.data, self.setup.hp

    @property
    def cohorts(self):
        return [list(r.networks) for r in self._workdir.cohorts()]

    def restore(self, cohort):
        return study.restore(self.setup, self._workdir, cohort)


def test_results_have_a_row_per_network_and_method(finished):
    rows = _read(f"{finished.workdir}/results.csv")
    assert list(rows[0]) == list(results.RESULT_COLUMNS)
    assert sorted(r["method"] for r in rows) == sorted(PAPER_METHODS)
    for r in rows:
        assert r["dataset"] == "digits" and r["imbalance"] == "step" and float(r["rho"]) == 10
        assert float(r["mu"]) == 0.5 and len(r["minority_classes"].split()) == 5
        assert 0.5 < float(r["auc"]) <= 1 and 0 <= float(r["accuracy"]) <= 1
        assert int(r["iterations"]) == 20
    n_max = finished.data.n_max
    sizes = {r["method"]: int(r["train_size"]) for r in rows}
    minority = round(n_max / 10)
    assert sizes["baseline"] == sizes["thresholding"] == 5 * minority + 5 * n_max
    assert sizes["oversampling"] == 10 * n_max and sizes["undersampling"] == 10 * minority
    by_method = {r["method"]: r for r in rows}
    assert float(by_method["thresholding"]["auc"]) == pytest.approx(float(by_method["baseline"]["auc"]), abs=1e-6)


def test_per_class_metrics_and_curves(finished):
    rows = _read(f"{finished.workdir}/results.csv")
    per_class = _read(f"{finished.workdir}/per_class.csv")
    assert "per_class_recall" not in rows[0]  # per-class values live in per_class.csv, one row each
    for r in rows:
        mine = [c for c in per_class if (c["network"], c["method"]) == (r["network"], r["method"])]
        recall = [float(c["recall"]) for c in mine]
        class_auc = [float(c["auc"]) for c in mine]
        assert len(recall) == len(class_auc) == 10
        assert abs(np.mean(recall) - float(r["balanced_accuracy"])) < 1e-3
        assert abs(np.mean(class_auc) - float(r["auc"])) < 1e-3
        assert 0 <= float(r["macro_f1"]) <= 1
    curves = _read(f"{finished.workdir}/curves.csv")
    assert sorted({int(c["step"]) for c in curves}) == [10, 20]
    assert len(curves) == 2 * len(finished.networks)
    assert all(0 <= float(c["test_accuracy"]) <= 1 and 0 <= float(c["train_accuracy"]) <= 1 for c in curves)


def test_per_class_csv_has_a_row_per_class_with_counts_minority_flags_and_metrics(finished):
    rows = {(r["network"], r["method"]): r for r in _read(f"{finished.workdir}/results.csv")}
    per_class = _read(f"{finished.workdir}/per_class.csv")
    assert list(per_class[0]) == list(results.PER_CLASS_COLUMNS) and len(per_class) == 10 * len(rows)
    counts = {n.name: n.class_counts for n in finished.networks}
    for key, row in rows.items():
        classes = sorted((c for c in per_class if (c["network"], c["method"]) == key), key=lambda c: int(c["class"]))
        assert [int(c["train_count"]) for c in classes] == list(counts[key[0]])
        minority = [int(c["class"]) for c in classes if c["minority"] == "1"]
        assert minority == [int(v) for v in row["minority_classes"].split()]
        assert [c["class_name"] for c in classes] == [str(k) for k in range(10)]  # digits: the digits
        p, r = (np.array([float(c[k]) for c in classes]) for k in ("precision", "recall"))
        f1 = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0)
        assert abs(f1.mean() - float(row["macro_f1"])) < 2e-3  # precision and recall agree with macro F1


def test_many_medium_few_shot_recall_equals_a_recomputation_from_per_class_csv(finished):
    per_class = _read(f"{finished.workdir}/per_class.csv")
    counts = {n.name: n.class_counts for n in finished.networks}
    assert sorted(set(counts[n.name][c] for n in finished.networks for c in range(10))) == [14, 144]
    rows = _read(f"{finished.workdir}/results.csv")
    for row in rows:
        classes = sorted((c for c in per_class if (c["network"], c["method"]) == (row["network"], row["method"])),
                         key=lambda c: int(c["class"]))
        train = counts[row["network"]]  # the network's imbalanced set, before sampling: > 100 many, < 20 few
        assert [int(c["train_count"]) for c in classes] == list(train)
        shot = ["many" if n > 100 else "few" if n < 20 else "medium" for n in train]
        assert [c["shot"] for c in classes] == shot
        for group in ("many", "medium", "few"):
            recall = [float(c["recall"]) for c, s in zip(classes, shot) if s == group]
            if recall:
                assert float(row[f"{group}_shot_recall"]) == pytest.approx(np.mean(recall), abs=1e-9)
            else:
                assert row[f"{group}_shot_recall"] == ""
    assert {r["few_shot_recall"] for r in rows} != {r["many_shot_recall"] for r in rows}


def test_two_phase_changes_only_the_last_layer(finished):
    index = {s.name: (ci, j) for ci, c in enumerate(finished.cohorts) for j, s in enumerate(c)}
    child = next(s for c in finished.cohorts for s in c if s.method == "two_phase_oversampling")
    ci, j = index[child.name]
    pi, pj = index[child.parent]
    got = finished.restore(ci)["params"]["params"]
    parent = finished.restore(pi)["params"]["params"]
    for layer in ("conv1", "conv2", "fc1"):
        for leaf in ("kernel", "bias"):
            assert np.array_equal(got[layer][leaf][j], parent[layer][leaf][pj])
    assert not np.array_equal(got["fc2"]["kernel"][j], parent["fc2"]["kernel"][pj])


def test_rerun_trains_and_evaluates_nothing(finished, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("a finished cohort was trained or evaluated again")
    monkeypatch.setattr(cohort_training.train, "make_train_chunk", fail)
    monkeypatch.setattr(stages.evaluate, "evaluate_cohort", fail)
    before = open(f"{finished.workdir}/results.csv").read()
    study.run_study(finished.config, finished.workdir)
    assert open(f"{finished.workdir}/results.csv").read() == before


def test_interrupted_run_resumes_without_retraining(tiny_config, tmp_path, finished, monkeypatch):
    real_save = checkpoint.CohortCheckpoints.save
    saved = []

    def save_then_die(self, step, state, meta, complete=False):
        out = real_save(self, step, state, meta, complete)
        saved.append(self.cohort_dir)
        if len(saved) == 1:
            raise KeyboardInterrupt  # killed while the second cohort would start
        return out

    monkeypatch.setattr(checkpoint.CohortCheckpoints, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        study.run_study(tiny_config, str(tmp_path))
    study.run_study(tiny_config, str(tmp_path))
    assert len(saved) == len(finished.cohorts)  # every cohort trained exactly once
    assert len(set(saved)) == len(saved)
    rows, expected = _read(tmp_path / "results.csv"), _read(f"{finished.workdir}/results.csv")
    assert [r["auc"] for r in rows] == [r["auc"] for r in expected]  # resuming changes nothing


def test_changed_config_in_same_workdir_is_refused(finished):
    config = finished.config.copy_and_resolve_references()
    config.train.iterations = 30
    with pytest.raises(ValueError, match="other settings \\(train.iterations: 20 -> 30\\)"):
        study.open_study(config, finished.workdir)


def test_cohort_inputs_packs_stages_apart(tiny_config):
    specs = design.all_networks(tiny_config, design.DatasetFacts(10, 100))
    assert [s.method for s in specs] == [
        "baseline", "oversampling", "undersampling", "two_phase_oversampling", "two_phase_undersampling"]
    cohorts = design.pack_cohorts(specs, 2)
    assert [[s.method for s in c] for c in cohorts] == [
        ["baseline", "oversampling"], ["undersampling"], ["two_phase_oversampling", "two_phase_undersampling"]]


def test_unknown_method_is_named(tiny_config):
    tiny_config.methods = ("baseline", "smote")
    with pytest.raises(ValueError, match="method='smote'"):
        design.all_networks(tiny_config, design.DatasetFacts(10, 100))


def test_launch_study_bad_input_is_one_line(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "launch.study", "--config=configs/quick.py", f"--workdir={tmp_path}",
         "--config.imbalance.step_mus=(0.25,)"], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith(
        "error: config.imbalance, the step rho=10 mu=0.25 setting: mu=0.25 gives 2.5 minority classes of 10; use a "
        "multiple of 1/10")
    assert "Traceback" not in out.stderr


def test_mnist_config_plans_the_papers_22500_networks():
    from configs import mnist

    everything = design.all_networks(mnist.get_config(), design.DatasetFacts(10, 5000))
    specs = [n for n in everything if n.method != "balanced"]
    assert len(specs) == 22_500 and len(everything) == 22_500 + 50  # and one balanced reference per repetition
    sets = {s.set_name for s in specs}
    assert len(sets) == 4_500 and sum(n.startswith("linear") for n in sets) == 450
    assert {len(s.minority_classes) for s in specs if s.imbalance == "step"} == set(range(1, 10))
    rho_5000 = next(s for s in specs if s.imbalance == "linear" and s.rho == 5000)
    assert min(rho_5000.class_counts) == 1 and max(rho_5000.class_counts) == 5000


def test_cifar10_config_plans_the_papers_640_networks():
    from configs import cifar10

    everything = design.all_networks(cifar10.get_config(), design.DatasetFacts(10, 5000))
    specs = [n for n in everything if n.method != "balanced"]
    assert len(specs) == 640 and len(everything) == 648  # and the balanced reference's 8 lr runs
    cohorts = design.pack_cohorts(everything, 8)
    for cohort in cohorts:  # each cohort: one (set, method), the 4 lrs x 2 repeats
        assert len({(s.set_name, s.method) for s in cohort}) == 1
        assert sorted((s.base_lr, s.lr_run) for s in cohort) == sorted(
            (lr, r) for lr in (0.05, 0.005, 0.0005, 0.00005) for r in (0, 1))
    step = [s for s in specs if s.imbalance == "step" and s.mu == 0.2]
    assert all(s.minority_classes == [0, 1] for s in step)  # lowest labels are the minority
    child = next(s for s in specs if s.parent)
    assert child.parent.endswith(child.name.rsplit("/", 1)[1])  # fine-tuned from the same lr run
    appendix = design.all_networks(cifar10.get_config("appendix_a"), design.DatasetFacts(10, 5000))
    assert len(appendix) == 3 * (12 * 5 * 8 + 8) and {n.imbalance for n in appendix} == {"step", "balanced"}
    assert sorted({n.split for n in appendix}) == [0, 1, 2]


def test_mark_selected_keeps_the_best_lr_run():
    rows = [dict(network=f"setA/baseline/lr{lr}_run0", method="baseline", auc=auc)
            for lr, auc in ((0.1, 0.7), (0.01, 0.9), (0.001, 0.8))]
    rows += [dict(network="setB/baseline", method="baseline", auc=0.5)]
    results.mark_selected(rows)
    assert [r["selected"] for r in rows] == [0, 1, 0, 1]


def test_imagenet_config_plans_the_papers_15_networks():
    from configs import imagenet

    available = np.full(1000, 1000)
    available[[3, 7]] = 732  # ILSVRC-2012 has classes with fewer than 1000 training images
    specs = design.all_networks(imagenet.get_config(), design.DatasetFacts(1000, 1000, tuple(available)))
    assert len(specs) == 15
    sets = sorted({(s.mu, s.rho, s.repetition) for s in specs})
    assert sets == [(0.1, 10.0, 0), (0.8, 50.0, 0), (0.9, 100.0, 0), (0.9, 100.0, 1), (0.9, 100.0, 2)]
    for s in specs:
        assert {3, 7} <= set(s.minority_classes)  # short classes are always minority
        assert len(s.minority_classes) == round(s.mu * 1000)
    minority_sets = {tuple(s.minority_classes) for s in specs if s.rho == 100}
    assert len(minority_sets) == 3  # new minority classes each repetition


def test_tau_normalization_divides_class_weights_by_their_norm():
    import jax.numpy as jnp

    kernel = jnp.asarray(np.random.default_rng(0).normal(size=(2, 5, 3)) * [1.0, 4.0, 9.0])
    state = {"params": {"params": {"fc2": {"kernel": kernel, "bias": jnp.ones((2, 3))}}}, "step": 0}
    unit = evaluate.tau_normalize(state, "fc2", 1.0)["params"]["params"]["fc2"]
    assert np.allclose(np.linalg.norm(unit["kernel"], axis=1), 1.0)
    assert np.array_equal(unit["bias"], np.zeros((2, 3)))  # dropped, as Kang et al.'s code scores
    kept = evaluate.tau_normalize(state, "fc2", 1.0, keep_bias=True)["params"]["params"]["fc2"]
    assert np.array_equal(kept["bias"], np.ones((2, 3)))
    half = evaluate.tau_normalize(state, "fc2", 0.5)["params"]["params"]["fc2"]["kernel"]
    norms = np.linalg.norm(np.asarray(kernel), axis=1)
    assert np.allclose(np.linalg.norm(half, axis=1), norms ** 0.5)
    assert np.allclose(evaluate.tau_normalize(state, "fc2", 0.0)["params"]["params"]["fc2"]["kernel"], kernel)


def test_tau_normalised_scores_are_features_times_normalised_weights_without_the_bias():
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(1, 4, 3)) * [1.0, 3.0, 0.5]
    features = rng.normal(size=(6, 4))
    state = {"params": {"params": {"fc2": {"kernel": jnp.asarray(kernel), "bias": jnp.asarray([[5.0, -5.0, 0.0]])}}}}

    def predict(s, x):  # fixed features through the head: the logits are features . W + b
        head = s["params"]["params"]["fc2"]
        return jax.nn.softmax(jnp.einsum("nf,Nfc->Nnc", x, head["kernel"]) + head["bias"][:, None], axis=-1)

    _, tau = evaluate.cohort_probabilities(state, predict, jnp.asarray(features), "fc2",
                                           [(0, "tau_normalization_tau1")])
    w = kernel[0] / np.linalg.norm(kernel[0], axis=0)
    logits = features @ w  # Kang et al.: no bias
    expected = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert np.allclose(np.asarray(tau[1.0][0]), expected, atol=1e-6)
    _, with_bias = evaluate.cohort_probabilities(state, predict, jnp.asarray(features), "fc2",
                                                 [(0, "tau_normalization_tau1")], keep_bias=True)
    assert not np.allclose(np.asarray(with_bias[1.0][0]), expected, atol=1e-3)


def test_launch_study_missing_config_file_is_one_line(capsys, tmp_path, monkeypatch):
    from imbalance_jax import cli

    monkeypatch.setattr(sys, "argv", ["launch.study", "--config=configs/nope.py", f"--workdir={tmp_path}"])
    with pytest.raises(SystemExit) as exited:  # cli.run_app's first check, before absl parses
        cli.run_app(lambda argv: pytest.fail("ran without a config"))
    err = capsys.readouterr().err.strip().splitlines()
    assert exited.value.code == 2 and len(err) == 1
    assert err[0].startswith("error: --config=configs/nope.py: no such config file")


def test_corrupt_checkpoint_says_what_to_do(finished, tmp_path):
    import shutil

    workdir = tmp_path / "copy"
    shutil.copytree(finished.workdir, workdir)
    state_dir = workdir / "cohorts" / "cohort_00000" / "checkpoints" / "20" / "state"
    for path in state_dir.rglob("*"):
        if path.is_file() and path.stat().st_size > 1000:
            path.write_bytes(b"garbage")
    with pytest.raises(checkpoint.CheckpointError, match="could not be restored .*delete") as e:
        study.evaluate_study(finished.config, str(workdir), force=True)
    assert "\n" not in str(e.value)


def test_launch_evaluate_reevaluates_without_training(finished, tmp_path):
    import shutil

    workdir = tmp_path / "copy"
    shutil.copytree(finished.workdir, workdir)
    (workdir / "lock").unlink()  # held by this test process, which made the original
    (workdir / "results.csv").unlink()
    out = subprocess.run([sys.executable, "-m", "launch.evaluate", f"--workdir={workdir}", "--force"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "step 10/20" not in out.stderr  # no training progress: evaluation only
    assert "evaluated cohort_00000" in out.stderr and "| baseline |" in out.stdout
    assert _read(workdir / "results.csv") == _read(f"{finished.workdir}/results.csv")


@pytest.mark.slow
def test_a_study_keeps_its_log_and_reevaluation_reuses_the_compilation_cache(tmp_path):
    import os

    env = {**os.environ, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}  # tiny programs compile fast
    env.pop("JAX_COMPILATION_CACHE_DIR", None)  # the suite's shared cache (conftest.py): the workdir's here
    # One network and no report: what is compiled is the step, the evaluation and the curves' predict.
    args = ["--config=tests/tiny.py", f"--workdir={tmp_path}", "--config.methods=('baseline',)",
            "--config.report=False"]
    first = subprocess.run([sys.executable, "-m", "launch.study", *args], capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    log = (tmp_path / "log.txt").read_text()  # the workdir keeps the run's log, as stderr showed it
    for line in ("imbalance_jax on 1 x", "cohort_00000 step 10/20 | networks 0/", "compiled, then ran 10 steps",
                 "img/s |", "(compiling ~"):
        assert line in log and line in first.stderr, line
    cache = tmp_path / "jax_cache"
    compiled = {p.name for p in cache.iterdir()}
    assert compiled, "the study wrote no compiled programs to workdir/jax_cache"
    # Re-evaluating restores and predicts like a resumed study does: every program from the cache.
    again = subprocess.run([sys.executable, "-m", "launch.evaluate", *args, "--force"], capture_output=True,
                           text=True, env=env)
    assert again.returncode == 0 and "evaluated cohort_00000" in again.stderr, again.stderr[-2000:]
    new = {p.name for p in cache.iterdir()} - compiled
    assert not new, f"launch.evaluate compiled {len(new)} programs again instead of reading the cache"


def test_networks_in_turn_are_refused_on_several_devices(tiny_config, tmp_path, monkeypatch):
    tiny_config.networks_per_vmap = 1
    monkeypatch.setattr(study_setup.distributed, "make_mesh", lambda data_parallel: object())  # as with 2+ devices
    with pytest.raises(ValueError, match="networks_per_vmap=1 steps networks in turn on one device"):
        study.open_study(tiny_config, str(tmp_path))


def test_progress_leaves_compiling_out_of_the_rate_and_the_time_left(monkeypatch):
    from imbalance_jax import progress

    clock = iter([0.0, 0.0, 10.0, 11.0, 12.0])  # start; begin_calls; three calls of 10 s, 1 s and 1 s
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    lines = []
    monkeypatch.setattr(progress.logging, "info", lambda fmt, *args: lines.append(fmt % args))
    report = progress.Progress(total_networks=2, done_networks=0, images_total=500)
    report.begin_calls()
    metrics = {"loss": np.array([0.5, 0.7]), "accuracy": np.array([0.9, 0.8])}
    for step in (50, 100, 150):
        report.log("cohort_00000", step, 250, 100, metrics, steps=50)
    assert "compiled, then ran 50 steps: 10.0 s" in lines[0] and "img/s" not in lines[0]
    assert "| 100 img/s |" in lines[1] and "| 100 img/s |" in lines[2]  # not 300 images / 12 s
    assert lines[2].endswith("0m02s left")  # 200 images left at 100 img/s
    assert report.compile_seconds() == 9.0


def test_the_time_left_follows_a_smoothed_rate_and_evaluation_says_its_own(monkeypatch):
    from imbalance_jax import progress

    clock = iter([0.0, 0.0, 10.0, 11.0, 11.5, 13.5])  # a compiling call, then calls at 100, 200 and 50 img/s
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    lines = []
    monkeypatch.setattr(progress.logging, "info", lambda fmt, *args: lines.append(fmt % args))
    report = progress.Progress(total_networks=1, done_networks=0, images_total=10_100)
    report.begin_calls()
    metrics = {"loss": np.array([0.5]), "accuracy": np.array([0.9])}
    for step in (1, 2, 3, 4):
        report.log("cohort_00000", step, 10, 100, metrics, steps=1)
    smoothed = 100.0
    for rate in (200.0, 50.0):
        smoothed = progress.SMOOTHING * rate + (1 - progress.SMOOTHING) * smoothed
    assert report.smoothed_rate == pytest.approx(smoothed)  # 94: not the last call's 50, nor the mean's 120
    assert lines[-1].endswith(f"{progress.duration(9_700 / smoothed)} left")
    clock = iter([0.0, 4.0, 6.0])
    evaluation = progress.EvaluationProgress(total_networks=10)
    evaluation.log("cohort_00000", 4, 8)
    evaluation.log("cohort_00001", 4, 8)
    assert lines[-1] == "evaluated cohort_00001 (4 networks, 8 rows) | 8/10 networks evaluated | 0m02s left"


def test_launch_plan_counts_what_the_study_trains_and_what_a_workdir_holds(finished):
    from imbalance_jax import estimate

    fresh = estimate.plan_table(finished.config, measure_seconds=0.2)
    planned = finished.networks
    first = sum(n.stage == 0 for n in planned)
    assert f"plan of {len(planned)} networks on 1 x" in fresh
    assert f"stage 0  {first} networks (baseline " in fresh and f"stage 1  {len(planned) - first} networks" in fresh
    cohorts = len(design.pack_cohorts(planned, finished.config.cohort_size))
    assert f"cohorts  {cohorts} to train" in fresh and "img/s measured" in fresh and "MiB per network saved" in fresh
    held = estimate.plan_table(finished.config, finished.workdir, measure_seconds=0.2)
    assert f"{len(planned)} networks already trained in {finished.workdir}; 0 to train" in held
    assert "cohorts  0 to train" in held and "time     nothing to train (no step measured)" in held
    assert "img/s measured" not in held  # nothing compiled or run for a finished workdir


def test_balanced_reference_is_one_network_per_repetition_on_the_balanced_set(tiny_config):
    tiny_config.methods = ("baseline", "oversampling", "balanced")
    tiny_config.imbalance.step_rhos, tiny_config.imbalance.linear_rhos = (10, 100), (10,)
    tiny_config.imbalance.repetitions = 3
    networks = design.all_networks(tiny_config, design.DatasetFacts(10, 100))
    reference = [n for n in networks if n.method == "balanced"]
    assert [n.name for n in reference] == [f"balanced_rep{r}/balanced" for r in range(3)]
    assert all(n.imbalance == "balanced" and n.class_counts == (100,) * 10 for n in reference)
    assert len(networks) == 3 + 3 * 3 * 2  # the reference is not trained per setting
    assert design.training_size(reference[0]) == 1000


def test_unknown_finetune_layer_is_one_line(tiny_config, tmp_path):
    tiny_config.finetune_layers = ("fc3",)
    with pytest.raises(ValueError, match=r"finetune_layers=\('fc3',\): lenet5 has no layer 'fc3'; its layers are"):
        study.open_study(tiny_config, str(tmp_path))


def test_zca_fitted_on_the_full_training_set_is_one_transform_for_every_network(finished):
    from imbalance_jax import cohort
    from imbalance_jax.data import preprocessing

    import dataclasses

    hp = dataclasses.replace(finished.hp, preprocess="gcn_zca")
    networks = finished.networks[:2]
    per_set = cohort.fit_preprocess(networks, finished.data, hp, 0.1)
    full = cohort.fit_preprocess(networks, finished.data, hp, 0.1, "full")
    expected = preprocessing.fit_zca(finished.data.x_train, 0.1)
    assert np.allclose(full["whiten"][0], expected["whiten"]) and np.allclose(full["whiten"][1], expected["whiten"])
    assert not np.allclose(per_set["whiten"][0], expected["whiten"])  # fitted on the imbalanced set alone


def test_the_evaluation_dry_run_says_what_it_would_evaluate(finished):
    cohorts = len(finished.cohorts)
    forced = study.dry_run_evaluation(finished.config, finished.workdir, force=True)
    assert f"evaluate {cohorts} of {cohorts} cohorts ({len(finished.networks)} networks; --force" in forced
    assert f"evaluate 0 of {cohorts} cohorts (0 networks;" in study.dry_run_evaluation(finished.config,
                                                                                        finished.workdir)
