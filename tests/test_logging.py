"""What a run's console and log.txt show: this project's INFO lines, every library's warnings, no library chatter."""
import logging
import os

from imbalance_jax import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(cli.__file__)))


def _record(path: str, level: int) -> logging.LogRecord:
    return logging.LogRecord("absl", level, path, 1, "a line", None, None)


def test_library_info_is_dropped_even_in_a_clone_named_like_the_package():
    keep = cli._QuietLibraries().filter
    own = [os.path.join(ROOT, "imbalance_jax", "stages.py"), os.path.join(ROOT, "launch", "study.py")]
    assert all(keep(_record(p, logging.INFO)) for p in own)
    # uv keeps the libraries inside the clone; a clone is often named after the package
    orbax = ["/home/u/imbalance_jax/.venv/lib/python3.12/site-packages/orbax/checkpoint/manager.py",
             os.path.join(ROOT, ".venv", "lib", "python3.12", "site-packages", "orbax", "checkpoint", "manager.py")]
    assert not any(keep(_record(p, logging.INFO)) for p in orbax)
    assert all(keep(_record(p, logging.WARNING)) for p in orbax)  # a library's warning still shows
