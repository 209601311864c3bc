import json
import os
import re
import shlex
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _benchmark(*args):
    return subprocess.run([sys.executable, "-m", "launch.benchmark", "--data_size=300", "--steps_per_call=2",
                           "--seconds=0.05", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_benchmark_measures_every_combination_profiles_them_and_writes_json_rows(tmp_path):
    rows_file = tmp_path / "rows.jsonl"
    out = _benchmark("--num_networks=1,2", "--conv_impl=im2col,taps/im2col", "--compute_dtype=float32",
                     "--profile_top=3", f"--json_out={rows_file}")
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [json.loads(line) for line in rows_file.read_text().splitlines()]
    assert [(r["conv"], r["n"]) for r in rows] == [("im2col", 1), ("im2col", 2), ("taps/im2col", 1),
                                                  ("taps/im2col", 2)]
    assert all(r["images_per_s"] > 0 and r["compile_s"] > 0 and r["model"] == "lenet5" for r in rows)
    # the printed table has one line per row, and each row its slowest ops
    assert sum(line.strip().startswith(("im2col", "taps/im2col")) for line in out.stdout.splitlines()) == 4
    assert out.stdout.count("op time per step") == 4
    assert all(len(r["top_ops_us_per_step"]) == 3 and all(t > 0 for t in r["top_ops_us_per_step"].values())
               for r in rows)


def test_benchmark_refuses_an_unknown_dtype():
    out = _benchmark("--num_networks=1", "--compute_dtype=float16")
    assert out.returncode != 0
    assert "--compute_dtype='float16' is unknown" in out.stderr


def test_benchmark_names_an_unknown_lowering_in_one_line():
    out = _benchmark("--num_networks=1", "--conv_impl=tap")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("error: conv_impl='tap' is unknown for lenet5")
    assert "Traceback" not in out.stderr


def test_the_peer_benchmarks_import_without_running_anything():
    """benchmarks/ scripts are importable (their functions reused) with no output, no data, no device work."""
    code = ("import importlib.util\n"
            "modules = {}\n"
            "for name in ('peer_bench', 'lenet_variants', 'input_pipeline', 'save_overlap'):\n"
            "    spec = importlib.util.spec_from_file_location(name, f'benchmarks/{name}.py')\n"
            "    modules[name] = importlib.util.module_from_spec(spec)\n"
            "    spec.loader.exec_module(modules[name])\n"
            "    assert callable(modules[name].main), name\n"
            "assert modules['peer_bench'].X is None and modules['peer_bench'].RESULTS == []\n")
    # --small on the command line: a script that read it at import would also run at import
    out = subprocess.run([sys.executable, "-c", code, "--small"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout == "", out.stdout[:2000]  # a script that ran at import would print its rows


DEFAULT_STEPS = ["devices", "lenet", "lenet_profile", "resnet10", "allcnn", "sizing", "save_overlap",
                 "input_pipeline", "peers", "study"]


def _job(tmp_path, *steps, **env):
    return subprocess.run(["bash", "benchmarks/gpu_job.sh", str(tmp_path / "out"), *steps], cwd=ROOT,
                          env=dict(os.environ, PYTHON=sys.executable, **env), capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_the_gpu_job_is_named_capped_steps_whose_commands_are_accepted(tmp_path):
    out = _job(tmp_path, DRY_RUN="1", MNIST="mnist-idx")
    assert out.returncode == 0, out.stderr[-2000:]
    assert re.findall(r"^== (\w+)$", out.stdout, re.M) == DEFAULT_STEPS  # `evidence` only when asked for
    commands = re.findall(r"^\$ \[cap (\d+)s\] (.*)$", out.stdout, re.M)
    assert commands and all(int(cap) > 0 for cap, _ in commands)
    launched = [shlex.split(c)[1:] for _, c in commands if " -m launch." in c]
    assert {argv[1] for argv in launched} == {"launch.benchmark", "launch.study"}
    # Its own --dry_run checks every flag and value, measures nothing; each command in a child forked from one
    # process that imports the project once (tests/run_documented.py).
    checks = [dict(argv=[*argv[1:], "--dry_run"], env={}) for argv in launched if argv[1] == "launch.benchmark"]
    assert checks
    jobs = tmp_path / "jobs.json"
    jobs.write_text(json.dumps(checks))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "tests")]))
    done = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "run_documented.py"), str(jobs), ROOT], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for job in json.loads(jobs.read_text()):
        assert job["status"] == 0, (job["argv"], job["stderr"][-2000:])
    variants = _job(tmp_path, "lenet_variants", DRY_RUN="1").stdout
    scripts = {word for _, c in commands for word in (c + " " + variants).split() if word.startswith("benchmarks/")}
    assert scripts == {"benchmarks/save_overlap.py", "benchmarks/input_pipeline.py", "benchmarks/lenet_variants.py"}
    assert all(os.path.isfile(os.path.join(ROOT, s)) for s in scripts)
    evidence = _job(tmp_path, "evidence", DRY_RUN="1", MNIST="mnist-idx")
    configs = re.findall(r"--config=(\S+)", evidence.stdout)
    assert configs == ["configs/mnist.py", "configs/mnist_fig7.py:reduced_only"]
    from imbalance_jax import config_files

    assert all(config_files.load(c) for c in configs)
    assert "launch.report" in evidence.stdout and "--union" in evidence.stdout


def test_the_gpu_job_runs_a_step_and_refuses_an_unknown_one(tmp_path):
    ran = _job(tmp_path, "devices", "study", SMALL="1")
    assert ran.returncode == 0, ran.stderr[-2000:]
    log = (tmp_path / "out" / "job.log").read_text()
    assert "== devices" in log and re.search(r"^jax \S+ flax \S+ optax \S+ orbax \S+ \[", log, re.M), log
    assert "== study\nskipped: MNIST=path/to/mnist-idx-folder is not set" in log
    bad = _job(tmp_path, "lenet", "nonsense")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip() == ("error: unknown step 'nonsense'; use some of: " + " ".join(DEFAULT_STEPS)
                                  + " lenet_variants evidence")
