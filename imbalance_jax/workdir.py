"""A study's workdir and its one owner, Workdir: every path, record, lock and write goes through it.

  config.json                  the study's config (identity keys may not change; the grid may grow)
  cohorts/cohort_NNNNN/members.json   the networks of the cohort (names and identities), written first
  cohorts/cohort_NNNNN/checkpoints/   orbax CheckpointManager: <step>/{state, meta}, the latest kept
  eval/cohort_NNNNN.json       per (network, method) metrics, tied to the checkpoint's token
  results.csv, per_class.csv, curves.csv, report.md, fig*.png, cohort_size.json, log.txt, tensorboard/, jax_cache/
  lock                         held (filelock) by the run using the workdir, one at a time; names its pid and host

Records are read strictly: a file of the wrong shape is a one-line error naming it and what to do.
"""
import atexit
import dataclasses
import json
import os
import socket
import time
from typing import NamedTuple, Optional

import filelock
import ml_collections

from imbalance_jax import config_schema, files, plan
from imbalance_jax.checkpoint import CohortCheckpoints
from imbalance_jax.files import RecordError

MEMBERS = "members.json"
SIZES_KEYS = ("cohort_size", "eval_batch_size")


class CohortRecord(NamedTuple):
    """A cohort found in the workdir: its id and networks (as planned when it was created)."""

    cohort_id: str
    networks: tuple  # of plan.Network


class Workdir:
    """The folder of one study."""

    def __init__(self, path: str):
        self.path = path

    def file(self, name: str) -> str:
        """A top-level file of the workdir (results.csv, report.md, ...)."""
        return os.path.join(self.path, name)

    def cohort_dir(self, cohort_id: str) -> str:
        """Where a cohort keeps its members and checkpoints."""
        return os.path.join(self.path, "cohorts", cohort_id)

    def eval_path(self, cohort_id: str) -> str:
        """Where a cohort's evaluation is written."""
        return os.path.join(self.path, "eval", f"{cohort_id}.json")

    def checkpoints(self, cohort_id: str) -> CohortCheckpoints:
        """A cohort's checkpoints, whose errors say what to delete to retrain it."""
        hint = (f"delete {self.cohort_dir(cohort_id)} and {self.eval_path(cohort_id)}, then rerun the study to "
                "retrain that cohort")
        return CohortCheckpoints(self.cohort_dir(cohort_id), hint)

    def prepare(self, host: int = 0) -> None:
        """Creates the folder and takes its lock (host 0 does, for a study of several hosts)."""
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise ValueError(f"--workdir={self.path} is a file; give a folder")
        os.makedirs(self.path, exist_ok=True)
        if host == 0:
            acquire_lock(self.path)

    # --- the config ------------------------------------------------------------------------------
    def saved_config_json(self) -> Optional[dict]:
        """The saved config's JSON, or None before the first run."""
        path = self.file("config.json")
        if not os.path.exists(path):
            return None
        saved = files.read_json(path, "pass the config file the study was started with (--config=...)")
        if not isinstance(saved, dict):
            raise RecordError(f"{path} holds {type(saved).__name__}, not a config; pass the config file the study "
                              "was started with (--config=...)")
        return saved

    def check_config(self, config: ml_collections.ConfigDict) -> None:
        """Refuses a config whose identity keys differ from the saved one's, naming each key and both values
        (the grid may grow, execution settings may change)."""
        saved = self.saved_config_json()
        if saved is not None:
            changes = config_schema.identity_changes(saved, json.loads(config.to_json()))
            if changes:
                raise ValueError(f"workdir {self.path} holds a study trained with other settings "
                                 f"({'; '.join(changes)}); restore those values or use a new --workdir")

    def save_config(self, config: ml_collections.ConfigDict) -> None:
        """Saves the config the workdir's cohorts now answer to (once they were checked against it)."""
        files.write_json(self.file("config.json"), json.loads(config.to_json()))

    # --- cohorts ---------------------------------------------------------------------------------
    def cohorts(self) -> list[CohortRecord]:
        """Every cohort the workdir holds, in id order."""
        root = os.path.join(self.path, "cohorts")
        if not os.path.isdir(root):
            return []
        return [record for cohort_id in sorted(os.listdir(root)) if (record := self._members(cohort_id))]

    def _members(self, cohort_id: str) -> Optional[CohortRecord]:
        path = os.path.join(self.cohort_dir(cohort_id), MEMBERS)
        if not os.path.exists(path):
            return None  # created by a run killed before it wrote its members: holds nothing
        fix = f"delete {self.cohort_dir(cohort_id)} and rerun the study to retrain that cohort"
        saved = files.read_json(path, fix)
        try:
            networks = tuple(plan.Network(**{**n, "class_counts": tuple(n["class_counts"]),
                                             "reported": tuple(n["reported"])}) for n in saved["networks"])
        except (KeyError, TypeError) as e:
            raise RecordError(f"{path} does not list networks as this version writes them ({e}); {fix}") from e
        return CohortRecord(cohort_id, networks)

    def new_cohort(self, cohort_id: str, networks: list) -> CohortRecord:
        """Creates a cohort's folder and writes its members before anything is trained."""
        os.makedirs(self.cohort_dir(cohort_id), exist_ok=True)
        files.write_json(os.path.join(self.cohort_dir(cohort_id), MEMBERS),
                         {"networks": [dataclasses.asdict(n) for n in networks]})
        return CohortRecord(cohort_id, tuple(networks))

    # --- sizes and evaluations -------------------------------------------------------------------
    def saved_sizes(self) -> Optional[dict]:
        """The cohort size and evaluation batch measured for cohort_size=0, if a run measured them."""
        path = self.file("cohort_size.json")
        if not os.path.exists(path):
            return None
        sizes = files.read_json(path, "delete it and rerun: the sizes are measured again")
        if not (isinstance(sizes, dict) and all(isinstance(sizes.get(k), int) and sizes[k] >= 1 for k in SIZES_KEYS)):
            raise RecordError(f"{path} does not hold whole cohort_size and eval_batch_size values >= 1; delete it and "
                              "rerun: the sizes are measured again")
        return sizes

    def save_sizes(self, sizes: dict) -> None:
        """Keeps the measured sizes, so later runs need not compile to measure again."""
        files.write_json(self.file("cohort_size.json"), sizes)

    def read_evaluation(self, cohort_id: str) -> Optional[dict]:
        """A cohort's evaluation record, or None where it is missing, corrupt or of another shape (evaluated
        again then)."""
        path = self.eval_path(cohort_id)
        if not os.path.exists(path):
            return None
        try:
            saved = files.read_json(path)
        except RecordError:
            return None
        shaped = (isinstance(saved, dict) and saved.get("cohort") == cohort_id and isinstance(saved.get("rows"), list)
                  and isinstance(saved.get("pairs"), list) and all(isinstance(r, dict) for r in saved["rows"]))
        return saved if shaped else None

    def write_evaluation(self, cohort_id: str, record: dict) -> None:
        """Writes a cohort's evaluation record."""
        os.makedirs(os.path.dirname(self.eval_path(cohort_id)), exist_ok=True)
        files.write_json(self.eval_path(cohort_id), record)


