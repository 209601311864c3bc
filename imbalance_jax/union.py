"""Workdirs of one study (every identity key the same) read as one: their results.csv, per_class.csv and
curves.csv joined, each network once (from the first workdir that holds it), and one report.md of the whole.

  union.write_union(["runs/mnist_grid", "runs/mnist_fig7"], "runs/mnist")

Two studies planned from the same seeds share the networks they both plan (e.g. the grid's and Fig. 7's
baseline at rho = 1000), so a network another workdir already gave is left out, not counted twice. The
union is written into a folder of its own: never into a study's workdir, nor a folder another tool made.
"""
import os

from imbalance_jax import config_schema, report, tables
from imbalance_jax.workdir import Workdir

FILES = (tables.RESULTS, tables.PER_CLASS, tables.CURVES)


def _check_same_study(workdirs: list) -> None:
    """Refuses workdirs whose saved configs differ in an identity key (another study, not a part of this one),
    or that hold no config.json to compare."""
    first = None
    for workdir in workdirs:
        saved = Workdir(workdir).saved_config_json()
        if saved is None:
            raise ValueError(f"--union: {workdir} holds no config.json, so it cannot be shown to be a part of the "
                             f"same study; give the workdirs launch.study wrote")
        if first is None:
            first = (workdir, saved)
            continue
        changes = config_schema.identity_changes(first[1], saved)
        if changes:
            raise ValueError(f"--union joins parts of one study, but {first[0]} and {workdir} differ in "
                             f"{'; '.join(changes)}; compare them instead (leave out --union)")


def _check_out(workdirs: list, outdir: str) -> None:
    """Refuses an --out that is one of the joined workdirs, or an existing folder the union did not make."""
    out = os.path.abspath(outdir)
    if any(os.path.abspath(w) == out for w in workdirs):
        raise ValueError(f"--out={outdir} is one of the joined workdirs; give a new folder for the union")
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise ValueError(f"--out={outdir} is a file; give a new folder for the union")
    if os.path.isdir(outdir) and os.listdir(outdir) and not Workdir(outdir).tables.made_by_union():
        raise ValueError(f"--out={outdir} already holds files a union did not write (a study's workdir?); give a "
                         "new folder for the union")


def write_union(workdirs: list, outdir: str, margin: float = None) -> str:
    """Writes the joined CSVs and their report.md (with figures) into outdir; returns the report's path."""
    if len(set(map(os.path.abspath, workdirs))) != len(workdirs):
        raise ValueError(f"--union is given one workdir twice ({', '.join(workdirs)}); give each once")
    _check_same_study(workdirs)
    _check_out(workdirs, outdir)
    read = {}
    for workdir in workdirs:  # every table of every workdir read strictly before anything is written
        study = Workdir(workdir).tables
        rows = study.results()
        read[workdir] = {tables.RESULTS: rows, tables.PER_CLASS: study.per_class(rows) or [],
                         tables.CURVES: study.curves(rows) or []}
    owner = {}  # network -> the first workdir whose results.csv holds it
    for workdir in workdirs:
        for row in read[workdir][tables.RESULTS]:
            owner.setdefault(row["network"], workdir)
    os.makedirs(outdir, exist_ok=True)
    union = Workdir(outdir)
    union.tables.mark_union(workdirs)
    joined = {}
    for schema in FILES:
        rows = [row for workdir in workdirs for row in read[workdir][schema] if owner.get(row["network"]) == workdir]
        if rows or schema is tables.RESULTS:
            joined[schema] = rows
    union.tables.write_tables(joined)
    return report.write_report(outdir, margin, report.machines(workdirs))
