"""A small mutation check: deliberate bugs applied one at a time to a scratch copy of the repository, each
followed by the tests that should catch it; prints which bugs the tests catch and which they miss.

  uv run python tests/mutations.py            # every mutation, its named test files' fast tests
  uv run python tests/mutations.py --only 1,4 # some of them
  uv run python tests/mutations.py --suite    # each against the whole fast loop (slow: minutes a mutation)

Tests run as the contributors' fast loop does (`-m "not slow"`), so a bug only a slow test catches is reported
missed. Its name keeps it out of pytest's collection (it runs pytest itself). A mutation is (file, the exact text, its
replacement, what the bug is, the tests that must fail); the text must occur exactly once, so a mutation
whose code moved is reported as stale instead of silently passing.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MUTATIONS = [
    # Six found unguarded by a review of the tests.
    ("imbalance_jax/tensorboard.py", 'np.mean([float(c[f"{split}_accuracy"]) for c in at])',
     'np.sum([float(c[f"{split}_accuracy"]) for c in at])', "TensorBoard curve means summed",
     ["tests/test_tensorboard.py"]),
    ("imbalance_jax/figures.py", '"num_minority", "accuracy",', '"num_minority", "auc",',
     "Fig. 6 plots ROC AUC instead of accuracy", ["tests/test_figures.py"]),
    ("imbalance_jax/statistics.py", "sd = float(values.std(ddof=1)) if n > 1 else math.nan",
     "sd = float(values.std(ddof=0)) if n > 1 else math.nan", "sample sd with ddof=0 (intervals, error bars)",
     ["tests/test_figures.py", "tests/test_statistics.py"]),
    ("imbalance_jax/study_setup.py", "saved = workdir.saved_sizes() if workdir is not None and config.cohort_size == 0 else None",
     "saved = None", "cohort_size.json ignored: the sizes measured again every run", ["tests/test_sizing.py"]),
    ("imbalance_jax/data/streaming.py", "top, left = (h - crop) // 2, (w - crop) // 2", "top, left = 0, 0",
     "the centre crop taken from the top-left corner", ["tests/test_imagenet.py"]),
    ("imbalance_jax/report.py", 'out[(setting, method)] = statistics.paired(m["by_pair"], base["by_pair"])',
     'out[(setting, method)] = statistics.paired(base["by_pair"], m["by_pair"])',
     "'minus baseline' computed as baseline minus the method", ["tests/test_statistics.py", "tests/test_report.py"]),
    # The statistics' own.
    ("imbalance_jax/conclusions.py", 'unit, units = "setting", [float(np.mean(d)) for d in source.values()]',
     'unit, units = "setting", [float(v) for d in source.values() for v in d]',
     "pooled tests over every network instead of per-setting means", ["tests/test_conclusions.py"]),
    ("imbalance_jax/statistics.py", "running = max(running, min(1.0, (m - rank) * p[i]))",
     "running = max(running, min(1.0, p[i]))", "no Holm correction", ["tests/test_statistics.py"]),
    ("imbalance_jax/statistics.py", "half = float(_stats().t.ppf(0.5 + level / 2, df)) * se / ((high - low) * p * (1 - p))",
     "half = float(_stats().t.ppf(0.5 + level / 2, df)) * se / (high - low)",
     "intervals without the logit scale's delta method", ["tests/test_statistics.py"]),
    ("imbalance_jax/conclusions.py", "    if inside < statistics.ALPHA:", "    if not outside < statistics.ALPHA:",
     "'on a par' read from a difference not shown beyond the margin", ["tests/test_calibration.py"]),
    # Records and entry points.
    ("imbalance_jax/stages.py", 'if meta.get("identities") != [n.training_hash for n in record.networks]:',
     "if False:", "members.json not checked against the checkpoint", ["tests/test_bad_inputs.py"]),
    ("imbalance_jax/tables.py", "if short or None in row:", "if False:", "a cut-short results.csv read as a smaller "
     "study", ["tests/test_bad_inputs.py"]),
    ("imbalance_jax/cli.py", '    sys.argv = [a for a in argv if not a.startswith("--config=")]\n', "",
     "overrides registered after --config (the README's grow command fails)", ["tests/test_documented_commands.py"]),
    ("imbalance_jax/evaluate.py", "if not keep_bias and", "if keep_bias and",
     "tau-normalisation keeps the classifier's bias", ["tests/test_study.py"]),
    ("imbalance_jax/samplers/progressive.py", "cumulative = xp.cumsum((STEPS - mix) * instance + mix * balanced)",
     "cumulative = xp.cumsum(mix * instance + (STEPS - mix) * balanced)",
     "progressive sampling runs from class- to instance-balanced", ["tests/test_progressive_sampling.py"]),
    # Methods held to their definitions (tests/test_method_definitions.py), the solver and the statistics.
    ("imbalance_jax/evaluate.py", "prior = jnp.asarray(counts / counts.sum(1, keepdims=True))",
     "prior = jnp.full(counts.shape, 1.0 / counts.shape[1], jnp.float32)",
     "thresholding computed with a uniform prior", ["tests/test_method_definitions.py"]),
    ("imbalance_jax/methods/paper.py", 'Training(parent="oversampling", **FINETUNE)',
     'Training(parent="oversampling", sampler="oversample", **FINETUNE)',
     "two-phase ROS's second phase keeps oversampling", ["tests/test_method_definitions.py"]),
    ("imbalance_jax/cohort.py",
     "factor = 1.0 if _own_schedule(network, config) else config[factor] if isinstance(factor, str) else factor",
     "factor = 1.0", "the second phase (and cRT) at the full learning rate", ["tests/test_method_definitions.py"]),
    ("imbalance_jax/train.py", "return jnp.where(finetune_last, rate if path[0].key in finetune_layers else 0.0, rate)",
     "return jnp.where(finetune_last, rate, rate)", "the second phase trains every layer",
     ["tests/test_method_definitions.py"]),
    ("imbalance_jax/cohort_training.py", "reinit = np.array([wanted(methods.get(n.method).training) for n in networks])",
     "reinit = np.zeros(len(networks), bool)", "cRT keeps the baseline's classifier",
     ["tests/test_method_definitions.py"]),
    ("imbalance_jax/samplers/longtail.py", "shares = np.sqrt(counts) / np.sqrt(counts).sum()",
     "shares = counts / counts.sum()", "square-root sampling's declared set sizes (sizing, dry run) of no draw",
     ["tests/test_method_definitions.py"]),
    ("imbalance_jax/mechanics.py", "shares = np.sqrt(counts) / np.sqrt(counts).sum()",
     "shares = counts / counts.sum()", "square-root sampling draws the imbalanced shares",
     ["tests/test_method_definitions.py"]),
    ("imbalance_jax/losses/remedies.py",
     "logit_adjust=(settings.logit_adjust_tau * _log_prior(counts)).astype(np.float32)",
     "logit_adjust=(-settings.logit_adjust_tau * _log_prior(counts)).astype(np.float32)",
     "the logit-adjusted loss subtracts tau log(prior)", ["tests/test_method_definitions.py"]),
    ("imbalance_jax/losses/core.py", "m = np.power(np.asarray(counts, np.float64), -0.25)",
     "m = np.power(np.asarray(counts, np.float64), -0.5)", "LDAM's margins ~ n^(-1/2)",
     ["tests/test_method_definitions.py"]),
    ("imbalance_jax/scorings.py", "lambda probs, prior, tau, head: probs / prior ** tau",
     "lambda probs, prior, tau, head: probs / prior", "post-hoc adjustment ignores its tau",
     ["tests/test_method_definitions.py"]),
    ("imbalance_jax/evaluate.py", "1e-12) ** tau", "1e-12)", "tau-normalisation ignores its tau",
     ["tests/test_method_definitions.py"]),
    ("imbalance_jax/optim.py", "optax.add_decayed_weights(weight_decay), lr, optax.trace(momentum), optax.scale(-1.0)",
     "optax.add_decayed_weights(weight_decay), optax.trace(momentum), lr, optax.scale(-1.0)",
     "Caffe's SGD with the learning rate outside the velocity", ["tests/test_optim.py"]),
    ("imbalance_jax/statistics.py", "d = d[d != 0]", "d = d", "the sign test counts zero differences",
     ["tests/test_statistics_references.py"]),
    ("imbalance_jax/statistics.py", 'false_discovery_control([p[i] for i in tested], method="bh")',
     'false_discovery_control([p[i] for i in tested], method="by")',
     "Benjamini-Yekutieli's correction in place of Benjamini-Hochberg's", ["tests/test_statistics_references.py"]),
    ("imbalance_jax/statistics.py",
     "dof = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))\n    low, high",
     "dof = len(a) + len(b) - 2\n    low, high",
     "Welch's interval with the pooled degrees of freedom", ["tests/test_statistics_references.py"]),
    ("imbalance_jax/statistics.py", "df, crit = n - 1, float(stats.t.ppf(1 - alpha / 2, n - 1))",
     "df, crit = n - 1, float(stats.t.ppf(1 - alpha, n - 1))",
     "the detectable difference of a one-sided test", ["tests/test_statistics_references.py"]),
    # The data as it is, and the verdicts' units.
    ("imbalance_jax/recommendation.py", "adjusted = statistics.holm([d.p_value for _, d in lead])",
     "adjusted = [d.p_value for _, d in lead]", "the recommendation's comparisons without Holm's correction",
     ["tests/test_as_is.py"]),
    ("imbalance_jax/design.py", "    counts = tuple(int(c) for c in facts.available)\n",
     "    counts = tuple(min(int(c), min(facts.available)) for c in facts.available)\n",
     "a study of the data as it is balanced at its smallest class", ["tests/test_as_is.py"]),
    ("imbalance_jax/conclusions.py", "            if len(means) < TREND_SETTINGS:", "            if len(means) < 2:",
     "conclusion 4's trend fitted over 3 settings' means, where the slope cannot be tested",
     ["tests/test_calibration.py"]),
]


def scratch_copy() -> str:
    """The repository's tracked files, as they are in the working tree, in a temporary folder."""
    target = tempfile.mkdtemp(prefix="mutations_")
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for path in tracked:
        if os.path.exists(os.path.join(ROOT, path)):
            os.makedirs(os.path.dirname(os.path.join(target, path)), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, path), os.path.join(target, path))
    return target


