"""Helpers for the absl entry points."""
import contextlib
import errno
import logging as std_logging
import os
import signal
import sys

from absl import logging

from imbalance_jax import config_files, config_schema
from imbalance_jax.data import DatasetError
from imbalance_jax.files import RecordError
from imbalance_jax.progress import Interrupted


class _QuietLibraries(std_logging.Filter):
    """Drops the INFO chatter of libraries (orbax's per-save lines, jax's search for a TPU) so a run
    shows this project's progress lines, and every library's warnings and errors."""

    # This project's own folders, by path: a clone named imbalance_jax holds its libraries too (.venv/...).
    OWN = tuple(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), d) + os.sep
                for d in ("imbalance_jax", "launch"))

    def filter(self, record):
        path = os.path.abspath(record.pathname)
        return record.levelno >= std_logging.WARNING or path.startswith(self.OWN)


def quiet_library_logs() -> None:
    """Keeps INFO logs of this project, warnings and errors of everything."""
    logging.get_absl_handler().addFilter(_QuietLibraries())


def define_multihost_flags():
    """The flags of a run over several hosts: --multihost, and where the cluster cannot be detected (not TPU,
    Slurm or Open MPI) its coordinator, process count and this host's index."""
    from absl import flags

    return (flags.DEFINE_bool("multihost", False, "Call jax.distributed.initialize(): each host trains and "
                              "evaluates its share of the cohorts."),
            flags.DEFINE_string("coordinator", None, "With --multihost where the cluster is not detected: host:port "
                                "of process 0's coordinator."),
            flags.DEFINE_integer("num_processes", None, "With --coordinator: how many processes."),
            flags.DEFINE_integer("process_id", None, "With --coordinator: this process's index, 0 to num_processes-1."))


def prepare_run(workdir: str, multihost: bool = False, coordinator: str = None, num_processes: int = None,
                process_id: int = None) -> None:
    """Joins the other hosts (multihost; the coordinator, process count and index where the cluster is not
    detected) and keeps compiled steps in workdir/jax_cache (or the user's JAX_COMPILATION_CACHE_DIR), so
    resuming or re-evaluating does not recompile."""
    import jax

    from imbalance_jax.workdir import Workdir

    if multihost:
        jax.distributed.initialize(coordinator, num_processes, process_id)
    if "JAX_COMPILATION_CACHE_DIR" not in os.environ:  # the user's cache wins
        jax.config.update("jax_compilation_cache_dir", os.path.abspath(Workdir(workdir).file("jax_cache")))
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:  # the user's setting wins
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    log_to_workdir(workdir, jax.process_index())


def log_to_workdir(workdir: str, host: int = 0):
    """Appends the run's log lines (this project's INFO, every library's warnings) to workdir/log.txt
    (log_host<i>.txt on the other hosts of a multi-host run); returns its handler."""
    from imbalance_jax.workdir import Workdir

    if os.path.exists(workdir) and not os.path.isdir(workdir):
        return  # the study refuses such a workdir in one line
    os.makedirs(workdir, exist_ok=True)
    handler = std_logging.FileHandler(Workdir(workdir).file("log.txt" if host == 0 else f"log_host{host}.txt"))
    handler.setFormatter(logging.PythonFormatter())
    handler.addFilter(_QuietLibraries())
    logging.get_absl_logger().addHandler(handler)
    _LOG_FILES.append(handler.baseFilename)
    return handler


_LOG_FILES = []  # the workdir log files of this run: an error's one line goes there too


def _flag_value(argv: list, name: str):
    """The value of --name=value in argv (the last one), or None."""
    values = [a.split("=", 1)[1] for a in argv if a.startswith(f"--{name}=")]
    return values[-1] if values else None


def check_overrides(overrides: list, config) -> None:
    """Each --config.<key>=<value> names a key of the config and a value of its type, or one line says
    which key is unknown (with the closest valid keys) or what type the value should be."""
    import ast
    import difflib

    keys = config_schema.flatten(config)
    for override in overrides:
        key, _, value = override[len("--config."):].partition("=")
        if key not in keys and not any(k.startswith(key + ".") for k in keys):
            close = difflib.get_close_matches(key, list(keys), n=3, cutoff=0.6)
            _fail(f"--config.{key}: no such config key" + (f"; did you mean {', '.join(close)}?" if close else
                                                           "; see imbalance_jax/config_schema.py for the keys"))
        current = keys.get(key)
        if current is None or isinstance(current, str):
            continue
        try:
            parsed = ast.literal_eval(value) if not isinstance(current, bool) else value.lower() in (
                "true", "false", "1", "0") or None
        except (ValueError, SyntaxError):
            parsed = None
        expected = type(current)
        ok = (parsed is not None and not (isinstance(parsed, bool) and expected is not bool)
              and (isinstance(parsed, expected) or (expected is float and isinstance(parsed, int))
                                      or (expected in (tuple, list) and isinstance(parsed, (tuple, list)))))
        if not ok:
            _fail(f"--config.{key}={value}: expected {expected.__name__} (like {current!r})")


