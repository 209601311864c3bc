"""A cohort's checkpoints: orbax's CheckpointManager over {state, meta}, saved at intervals and at the end.

Each save is atomic (orbax writes a temporary folder and renames it), only the latest is kept,
and the meta item records the step, the networks' identities and, at the end, `complete` and a
token that evaluation records quote, so a retrained cohort is never read through an old evaluation.
"""
import os
import uuid
import zlib
from typing import Any, Optional

import jax
import numpy as np
import orbax.checkpoint as ocp

from imbalance_jax.files import RecordError, read_json, write_json

STATE, META = "state", "meta"


class CheckpointError(RecordError):
    """A checkpoint that cannot be restored; the message says which one and what to do."""


class CohortCheckpoints:
    """The checkpoints of one cohort in cohort_dir/checkpoints (orbax steps, the latest kept)."""

    def __init__(self, cohort_dir: str, delete_hint: str = ""):
        self.cohort_dir = cohort_dir
        self._delete_hint = delete_hint or f"delete {cohort_dir} and rerun the study to retrain that cohort"
        self.directory = os.path.abspath(os.path.join(cohort_dir, "checkpoints"))
        self._manager: Optional[ocp.CheckpointManager] = None
        self._pending: Optional[int] = None  # an interval save still being written in the background

    @property
    def manager(self) -> ocp.CheckpointManager:
        """Opened on first use (opening costs a listing of the folder)."""
        if self._manager is None:
            os.makedirs(self.directory, exist_ok=True)  # orbax creates none with active_processes set
            # Interval saves are written in the background while training goes on (orbax copies the state to
            # the host before save() returns, so the next call may donate it); with several hosts, in the
            # foreground, each host alone.
            options = ocp.CheckpointManagerOptions(
                max_to_keep=1, create=False, enable_async_checkpointing=jax.process_count() == 1,
                multiprocessing_options=_this_process_alone())
            self._manager = ocp.CheckpointManager(self.directory, options=options, item_names=(STATE, META))
        return self._manager

    def latest_step(self) -> Optional[int]:
        """The step of the latest finished save, or None (orbax names finished saves by their step alone;
        read from the folder, so asking costs no CheckpointManager)."""
        if not os.path.isdir(self.directory):
            return None
        steps = [int(name) for name in os.listdir(self.directory) if name.isdigit()]
        return max(steps, default=None)

    def __enter__(self) -> "CohortCheckpoints":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def delete_hint(self) -> str:
        """What to delete so the cohort is retrained and evaluated again."""
        return self._delete_hint

    def save(self, step: int, state: Any, meta: dict, complete: bool = False) -> dict:
        """Saves the state and its record at `step` (replacing the previous save); returns the record. An
        interval save goes on in the background; the final one (complete) is on disk when this returns."""
        meta = {**meta, "step": int(step), "complete": complete}
        if complete:
            meta["token"] = uuid.uuid4().hex
        if jax.process_count() > 1:  # orbax writes no host-local jax.Array with several hosts: numpy it is
            state = jax.device_get(state)
        meta["checksum"] = checksum(state)
        self.finish()  # the previous interval save, and its record of files
        self.manager.save(int(step), args=ocp.args.Composite(
            **{STATE: ocp.args.StandardSave(state), META: ocp.args.JsonSave(meta)}), force=True)
        self._pending = int(step)
        if complete:
            self.finish()
        return meta

    def finish(self) -> None:
        """Waits for a save in the background and records its files (what verify_files checks)."""
        if self._pending is None:
            return
        self.manager.wait_until_finished()
        write_json(self._files_path(), {"step": self._pending, "files": self._file_sizes(self._pending)})
        self._pending = None

    def _files_path(self) -> str:
        return os.path.join(self.cohort_dir, "state_files.json")

    def _file_sizes(self, step: int) -> dict:
        root = os.path.join(self.directory, str(step))
        return {os.path.relpath(os.path.join(d, f), root): os.path.getsize(os.path.join(d, f))
                for d, _, files in os.walk(root) for f in files}

    def verify_files(self) -> None:
        """Cheap check, on every run, that the latest save's files are all there at their saved sizes
        (a deleted or truncated state); changed bytes are caught by the checksum on restore."""
        step = self.latest_step()
        if step is None:
            return
        path = self._files_path()
        saved = read_json(path, self.delete_hint()) if os.path.exists(path) else None
        if saved is not None and not (isinstance(saved, dict) and isinstance(saved.get("step"), int)
                                      and isinstance(saved.get("files"), dict)
                                      and all(isinstance(v, int) for v in saved["files"].values())):
            raise CheckpointError(f"{path} does not hold a step and file sizes as this version writes them; "
                                  f"{self.delete_hint()}")
        if saved is None or saved["step"] < step:
            # Killed after orbax's atomic rename and before the record was written: the save is whole
            # (a changed byte is still caught by the checksum on restore), so it is recorded now.
            write_json(path, {"step": step, "files": self._file_sizes(step)})
            return
        if saved.get("step") != step:
            raise CheckpointError(f"{self.directory}/{step} is older than its record of files ({path}, step "
                                  f"{saved.get('step')}): the newer save was deleted; {self.delete_hint()}")
        sizes = self._file_sizes(step)
        for name, size in saved["files"].items():
            if sizes.get(name) != size:
                found = "missing" if name not in sizes else f"{sizes[name]} bytes, saved with {size}"
                raise CheckpointError(f"{self.directory}/{step}/{name} is {found}; {self.delete_hint()}")

    def read_meta(self) -> Optional[dict]:
        """The record of the latest save, or None when there is none."""
        step = self.latest_step()
        if step is None:
            return None
        try:
            restored = self.manager.restore(step, args=ocp.args.Composite(**{META: ocp.args.JsonRestore()}))
        except Exception as e:  # noqa: BLE001 - any failure means the same to the user
            raise CheckpointError(f"{self.directory}/{step}/{META} could not be read ({_first_line(e)}); "
                                  f"{self.delete_hint()}") from e
        return restored[META]

    def restore(self, abstract_state: Any) -> tuple[Any, dict]:
        """(state, record) of the latest save, the state shaped like abstract_state."""
        step = self.latest_step()
        if step is None:
            raise CheckpointError(f"{self.cohort_dir} holds no checkpoint; rerun the study to train it")
        if jax.process_count() > 1:  # saved as numpy (see save): restored as numpy, on this host
            abstract_state = jax.tree.map(lambda a: np.empty(a.shape, a.dtype), abstract_state)
        try:
            restored = self.manager.restore(step, args=ocp.args.Composite(
                **{STATE: ocp.args.StandardRestore(abstract_state), META: ocp.args.JsonRestore()}))
        except Exception as e:  # noqa: BLE001
            raise CheckpointError(
                f"{self.directory}/{step} could not be restored ({_first_line(e)}); {self.delete_hint()}") from e
        state, meta = restored[STATE], restored[META]
        if meta.get("checksum") != checksum(state):
            raise CheckpointError(f"{self.directory}/{step} does not match the checksum saved with it (its files "
                                  f"changed on disk); {self.delete_hint()}")
        return state, meta

    def close(self) -> None:
        """Finishes a save in the background and releases orbax's threads."""
        if self._manager is not None:
            self.finish()
            self._manager.close()
            self._manager = None


def checksum(state: Any) -> str:
    """Adler-32 over every leaf's bytes, in pytree order (fast: ~GB/s on one core)."""
    value = 1
    for leaf in jax.tree.leaves(state):
        value = zlib.adler32(np.ascontiguousarray(jax.device_get(leaf)).tobytes(), value)
    return f"{value:08x}"


def _this_process_alone() -> ocp.options.MultiprocessingOptions:
    """Each host saves the cohorts it trained by itself, with no barrier across hosts."""
    if jax.process_count() == 1:
        return ocp.options.MultiprocessingOptions()
    me = jax.process_index()
    return ocp.options.MultiprocessingOptions(primary_host=me, active_processes={me},
                                              barrier_sync_key_prefix=f"host{me}")


def _first_line(e: Exception) -> str:
    return (str(e) or type(e).__name__).strip().splitlines()[0][:200]
