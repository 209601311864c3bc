"""TensorBoard for a study, written with the tensorboard package (no TensorFlow): scalars through its public
writer (`tensorboard.summary.Writer`), the HParams and text summaries, which that writer has no method for,
as the protobufs the hparams and text plugins make, through the event file writer beneath it:

  workdir/tensorboard/<setting>/<method>/   one run per (setting, method), rewritten with every results.csv:
                                            train/accuracy and test/accuracy at every curve point and eval/auc,
                                            eval/accuracy, eval/balanced_accuracy, eval/minority_recall at the last
                                            iteration, each the mean over the group's networks; its
                                            hyperparameters (imbalance, rho, mu, method, lr, networks) for the
                                            HParams dashboard
  workdir/tensorboard/config/               the study's config as text
  workdir/tensorboard/live/<cohort>/        while a cohort trains: its mean training loss and accuracy after every
                                            compiled call, and its images/s

Runs of methods overlay and filter by name; a grown study's runs are written anew from all its networks, so
their steps never repeat. Open it with `uv run tensorboard --logdir <workdir>/tensorboard`.
"""
import json
import os
import shutil
from collections import defaultdict

import numpy as np
from absl import logging

from imbalance_jax.results import selected, setting_label, trained

try:  # a dependency of the project; a bare python (the project's code without its environment) may lack it
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.plugins.hparams import summary_v2 as hparams
    from tensorboard.plugins.text.summary import text_pb
    from tensorboard.summary import Writer
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    AVAILABLE = True
except ImportError:
    AVAILABLE = False

EVAL_METRICS = ("auc", "accuracy", "balanced_accuracy", "minority_recall")
HPARAMS = ("imbalance", "rho", "mu", "method", "lr", "networks")


def run_name(setting: str, method: str) -> str:
    """The run of a (setting, method): a folder name, e.g. 'step_rho10_mu0.5/oversampling'."""
    return f"{setting.replace(' ', '_').replace('=', '')}/{method}"


def _write_run(path: str, scalars: list, summaries: list = ()) -> None:
    """Writes a run anew, its (step, tag, value) scalars and its step-0 summaries: its old event files go first,
    so a rewritten run never repeats a step."""
    if os.path.isdir(path):
        shutil.rmtree(path)
    writer = Writer(path)
    for step, tag, value in scalars:
        writer.add_scalar(tag, float(value), int(step))
    writer.close()
    if summaries:
        events = EventFileWriter(path)
        for summary in summaries:
            events.add_event(Event(step=0, summary=summary))
        events.close()


class LiveBoard:
    """A training cohort's live scalars: its mean loss and accuracy per compiled call, and images/s."""

    def __init__(self, logdir: str, cohort_id: str):
        self.writer = Writer(os.path.join(logdir, "live", cohort_id)) if AVAILABLE else None

    def training(self, step: int, loss, accuracy, images_per_s: float = float("nan")) -> None:
        """After a compiled call (non-finite values, a diverged network's, are left out of the means)."""
        if self.writer is None:
            return
        for tag, values in (("train/loss", loss), ("train/accuracy", accuracy), ("images_per_s", [images_per_s])):
            values = np.asarray(values, np.float64)
            finite = values[np.isfinite(values)]
            if finite.size:
                self.writer.add_scalar(tag, float(finite.mean()), int(step))
        self.writer.flush()

    def close(self) -> None:
        """Closes the event file."""
        if self.writer is not None:
            self.writer.close()


def _minority_recall(per_class: list) -> dict:
    """{(network, method): mean recall over the network's minority classes}."""
    recalls = defaultdict(list)
    for r in per_class:
        if str(r.get("minority")) == "1" and r.get("recall") not in ("", None):
            recalls[(r["network"], r["method"])].append(float(r["recall"]))
    return {k: float(np.mean(v)) for k, v in recalls.items()}


def write_study(logdir: str, rows: list, curves: list, per_class: list, config_json: dict) -> None:
    """Rewrites the study's runs from its result rows (selected, trained), curves and per-class rows."""
    if not AVAILABLE:
        logging.warning("no TensorBoard files: the tensorboard package is not installed (`uv sync` installs it)")
        return
    for old in os.listdir(logdir) if os.path.isdir(logdir) else []:
        if old.startswith("events.out.tfevents."):  # a version before these runs wrote every tag into one
            os.remove(os.path.join(logdir, old))
    groups = defaultdict(list)
    for r in rows:
        if selected(r) and trained(r):
            groups[(setting_label(r), r["method"])].append(r)
    minority = _minority_recall(per_class)
    points = defaultdict(lambda: defaultdict(list))
    for c in curves:
        if selected(c):
            points[(setting_label(c), c["method"])][int(c["step"])].append(c)
    for (setting, method), members in groups.items():
        first, scalars = members[0], []
        for step, at in sorted(points.get((setting, method), {}).items()):
            scalars += [(step, f"{split}/accuracy", np.mean([float(c[f"{split}_accuracy"]) for c in at]))
                        for split in ("train", "test")]
        last = int(float(first.get("iterations") or 0))
        values = {"auc": [r["auc"] for r in members], "accuracy": [r["accuracy"] for r in members],
                  "balanced_accuracy": [r.get("balanced_accuracy") for r in members],
                  "minority_recall": [minority.get((r["network"], method)) for r in members]}
        for metric, found in values.items():
            found = [float(v) for v in found if v not in ("", None)]
            if found:
                scalars.append((last, f"eval/{metric}", np.mean(found)))
        mu = first.get("mu")
        described = {"imbalance": first["imbalance"], "rho": float(first["rho"]),
                     "mu": float(mu) if mu not in ("", None) else -1.0, "method": method,
                     "lr": float(first.get("lr") or 0), "networks": len(members)}
        _write_run(os.path.join(logdir, run_name(setting, method)), scalars,
                   [hparams.hparams_pb(described, trial_id=run_name(setting, method))])
    metrics = [hparams.Metric(f"eval/{m}") for m in EVAL_METRICS]
    config = [hparams.HParam(name) for name in HPARAMS]
    _write_run(os.path.join(logdir, "config"), [], [
        hparams.hparams_config_pb(config, metrics),
        text_pb("config", "```\n" + json.dumps(config_json, indent=1) + "\n```")])
