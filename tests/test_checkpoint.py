"""A cohort's checkpoints survive a kill in the window between orbax's rename and the record of files."""
import json
import os

import jax
import numpy as np
import pytest

from imbalance_jax import checkpoint


def _state(value):
    return {"w": np.full((2, 3), value, np.float32), "step": np.array([value, value], np.int32)}


@pytest.mark.parametrize("record", ["previous_save", "none"])
def test_a_save_killed_before_its_record_of_files_is_recorded_and_restored(tmp_path, record):
    cohort = str(tmp_path / "cohort_00000")
    os.makedirs(cohort)
    with checkpoint.CohortCheckpoints(cohort) as ckpt:
        ckpt.save(5, _state(5), {"networks": 2})
        ckpt.finish()  # an interval save is written in the background: its record follows it
        first_record = (tmp_path / "cohort_00000" / "state_files.json").read_text()
        ckpt.save(10, _state(10), {"networks": 2})
    files = tmp_path / "cohort_00000" / "state_files.json"
    if record == "previous_save":  # killed after step 10's rename, before its record replaced step 5's
        files.write_text(first_record)
    else:  # killed during the first save's record
        files.unlink()
    with checkpoint.CohortCheckpoints(cohort) as ckpt:
        ckpt.verify_files()
        assert json.loads(files.read_text())["step"] == 10
        state, meta = ckpt.restore(jax.eval_shape(lambda: _state(0)))
    assert meta["step"] == 10 and np.all(np.asarray(state["w"]) == 10)


def test_a_record_newer_than_the_latest_save_is_refused_with_what_to_delete(tmp_path):
    cohort = str(tmp_path / "cohort_00000")
    os.makedirs(cohort)
    with checkpoint.CohortCheckpoints(cohort) as ckpt:
        ckpt.save(5, _state(5), {"networks": 2})
        ckpt.finish()
        files = tmp_path / "cohort_00000" / "state_files.json"
        files.write_text(json.dumps({"step": 10, "files": {}}))
        with pytest.raises(checkpoint.CheckpointError, match="newer save was deleted.*delete .*cohort_00000"):
            ckpt.verify_files()


def test_an_interval_save_goes_on_in_the_background_while_the_state_is_donated(tmp_path):
    import jax.numpy as jnp

    cohort = str(tmp_path / "cohort_00000")
    os.makedirs(cohort)
    step = jax.jit(lambda s: jax.tree.map(lambda x: x + 1, s), donate_argnums=0)
    state = jax.tree.map(jnp.asarray, _state(5))
    with checkpoint.CohortCheckpoints(cohort) as ckpt:
        ckpt.save(5, state, {"networks": 2})
        assert ckpt._pending == 5  # not waited for: training goes on
        state = step(state)  # the next call takes the saved buffers
        ckpt.save(20, state, {"networks": 2}, complete=True)  # the final save is on disk when it returns
        assert ckpt._pending is None and json.loads((tmp_path / "cohort_00000" / "state_files.json").read_text())[
            "step"] == 20
    with checkpoint.CohortCheckpoints(cohort) as ckpt:
        restored, meta = ckpt.restore(jax.eval_shape(lambda: _state(0)))
    assert meta["step"] == 20 and np.all(np.asarray(restored["w"]) == 6) and meta["complete"]
