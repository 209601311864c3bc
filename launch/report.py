"""Turns a study's results.csv into figures and a Markdown summary (workdir/report.md), or compares
several studies in one report, or joins the workdirs of one study (--union).

  uv run python -m launch.report --workdir=runs/quick
  uv run python -m launch.report --workdir=runs/fp32 --workdir=runs/bf16 --label=fp32 --label=bf16 \\
      --out=runs/fp32_vs_bf16
  uv run python -m launch.report --workdir=runs/mnist_grid --workdir=runs/mnist_fig7 --union --out=runs/mnist
"""
import os

from absl import app, flags

from imbalance_jax import cli, compare, report, union

_WORKDIRS = flags.DEFINE_multi_string("workdir", None, "A study's workdir (holds results.csv); several "
                                      "compare the studies.", required=True)
_LABELS = flags.DEFINE_multi_string("label", None, "A name per --workdir for the comparison (default: the "
                                    "workdirs' folder names).")
_OUT = flags.DEFINE_string("out", None, "Where a comparison (or union) goes (default: <first workdir>/comparison "
                           "or /union).")
_UNION = flags.DEFINE_bool("union", False, "Read the workdirs as one study (same dataset and protocol), each network "
                           "once, instead of comparing them.")


def main(argv):
    del argv
    with cli.one_line_errors():
        workdirs = _WORKDIRS.value
        if len(workdirs) == 1:
            print(report.write_report(workdirs[0]))
            return
        if _UNION.value:
            print(union.write_union(workdirs, _OUT.value or os.path.join(workdirs[0], "union")))
            return
        labels = _LABELS.value or [os.path.basename(os.path.normpath(w)) for w in workdirs]
        if len(labels) != len(workdirs):
            raise ValueError(f"{len(labels)} --label values for {len(workdirs)} --workdir values; give one per study")
        print(compare.write_comparison(workdirs, labels, _OUT.value or os.path.join(workdirs[0], "comparison")))


if __name__ == "__main__":
    app.run(main)
