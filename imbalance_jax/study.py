"""A study over a workdir: its setup built once, then train -> evaluate -> results, each a stage taking
the setup and the workdir as arguments.

  rows = run_study(config, "runs/quick")

The config says which networks the study wants (imbalance_jax.design); the workdir says which of them its
cohorts already hold. Only the networks no cohort holds are packed into new cohorts and trained, so a
study grows; evaluation redoes only what is new or retrained.
"""
import jax
import ml_collections

from imbalance_jax import stages, study_plan, study_setup
from imbalance_jax.workdir import Workdir


def open_study(config: ml_collections.ConfigDict, path: str) -> tuple[study_setup.Setup, Workdir]:
    """(setup, workdir) of a study: the config checked, the workdir locked, the data loaded and the cohort
    sizes known (a measurement is kept in cohort_size.json, so later runs need not measure)."""
    workdir = Workdir(path)
    setup = study_setup.build(config, workdir)
    workdir.prepare(jax.process_index())
    if setup.sizes.measured and jax.process_index() == 0:
        workdir.save_sizes(setup.sizes.measured)
    return setup, workdir


def run_study(config: ml_collections.ConfigDict, path: str) -> list[dict]:
    """Trains what no cohort holds yet, evaluates what is new, writes results.csv; returns its rows."""
    setup, workdir = open_study(config, path)
    layout = stages.train_all(setup, workdir)
    stages.evaluate_all(setup, workdir, layout)
    return stages.write_results(setup, workdir, layout)


def evaluate_study(config: ml_collections.ConfigDict, path: str, force: bool = False) -> list[dict]:
    """Evaluates the finished cohorts that have no valid evaluation (all of them with force), never training;
    writes results.csv and returns its rows."""
    setup, workdir = open_study(config, path)
    layout = stages.current_layout(setup, workdir, create=False)
    stages.evaluate_all(setup, workdir, layout, force)
    return stages.write_results(setup, workdir, layout)


def dry_run(config: ml_collections.ConfigDict, path: str) -> str:
    """What a run would do, without training or writing anything: the study as launch.plan describes it
    (study_plan.lines; the data's known shape where it is not prepared), then the training each network gets."""
    workdir = Workdir(path)
    setup = study_setup.build(config, workdir, measure=False, prepare=False, known_shape=True)
    return "\n".join([f"dry run of {len(setup.networks):,} networks in {path} (nothing trained or written)",
                      *study_plan.lines(setup, study_plan.what_is_left(setup, workdir)),
                      f"  train    {setup.hp.max_iter:,} iterations of batch {setup.hp.batch_size} per network; then "
                      "evaluation and results.csv of every planned network (launch.plan says how long it takes)"])


def dry_run_evaluation(config: ml_collections.ConfigDict, path: str, force: bool = False) -> str:
    """What launch.evaluate would do, without evaluating or writing anything: the study (study_plan.lines), then
    the cohorts it would evaluate."""
    workdir = Workdir(path)
    setup = study_setup.build(config, workdir, measure=False, prepare=False, known_shape=True)
    left = study_plan.what_is_left(setup, workdir)
    layout = stages.layout_of(left.records, left.located)
    todo = stages.evaluation_todo(setup, workdir, layout, force)
    networks = sum(len(r.networks) for r, _ in todo)
    why = "--force: every cohort" if force else "those whose evaluation is missing, stale or lacks a method"
    lines = [f"dry run of launch.evaluate in {path} (nothing evaluated or written)", *study_plan.lines(setup, left),
             f"  evaluate {len(todo)} of {len(layout.cohorts)} cohorts ({networks:,} networks; {why}) on the test set, "
             "then write results.csv"]
    if left.new:
        lines.append(f"  {sum(map(len, left.new)):,} planned networks are not trained: launch.evaluate would refuse; "
                     f"uv run python -m launch.study --workdir={path} trains them first")
    return "\n".join(lines)


def restore(setup: study_setup.Setup, workdir: Workdir, cohort):
    """The latest saved state of a cohort, by id or by its index in workdir.cohorts()."""
    records = workdir.cohorts()
    record = records[cohort] if isinstance(cohort, int) else next(r for r in records if r.cohort_id == cohort)
    with workdir.checkpoints(record.cohort_id) as checkpoints:
        return checkpoints.restore(setup.abstract_state(len(record.networks)))[0]