def _check_path_length(path: str) -> None:
    """Refuses a --workdir the file system cannot name (a folder name over 255 bytes, a path over 4,000)."""
    longest = max((len(os.fsencode(part)) for part in path.split(os.sep)), default=0)
    if longest > 255 or len(os.fsencode(os.path.abspath(path))) > 4000:
        _fail(f"--workdir={_shorten(path)} is too long for the file system ({len(path):,} characters, a folder name "
              f"of {longest:,} bytes; at most 255 bytes a name and 4,000 in all); give a shorter --workdir")


def _shorten(text, keep: int = 60) -> str:
    """text, its middle elided when longer than 2 x keep characters (a one-line error stays one line)."""
    text = os.fsdecode(text) if isinstance(text, bytes) else str(text)
    return text if len(text) <= 2 * keep else f"{text[:keep]}...{text[-keep:]}"


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def run_app(main, config: str = "required", workdir: str = "required") -> None:
    """absl's app.run with the study's config read first (config_files.load: --config, or the workdir's saved
    config.json) and registered as --config, so --config.<key>=<value> overrides apply to it wherever they stand
    on the command line; each override is checked first (absl would print a traceback for a typo).
    config='optional': an entry point that runs without one (launch.report on a results.csv alone)."""
    from ml_collections import config_flags

    argv = list(sys.argv)
    helping = any(a in ("-h", "--help", "--helpfull", "--helpshort", "-?") for a in argv[1:])
    workdir_value = _flag_value(argv, "workdir")
    if workdir == "required" and not workdir_value and not helping:
        _fail("give --workdir=<folder> (where the study's checkpoints and results go, e.g. --workdir=runs/quick)")
    for value in [a.split("=", 1)[1] for a in argv if a.startswith("--workdir=")]:
        _check_path_length(value)
    config_arg = _flag_value(argv, "config")
    overrides = [a for a in argv if a.startswith("--config.")]
    keys = [a.partition("=")[0] for a in overrides]
    twice = next((k for i, k in enumerate(keys) if k in keys[:i]), None)
    if twice:
        given = [a for a in overrides if a.partition("=")[0] == twice]
        _fail(f"{twice} is given {len(given)} times ({' '.join(given)}); give it once, with the value you mean")
    main = _no_stray_arguments(main)
    from imbalance_jax.workdir import Workdir

    saved = bool(workdir_value) and Workdir(workdir_value).has_saved_config()
    if helping and not config_arg and not saved:
        _app_run(main, [a for a in argv if not a.startswith("--config.")], helping)
        return
    if config == "optional" and not config_arg and not saved:
        if overrides:
            _fail(f"{overrides[0].split('=')[0]} overrides a study's config, and --workdir={workdir_value} holds none; "
                  "give --config=<config file> too")
        _app_run(main, argv, helping)
        return
    try:
        base = config_files.load(config_arg, workdir_value)
    except ValueError as e:
        _fail(str(e))
    check_overrides(overrides, base)
    # ml_collections reads the overrides from sys.argv, and takes a --config it finds there for its own value
    sys.argv = [a for a in argv if not a.startswith("--config=")]
    config_flags.DEFINE_config_dict("config", base, "The study's config: a config file's, or the workdir's saved "
                                    "config.json; --config.<key>=<value> overrides a key.")
    _app_run(main, sys.argv, helping)


def _app_run(main, argv: list, helping: bool) -> None:
    """absl's app.run, where help that was asked for ends with status 0 (absl ends it with 1)."""
    from absl import app

    try:
        app.run(main, argv=argv, flags_parser=_parse_flags)
    except SystemExit as e:
        if helping and e.code == 1:
            raise SystemExit(0) from None
        raise


def _parse_flags(argv: list) -> list:
    """absl's parsing, with a flag it does not know or a value of the wrong type as one line and exit 2 (absl
    ends such a command with a FATAL log line and exit 1)."""
    from absl import flags

    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        message = str(e).replace("\n", " ").strip()
        if "dry-run" in message or any(a.startswith("--") and "-" in a[2:].split("=")[0] for a in argv[1:]):
            message += " (flags are written with '_', e.g. --dry_run)"
        _fail(f"{message}; see --help for the flags")


