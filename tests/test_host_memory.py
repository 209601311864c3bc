"""An entry point restarts itself once with glibc's malloc told to keep freed memory (imbalance_jax/host_memory.py),
and nothing else does: not an import from tests or a notebook, not a process whose user chose malloc settings.
That a real entry point runs with the settings is checked on a running study in tests/test_runner.py."""
import os
import sys

import pytest

from imbalance_jax import host_memory


class Restarted(Exception):
    pass


@pytest.fixture
def restarts(monkeypatch):
    """The execve calls restart_keeping_freed_memory makes, each stopping it as a real restart would."""
    calls = []

    def execve(path, argv, env):
        calls.append((path, argv, env))
        raise Restarted

    monkeypatch.setattr(os, "execve", execve)
    for key in host_memory.user_malloc_settings(os.environ):
        monkeypatch.delenv(key)
    return calls


def _restart(monkeypatch, orig_argv):
    monkeypatch.setattr(sys, "orig_argv", orig_argv)
    try:
        host_memory.restart_keeping_freed_memory()
    except Restarted:
        return True
    return False


@pytest.mark.skipif(not host_memory.on_glibc(), reason="glibc's malloc settings exist on Linux with glibc only")
def test_an_entry_point_restarts_once_with_the_settings_and_the_same_arguments(monkeypatch, restarts):
    argv = ["python3", "-X", "dev", "-u", "-m", "launch.study", "--workdir=w", "--config.cohort_size=4"]
    assert _restart(monkeypatch, argv)
    path, new_argv, env = restarts[0]
    assert path == sys.executable and new_argv == [sys.executable, *argv[1:]]
    assert {k: env[k] for k in host_memory.SETTINGS} == host_memory.SETTINGS
    assert env["PATH"] == os.environ["PATH"]  # the rest of the environment kept
    monkeypatch.setenv("MALLOC_ARENA_MAX", "1")  # as the restarted process finds it: no second restart
    assert not _restart(monkeypatch, argv)


@pytest.mark.parametrize("orig_argv", [
    ["python3", "-m", "pytest", "-q"],  # tests importing the launch package
    ["python3", "notebook.py", "-m", "launch.study"],  # "-m launch." as a script's own argument
    ["python3", "-c", "import launch", "-m", "launch.study"],
    ["python3", "-m"],
    ["python3"],
])
def test_no_restart_outside_an_entry_point(monkeypatch, restarts, orig_argv):
    assert not _restart(monkeypatch, orig_argv)
    assert restarts == []


@pytest.mark.parametrize("setting", ["MALLOC_ARENA_MAX=8", "MALLOC_TRIM_THRESHOLD_=0",
                                     "GLIBC_TUNABLES=glibc.malloc.tcache_count=0"])
def test_the_users_own_malloc_settings_win(monkeypatch, restarts, setting):
    key, _, value = setting.partition("=")
    monkeypatch.setenv(key, value)
    assert not _restart(monkeypatch, ["python3", "-m", "launch.study", "--workdir=w"])
    assert restarts == []
