"""What a study will cost before it runs: the study as its dry run describes it (study_setup.build, then
study_plan.lines), then checkpoint disk and wall time from a short measured run of the real compiled step on
this device, and the repetitions a target difference needs.

  estimate.plan_table(config, workdir=None)   # what launch.plan prints
"""
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from imbalance_jax import progress, report, results, statistics, study_plan, study_setup, tables, train
from imbalance_jax.workdir import Workdir

# The spread launch.plan assumes without a pilot study: the upper quartile of the sd of paired ROC AUC
# differences from the baseline over docs/mnist's settings (LeNet-5 on MNIST, 1,000 iterations, 5 repetitions).
DEFAULT_PAIRED_SD = 0.0068


def state_bytes_per_network(model, input_shape: tuple, preprocess: str, hp: train.TrainHParams) -> int:
    """Bytes of one network's saved state: weights, optimizer state, input transform, loss parameters."""
    state = train.abstract_state(model, 1, input_shape, preprocess, hp)
    return sum(int(np.prod(x.shape)) * x.dtype.itemsize for x in jax.tree.leaves(state))


def random_cohort(model, hp: train.TrainHParams, train_shape: tuple, networks: int, num_classes: int = 10,
                  varied_sets: bool = False, seed: int = 0) -> tuple:
    """(state, data, inputs) of a cohort on random uint8 images of train_shape: every network on the whole
    set, or with varied_sets on random sets of half to all of it (as an imbalance grid gives)."""
    rng = np.random.default_rng(seed)
    size = train_shape[0]
    images = rng.integers(0, 256, train_shape, dtype=np.uint8)
    labels = rng.integers(0, num_classes, size).astype(np.int32)
    data = train.CohortData(jnp.asarray(images), jnp.asarray(labels))
    sets = [rng.choice(size, rng.integers(size // 2, size + 1), replace=False) if varied_sets else np.arange(size)
            for _ in range(networks)]
    preprocess = None
    if hp.preprocess == "gcn_zca":  # an identity whitening costs what a fitted one does
        d = int(np.prod(train_shape[1:]))
        preprocess = {"mean": jnp.zeros((networks, d)), "whiten": jnp.tile(jnp.eye(d), (networks, 1, 1))}
    state = train.init_state(model, np.arange(networks), train_shape[1:], preprocess, hp=hp)
    return state, data, train.plain_inputs(sets, width=size)


def timed_calls(chunk, state, data, inputs, steps: int, seconds: float) -> tuple:
    """(state, last metrics, calls per second, compile seconds): one call to compile, then calls for
    at least `seconds`."""
    t0 = time.perf_counter()
    state, metrics = chunk(state, data, inputs, steps)
    jax.block_until_ready(state)
    compile_s, calls, t0 = time.perf_counter() - t0, 0, time.perf_counter()
    while calls == 0 or time.perf_counter() - t0 < seconds:
        state, metrics = chunk(state, data, inputs, steps)
        jax.block_until_ready(state)
        calls += 1
    return state, metrics, calls / (time.perf_counter() - t0), compile_s


def measured_rate(model, hp: train.TrainHParams, train_shape: tuple, networks: int, steps: int,
                  seconds: float) -> tuple[float, float]:
    """(images/s summed over networks, compile seconds) of the real compiled chunk on random data."""
    size = min(train_shape[0], max(256, 2**22 // int(np.prod(train_shape[1:]))))  # a few MB of random images
    state, data, inputs = random_cohort(model, hp, (size, *train_shape[1:]), networks, num_classes=2)
    _, _, calls_per_s, compile_s = timed_calls(train.make_train_chunk(model, hp), state, data, inputs, steps, seconds)
    return calls_per_s * steps * hp.batch_size * networks, compile_s


def pilot_spread(workdir: str):
    """(sd, where from): the upper quartile over a workdir's settings of the sd of each method's paired ROC AUC
    differences from the baseline, or None without such pairs (two repetitions or more)."""
    if not workdir or not Workdir(workdir).tables.has_table(tables.RESULTS):
        return None
    sds = [d.sd for d in report.baseline_differences(results.typed(Workdir(workdir).tables.results())).values()
           if d.n >= 2 and np.isfinite(d.sd) and d.sd > 0]
    if not sds:
        return None
    return float(np.percentile(sds, 75)), f"the upper quartile of {len(sds)} comparisons in {workdir}"


def repetitions_line(config: ml_collections.ConfigDict, workdir: str = None) -> str:
    """How many repetitions detect config.statistics.target_difference between two methods in one setting."""
    target = float(config.get("statistics", {}).get("target_difference", 0.01))
    found = pilot_spread(workdir)
    sd, source = found or (DEFAULT_PAIRED_SD, "MNIST's upper quartile; give --workdir of a pilot study for yours")
    need = statistics.units_needed(sd, target)
    return (f"  power    {need} repetitions detect a ROC AUC difference of {target:g} between two methods in one "
            f"setting with 80% power (paired t-test at {statistics.ALPHA:g}; sd {sd:.4f} of paired differences, "
            f"{source}); this config has {config.imbalance.repetitions}")


def plan_table(config: ml_collections.ConfigDict, workdir: str = None, measure_seconds: float = 2.0,
               measure: bool = True) -> str:
    """What a study holds and will cost on this device, as lines of text: the study assembled as it runs
    (study_setup.build, never downloading) and described as its dry run is (study_plan.lines), then its memory,
    disk, time measured on the real compiled step (measure=False: nothing compiled, no time) and power."""
    held = Workdir(workdir) if workdir else None
    setup = study_setup.build(config, held, measure=measure, prepare=False, known_shape=True)
    left = study_plan.what_is_left(setup, held)
    device = jax.devices()[0]
    lines = [f"plan of {len(setup.networks):,} networks on {jax.device_count()} x {device.device_kind} "
             f"({jax.default_backend()}), {config.compute_dtype}", *study_plan.lines(setup, left)]
    hp, facts, cohorts = setup.hp, setup.data_facts, left.to_train  # resumed cohorts timed as if from the start
    per_state = state_bytes_per_network(setup.model, setup.input_shape, config.preprocess, hp)
    lines.append(f"  disk     {per_state / 2**20:.1f} MiB per network saved (weights + optimizer state), "
                 f"{per_state * len(setup.networks) / 2**30:.1f} GiB for the study's latest saves")
    if not measure or not cohorts:  # a dry run, or nothing left to train: no step to measure
        if measure:
            lines.append("  time     nothing to train (no step measured)")
        lines.append(repetitions_line(config, workdir))
        return "\n".join(lines)
    # The step measured at the size of the largest cohort the study will train (a few steps per call: the
    # compiled scan's body is what costs, not its length), so the rate is the study's own.
    probe = max(len(c) for c in cohorts)
    rate, compile_s = measured_rate(setup.model, hp, facts.train_shape, probe, min(config.steps_per_call, 10),
                                    measure_seconds)
    compiled = frozenset(len(r.networks) for r in left.records)  # their programs are in the workdir's jax_cache
    lines.append(f"  time     {rate:,.0f} img/s measured ({probe} networks, {measure_seconds:g} s after "
                 f"{compile_s:.1f} s compiling) -> "
                 f"{wall_time(config, hp, facts, cohorts, rate, compile_s, facts.load_seconds, compiled)}")
    lines.append(repetitions_line(config, workdir))
    return "\n".join(lines)


FORWARD_SHARE = 3  # a training step costs about three forward passes: evaluation runs at 3x the training rate
# Measured for the quick study on a 2-core CPU (2026-12-01): a run's imports, each cohort's set-up and saves
# beside its steps, each cohort's evaluation beside its forward passes, and report.md with its figures.
STARTUP_SECONDS, COHORT_SECONDS, EVALUATION_SECONDS, REPORT_SECONDS = 4.0, 3.0, 2.0, 5.0


def wall_time(config, hp, facts: study_setup.DataFacts, cohorts: list, rate: float, compile_s: float,
              loading_s: float = 0.0, compiled_sizes: frozenset = frozenset()) -> str:
    """The study's time: training at the measured rate, its curve points and its evaluation as forward passes,
    a compile per cohort size the workdir's compilation cache does not hold yet (compiled_sizes: those of its
    trained cohorts), each cohort's set-up, the data's loading and the report."""
    todo = sum(len(c) for c in cohorts)
    if not todo:
        return "nothing to train"
    training = todo * hp.batch_size * hp.max_iter / rate
    points = -(-hp.max_iter // config.curve_every) if config.curve_every else 0
    curves = todo * points * facts.test_size / (FORWARD_SHARE * rate)
    evaluation = todo * facts.test_size / (FORWARD_SHARE * rate) + EVALUATION_SECONDS * len(cohorts)
    # one train program per cohort size, and the curve points' and evaluation's forward programs beside it
    compiling = compile_s * 1.5 * len({len(c) for c in cohorts} - set(compiled_sizes))
    fixed = STARTUP_SECONDS + loading_s + COHORT_SECONDS * len(cohorts) + REPORT_SECONDS
    total = training + curves + evaluation + compiling + fixed
    return (f"training {progress.duration(training)}, curve points ~{progress.duration(curves)}, evaluation "
            f"~{progress.duration(evaluation)}, compiling ~{progress.duration(compiling)}: about "
            f"{progress.duration(total)} in all")
