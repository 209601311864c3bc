"""Every documented command works as written: each `python -m launch.<entry>` command of README.md and
docs/*.md (fenced shell blocks and inline code) runs with --dry_run appended, from a scratch folder holding the
repository's configs and the workdirs the commands name, and either succeeds or stops at a one-line error about
data this machine lacks (MNIST, CIFAR-10 and ImageNet are not here). The main command runs for real in
tests/test_main_command.py.

The commands run in forked children of one process that imported the project once (each would otherwise pay
~3 s of imports), each child with its own argv, flags and working directory.
"""
import csv
import glob
import json
import os
import re
import shlex
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = [os.path.join(ROOT, "README.md"), *sorted(glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True))]
# The data a command may need and this machine lacks: the only acceptable failure, one line naming it.
MISSING_DATA = re.compile(r"^error: (dataset=|--config=.*|.*(/data/|TFDS|tensorflow_datasets|not prepared))")


def documented_commands() -> list:
    """(file:line, command) of every launch command in the docs: fenced bash blocks (continuation lines joined)
    and inline code spans."""
    found = []
    for path in DOCS:
        text = open(path).read()
        name = os.path.relpath(path, ROOT)
        for block in re.finditer(r"```(?:bash|sh|shell)\n(.*?)```", text, re.S):
            line_no = text[:block.start()].count("\n") + 2
            for offset, command in _joined(block.group(1)):
                if "python -m launch." in command:
                    found.append((f"{name}:{line_no + offset}", command))
        for span in re.finditer(r"`([^`\n]*python -m launch\.[^`\n]*)`", text):
            if not text[:span.start()].endswith("``"):
                found.append((f"{name}:{text[:span.start()].count(chr(10)) + 1}", span.group(1)))
    return found


def _joined(block: str):
    """(line offset, command) of a shell block, lines ending in a backslash joined to the next."""
    lines, start, current = block.splitlines(), 0, ""
    for i, line in enumerate(lines):
        if not current:
            start = i
        current += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            if current.strip() and not current.strip().startswith("#"):
                yield start, current.strip()
            current = ""


def _argv(command: str) -> tuple[dict, list]:
    """(environment assignments, argv from `python -m` on) of a documented command, --dry_run appended."""
    tokens = shlex.split(command, comments=True)
    env = {}
    while tokens and re.fullmatch(r"[A-Z_]+=\S*", tokens[0]):
        key, _, value = tokens.pop(0).partition("=")
        env[key] = value
    assert tokens[:2] == ["uv", "run"] and tokens[2:4] == ["python", "-m"], f"not `uv run python -m ...`: {command}"
    return env, [tokens[4], *tokens[5:], "--dry_run"]


def _results_csv(path):
    """A small valid results.csv (three repetitions of two methods) for the report commands' workdirs."""
    from imbalance_jax.results import RESULT_COLUMNS

    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "results.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, RESULT_COLUMNS)
        writer.writeheader()
        for rep in range(3):
            for method in ("baseline", "oversampling"):
                writer.writerow(dict(dataset="digits", imbalance="step", rho=10, mu=0.5, minority_classes="0 1 2 3 4",
                                     repetition=rep, method=method, auc=0.9 + 0.01 * rep, accuracy=0.8,
                                     train_size=100, iterations=10, network=f"s{rep}/{method}", selected=1))


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """{(file:line, command): (exit status, stdout, stderr)} of every documented command, dry-run."""
    from configs import quick
    from imbalance_jax.workdir import Workdir

    scratch = tmp_path_factory.mktemp("docs")
    os.symlink(os.path.join(ROOT, "configs"), scratch / "configs")
    Workdir(str(scratch / "runs" / "quick")).prepare()
    Workdir(str(scratch / "runs" / "quick")).save_config(quick.get_config())
    os.remove(scratch / "runs" / "quick" / "lock")
    for path in DOCS[1:]:  # the docs pages' python blocks write the data their commands read (README's: test_readme)
        for block in re.finditer(r"```python\n(.*?)```", open(path).read(), re.S):
            subprocess.run([sys.executable, "-c", block.group(1)], cwd=scratch, check=True, timeout=300,
                           env=dict(os.environ, PYTHONPATH=ROOT))
    commands = documented_commands()
    for _, command in commands:  # every workdir a report command reads holds a results.csv
        _, argv = _argv(command)
        if argv[0] == "launch.report":
            for workdir in re.findall(r"--workdir=(\S+)", " ".join(argv)):
                _results_csv(scratch / workdir)
    jobs = [dict(where=where, command=command, env=_argv(command)[0], argv=_argv(command)[1]) for where, command
            in commands]
    with open(scratch / "jobs.json", "w") as f:
        json.dump(jobs, f)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "tests")]))
    done = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "run_documented.py"), str(scratch / "jobs.json"),
                           str(scratch)], cwd=scratch, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(scratch / "jobs.json") as f:
        return {(j["where"], j["command"]): (j["status"], j["stdout"], j["stderr"]) for j in json.load(f)}


def test_the_docs_hold_the_commands_a_user_needs():
    commands = " ".join(c for _, c in documented_commands())
    for needed in ("launch.study --config=configs/quick.py --workdir=runs/quick",
                   "launch.study --workdir=runs/quick --config.imbalance.repetitions=5",
                   "launch.plan --workdir=runs/quick --config.imbalance.repetitions=5",
                   "launch.evaluate --workdir=runs/quick --force", "launch.report --workdir=runs/quick"):
        assert needed in commands, needed


@pytest.mark.slow
def test_every_documented_command_runs_as_written(outcomes):
    failures = []
    for (where, command), (status, out, err) in outcomes.items():
        last = err.strip().splitlines()[-1] if err.strip() else ""
        if status == 0 and "Traceback" not in err:
            continue
        if status == 2 and MISSING_DATA.match(last) and "Traceback" not in err:
            continue  # checked up to the data this machine lacks
        failures.append(f"{where}: `{command}` -> exit {status}: {last or out[-300:]}")
    assert not failures, "\n".join(failures)


@pytest.mark.slow
def test_growing_the_quick_study_as_documented_plans_the_new_networks(outcomes):
    grow = "uv run python -m launch.study --workdir=runs/quick --config.imbalance.repetitions=5"
    (status, out, _), = [v for (_, c), v in outcomes.items() if c.startswith(grow)]
    assert status == 0 and "dry run of 205 networks" in out, out  # 5 repetitions of the quick study's 41


@pytest.mark.slow
def test_the_data_as_it_is_page_runs_on_the_folder_its_own_code_writes(outcomes):
    """docs/your_data.md's python block writes the long-tailed folder; its dry run and plan then read it for real
    (a missing folder would be the one acceptable failure above, so it is ruled out here)."""
    page = [(where, v) for (where, c), v in outcomes.items() if where.startswith("docs/your_data.md")]
    assert len(page) == 3, page
    for where, (status, out, err) in page:
        assert status == 0, (where, err[-500:])
    study, plan_, _ = (v for _, v in page)
    assert "as_is" in study[1] and "as_is" in plan_[1], study[1][-2000:]


def test_an_override_after_config_reaches_the_run(tmp_path):
    """The form the documented commands take (--config=<file>, then --config.<key>=<value>) applies the override:
    the fast loop's stand-in for running them all."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "tests")]))
    done = subprocess.run([sys.executable, "-m", "launch.study", "--config=tests/tiny.py", f"--workdir={tmp_path}",
                           "--config.imbalance.repetitions=3", "--dry_run"], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-500:]
    assert "dry run of 15 networks" in done.stdout, done.stdout  # 5 trained methods x 3 repetitions
