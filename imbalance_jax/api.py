"""A study of arrays a user already holds (a notebook's), through the same runner as the command line.

  rows = imbalance_jax.run_on_arrays(x_train, y_train, x_test, y_test, config, "runs/mine")

The arrays are saved once in the workdir (arrays.npz) and the study reads them as `npz:<that file>`, so it
resumes, grows and re-evaluates like any other: study.run_study is the one code path.
"""
import os
from typing import Optional, Sequence

import ml_collections
import numpy as np
from absl import logging

from imbalance_jax import cli, files, report, study
from imbalance_jax.workdir import Workdir

ARRAYS = "arrays.npz"


def run_on_arrays(x_train, y_train, x_test, y_test, config: ml_collections.ConfigDict, workdir: str,
                  class_names: Optional[Sequence[str]] = None) -> list[dict]:
    """Trains and evaluates the config's study on these arrays (uint8 images [n, h, w] or [n, h, w, c], labels
    0..C-1), writes results.csv and, with config.report, report.md in workdir; returns the result rows."""
    os.makedirs(workdir, exist_ok=True)
    path = os.path.abspath(Workdir(workdir).file(ARRAYS))
    arrays = dict(x_train=np.asarray(x_train), y_train=np.asarray(y_train), x_test=np.asarray(x_test),
                  y_test=np.asarray(y_test))
    if class_names is not None:
        arrays["class_names"] = np.asarray([str(n) for n in class_names])
    if not _same_arrays(path, arrays):  # a rerun with the same arrays leaves the file (and the study) as it was
        files.write_atomically(path, lambda f: np.savez(f, **arrays), binary=True)
    config = config.copy_and_resolve_references()
    config.dataset = f"npz:{path}"
    previous = logging.get_verbosity()
    logging.set_verbosity(logging.INFO)  # the progress lines a notebook user reads, and log.txt
    handler = cli.log_to_workdir(workdir)
    try:
        rows = study.run_study(config, workdir)
        if config.report:
            report.write_report(workdir)
    finally:
        logging.get_absl_logger().removeHandler(handler)
        handler.close()
        logging.set_verbosity(previous)
    return rows


def _same_arrays(path: str, arrays: dict) -> bool:
    if not os.path.exists(path):
        return False
    with np.load(path) as saved:
        return set(saved) == set(arrays) and all(np.array_equal(saved[k], v) for k, v in arrays.items())
