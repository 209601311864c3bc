"""Runs documented commands (a JSON list of {argv, env}) in forked children of this process, which imports the
project once: each child gets its own argv, environment and working directory, runs the entry point as
`python -m` would, and its exit status and output are written back into the JSON file.

  python tests/run_documented.py jobs.json SCRATCH_DIR   (tests/test_documented_commands.py)
"""
import json
import multiprocessing
import os
import runpy
import sys
import tempfile

import imbalance_jax.cli  # noqa: F401 - the heavy imports, paid once before forking (no JAX backend starts)
import imbalance_jax.estimate  # noqa: F401
import imbalance_jax.study  # noqa: F401
import imbalance_jax.union  # noqa: F401
import PIL.Image  # noqa: F401 - what the digits dataset, read by most commands, imports when loaded
import sklearn.datasets  # noqa: F401


def _child(job: dict, cwd: str, out_path: str, err_path: str) -> None:
    out, err = os.open(out_path, os.O_WRONLY | os.O_CREAT), os.open(err_path, os.O_WRONLY | os.O_CREAT)
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.chdir(cwd)
    os.environ.update(job["env"])
    sys.argv = [job["argv"][0], *job["argv"][1:]]
    code = 0
    try:
        runpy.run_module(job["argv"][0], run_name="__main__", alter_sys=True)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported as the command's failure
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(path: str, cwd: str) -> None:
    with open(path) as f:
        jobs = json.load(f)
    context = multiprocessing.get_context("fork")
    for job in jobs:
        with tempfile.TemporaryDirectory() as tmp:
            out, err = os.path.join(tmp, "out"), os.path.join(tmp, "err")
            process = context.Process(target=_child, args=(job, cwd, out, err))
            process.start()
            process.join(300)
            if process.is_alive():
                process.kill()
                process.join()
            job["status"] = process.exitcode
            job["stdout"], job["stderr"] = (open(p).read() if os.path.exists(p) else "" for p in (out, err))
    with open(path, "w") as f:
        json.dump(jobs, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
