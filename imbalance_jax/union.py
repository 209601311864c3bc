"""Workdirs of one dataset and protocol read as one study: their results.csv, per_class.csv and curves.csv
joined, each network once (from the first workdir that holds it), and one report.md of the whole.

  union.write_union(["runs/mnist_grid", "runs/mnist_fig7"], "runs/mnist")

Two studies planned from the same seeds share the networks they both plan (e.g. the grid's and Fig. 7's
baseline at rho = 1000), so a network another workdir already gave is left out, not counted twice.
"""
import csv
import os

from imbalance_jax import report, results
from imbalance_jax.results import write_csv

FILES = {"results.csv": ("network", "method"), "per_class.csv": ("network", "method", "class"),
         "curves.csv": ("network", "method", "step")}


def _read(path: str) -> tuple[list, list[dict]]:
    if os.path.basename(path) == "results.csv":
        return results.read_rows(path)  # strictly: a cut-short row is an error, not a smaller study
    with open(path) as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def _results_of(workdirs: list) -> dict:
    """{workdir: (columns, rows)} of each results.csv; refuses workdirs whose datasets or iteration counts
    differ (a comparison, not one study)."""
    read, seen = {}, {}
    for workdir in workdirs:
        path = os.path.join(workdir, "results.csv")
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} does not exist; run launch.study with --workdir={workdir} first")
        read[workdir] = _read(path)
        for row in read[workdir][1]:
            for key in ("dataset", "iterations"):
                value = row.get(key, "")
                first = seen.setdefault(key, (value, workdir))
                if value != first[0]:
                    raise ValueError(f"--union joins studies of one dataset and protocol, but {first[1]} has {key} "
                                     f"{first[0]!r} and {workdir} has {value!r}; compare them instead (leave out "
                                     "--union)")
    return read


def write_union(workdirs: list, outdir: str, margin: float = None) -> str:
    """Writes the joined CSVs and their report.md (with figures) into outdir; returns the report's path."""
    results = _results_of(workdirs)
    owner = {}  # network -> the first workdir whose results.csv holds it
    for workdir in workdirs:
        for row in results[workdir][1]:
            owner.setdefault(row["network"], workdir)
    os.makedirs(outdir, exist_ok=True)
    for name, key in FILES.items():
        columns, rows, seen = [], [], set()
        for workdir in workdirs:
            path = os.path.join(workdir, name)
            if name != "results.csv" and not os.path.exists(path):
                continue
            fields, found = results[workdir] if name == "results.csv" else _read(path)
            columns += [c for c in fields if c not in columns]
            for row in found:
                if owner.get(row["network"]) == workdir and tuple(row[k] for k in key) not in seen:
                    seen.add(tuple(row[k] for k in key))
                    rows.append(row)
        if columns:
            write_csv(os.path.join(outdir, name), columns, rows)
    return report.write_report(outdir, margin, report.machines(workdirs))
