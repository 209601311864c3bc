"""Helpers for the absl entry points."""
import contextlib
import logging as std_logging
import os
import sys

from absl import logging

from imbalance_jax.checkpoint import CheckpointError
from imbalance_jax.data import DatasetError


class _QuietLibraries(std_logging.Filter):
    """Drops the per-save INFO chatter of orbax so progress lines stay readable."""

    def filter(self, record):
        return record.levelno >= std_logging.WARNING or "orbax" not in record.pathname


def quiet_library_logs() -> None:
    """Keeps INFO logs of this project, warnings and errors of everything."""
    logging.get_absl_handler().addFilter(_QuietLibraries())


def prepare_run(workdir: str, multihost: bool = False) -> None:
    """Joins the other hosts (multihost) and keeps compiled steps in workdir/jax_cache, so resuming
    or re-evaluating does not recompile."""
    import jax

    if multihost:
        jax.distributed.initialize()
    jax.config.update("jax_compilation_cache_dir", os.path.join(os.path.abspath(workdir), "jax_cache"))
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:  # the user's setting wins
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


def run_app(main) -> None:
    """absl's app.run, after checking that a --config file exists (absl would print a traceback)."""
    from absl import app

    for arg in sys.argv[1:]:
        if arg.startswith("--config="):
            path = arg[len("--config="):].split(":", 1)[0]
            if not os.path.isfile(path):
                print(f"error: --config={path}: no such config file; use one of configs/*.py, e.g. "
                      "--config=configs/quick.py", file=sys.stderr)
                sys.exit(2)
    app.run(main)


@contextlib.contextmanager
def one_line_errors():
    """Turns errors a user can fix (bad config, data or checkpoint) into one line and exit 2.

    IMBALANCE_JAX_TRACEBACK=1 shows the full traceback instead.
    """
    quiet_library_logs()
    try:
        yield
    except (ValueError, DatasetError, CheckpointError, FileNotFoundError) as e:
        if os.environ.get("IMBALANCE_JAX_TRACEBACK"):
            raise
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: finished cohorts are saved; rerun the same command to resume", file=sys.stderr)
        sys.exit(130)
