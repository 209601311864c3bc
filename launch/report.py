"""Turns a study's results.csv into figures and a Markdown summary (workdir/report.md), or compares
several studies in one report, or joins the workdirs of one study (--union).

  uv run python -m launch.report --workdir=runs/quick
  uv run python -m launch.report --workdir=runs/fp32 --workdir=runs/bf16 --label=fp32 --label=bf16 \\
      --out=runs/fp32_vs_bf16
  uv run python -m launch.report --workdir=runs/mnist_grid --workdir=runs/mnist_fig7 --union --out=runs/mnist
  uv run python -m launch.report --workdir=runs/quick --config.statistics.margin=0.02   # another margin
"""
import os
import sys

from absl import flags

from imbalance_jax import cli, compare, config_schema, report, union
from imbalance_jax.workdir import Workdir

_WORKDIRS = flags.DEFINE_multi_string("workdir", None, "A study's workdir (holds results.csv); several "
                                      "compare the studies.")
_LABELS = flags.DEFINE_multi_string("label", None, "A name per --workdir for the comparison (default: the "
                                    "workdirs' folder names).")
_OUT = flags.DEFINE_string("out", None, "Where a comparison (or union) goes (default: <first workdir>/comparison "
                           "or /union).")
_UNION = flags.DEFINE_bool("union", False, "Read the workdirs as one study (same dataset and protocol), each network "
                           "once, instead of comparing them.")
_DRY_RUN = flags.DEFINE_bool("dry_run", False, "Check the workdirs and labels, print what would be written, then exit.")


# A report changes no trained number: of a study's config it reads only these keys.
USED = ("statistics.",)


def check_config(config) -> None:
    """Refuses a saved config.json with keys no study has, and --config overrides the report cannot use."""
    try:
        config_schema.validate(config)
    except ValueError as e:
        raise ValueError(f"{_WORKDIRS.value[-1]}/config.json: {e}") from None
    for arg in sys.argv[1:]:
        key = arg[len("--config."):].split("=")[0] if arg.startswith("--config.") else None
        if key is not None and not key.startswith(USED):
            raise ValueError(f"--config.{key} changes how a study trains or runs, not its report; launch.report "
                             f"takes only --config.statistics.* (e.g. --config.statistics.margin=0.02)")


def main(argv):
    del argv
    with cli.one_line_errors():
        workdirs = _WORKDIRS.value
        config = cli.config()  # the (last) workdir's saved config with the command line's overrides, if any
        if config is not None:
            check_config(config)
        margin = config.statistics.margin if config is not None else None
        for workdir in workdirs:
            note = report.in_flight_note(workdir)
            if note:
                print(f"note: {note}", file=sys.stderr)
        if _DRY_RUN.value:
            for workdir in workdirs:
                study = Workdir(workdir).tables  # a missing or malformed table: one line
                rows = study.results()
                study.per_class(rows), study.curves(rows)
            labels = _LABELS.value or [os.path.basename(os.path.normpath(w)) for w in workdirs]
            if len(workdirs) > 1 and not _UNION.value and len(labels) != len(workdirs):
                raise ValueError(f"{len(labels)} --label values for {len(workdirs)} --workdir values; give one per "
                                 "study")
            kind = "one report" if len(workdirs) == 1 else "a union" if _UNION.value else "a comparison"
            print(f"dry run: {kind} of {', '.join(workdirs)} (nothing written)")
            return
        if len(workdirs) == 1:
            print(report.write_report(workdirs[0], margin))
            return
        if _UNION.value:
            print(union.write_union(workdirs, _OUT.value or Workdir(workdirs[0]).file("union"), margin))
            return
        labels = _LABELS.value or [os.path.basename(os.path.normpath(w)) for w in workdirs]
        if len(labels) != len(workdirs):
            raise ValueError(f"{len(labels)} --label values for {len(workdirs)} --workdir values; give one per study")
        print(compare.write_comparison(workdirs, labels, _OUT.value or Workdir(workdirs[0]).file("comparison")))


if __name__ == "__main__":
    cli.run_app(main, config="optional")
