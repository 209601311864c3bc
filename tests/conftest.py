import os
import sys
import tempfile

# One persistent compilation cache for the whole suite and the entry points it starts: the same
# compiled step serves many tiny studies, so each is compiled once (the user's setting would win).
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "imbalance_jax_test_cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
# The entry points the tests start would otherwise compile the source of jax, scipy, scikit-learn, ... again in
# every process where PYTHONDONTWRITEBYTECODE is set (~10 s a start on 2 cores): their bytecode is cached beside the
# compilation cache instead, outside the tree (the user's own prefix would win).
os.environ.setdefault("PYTHONPYCACHEPREFIX", os.path.join(tempfile.gettempdir(), "imbalance_jax_test_pycache"))
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.pycache_prefix, sys.dont_write_bytecode = os.environ["PYTHONPYCACHEPREFIX"], False
# The suite's worker processes (`pytest -n 2`) start after this and keep freed host memory as the entry points do
# (imbalance_jax/host_memory.py), unless the user chose malloc settings of their own.
from imbalance_jax import host_memory  # noqa: E402

if not host_memory.user_malloc_settings(os.environ):
    os.environ.update(host_memory.SETTINGS)

import pytest  # noqa: E402

import tiny  # noqa: E402


@pytest.fixture(autouse=True)
def _logging_as_found():
    """An entry point's one-line exit silences logging for the rest of its process; tests that go through it
    in-process must not silence the tests after them."""
    import logging

    from absl import logging as absl_logging

    verbosity = absl_logging.get_verbosity()
    yield
    logging.disable(logging.NOTSET)
    absl_logging.set_verbosity(verbosity)


@pytest.fixture
def tiny_config():
    """The quick study shrunk to seconds (tests/tiny.py)."""
    return tiny.tiny_config()


def pytest_collection_modifyitems(config, items):
    """Files holding slow tests first (keeping the order within a file): the workers take whole files, so the
    longest start first and the short ones fill in after."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)
