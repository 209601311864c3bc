"""A study's workdir and its one owner, Workdir: every path, record, lock and write goes through it.

  config.json                  the study's config (identity keys may not change; the grid may grow)
  cohorts/cohort_NNNNN/members.json   the networks of the cohort (names and identities), written first
  cohorts/cohort_NNNNN/checkpoints/   orbax CheckpointManager: <step>/{state, meta}, the latest kept
  eval/cohort_NNNNN.json       per (network, method) metrics, tied to the checkpoint's token
  results.csv, per_class.csv, curves.csv   the study's tables (imbalance_jax.tables declares their columns)
  checksums.json               the sha256 of each table as written, so an edited table is refused
  runs.json                    each run's start: when, and the devices and jax it ran on
  union.json                   in a folder --union made: the workdirs it joins (it may write there again)
  report.md, fig*.png, cohort_size.json, log.txt, tensorboard/, jax_cache/
  lock                         held (filelock) by the run using the workdir, one at a time; names its pid and host

Records are read strictly: a file of the wrong shape is a one-line error naming it and what to do.
"""
import atexit
import dataclasses
import hashlib
import json
import os
import socket
import time
from typing import NamedTuple, Optional

import filelock
import ml_collections

from imbalance_jax import config_schema, files, methods, design, tables
from imbalance_jax.checkpoint import CohortCheckpoints
from imbalance_jax.files import RecordError

MEMBERS = "members.json"
SIZES_KEYS = ("cohort_size", "eval_batch_size")
CHECKSUMS, RUNS, UNION = "checksums.json", "runs.json", "union.json"


class CohortRecord(NamedTuple):
    """A cohort found in the workdir: its id and networks (as planned when it was created)."""

    cohort_id: str
    networks: tuple  # of design.Network
    identity: Optional[dict] = None  # the identity keys' values it was created under (None: an older cohort)


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
    def has_saved_config(self) -> bool:
        """Whether the workdir holds a study's config.json."""
        return os.path.isfile(self.file("config.json"))

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
            networks = tuple(design.Network(**{**n, "class_counts": tuple(n["class_counts"]),
                                             "reported": tuple(n["reported"])}) for n in saved["networks"])
        except (KeyError, TypeError) as e:
            raise RecordError(f"{path} does not list networks as this version writes them ({e}); {fix}") from e
        identity = saved.get("identity")
        return CohortRecord(cohort_id, networks, identity if isinstance(identity, dict) else None)

    def new_cohort(self, cohort_id: str, networks: list, identity: dict = None) -> CohortRecord:
        """Creates a cohort's folder and writes its members (and the identity keys' values, so a later change
        is named by key) before anything is trained."""
        os.makedirs(self.cohort_dir(cohort_id), exist_ok=True)
        record = {"networks": [dataclasses.asdict(n) for n in networks]}
        if identity is not None:
            record["identity"] = identity
        files.write_json(os.path.join(self.cohort_dir(cohort_id), MEMBERS), record)
        return CohortRecord(cohort_id, tuple(networks), identity)

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
        """A cohort's evaluation record, or None where it is missing, corrupt, of another shape or edited since
        it was written (its checksum differs): evaluated again then."""
        path = self.eval_path(cohort_id)
        if not os.path.exists(path):
            return None
        try:
            saved = files.read_json(path)
        except RecordError:
            return None
        shaped = (isinstance(saved, dict) and saved.get("cohort") == cohort_id and isinstance(saved.get("rows"), list)
                  and isinstance(saved.get("pairs"), list) and all(isinstance(r, dict) for r in saved["rows"]))
        return saved if shaped and saved.get("sha256") == _record_checksum(saved) else None

    def write_evaluation(self, cohort_id: str, record: dict) -> None:
        """Writes a cohort's evaluation record with the checksum of its content."""
        os.makedirs(os.path.dirname(self.eval_path(cohort_id)), exist_ok=True)
        record = json.loads(json.dumps(record, default=files.to_builtin))  # the values as they will read back
        files.write_json(self.eval_path(cohort_id), dict(record, sha256=_record_checksum(record)))

    # --- runs and the lock -----------------------------------------------------------------------
    def record_run(self, devices: str) -> None:
        """Appends a run's start (when, and the devices and jax it runs on) to runs.json."""
        runs = self.runs()
        files.write_json(self.file(RUNS), [*runs, {"started": time.strftime("%Y-%m-%d %H:%M:%S"),
                                                   "devices": devices}])

    def runs(self) -> list[dict]:
        """Every run's start recorded in runs.json (none before the first run)."""
        path = self.file(RUNS)
        if not os.path.exists(path):
            return []
        runs = files.read_json(path, "delete it: it only says where the study ran")
        if not (isinstance(runs, list) and all(isinstance(r, dict) and isinstance(r.get("devices"), str)
                                               for r in runs)):
            raise RecordError(f"{path} is not a list of runs with their devices; delete it: it only says where the "
                              "study ran")
        return runs

    def run_in_flight(self) -> Optional[dict]:
        """The lock's holder (pid, host, started) when another live run is using the workdir, else None."""
        try:
            with open(os.path.join(self.path, "lock")) as f:
                holder = json.load(f)
        except (OSError, json.JSONDecodeError):
            return None
        if not isinstance(holder, dict) or holder.get("pid") == os.getpid():
            return None
        probe = filelock.FileLock(os.path.join(self.path, "lock"), timeout=0)
        try:  # the lock is free when its run ended or died: the operating system released it
            probe.acquire()
        except filelock.Timeout:
            return holder
        probe.release()
        return None

    @property
    def tables(self) -> "StudyTables":
        """The study's tables (results.csv, per_class.csv, curves.csv): their one reader and writer."""
        return StudyTables(self)