def next_cohort_ids(existing: list[CohortRecord], count: int) -> list[str]:
    """Ids for count new cohorts, after the existing ones."""
    start = 1 + max((int(r.cohort_id.split("_")[1]) for r in existing), default=-1)
    return [f"cohort_{i:05d}" for i in range(start, start + count)]


def locate(records: list[CohortRecord], planned: list) -> dict:
    """{network name: (cohort id, position)} for the planned networks some cohort holds; a held network
    whose identity differs from the planned one is refused (it was trained with other settings)."""
    held = {n.name: (r.cohort_id, j, n) for r in records for j, n in enumerate(r.networks)}
    found = {}
    for network in planned:
        if network.name not in held:
            continue
        cohort_id, j, saved = held[network.name]
        if saved.training_hash != network.training_hash:
            raise ValueError(
                f"cohort {cohort_id} holds {network.name} trained with other settings (identity {saved.training_hash} "
                f"!= {network.training_hash}); restore the config it was trained with or use a new --workdir")
        found[network.name] = (cohort_id, j)
    return found


_HELD: dict = {}  # lock path -> the FileLock this process holds (a second run in one program re-enters it)


def acquire_lock(workdir: str) -> str:
    """Makes this process the workdir's only run: an operating-system lock on workdir/lock (filelock), which
    a dead run's system releases, the file naming pid and host; a live holder is a one-line refusal naming it."""
    path = os.path.join(workdir, "lock")
    if path in _HELD:
        return path
    lock = filelock.FileLock(path, timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        try:
            with open(path) as f:
                holder = json.load(f)
        except (OSError, json.JSONDecodeError):
            holder = {}
        holder = holder if isinstance(holder, dict) else {}
        raise ValueError(f"workdir {workdir} is in use by pid {holder.get('pid', '?')} on {holder.get('host', '?')} "
                         f"since {holder.get('started', '?')}; wait for that run to end") from None
    _HELD[path] = lock
    with open(path, "w") as f:  # the lock is the open file's, not its contents: writing keeps it
        json.dump({"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}, f)
    atexit.register(release_lock, path)
    return path


def release_lock(path: str) -> None:
    """Releases the workdir's lock if this process holds it (the file stays: removing it would race a run
    opening it)."""
    lock = _HELD.pop(path, None)
    if lock is not None:
        lock.release()
