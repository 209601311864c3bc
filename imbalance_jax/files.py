"""The one atomic writer: every file the project writes goes to a per-process temporary file first and is
renamed over its path, so a run killed at any moment leaves the old file or the new one, never a part."""
import csv
import json
import os
from typing import Any, Callable


def write_atomically(path: str, write: Callable[[Any], None], binary: bool = False) -> None:
    """Calls write(file) on a temporary file beside path, then renames it to path."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb" if binary else "w", newline=None if binary else "") as f:
        write(f)
    os.replace(tmp, path)


def write_text(path: str, text: str) -> None:
    """A text file, atomically."""
    write_atomically(path, lambda f: f.write(text))


def write_json(path: str, obj: Any) -> None:
    """A JSON file, atomically (numpy values as plain numbers and lists)."""
    write_atomically(path, lambda f: json.dump(obj, f, indent=1, default=to_builtin))


def write_csv(path: str, columns, rows: list[dict]) -> None:
    """A CSV file with these columns (other keys of the rows left out), atomically."""
    def write(f):
        writer = csv.DictWriter(f, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    write_atomically(path, write)


class RecordError(RuntimeError):
    """A file of the workdir that cannot be read as what it claims to be; the message says which and what to do."""


def read_json(path: str, fix: str = "delete it and rerun") -> Any:
    """A JSON file; a corrupt one is a one-line RecordError naming it and the fix."""
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise RecordError(f"{path} is not valid JSON ({e}); {fix}") from e


def to_builtin(x):
    """A numpy value as a plain number or list (for json.dump)."""
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"{type(x).__name__} is not JSON serialisable")