class StudyTables:
    """A workdir's tables, read strictly (imbalance_jax.tables) and matched to the study its cohorts and config
    describe; written with checksums, so a table edited by hand is refused."""

    def __init__(self, workdir: Workdir):
        self.workdir = workdir

    def table_fix(self) -> str:
        """How to write the workdir's tables again: from the evaluations, or by the union that made them."""
        union = self._union_sources()
        if union:
            return ("write it again with `uv run python -m launch.report --union "
                    f"{' '.join(f'--workdir={w}' for w in union)} --out={self.workdir.path}`")
        return f"write it again with `uv run python -m launch.evaluate --workdir={self.workdir.path}`"

    def _union_sources(self) -> list:
        path = self.workdir.file(UNION)
        if not os.path.exists(path):
            return []
        made = files.read_json(path, "delete the folder and run the union again")
        return list(made.get("workdirs", [])) if isinstance(made, dict) else []

    def made_by_union(self) -> bool:
        """Whether --union made this folder (so another union may write there)."""
        return os.path.exists(self.workdir.file(UNION))

    def mark_union(self, workdirs: list) -> None:
        """Records that --union made this folder, from these workdirs."""
        files.write_json(self.workdir.file(UNION), {"workdirs": list(workdirs)})

    def write_tables(self, written: dict) -> None:
        """Writes {tables.Schema: rows} and their checksums (a table not given keeps its file and checksum)."""
        sums = self._checksums()
        for schema, rows in written.items():
            path = self.workdir.file(schema.file)
            files.write_csv(path, schema.names, rows)
            sums[schema.file] = _file_checksum(path)
        files.write_json(self.workdir.file(CHECKSUMS), sums)

    def _checksums(self) -> dict:
        path = self.workdir.file(CHECKSUMS)
        if not os.path.exists(path):
            return {}
        sums = files.read_json(path, f"delete it and {self.table_fix()}")
        if not (isinstance(sums, dict) and all(isinstance(v, str) for v in sums.values())):
            raise RecordError(f"{path} does not hold a sha256 per table; delete it and {self.table_fix()}")
        return sums

    def has_table(self, schema: tables.Schema) -> bool:
        """Whether the workdir holds this table."""
        return os.path.exists(self.workdir.file(schema.file))

    def _table(self, schema: tables.Schema) -> list[dict]:
        path, fix = self.workdir.file(schema.file), self.table_fix()
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} does not exist; run launch.study with --workdir={self.workdir.path} first")
        try:
            rows = tables.read(path, schema, fix)
        except tables.TableError as e:
            raise RecordError(str(e)) from None
        return rows

    def _verify(self, schema: tables.Schema) -> None:
        """Refuses a table whose bytes differ from those the study wrote (checked last, so that a table edited
        into something wrong is named by what is wrong)."""
        path, expected = self.workdir.file(schema.file), self._checksums().get(schema.file)
        if expected is not None and expected != _file_checksum(path):
            raise RecordError(f"{path} was changed after the study wrote it (its sha256 differs from "
                              f"{self.workdir.file(CHECKSUMS)}'s); {self.table_fix()}")

    def results(self) -> list[dict]:
        """Every row of results.csv as strings, read strictly and matched to the study: one row per network and
        method, of the study's networks and methods and no others, each learning-rate protocol's pick marked."""
        rows = self._table(tables.RESULTS)
        path, fix = self.workdir.file(tables.RESULTS.file), self.table_fix()
        if not rows:
            raise RecordError(f"{path} holds no rows; {fix}")
        self._match_study(rows, path, fix)
        picks = {}
        for row in rows:
            if not tables.untrained(row):
                picks.setdefault((row["network"].split("/")[0], row["method"]), []).append(row["selected"])
        for (network, method), marks in picks.items():
            if marks.count("1") != 1:
                raise RecordError(f"{path}: {network} {method} has {marks.count('1')} rows with selected=1 among its "
                                  f"{len(marks)} learning-rate runs (one is the study's pick); {fix}")
        self._verify(tables.RESULTS)
        return rows

    def _match_study(self, rows: list[dict], path: str, fix: str) -> None:
        """Refuses rows of networks the workdir's cohorts do not hold or methods its config does not report,
        and a network missing one of its methods' rows."""
        held = {n.name: n for record in self.workdir.cohorts() for n in record.networks}
        saved = self.workdir.saved_config_json() or {}
        if not held or not isinstance(saved.get("methods"), list):
            return  # a union's or a hand-made table: the checks above are all there is
        wanted = {}
        for name in saved["methods"]:
            method = methods.lookup(name)
            wanted.setdefault(method.network if method else name, set()).add(name)
        found = {}
        for line, row in enumerate(rows, start=2):
            network = held.get(row["network"])
            if network is None:
                raise RecordError(f"{path} line {line}: network {row['network']!r} is not one of this study's "
                                  f"networks (none of its cohorts holds it); {fix}")
            if row["method"] not in wanted.get(network.method, ()):
                raise RecordError(f"{path} line {line}: method {row['method']!r} is not one this study reports for "
                                  f"{row['network']} (config.json's methods); {fix}")
            found.setdefault(row["network"], set()).add(row["method"])
        for name, got in found.items():
            lacking = sorted(wanted[held[name].method] - got)
            if lacking:
                raise RecordError(f"{path} has no row of {name} under {', '.join(lacking)}; {fix}")

    def per_class(self, results_rows: list[dict]) -> Optional[list[dict]]:
        """per_class.csv's rows, read strictly and matched to results.csv's trained rows (every class of each),
        or None where the workdir has none."""
        if not self.has_table(tables.PER_CLASS):
            return None
        rows = self._table(tables.PER_CLASS)
        path, fix = self.workdir.file(tables.PER_CLASS.file), self.table_fix()
        trained = {(r["network"], r["method"]) for r in results_rows if not tables.untrained(r)}
        classes = {}
        for line, row in enumerate(rows, start=2):
            key = (row["network"], row["method"])
            if key not in trained:
                raise RecordError(f"{path} line {line}: {key[0]} {key[1]} has no trained row in results.csv; {fix}")
            classes.setdefault(key, set()).add(int(float(row["class"])))
        counts = {len(c) for c in classes.values()}
        for key in sorted(trained):
            got = classes.get(key, set())
            if got != set(range(max(counts, default=0))):
                raise RecordError(f"{path} holds classes {sorted(got)} of {key[0]} {key[1]}, not 0 to "
                                  f"{max(counts, default=0) - 1} as the others; {fix}")
        self._verify(tables.PER_CLASS)
        return rows

    def curves(self, results_rows: list[dict]) -> Optional[list[dict]]:
        """curves.csv's rows, read strictly and matched to results.csv's networks, or None where there is none."""
        if not self.has_table(tables.CURVES):
            return None
        rows = self._table(tables.CURVES)
        path, fix = self.workdir.file(tables.CURVES.file), self.table_fix()
        networks = {r["network"] for r in results_rows}
        for line, row in enumerate(rows, start=2):
            if row["network"] not in networks:
                raise RecordError(f"{path} line {line}: network {row['network']!r} has no row in results.csv; {fix}")
        self._verify(tables.CURVES)
        return rows


