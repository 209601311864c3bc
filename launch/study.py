"""Runs a study: trains every network of the config's grid, evaluates them, writes results.csv.

  uv run python -m launch.study --config=configs/quick.py --workdir=runs/quick

Rerunning resumes (`--workdir=runs/quick` alone reads the study's saved config.json): a cohort
resumes from its latest save, finished cohorts are neither retrained nor re-evaluated. A grown
config (more repetitions, settings, methods or lr runs) trains only the networks that are new.
"""
from absl import flags, logging
from ml_collections import config_flags

from imbalance_jax import cli, report
from imbalance_jax.study import Study

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Study config file, or a study's config.json (default: the workdir's config.json).")
_MULTIHOST = flags.DEFINE_bool(
    "multihost", False, "Call jax.distributed.initialize(): each host trains its share of the cohorts.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Where checkpoints and results go.", required=True)


def main(argv):
    del argv
    with cli.one_line_errors(_WORKDIR.value):
        cli.prepare_run(_WORKDIR.value, _MULTIHOST.value)
        config = _CONFIG.value
        rows = Study(config, _WORKDIR.value).run()
        print(report.summary_table(rows))
        if config.report:
            logging.info("report in %s", report.write_report(_WORKDIR.value))
        logging.info("results in %s/results.csv", _WORKDIR.value)


if __name__ == "__main__":
    cli.run_app(main)
