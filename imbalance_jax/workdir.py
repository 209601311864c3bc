"""A study's workdir: its layout, the saved config, and which networks its cohorts hold.

  config.json                  the study's config (training keys may not change; the grid may grow)
  cohorts/cohort_NNNNN/members.json   the networks of the cohort (names and identities), written first
  cohorts/cohort_NNNNN/checkpoints/   orbax CheckpointManager: <step>/{state, meta}, the latest kept
  eval/cohort_NNNNN.json       per (network, method) metrics, tied to the checkpoint's token
  results.csv, curves.csv, report.md, fig*.png, cohort_size.json, jax_cache/
  lock                         pid and host of the run using the workdir (one at a time)
"""
import atexit
import dataclasses
import json
import os
import socket
import time
from typing import NamedTuple, Optional

import jax
import ml_collections

from imbalance_jax import plan
from imbalance_jax.checkpoint import CheckpointError, read_json, write_json

CONFIG = "config.json"
MEMBERS = "members.json"


def config_path(workdir: str) -> str:
    """Where the study's config is saved."""
    return os.path.join(workdir, CONFIG)


def cohort_dir(workdir: str, cohort_id: str) -> str:
    """Where a cohort keeps its members and checkpoints."""
    return os.path.join(workdir, "cohorts", cohort_id)


def eval_path(workdir: str, cohort_id: str) -> str:
    """Where a cohort's evaluation is written."""
    return os.path.join(workdir, "eval", f"{cohort_id}.json")


def prepare(workdir: str) -> None:
    """Creates the workdir and takes its lock (the first host does, for a study of several hosts)."""
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise ValueError(f"--workdir={workdir} is a file; give a folder")
    os.makedirs(workdir, exist_ok=True)
    if jax.process_index() == 0:
        acquire_lock(workdir)


def check_config(workdir: str, config: ml_collections.ConfigDict) -> None:
    """Refuses a config whose training keys differ from the saved one's, naming each key and both values
    (the grid may grow, execution settings may change)."""
    path = config_path(workdir)
    if os.path.exists(path):
        changes = plan.training_changes(read_json(path), json.loads(config.to_json()))
        if changes:
            raise ValueError(f"workdir {workdir} holds a study trained with other settings ({'; '.join(changes)}); "
                             "restore those values or use a new --workdir")


def save_config(workdir: str, config: ml_collections.ConfigDict) -> None:
    """Saves the config the workdir's cohorts now answer to (once they were checked against it)."""
    write_json(config_path(workdir), json.loads(config.to_json()))


class CohortRecord(NamedTuple):
    """A cohort found in the workdir: its id and networks (as planned when it was created)."""

    cohort_id: str
    networks: tuple  # of plan.Network


def read_cohorts(workdir: str) -> list[CohortRecord]:
    """Every cohort the workdir holds, in id order."""
    root = os.path.join(workdir, "cohorts")
    if not os.path.isdir(root):
        return []
    records = []
    for cohort_id in sorted(os.listdir(root)):
        path = os.path.join(root, cohort_id, MEMBERS)
        if not os.path.exists(path):
            continue  # created by a run killed before it wrote its members: holds nothing
        saved = read_json(path)
        try:
            networks = tuple(plan.Network(**{**n, "class_counts": tuple(n["class_counts"]),
                                             "reported": tuple(n["reported"])}) for n in saved["networks"])
        except (KeyError, TypeError) as e:
            raise CheckpointError(f"{path} does not list networks as this version writes them ({e}); delete "
                                  f"{os.path.dirname(path)} and rerun the study to retrain that cohort") from e
        records.append(CohortRecord(cohort_id, networks))
    return records


def new_cohort(workdir: str, cohort_id: str, networks: list) -> CohortRecord:
    """Creates a cohort's folder and writes its members before anything is trained."""
    directory = cohort_dir(workdir, cohort_id)
    os.makedirs(directory, exist_ok=True)
    write_json(os.path.join(directory, MEMBERS), {"networks": [dataclasses.asdict(n) for n in networks]})
    return CohortRecord(cohort_id, tuple(networks))


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


def saved_sizes(workdir: str) -> Optional[dict]:
    """The cohort size and evaluation batch measured for cohort_size=0, if a run measured them."""
    path = os.path.join(workdir, "cohort_size.json")
    return read_json(path) if os.path.exists(path) else None


def save_sizes(workdir: str, sizes: dict) -> None:
    """Keeps the measured sizes, so later runs need not compile to measure again."""
    write_json(os.path.join(workdir, "cohort_size.json"), sizes)


LOCK = "lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def acquire_lock(workdir: str) -> str:
    """Makes this process the workdir's only run: a lock file naming pid and host, taken over when its
    holder on this host is dead; another live holder is a one-line refusal naming it."""
    path = os.path.join(workdir, LOCK)
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                with open(path) as f:
                    holder = json.load(f)
            except (OSError, json.JSONDecodeError):
                holder = {}
            if holder.get("pid") == me["pid"] and holder.get("host") == me["host"]:
                return path  # this process holds it already (a second Study in one program)
            if holder.get("host") == me["host"] and not _alive(int(holder.get("pid", 0))):
                os.remove(path)  # stale: its run died without releasing it
                continue
            raise ValueError(f"workdir {workdir} is in use by pid {holder.get('pid', '?')} on "
                             f"{holder.get('host', '?')} since {holder.get('started', '?')}; wait for that run to "
                             f"end, or delete {path} if it is dead")
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        atexit.register(release_lock, path)
        return path
    raise ValueError(f"workdir {workdir}: could not take {path}; delete it if no run is using the workdir")


def release_lock(path: str) -> None:
    """Removes the lock if this process holds it."""
    try:
        with open(path) as f:
            holder = json.load(f)
        if holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
            os.remove(path)
    except (OSError, json.JSONDecodeError):
        pass
