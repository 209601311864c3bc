"""Evaluates a study's saved checkpoints (never trains) and rewrites results.csv.

  uv run python -m launch.evaluate --workdir=runs/quick --force

The study's config is read from the workdir (execution keys may be overridden, e.g.
--config.eval_batch_size=500). Without --force only cohorts whose evaluation is missing, stale (the
cohort was retrained) or lacks a method the config asks for are evaluated.
"""
from absl import flags

from imbalance_jax import cli, report, study
from imbalance_jax.workdir import Workdir

_MULTIHOST, _COORDINATOR, _NUM_PROCESSES, _PROCESS_ID = cli.define_multihost_flags()
_WORKDIR = flags.DEFINE_string("workdir", None, "The study's workdir.")
_FORCE = flags.DEFINE_bool("force", False, "Re-evaluate cohorts that already have a valid evaluation.")
_DRY_RUN = flags.DEFINE_bool("dry_run", False, "Check the config and the workdir, print what the study holds, "
                             "then exit without evaluating or writing anything.")


def main(argv):
    del argv
    with cli.one_line_errors(_WORKDIR.value):
        if Workdir(_WORKDIR.value).saved_config_json() is None:
            raise FileNotFoundError(f"no study in {_WORKDIR.value} (it has no config.json); run launch.study with "
                                    f"--workdir={_WORKDIR.value} first")
        if _DRY_RUN.value:
            print(study.dry_run_evaluation(cli.config(), _WORKDIR.value, _FORCE.value))
            return
        cli.prepare_run(_WORKDIR.value, _MULTIHOST.value, _COORDINATOR.value, _NUM_PROCESSES.value,
                        _PROCESS_ID.value)
        print(report.summary_table(study.evaluate_study(cli.config(), _WORKDIR.value, force=_FORCE.value)))


if __name__ == "__main__":
    cli.run_app(main)
