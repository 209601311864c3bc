"""How much a study will take on this device, before launching it: networks per stage, cohorts, memory
per network (measured), checkpoint disk, wall time from a short measured run of the real step, and how many
repetitions a target difference needs.

  uv run python -m launch.plan --config=configs/mnist.py
  uv run python -m launch.plan --workdir=runs/quick --config.imbalance.repetitions=3   # what growing adds

Nothing is trained or written.
"""
from absl import flags

from imbalance_jax import cli, estimate

_WORKDIR = flags.DEFINE_string("workdir", None, "A study's workdir: counts the networks it already holds, and its "
                               "results.csv is the pilot for the repetitions needed.")
_SECONDS = flags.DEFINE_float("measure_seconds", 2.0, "Seconds of the measured run of the step (after compiling).")
_DRY_RUN = flags.DEFINE_bool("dry_run", False, "Plan without measuring anything (no compiling): networks, what the "
                             "workdir holds and the cohorts, then exit.")


def main(argv):
    del argv
    with cli.one_line_errors():
        print(estimate.plan_table(cli.config(), _WORKDIR.value, _SECONDS.value, measure=not _DRY_RUN.value))


if __name__ == "__main__":
    cli.run_app(main, workdir="optional")
