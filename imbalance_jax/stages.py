"""The study's flow over its workdir: which cohorts hold the planned networks, training the unfinished
ones stage by stage, evaluating what has no valid evaluation, gathering results.

With several hosts each trains and evaluates its share of the cohorts; they meet (orbax's public
barrier over jax.distributed) after planning, after each stage and before the results.
"""
import json
from typing import NamedTuple

import jax
import numpy as np
import orbax.checkpoint as ocp
from absl import logging

from imbalance_jax import (cohort_training, config_schema, distributed, design, evaluate, progress, results, sizing,
                           tensorboard)
from imbalance_jax import workdir as workdir_lib
from imbalance_jax.checkpoint import CheckpointError
from imbalance_jax.study_setup import Setup
from imbalance_jax.workdir import Workdir

BARRIER_TIMEOUT_MS = 7 * 24 * 3600 * 1000  # other hosts may still be training: wait as long as a study runs


class Layout(NamedTuple):
    """Where the planned networks live: the cohorts that hold any of them, and each one's place."""

    cohorts: list  # of workdir.CohortRecord
    located: dict  # network name -> (cohort id, position)


def barrier(name: str) -> None:
    """Waits for every host (a no-op with one process)."""
    if jax.process_count() > 1:
        ocp.multihost.get_barrier_sync_fn()(key=name, timeout_ms=BARRIER_TIMEOUT_MS)


def pending_cohorts(networks, cohort_size: int, records: list, identity: dict = None) -> tuple[dict, list]:
    """({network: (cohort id, position)} of the planned networks the workdir's cohorts hold, the cohorts the rest
    would be packed into): the one rule the study and launch.plan share (identity: the config's identity values,
    so a held network trained otherwise is refused naming the keys)."""
    located = workdir_lib.locate(records, networks, identity)
    pending = [n for n in networks if n.name not in located]
    return located, design.pack_cohorts(pending, cohort_size) if pending else []


def unfinished_cohorts(workdir: Workdir, records: list, located: dict, iterations: int) -> list:
    """The networks of each held cohort whose last save is before the final step (a run killed while it
    trained): resumed by the next run, so neither trained nor new."""
    held = {cohort_id for cohort_id, _ in located.values()}
    return [[n for n in r.networks if n.name in located] for r in records
            if r.cohort_id in held and workdir.checkpoints(r.cohort_id).latest_step() != iterations]


def current_layout(setup: Setup, workdir: Workdir, create: bool = True) -> Layout:
    """The cohorts holding planned networks; with create, the networks no cohort holds are packed
    into new cohorts (their members written, nothing trained yet)."""
    records = workdir.cohorts()
    identity = config_schema.identity_values(json.loads(setup.config.to_json()))
    located, packed = pending_cohorts(setup.networks, setup.cohort_size, records, identity)
    if packed and create:
        for cohort_id, networks in zip(workdir_lib.next_cohort_ids(records, len(packed)), packed):
            records.append(workdir.new_cohort(cohort_id, networks, identity))
        located = workdir_lib.locate(records, setup.networks, identity)
    elif packed:
        missing = packed[0][0].name
        raise CheckpointError(f"{sum(map(len, packed))} networks of the study are not trained (e.g. {missing}); "
                              f"run launch.study --workdir={workdir.path} first")
    if create and jax.process_index() == 0:
        workdir.save_config(setup.config)  # every held network matched it
    return layout_of(records, located)


def layout_of(records: list, located: dict) -> Layout:
    """The Layout of the cohorts among records that hold any of the located networks."""
    return Layout([r for r in records if any(n.name in located for n in r.networks)], located)


def _is_complete(setup: Setup, workdir: Workdir, record) -> bool:
    """The cohort's final save is there (and its files are whole)."""
    checkpoints = workdir.checkpoints(record.cohort_id)
    checkpoints.verify_files()
    return checkpoints.latest_step() == setup.hp.max_iter


