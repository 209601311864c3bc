"""What a study holds and would train, as lines of text: the one description that launch.study --dry_run,
launch.evaluate --dry_run and launch.plan print, read off the study's own Setup (study_setup.build) and workdir;
launch.plan adds the memory, disk, time and power lines (imbalance_jax/estimate.py).

  left = study_plan.what_is_left(setup, workdir)
  print("\\n".join(study_plan.lines(setup, left)))
"""
import collections
from typing import NamedTuple, Optional

from imbalance_jax import design, stages
from imbalance_jax.study_setup import Setup
from imbalance_jax.workdir import Workdir


class Left(NamedTuple):
    """What a workdir holds of a study's planned networks, and the cohorts left to train."""

    path: Optional[str]  # None: no workdir (everything is new)
    records: list  # every cohort the workdir holds (workdir.CohortRecord)
    located: dict  # network name -> (cohort id, position) of the planned networks it holds
    unfinished: list  # the planned networks of each held cohort killed before its final save: resumed
    new: list  # the cohorts the networks no cohort holds are packed into (design.pack_cohorts)

    @property
    def to_train(self) -> list:
        """The cohorts a run would train, resumed ones first."""
        return self.unfinished + self.new

    @property
    def trained(self) -> int:
        """Planned networks the workdir holds trained to the end."""
        return len(self.located) - sum(map(len, self.unfinished))


def what_is_left(setup: Setup, workdir: Optional[Workdir]) -> Left:
    """What the workdir holds of the setup's networks and what a run would train, by the study's own rules
    (stages.pending_cohorts and stages.unfinished_cohorts); cohorts sized 1 while their size is unmeasured."""
    records = workdir.cohorts() if workdir is not None else []
    located, new = stages.pending_cohorts(setup.networks, max(setup.cohort_size, 1), records)
    unfinished = stages.unfinished_cohorts(workdir, records, located, setup.hp.max_iter) if workdir else []
    return Left(workdir.path if workdir is not None else None, records, located, unfinished, new)


def cohort_sizes(cohorts: list) -> str:
    """'21 x 1,024 networks, 1 x 808, 1 x 238': how many cohorts of each size, largest first."""
    counts = sorted(collections.Counter(map(len, cohorts)).items(), reverse=True)
    return ", ".join(f"{n:,} x {size:,}" + (" networks" if i == 0 else "") for i, (size, n) in enumerate(counts))


def lines(setup: Setup, left: Left) -> list[str]:
    """The study described: its data and where that came from, networks per stage and method, results rows, what
    the workdir holds and resumes, the cohort size (and its measurement) and the cohorts left to train."""
    networks, sizes = setup.networks, setup.sizes
    out = [f"  dataset  {setup.data_facts.source}"]
    out += [line for line in [design.as_is_line(networks)] if line]
    for stage, counts in design.methods_per_stage(networks).items():
        per_method = ", ".join(f"{m} {c:,}" for m, c in counts.items())
        out.append(f"  stage {stage}  {counts.total():,} networks ({per_method})"
                   + ("" if stage == 0 else f", fine-tuned from stage {stage - 1}"))
    reported = sum(len(n.reported) for n in networks)
    out.append(f"  results  {reported:,} rows ({len(setup.config.methods)} methods; "
               f"{reported - len(networks):,} read another method's network)")
    resumed = sum(map(len, left.unfinished))
    if left.path is not None:
        out.append(f"  workdir  {left.trained:,} networks already trained in {left.path}; "
                   + (f"{resumed:,} in {len(left.unfinished):,} unfinished cohorts to resume; " if resumed else "")
                   + f"{sum(map(len, left.new)):,} to train")
    if sizes.source == "measured":
        m = sizes.measured
        out.append(f"  memory   {m['bytes_per_network'] / 2**20:.1f} MiB per network + "
                   f"{m['fixed_bytes'] / 2**20:.0f} MiB fixed (measured), {m['free_bytes'] / 2**30:.1f} GiB free "
                   f"-> cohorts of {sizes.cohort_size:,}")
    elif sizes.cohort_size:
        out.append(f"  cohorts  {sizes.cohort_size:,} networks each ({sizes.source})")
    else:
        out.append("  cohorts  sized by a measurement when the study runs (launch.plan measures them)")
    if sizes.cohort_size:
        todo = left.to_train
        out.append(f"  cohorts  {len(todo):,} to train"
                   + (f" ({len(left.unfinished):,} resumed, {len(left.new):,} new)" if left.unfinished else "")
                   + (f": {cohort_sizes(todo)}" if todo else ""))
    return out
