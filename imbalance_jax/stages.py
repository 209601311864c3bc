"""The study's flow over its workdir: which cohorts hold the planned networks, training the unfinished
ones stage by stage, evaluating what has no valid evaluation, gathering results.

With several hosts each trains and evaluates its share of the cohorts; they meet (orbax's public
barrier over jax.distributed) after planning, after each stage and before the results.
"""
import contextlib
import os
from typing import NamedTuple

import jax
import orbax.checkpoint as ocp
from absl import logging

from imbalance_jax import distributed, evaluate, plan, progress, results, run, sizing, tensorboard
from imbalance_jax import workdir as workdir_lib
from imbalance_jax.checkpoint import CheckpointError, CohortCheckpoints, read_json, write_json

BARRIER_TIMEOUT_MS = 7 * 24 * 3600 * 1000  # other hosts may still be training: wait as long as a study runs


class Layout(NamedTuple):
    """Where the planned networks live: the cohorts that hold any of them, and each one's place."""

    cohorts: list  # of workdir.CohortRecord
    located: dict  # network name -> (cohort id, position)


def barrier(name: str) -> None:
    """Waits for every host (a no-op with one process)."""
    if jax.process_count() > 1:
        ocp.multihost.get_barrier_sync_fn()(key=name, timeout_ms=BARRIER_TIMEOUT_MS)


def current_layout(study, create: bool = True) -> Layout:
    """The cohorts holding planned networks; with create, the networks no cohort holds are packed
    into new cohorts (their members written, nothing trained yet)."""
    records = workdir_lib.read_cohorts(study.workdir)
    located = workdir_lib.locate(records, study.networks)
    pending = [n for n in study.networks if n.name not in located]
    if pending and create:
        packed = plan.pack_cohorts(pending, study.cohort_size)
        for cohort_id, networks in zip(workdir_lib.next_cohort_ids(records, len(packed)), packed):
            records.append(workdir_lib.new_cohort(study.workdir, cohort_id, networks))
        located = workdir_lib.locate(records, study.networks)
    elif pending:
        raise CheckpointError(f"{len(pending)} networks of the study are not trained (e.g. {pending[0].name}); "
                              f"run launch.study --workdir={study.workdir} first")
    if create and jax.process_index() == 0:
        workdir_lib.save_config(study.workdir, study.config)  # every held network matched it
    relevant = [r for r in records if any(n.name in located for n in r.networks)]
    return Layout(relevant, located)


def _is_complete(study, record) -> bool:
    """The cohort's final save is there (and its files are whole)."""
    checkpoints = CohortCheckpoints(study.cohort_dir(record.cohort_id))
    checkpoints.verify_files()
    return checkpoints.latest_step() == study.hp.max_iter


def _mine(items: list) -> list:
    """This host's share of the items."""
    return [items[i] for i in distributed.my_cohorts(len(items))]


def train_all(study) -> Layout:
    """Trains every unfinished cohort that holds planned networks, stage by stage, logging progress."""
    layout = current_layout(study)
    barrier("planned")
    todo = [r for r in layout.cohorts if not _is_complete(study, r)]
    stages_todo = sorted({max(n.stage for n in r.networks) for r in layout.cohorts})
    total = sum(len(r.networks) for r in layout.cohorts)
    report = progress.Progress(total, total - sum(len(r.networks) for r in todo),
                               sum(len(r.networks) for r in todo) * study.hp.batch_size * study.hp.max_iter)
    devices = jax.devices()
    logging.info("imbalance_jax on %d x %s (%s backend), jax %s; %d process(es)", len(devices),
                 devices[0].device_kind, jax.default_backend(), jax.__version__, jax.process_count())
    logging.info("%d networks planned in %d cohorts; %d cohorts to train (%d networks already trained)",
                 len(study.networks), len(layout.cohorts), len(todo), report.done_networks)
    run_chunk = run.chunk_runner(study) if todo else None
    parents = _ParentStates(study, layout)
    events = tensorboard.EventWriter(os.path.join(study.workdir, "tensorboard")) if todo else None
    with progress.stop_on_signals() as stop, contextlib.closing(events) if events else contextlib.nullcontext():
        for stage in stages_todo:
            for record in _mine([r for r in todo if max(n.stage for n in r.networks) == stage]):
                try:
                    run.CohortTraining(study, record, run_chunk, parents.stacked, report, stop, events).run()
                except Exception as e:  # noqa: BLE001 - a cohort too large for the device is the user's to fix
                    if "RESOURCE_EXHAUSTED" not in str(e) or study.streaming:
                        raise
                    raise ValueError(sizing.out_of_memory_advice(
                        study.model, study.hp, study.data.x_train.shape, study.table_width,
                        study.config.steps_per_call, record.cohort_id, len(record.networks))) from e
                report.done_networks += len(record.networks)
            barrier(f"stage {stage} trained")
    logging.info("trained %d cohorts in %s (compiling ~%s of it); %s", len(todo), progress.duration(report.elapsed()),
                 progress.duration(report.compile_seconds()),
                 f"{report.rate():.0f} img/s after compiling" if report.steady_seconds else "no call after compiling")
    return layout