def _mine(items: list) -> list:
    """This host's share of the items."""
    return [items[i] for i in distributed.my_cohorts(len(items))]


def train_all(setup: Setup, workdir: Workdir) -> Layout:
    """Trains every unfinished cohort that holds planned networks, stage by stage, logging progress."""
    layout = current_layout(setup, workdir)
    barrier("planned")
    todo = [r for r in layout.cohorts if not _is_complete(setup, workdir, r)]
    stages_todo = sorted({max(n.stage for n in r.networks) for r in layout.cohorts})
    total = sum(len(r.networks) for r in layout.cohorts)
    report = progress.Progress(total, total - sum(len(r.networks) for r in todo),
                               sum(len(r.networks) for r in todo) * setup.hp.batch_size * setup.hp.max_iter)
    devices = jax.devices()
    ran_on = f"{len(devices)} x {devices[0].device_kind} ({jax.default_backend()} backend), jax {jax.__version__}"
    logging.info("imbalance_jax on %s; %d process(es)", ran_on, jax.process_count())
    if jax.process_index() == 0:
        workdir.record_run(ran_on)  # what the report's header says the study ran on
    logging.info("%d networks planned in %d cohorts; %d cohorts to train (%d networks already trained)",
                 len(setup.networks), len(layout.cohorts), len(todo), report.done_networks)
    by_stage = {stage: _mine([r for r in todo if max(n.stage for n in r.networks) == stage]) for stage in stages_todo}
    mine = [r for stage in stages_todo for r in by_stage[stage]]
    chunk = cohort_training.compiled_chunk(setup) if todo else None
    with progress.stop_on_signals() as stop:
        run = cohort_training.StudyTraining(setup, workdir, layout, chunk, report, stop, zca_fits={})
        for stage in stages_todo:
            for record in by_stage[stage]:
                try:
                    cohort_training.train_cohort(run, record, (mine.index(record) + 1, len(mine)))
                except Exception as e:  # noqa: BLE001 - a cohort too large for the device is the user's to fix
                    if "RESOURCE_EXHAUSTED" not in str(e) or setup.streaming:
                        raise
                    raise ValueError(sizing.out_of_memory_advice(
                        setup.model, setup.hp, setup.data.x_train.shape, setup.table_width,
                        setup.config.steps_per_call, record.cohort_id, len(record.networks))) from e
                report.done_networks += len(record.networks)
            barrier(f"stage {stage} trained")
    logging.info("trained %d cohorts in %s (compiling ~%s of it); %s", len(todo), progress.duration(report.elapsed()),
                 progress.duration(report.compile_seconds()),
                 f"{report.rate():.0f} img/s after compiling" if report.steady_seconds else "no call after compiling")
    return layout


def _wanted(setup: Setup, record) -> list:
    """(position, method) pairs of a cohort that the current config reports."""
    planned = {n.name: n.reported for n in setup.networks}
    return [(j, m) for j, n in enumerate(record.networks) for m in planned.get(n.name, ())]


def evaluation_todo(setup: Setup, workdir: Workdir, layout: Layout, force: bool = False) -> list:
    """(cohort record, wanted (position, method) pairs) of this host's cohorts whose evaluation is missing, stale
    (retrained) or lacks a wanted method; every one with force."""
    todo = []
    for record in _mine(layout.cohorts):
        with workdir.checkpoints(record.cohort_id) as checkpoints:
            meta = checkpoints.read_meta()
        if meta is None or not meta.get("complete"):
            raise CheckpointError(f"{record.cohort_id} ({workdir.cohort_dir(record.cohort_id)}) is not trained; "
                                  f"run launch.study --workdir={workdir.path} to train it first")
        wanted = _wanted(setup, record)
        if force or not _evaluation_current(workdir.read_evaluation(record.cohort_id), meta["token"], wanted):
            todo.append((record, wanted))
    return todo