def _record_checksum(record: dict) -> str:
    """The sha256 of a record's content (its own checksum left out), independent of key order."""
    content = {k: v for k, v in record.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _file_checksum(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def next_cohort_ids(existing: list[CohortRecord], count: int) -> list[str]:
    """Ids for count new cohorts, after the existing ones."""
    start = 1 + max((int(r.cohort_id.split("_")[1]) for r in existing), default=-1)
    return [f"cohort_{i:05d}" for i in range(start, start + count)]


def locate(records: list[CohortRecord], planned: list, identity: dict = None) -> dict:
    """{network name: (cohort id, position)} for the planned networks some cohort holds; a held network
    whose identity differs from the planned one is refused (it was trained with other settings, named by key
    where the cohort recorded its identity and the current one is given)."""
    held = {n.name: (r.cohort_id, j, n) for r in records for j, n in enumerate(r.networks)}
    identities = {r.cohort_id: r.identity for r in records}
    found = {}
    for network in planned:
        if network.name not in held:
            continue
        cohort_id, j, saved = held[network.name]
        if saved.training_hash != network.training_hash:
            changes = (config_schema.identity_changes(identities[cohort_id], identity)
                       if identities[cohort_id] is not None and identity is not None else [])
            what = "; ".join(changes) if changes else f"identity {saved.training_hash} != {network.training_hash}"
            raise ValueError(
                f"cohort {cohort_id} holds {network.name} trained with other settings ({what}); restore the config "
                "it was trained with or use a new --workdir")
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