def _no_stray_arguments(main):
    """main, refusing words on the command line that are no flag (an unquoted path with spaces, a typo)."""
    def checked(argv):
        if len(argv) > 1:
            _fail(f"{' '.join(repr(a) for a in argv[1:])} is not a flag (--name=value); quote a value that holds "
                  "spaces, e.g. --workdir='runs/my study'")
        return main(argv)
    return checked


def config():
    """The config run_app registered, with the command line's overrides applied."""
    from absl import flags

    return flags.FLAGS.config if "config" in flags.FLAGS else None


@contextlib.contextmanager
def one_line_errors(workdir: str = None):
    """Turns errors a user can fix (bad config, data or checkpoint) into one line and exit 2, and an
    interrupt into a line saying how to resume (exit 128 + the signal).

    IMBALANCE_JAX_TRACEBACK=1 shows the full traceback instead.
    """
    quiet_library_logs()
    resume = f"uv run python -m launch.study --workdir={workdir}" if workdir else "the same command"
    previous = _terminate_as_exception()
    try:
        yield
    except Terminated:  # outside training (which saves first): evaluating, writing results or a report
        _exit_quietly(f"interrupted: SIGTERM received; what was saved is kept (the lock released); rerun `{resume}` "
                      "to resume", 128 + signal.SIGTERM)
    except (ValueError, DatasetError, RecordError, FileNotFoundError) as e:
        if os.environ.get("IMBALANCE_JAX_TRACEBACK"):
            raise
        _exit_quietly(f"error: {e}", 2)
    except Interrupted as e:
        _exit_quietly(f"interrupted: {e}; rerun `{resume}` to resume from that save", 128 + e.signum)
    except KeyboardInterrupt:
        _exit_quietly(f"interrupted: saved cohorts are kept; rerun `{resume}` to resume", 130)
    except OSError as e:  # a read-only or full disk, a folder where a file should be, ...
        if os.environ.get("IMBALANCE_JAX_TRACEBACK"):
            raise
        where = _shorten(e.filename) if e.filename else "the workdir"
        if e.errno == errno.ENOSPC:
            _exit_quietly(f"error: {DISK_FULL.format(where=where)}", 2)
        _exit_quietly(f"error: {where}: {e.strerror or e}; check the workdir's permissions and free space, then "
                      "rerun to resume", 2)
    except Exception as e:  # noqa: BLE001 - a full disk and device memory exhaustion are the user's to fix
        if os.environ.get("IMBALANCE_JAX_TRACEBACK"):
            raise
        if _disk_full(e):  # orbax and jax wrap it, some as RESOURCE_EXHAUSTED: not the device's memory
            _exit_quietly(f"error: {DISK_FULL.format(where=workdir or 'the workdir')}", 2)
        if "RESOURCE_EXHAUSTED" not in str(e):
            raise
        _exit_quietly("error: out of device memory; use a smaller --config.cohort_size (0 sizes cohorts to the "
                      "device) or --config.train.batch_size / --config.eval_batch_size", 2)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class Terminated(KeyboardInterrupt):
    """SIGTERM outside training, raised where the program is, so the run ends with its line and its lock freed."""


def _terminate_as_exception():
    """Makes SIGTERM raise Terminated (the default would end the process with no line, its lock left behind);
    returns the handler it replaced, or None where signals cannot be set (not the main thread)."""
    def handler(signum, frame):
        raise Terminated

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:
        return None


DISK_FULL = ("{where}: No space left on device (the disk is full); free space or give a --workdir on another disk, "
             "then rerun to resume")


def _disk_full(error: BaseException) -> bool:
    """Whether an error, or one it was raised from, is a full disk."""
    for _ in range(20):  # a chain is short; a cycle in it ends here
        if error is None:
            return False
        if getattr(error, "errno", None) == errno.ENOSPC or "No space left on device" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def _exit_quietly(line: str, status: int) -> None:
    """Prints the one line, then exits without the tracebacks library threads (orbax's) would add."""
    import threading

    std_logging.disable(std_logging.CRITICAL)
    logging.set_verbosity(logging.FATAL)
    threading.excepthook = lambda args: None
    print(line, file=sys.stderr)
    sys.stderr.flush()
    for path in _LOG_FILES:  # the run's log holds why it ended, not only how far it got
        with open(path, "a") as f:
            f.write(line + "\n")
    sys.exit(status)
