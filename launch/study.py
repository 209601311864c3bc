"""Runs a study: trains every network of the config's grid, evaluates them, writes results.csv.

  uv run python -m launch.study --config=configs/quick.py --workdir=runs/quick

Rerunning the same command resumes: finished cohorts are neither retrained nor re-evaluated.
"""
from absl import flags, logging
from ml_collections import config_flags

from imbalance_jax import cli, report
from imbalance_jax.study import Study

_CONFIG = config_flags.DEFINE_config_file("config", "configs/quick.py", "Study config file.")
_MULTIHOST = flags.DEFINE_bool(
    "multihost", False, "Call jax.distributed.initialize(): each host trains its share of the cohorts.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Where checkpoints and results go.", required=True)


def main(argv):
    del argv
    with cli.one_line_errors():
        cli.prepare_run(_WORKDIR.value, _MULTIHOST.value)
        config = _CONFIG.value
        study = Study(config, _WORKDIR.value)
        rows = study.run()
        print(report.summary_table(rows))
        if config.report:
            logging.info("report in %s", report.write_report(_WORKDIR.value))
        logging.info("results in %s/results.csv", _WORKDIR.value)


if __name__ == "__main__":
    cli.run_app(main)
