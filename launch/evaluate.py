"""Evaluates a study's saved checkpoints (never trains) and rewrites results.csv.

  uv run python -m launch.evaluate --workdir=runs/quick --force

The study's config is read from the workdir. Without --force only cohorts whose evaluation is
missing, stale (the cohort was retrained) or lacks a method the config asks for are evaluated.
"""
import os

from absl import flags
from ml_collections import config_flags

from imbalance_jax import cli, report
from imbalance_jax.study import Study

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "The study's config (default: the workdir's config.json).")
_MULTIHOST = flags.DEFINE_bool(
    "multihost", False, "Call jax.distributed.initialize(): each host evaluates its share of the cohorts.")
_WORKDIR = flags.DEFINE_string("workdir", None, "The study's workdir.", required=True)
_FORCE = flags.DEFINE_bool("force", False, "Re-evaluate cohorts that already have a valid evaluation.")


def main(argv):
    del argv
    with cli.one_line_errors(_WORKDIR.value):
        if not os.path.exists(os.path.join(_WORKDIR.value, "config.json")):
            raise FileNotFoundError(f"no study in {_WORKDIR.value} (it has no config.json); run launch.study with "
                                    f"--workdir={_WORKDIR.value} first")
        cli.prepare_run(_WORKDIR.value, _MULTIHOST.value)
        study = Study(_CONFIG.value, _WORKDIR.value)
        study.evaluate_all(force=_FORCE.value)
        print(report.summary_table(study.write_results()))


if __name__ == "__main__":
    cli.run_app(main)