def run_tests(copy: str, tests: list) -> tuple[int, float]:
    """(pytest's exit status, seconds) of the tests in the copy."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([copy, os.path.join(copy, "tests")]))
    started = time.time()
    done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not slow",
                           *tests], cwd=copy,
                          env=env, capture_output=True, text=True)
    return done.returncode, time.time() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated mutation numbers (1-based)")
    parser.add_argument("--suite", action="store_true", help="run the whole suite against each mutation")
    args = parser.parse_args()
    chosen = [int(k) for k in args.only.split(",") if k] or range(1, len(MUTATIONS) + 1)
    copy = scratch_copy()
    missed = 0
    try:
        for k in chosen:
            path, old, new, what, tests = MUTATIONS[k - 1]
            original = open(os.path.join(copy, path)).read()
            if original.count(old) != 1:
                print(f"{k:2d} STALE   {what}: the text occurs {original.count(old)} times in {path}", flush=True)
                missed += 1
                continue
            target, stat = os.path.join(copy, path), os.stat(os.path.join(copy, path))
            open(target, "w").write(original.replace(old, new))
            # Cached bytecode is matched to its source by size and whole-second mtime: each mutation's own mtime
            # keeps one of the same size (or the original, written back within the second) from running as another.
            os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + k * 10 ** 9))
            try:
                status, seconds = run_tests(copy, [] if args.suite else tests)
            finally:
                open(target, "w").write(original)
                os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
            caught = status != 0
            missed += not caught
            print(f"{k:2d} {'caught' if caught else 'MISSED'}  {what} ({path}; {' '.join(tests) if not args.suite else 'suite'}, "
                  f"{seconds:.0f} s)", flush=True)
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    print(f"{len(chosen) - missed} of {len(chosen)} mutations caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
