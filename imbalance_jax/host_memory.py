"""Host memory the process keeps once it has it: XLA's CPU buffers then reuse freed memory instead of having
the kernel clear fresh pages on every compiled call.

glibc's malloc gives each worker thread its own arena; a worker's allocation larger than an arena (XLA's buffers
for a cohort of LeNet-5 networks: tens of MB to GB) is mapped afresh and unmapped when freed, and a main heap
whose free top passes the trim threshold is given back, so every call faulted in and cleared GBs again (half of a
CPU study's time went to the kernel clearing pages). One arena that never maps per allocation and never trims
reuses them: the README's main command on 2 CPU cores trained at 918-1004 instead of 198-387 images/s
(docs/performance.md). What it costs: the process keeps its peak host memory until it exits, as a training run
does anyway. glibc reads these settings only when a process starts, and mallopt cannot set a trim threshold above
2 GiB, so an entry point restarts itself once with them in its environment.
"""
import os
import sys

# glibc's malloc settings as environment variables (mallopt(3)); any MALLOC_* the user sets wins over all three
SETTINGS = {"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(2**40)}


def restart_keeping_freed_memory() -> None:
    """Restarts a `python -m launch.<entry>` process in place (same pid, arguments and working directory) with
    SETTINGS in its environment, once; does nothing off glibc, where the user set MALLOC_* or GLIBC_TUNABLES, or
    in a process that is not an entry point (an import from tests or a notebook)."""
    argv = getattr(sys, "orig_argv", [])
    if not _module_run(argv).startswith("launch.") or not on_glibc() or user_malloc_settings(os.environ):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *argv[1:]], {**os.environ, **SETTINGS})


def _module_run(argv: list) -> str:
    """The module a Python command line runs with -m ('' for a script, -c or the prompt)."""
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg in ("-W", "-X"):  # interpreter options that take the next word
            i += 2
        elif arg.startswith("-m"):
            return arg[2:] or (argv[i + 1] if i + 1 < len(argv) else "")
        elif arg.startswith("-c") or not arg.startswith("-") or arg == "-":
            return ""
        else:
            i += 1
    return ""


def on_glibc() -> bool:
    """Whether this process runs on Linux with glibc's malloc (the only one SETTINGS speak to)."""
    try:
        return sys.platform.startswith("linux") and bool(os.confstr("CS_GNU_LIBC_VERSION"))
    except (ValueError, OSError):
        return False


def user_malloc_settings(environ) -> dict:
    """The malloc settings the user chose in an environment (MALLOC_* and GLIBC_TUNABLES); they win over SETTINGS."""
    return {k: v for k, v in environ.items() if k.startswith("MALLOC_") or k == "GLIBC_TUNABLES"}