def evaluate_all(setup: Setup, workdir: Workdir, layout: Layout, force: bool = False) -> None:
    """Evaluates this host's finished cohorts whose evaluation is missing, stale or lacks a wanted method."""
    todo = evaluation_todo(setup, workdir, layout, force)
    report = progress.EvaluationProgress(sum(len(r.networks) for r, _ in todo))
    if todo:
        logging.info("evaluating %d cohorts (%d networks) on the test set", len(todo), report.total)
    tests, predict = {}, setup.predict()  # split -> (test images, labels) of the split evaluated last
    for record, wanted in todo:
        split = record.networks[0].split
        if split not in tests:
            view = setup.on_split(split)
            tests = {split: (view.test_images(), jax.numpy.asarray(view.data.y_test))}  # one split held
        x_test, y_test = tests[split]
        with workdir.checkpoints(record.cohort_id) as checkpoints:
            state, meta = checkpoints.restore(setup.abstract_state(len(record.networks)))
        if meta.get("identities") != [n.training_hash for n in record.networks]:
            raise CheckpointError(f"{workdir.cohort_dir(record.cohort_id)}'s checkpoint holds other networks than "
                                  f"its members.json lists; {checkpoints.delete_hint()}")
        probs, tau_normalized = evaluate.cohort_probabilities(state, predict, x_test, setup.interface.head, wanted,
                                                              setup.config.losses.tau_norm_keep_bias)
        context = dict(dataset=setup.config.dataset, iterations=setup.hp.max_iter, cohort=record.cohort_id)
        rows = evaluate.evaluate_cohort(list(record.networks), wanted, meta["train_sizes"], probs, tau_normalized,
                                        y_test, context, meta.get("diverged"))
        workdir.write_evaluation(record.cohort_id, {"cohort": record.cohort_id, "token": meta["token"],
                                                    "pairs": [list(p) for p in wanted], "rows": rows,
                                                    "curves": meta["curves"]})
        report.log(record.cohort_id, len(record.networks), len(rows))
    barrier("evaluated")


def _evaluation_current(saved, token: str, wanted: list) -> bool:
    """The evaluation record belongs to this cohort's final checkpoint and holds every wanted row."""
    return (saved is not None and saved.get("token") == token
            and {tuple(p) for p in wanted} <= {tuple(p) for p in saved["pairs"]})


def write_results(setup: Setup, workdir: Workdir, layout: Layout) -> list[dict]:
    """results.csv from every relevant cohort's evaluation (the wanted rows only); returns the rows."""
    rows, curves = [], []
    planned = {n.name for n in setup.networks}
    for record in layout.cohorts:
        saved = workdir.read_evaluation(record.cohort_id)
        wanted = {(record.networks[j].name, m) for j, m in _wanted(setup, record)}
        found = [r for r in saved["rows"] if (r.get("network"), r.get("method")) in wanted] if saved else []
        if len(found) != len(wanted):
            raise CheckpointError(f"{workdir.eval_path(record.cohort_id)} does not hold the evaluation of "
                                  f"{record.cohort_id} the study needs; run launch.evaluate --workdir={workdir.path} "
                                  "--force to evaluate it again")
        rows += [dict({"split": 0}, **r) for r in found]  # records evaluated before the split column: split 0
        curves += [c for c in results.curve_rows(list(record.networks), saved.get("curves")) if c["network"] in planned]
    order = {n.name: i for i, n in enumerate(setup.networks)}
    rows.sort(key=lambda r: order[r["network"]])
    if jax.process_index() == 0:
        test_counts = {k: tuple(int(c) for c in np.bincount(split.y_test, minlength=split.num_classes))
                       for k, split in enumerate(setup.splits or (setup.data,))}
        per_class = results.write(workdir, rows, curves, {n.name: n.class_counts for n in setup.networks},
                                  tuple(setup.data.class_names), test_counts)
        tensorboard.write_study(workdir.file("tensorboard"), rows, curves, per_class,
                                json.loads(setup.config.to_json()))
    logging.info("wrote %d rows to %s/results.csv", len(rows), workdir.path)
    return rows