class _ParentStates:
    """Params and input transforms of trained networks by name, restored cohort by cohort."""

    def __init__(self, study, layout: Layout):
        self.study, self.layout = study, layout

    def stacked(self, names: list):
        """The named networks' {params, preprocess}, stacked in that order."""
        from imbalance_jax.cohort import stack_rows

        restored, rows = {}, []
        sizes = {r.cohort_id: len(r.networks) for r in self.layout.cohorts}
        for name in names:
            cohort_id, j = self.layout.located[name]
            if cohort_id not in restored:
                with CohortCheckpoints(self.study.cohort_dir(cohort_id)) as checkpoints:
                    state = checkpoints.restore(self.study.abstract_state(sizes[cohort_id]))[0]
                restored[cohort_id] = {"params": state["params"], "preprocess": state["preprocess"]}
            rows.append(jax.tree.map(lambda x: x[j], restored[cohort_id]))
        return stack_rows(rows)


def _wanted(study, record) -> list:
    """(position, method) pairs of a cohort that the current config reports."""
    planned = {n.name: n.reported for n in study.networks}
    return [(j, m) for j, n in enumerate(record.networks) for m in planned.get(n.name, ())]


def evaluate_all(study, layout: Layout, force: bool = False) -> None:
    """Evaluates this host's finished cohorts whose evaluation is missing, stale or lacks a wanted method."""
    tests = {}  # split -> (test images, labels) of the splits evaluated so far
    for record in _mine(layout.cohorts):
        split = record.networks[0].split
        with CohortCheckpoints(study.cohort_dir(record.cohort_id)) as checkpoints:
            meta = checkpoints.read_meta()
            if meta is None or not meta.get("complete"):
                raise CheckpointError(f"{record.cohort_id} ({study.cohort_dir(record.cohort_id)}) is not trained; "
                                      f"run launch.study --workdir={study.workdir} to train it first")
            wanted = _wanted(study, record)
            path = workdir_lib.eval_path(study.workdir, record.cohort_id)
            if not force and _still_valid(path, record.cohort_id, meta["token"], wanted):
                continue
            if split not in tests:
                view = study.on_split(split)
                tests = {split: (view.test_images(), jax.numpy.asarray(view.data.y_test))}  # one split held
            x_test, y_test = tests[split]
            state, _ = checkpoints.restore(study.abstract_state(len(record.networks)))
        probs, tau_normalized = evaluate.cohort_probabilities(
            state, study.predict, x_test, study.interface.head, wanted, study.config.losses.get("tau_norm_keep_bias",
                                                                                               False))
        context = dict(dataset=study.config.dataset, iterations=study.hp.max_iter, cohort=record.cohort_id)
        rows = evaluate.evaluate_cohort(list(record.networks), wanted, meta["train_sizes"], probs, tau_normalized,
                                        y_test, context, meta.get("diverged"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_json(path, {"cohort": record.cohort_id, "token": meta["token"], "pairs": [list(p) for p in wanted],
                          "rows": rows, "curves": meta["curves"]})
        logging.info("evaluated %s (%d networks, %d rows)", record.cohort_id, len(record.networks), len(rows))
    barrier("evaluated")


def _still_valid(path: str, cohort_id: str, token: str, wanted: list) -> bool:
    """The evaluation record belongs to this cohort's final checkpoint and holds every wanted row."""
    if not os.path.exists(path):
        return False
    try:
        saved = read_json(path)
    except CheckpointError:
        return False  # corrupt: evaluated again
    return (isinstance(saved, dict) and saved.get("token") == token and saved.get("cohort") == cohort_id
            and {tuple(p) for p in wanted} <= {tuple(p) for p in saved.get("pairs", [])})


def write_results(study, layout: Layout) -> list[dict]:
    """results.csv from every relevant cohort's evaluation (the wanted rows only); returns the rows."""
    rows, curves = [], []
    planned = {n.name for n in study.networks}
    for record in layout.cohorts:
        path = workdir_lib.eval_path(study.workdir, record.cohort_id)
        saved = read_json(path) if os.path.exists(path) else None
        wanted = {(record.networks[j].name, m) for j, m in _wanted(study, record)}
        found = [r for r in saved["rows"] if (r["network"], r["method"]) in wanted] if isinstance(saved, dict) \
            and saved.get("cohort") == record.cohort_id else []
        if len(found) != len(wanted):
            raise CheckpointError(f"{path} does not hold the evaluation of {record.cohort_id} the study needs; run "
                                  f"launch.evaluate --workdir={study.workdir} (or launch.study) to evaluate it again")
        rows += [dict({"split": 0}, **r) for r in found]  # records evaluated before the split column: split 0
        curves += [c for c in results.curve_rows(list(record.networks), saved.get("curves")) if c["network"] in planned]
    order = {n.name: i for i, n in enumerate(study.networks)}
    rows.sort(key=lambda r: order[r["network"]])
    if jax.process_index() == 0:
        results.write(study.workdir, rows, curves, {n.name: n.class_counts for n in study.networks})
    logging.info("wrote %d rows to %s/results.csv", len(rows), study.workdir)
    return rows
