"""The columns of the tables a study writes (results.csv, per_class.csv, curves.csv), declared once with their
types and ranges, and the one strict reader of such a file.

A column is added in one place: append a Column to its table's schema (with required=False and a default, so
the files of studies written before it still read). The reader refuses, in one line naming the file, the line,
the column, the value and the fix: a missing column, a row cut short, a value of the wrong type or out of range,
a metric that is blank on a trained row, and a second row of one key.
"""
import csv
import math
from typing import NamedTuple


class Kind(NamedTuple):
    """What a column's value must be: a test of its text and the words that say so."""

    ok: callable
    words: str


def _number(text: str, low: float = -math.inf, high: float = math.inf, low_open: bool = False) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and (value > low if low_open else value >= low) and value <= high


def _whole(text: str, low: int = 0) -> bool:
    try:
        return int(text) >= low
    except ValueError:
        try:  # a whole number written as a float (3.0) by another tool
            value = float(text)
        except ValueError:
            return False
        return value.is_integer() and value >= low


TEXT = Kind(lambda t: True, "text")
WHOLE = Kind(_whole, "a whole number >= 0")
WHOLE_1 = Kind(lambda t: _whole(t, 1), "a whole number >= 1")
UNIT = Kind(lambda t: _number(t, 0.0, 1.0), "a finite number in [0, 1]")
RHO = Kind(lambda t: _number(t, 1.0), "a finite number >= 1")
MU = Kind(lambda t: _number(t, 0.0, 1.0, low_open=True), "a number in (0, 1]")
POSITIVE = Kind(lambda t: _number(t, 0.0, low_open=True), "a finite number > 0")
FLAG = Kind(lambda t: t in ("0", "1"), "0 or 1")
CLASSES = Kind(lambda t: all(_whole(v) for v in t.split()), "class indices separated by spaces")


class Column(NamedTuple):
    """A column of a table: its name, kind, whether every file has it (default: the value of files written
    before it existed), and when it may be blank ('never', 'untrained': a diverged network's metrics, 'always')."""

    name: str
    kind: Kind = TEXT
    required: bool = True
    default: str = ""
    blank: str = "never"


class Schema(NamedTuple):
    """A table: its file name, columns in order, and the columns that make a row's key (one row per key)."""

    file: str
    columns: tuple
    key: tuple

    @property
    def names(self) -> tuple:
        """The column names, in the order they are written."""
        return tuple(c.name for c in self.columns)


_SETTING = (Column("imbalance"), Column("rho", RHO), Column("mu", MU, blank="always"),
            Column("repetition", WHOLE), Column("split", WHOLE, required=False, default="0"))

RESULTS = Schema("results.csv", (
    Column("dataset"), _SETTING[0], _SETTING[1], _SETTING[2], Column("minority_classes", CLASSES, blank="always"),
    Column("seed", WHOLE, required=False), _SETTING[3], _SETTING[4], Column("method"),
    Column("auc", UNIT, blank="untrained"), Column("accuracy", UNIT, blank="untrained"),
    Column("balanced_accuracy", UNIT, required=False, blank="untrained"),
    Column("macro_f1", UNIT, required=False, blank="untrained"),
    Column("train_size", WHOLE_1, required=False), Column("iterations", WHOLE_1, required=False),
    Column("lr", POSITIVE, required=False), Column("lr_run", WHOLE, required=False, default="0"),
    Column("selected", FLAG, required=False, default="1"), Column("network"),
    Column("cohort", required=False), Column("diverged", WHOLE, required=False, blank="always"),
    # many/medium/few-shot recall (imbalance_jax.longtail_metrics): blank where a group has no class
    Column("many_shot_recall", UNIT, required=False, blank="always"),
    Column("medium_shot_recall", UNIT, required=False, blank="always"),
    Column("few_shot_recall", UNIT, required=False, blank="always"),
), ("network", "method"))

PER_CLASS = Schema("per_class.csv", (
    Column("network"), Column("method"), *_SETTING, Column("selected", FLAG, required=False, default="1"),
    Column("class", WHOLE), Column("class_name", required=False, blank="always"), Column("train_count", WHOLE),
    Column("minority", FLAG), Column("shot", required=False),
    Column("test_count", WHOLE, required=False, blank="always"),
    # blank for a class with fewer test images than a per-class metric needs (results.MIN_TEST_IMAGES)
    Column("recall", UNIT, blank="always"), Column("precision", UNIT, required=False, blank="always"),
    Column("auc", UNIT, required=False, blank="always"),
), ("network", "method", "class"))

CURVES = Schema("curves.csv", (
    Column("network"), Column("method"), *_SETTING, Column("lr", POSITIVE, required=False),
    Column("lr_run", WHOLE, required=False, default="0"), Column("selected", FLAG, required=False, default="1"),
    Column("step", WHOLE_1), Column("train_accuracy", UNIT), Column("test_accuracy", UNIT),
), ("network", "method", "step"))


class TableError(RuntimeError):
    """A table that is not what its schema says; the message names the file, line, column and value."""


def untrained(row: dict) -> bool:
    """A row of a network that diverged (its metrics are blank)."""
    return row.get("diverged", "") not in ("", None)


def read(path: str, schema: Schema, fix: str) -> list[dict]:
    """Every row of a table as strings (absent optional columns at their default), checked against its schema;
    a TableError says what is wrong, where, and the fix."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # a spreadsheet's byte-order mark is no column
            reader = csv.DictReader(f)
            columns = list(reader.fieldnames or [])
            rows = list(reader)
    except UnicodeDecodeError as e:
        raise TableError(f"{path} is not a text CSV file ({e.reason} at byte {e.start}); {fix}") from None
    except csv.Error as e:
        raise TableError(f"{path} is not a CSV file ({e}); {fix}") from None
    missing = [c.name for c in schema.columns if c.required and c.name not in columns]
    if missing:
        raise TableError(f"{path} lacks the column(s) {', '.join(missing)}; {fix}")
    seen = {}
    for line, row in enumerate(rows, start=2):
        short = [c for c in columns if row.get(c) is None]
        if short or None in row:
            what = f"no {short[0]} field" if short else "more fields than columns"
            raise TableError(f"{path} line {line} is cut short or malformed ({what}); {fix}")
        for column in schema.columns:
            if column.name not in columns:
                row[column.name] = column.default
                continue
            value = row[column.name].strip()
            if value == "":
                if not column.required:  # a column a tool writing the file may leave empty: its default
                    row[column.name] = column.default
                    continue
                if column.blank == "always" or (column.blank == "untrained" and untrained(row)):
                    continue
                raise TableError(f"{path} line {line}: column {column.name} is blank; it must be "
                                 f"{column.kind.words}; {fix}")
            if column.blank == "untrained" and untrained(row):
                raise TableError(f"{path} line {line}: column {column.name}={value!r} on a network that diverged "
                                 f"(diverged={row['diverged']}), whose metrics are blank; {fix}")
            if not column.kind.ok(value):
                raise TableError(f"{path} line {line}: column {column.name}={value!r} is not "
                                 f"{column.kind.words}; {fix}")
        key = tuple(row[k] for k in schema.key)
        if key in seen:
            raise TableError(f"{path} line {line} repeats line {seen[key]}'s "
                             f"{', '.join(f'{k}={v}' for k, v in zip(schema.key, key))} (one row each); {fix}")
        seen[key] = line
    return rows
