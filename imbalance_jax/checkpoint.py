"""Orbax save / restore of cohort states, with a JSON record of what the cohort holds.

A cohort directory is complete once `meta.json` exists: it is written (atomically) only after
orbax has finalised the state, so a run killed at any moment leaves either a finished cohort or
one that is trained again.
"""
import json
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

META = "meta.json"
STATE = "state"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be restored; the message says which one and what to do."""


def is_complete(cohort_dir: str) -> bool:
    """True when the cohort's state and its record are both on disk."""
    return os.path.exists(os.path.join(cohort_dir, META))


HOST_LOCAL_STATE = "state.npz"


def save(cohort_dir: str, state: Any, meta: dict) -> None:
    """Saves a cohort state (any pytree of arrays) and its JSON-serialisable record.

    With several hosts each saves the cohorts it trained alone, which orbax does not support
    (it writes host-local arrays from process 0 only), so those go to an .npz of leaves by path.
    """
    os.makedirs(cohort_dir, exist_ok=True)
    if jax.process_count() > 1:
        leaves = {jax.tree_util.keystr(path): np.asarray(leaf)
                  for path, leaf in jax.tree_util.tree_leaves_with_path(state)}
        tmp = os.path.join(cohort_dir, f"tmp{os.getpid()}.npz")
        np.savez(tmp, **leaves)
        os.replace(tmp, os.path.join(cohort_dir, HOST_LOCAL_STATE))
    else:
        with ocp.StandardCheckpointer() as checkpointer:
            checkpointer.save(os.path.abspath(os.path.join(cohort_dir, STATE)), state, force=True)
    write_json(os.path.join(cohort_dir, META), meta)


def restore(cohort_dir: str, abstract_state: Any) -> Any:
    """Restores a cohort state shaped like abstract_state (e.g. from jax.eval_shape)."""
    path = os.path.abspath(os.path.join(cohort_dir, STATE))
    if not is_complete(cohort_dir):
        raise CheckpointError(f"{cohort_dir} holds no finished cohort; rerun the study to train it")
    try:
        local = os.path.join(cohort_dir, HOST_LOCAL_STATE)
        if os.path.exists(local):
            with np.load(local) as leaves:
                return jax.tree_util.tree_map_with_path(
                    lambda p, a: jnp.asarray(leaves[jax.tree_util.keystr(p)], a.dtype).reshape(a.shape),
                    abstract_state)
        with ocp.StandardCheckpointer() as checkpointer:
            return checkpointer.restore(path, abstract_state)
    except Exception as e:  # noqa: BLE001 - any orbax failure means the same to the user
        first_line = (str(e) or type(e).__name__).strip().splitlines()[0][:200]
        raise CheckpointError(
            f"{path} could not be restored ({first_line}); delete {cohort_dir} and rerun the study "
            "to retrain that cohort") from e


def read_meta(cohort_dir: str) -> dict:
    """The record saved with a cohort."""
    with open(os.path.join(cohort_dir, META)) as f:
        return json.load(f)


def write_json(path: str, obj: Any) -> None:
    """Writes JSON atomically: a reader sees the old file or the whole new one."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, default=_to_builtin)
    os.replace(tmp, path)


def _to_builtin(x):
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"{type(x).__name__} is not JSON serialisable")


def abstract_like(state: Any) -> Any:
    """Shape-and-dtype skeleton of a state, the restore target orbax wants."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), state)
