"""Runs a study: trains every network of the config's grid, evaluates them, writes results.csv.

  uv run python -m launch.study --config=configs/quick.py --workdir=runs/quick
  uv run python -m launch.study --workdir=runs/quick --config.imbalance.repetitions=3   # grow it
  uv run python -m launch.study --config=configs/mnist.py --workdir=runs/mnist --dry_run

Rerunning resumes (`--workdir=runs/quick` alone reads the study's saved config.json): a cohort
resumes from its latest save, finished cohorts are neither retrained nor re-evaluated. A grown
config (more repetitions, settings, methods or lr runs) trains only the networks that are new.
"""
from absl import flags, logging

from imbalance_jax import cli, config_schema, report, results, study

_MULTIHOST, _COORDINATOR, _NUM_PROCESSES, _PROCESS_ID = cli.define_multihost_flags()
_WORKDIR = flags.DEFINE_string("workdir", None, "Where checkpoints and results go.")
_DRY_RUN = flags.DEFINE_bool("dry_run", False, "Check the config, load the data (a dataset not prepared yet: "
                             "its known shape) and print what the run would train, as launch.plan does, then exit "
                             "without training or writing anything.")


def main(argv):
    del argv
    with cli.one_line_errors(_WORKDIR.value):
        config = cli.config()
        config_schema.validate(config)  # a bad value leaves no workdir behind
        if _DRY_RUN.value:
            print(study.dry_run(config, _WORKDIR.value))
            return
        cli.prepare_run(_WORKDIR.value, _MULTIHOST.value, _COORDINATOR.value, _NUM_PROCESSES.value,
                        _PROCESS_ID.value)
        rows = study.run_study(config, _WORKDIR.value)
        print(report.summary_table(rows))
        if rows and not any(results.trained(r) for r in rows):
            logging.warning("every network diverged (see %s/report.md); try a lower --config.train.base_lr",
                            _WORKDIR.value)
        if config.report:
            logging.info("report in %s", report.write_report(_WORKDIR.value))
        logging.info("results in %s/results.csv", _WORKDIR.value)


if __name__ == "__main__":
    cli.run_app(main)
