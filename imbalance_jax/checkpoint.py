"""A cohort's checkpoints: orbax's CheckpointManager over {state, meta}, saved at intervals and at the end.

Each save is atomic (orbax writes a temporary folder and renames it), only the latest is kept,
and the meta item records the step, the networks' identities and, at the end, `complete` and a
token that evaluation records quote, so a retrained cohort is never read through an old evaluation.
"""
import json
import os
import uuid
from typing import Any, Optional

import jax
import numpy as np
import orbax.checkpoint as ocp

STATE, META = "state", "meta"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be restored; the message says which one and what to do."""


class CohortCheckpoints:
    """The checkpoints of one cohort in cohort_dir/checkpoints (orbax steps, the latest kept)."""

    def __init__(self, cohort_dir: str):
        self.cohort_dir = cohort_dir
        self.directory = os.path.abspath(os.path.join(cohort_dir, "checkpoints"))
        self._manager: Optional[ocp.CheckpointManager] = None

    @property
    def manager(self) -> ocp.CheckpointManager:
        """Opened on first use (opening costs a listing of the folder)."""
        if self._manager is None:
            os.makedirs(self.directory, exist_ok=True)  # orbax creates none with active_processes set
            options = ocp.CheckpointManagerOptions(
                max_to_keep=1, create=False, enable_async_checkpointing=False,
                multiprocessing_options=_this_process_alone())
            self._manager = ocp.CheckpointManager(self.directory, options=options, item_names=(STATE, META))
        return self._manager

    def latest_step(self) -> Optional[int]:
        """The step of the latest finished save, or None."""
        if not os.path.isdir(self.directory):
            return None
        return self.manager.latest_step()

    def save(self, step: int, state: Any, meta: dict, complete: bool = False) -> dict:
        """Saves the state and its record at `step` (replacing the previous save); returns the record."""
        meta = {**meta, "step": int(step), "complete": complete}
        if complete:
            meta["token"] = uuid.uuid4().hex
        if jax.process_count() > 1:  # orbax writes no host-local jax.Array with several hosts: numpy it is
            state = jax.device_get(state)
        self.manager.save(int(step), args=ocp.args.Composite(
            **{STATE: ocp.args.StandardSave(state), META: ocp.args.JsonSave(meta)}), force=True)
        self.manager.wait_until_finished()
        return meta

    def read_meta(self) -> Optional[dict]:
        """The record of the latest save, or None when there is none."""
        step = self.latest_step()
        if step is None:
            return None
        try:
            restored = self.manager.restore(step, args=ocp.args.Composite(**{META: ocp.args.JsonRestore()}))
        except Exception as e:  # noqa: BLE001 - any failure means the same to the user
            raise CheckpointError(f"{self.directory}/{step}/{META} could not be read ({_first_line(e)}); "
                                  f"delete {self.cohort_dir} and rerun the study to retrain that cohort") from e
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
                f"{self.directory}/{step} could not be restored ({_first_line(e)}); delete {self.cohort_dir} "
                "and rerun the study to retrain that cohort") from e
        return restored[STATE], restored[META]

    def close(self) -> None:
        """Releases orbax's threads."""
        if self._manager is not None:
            self._manager.close()
            self._manager = None


def _this_process_alone() -> ocp.options.MultiprocessingOptions:
    """Each host saves the cohorts it trained by itself, with no barrier across hosts."""
    if jax.process_count() == 1:
        return ocp.options.MultiprocessingOptions()
    me = jax.process_index()
    return ocp.options.MultiprocessingOptions(primary_host=me, active_processes={me},
                                              barrier_sync_key_prefix=f"host{me}")


def _first_line(e: Exception) -> str:
    return (str(e) or type(e).__name__).strip().splitlines()[0][:200]


def write_json(path: str, obj: Any) -> None:
    """Writes JSON atomically (a per-process temporary file, then a rename)."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, default=_to_builtin)
    os.replace(tmp, path)


def read_json(path: str) -> Any:
    """A JSON file; a corrupt one is a one-line error naming it."""
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path} is not valid JSON ({e}); delete it and rerun") from e


def _to_builtin(x):
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"{type(x).__name__} is not JSON serialisable")
