"""Turns a study's results.csv into figures and a Markdown summary (workdir/report.md).

  uv run python -m launch.report --workdir=runs/quick
"""
from absl import app, flags

from imbalance_jax import cli, report

_WORKDIR = flags.DEFINE_string("workdir", None, "The study's workdir (holds results.csv).", required=True)


def main(argv):
    del argv
    with cli.one_line_errors():
        print(report.write_report(_WORKDIR.value))


if __name__ == "__main__":
    app.run(main)
