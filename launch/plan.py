"""How much a study will take on this device, before launching it: networks per stage, cohorts, memory
per network (measured), checkpoint disk, and wall time from a short measured run of the real step.

  uv run python -m launch.plan --config=configs/mnist.py
  uv run python -m launch.plan --workdir=runs/quick            # a grown study: only what is left to train

Nothing is trained or written.
"""
from absl import flags
from ml_collections import config_flags

from imbalance_jax import cli, estimate

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Study config file, or a study's config.json (default: the workdir's config.json).")
_WORKDIR = flags.DEFINE_string("workdir", None, "A study's workdir: counts the networks it already holds.")
_SECONDS = flags.DEFINE_float("measure_seconds", 2.0, "Seconds of the measured run of the step (after compiling).")


def main(argv):
    del argv
    with cli.one_line_errors():
        if _CONFIG.value is None:
            raise ValueError("give --config=<config file> (or --workdir=<a study's workdir>)")
        print(estimate.plan_table(_CONFIG.value, _WORKDIR.value, _SECONDS.value))


if __name__ == "__main__":
    cli.run_app(main)
