"""Every numeric config value range-checked before anything loads or compiles: one line names the key,
the value and the allowed range."""
import math
import numbers

import ml_collections

# key: (check, allowed range in words); a value failing check is refused.
_WHOLE_AT_LEAST_1 = (lambda v: _whole(v) and v >= 1, "a whole number >= 1")
_WHOLE_AT_LEAST_0 = (lambda v: _whole(v) and v >= 0, "a whole number >= 0")
_POSITIVE = (lambda v: _real(v) and v > 0, "a number > 0")
_NON_NEGATIVE = (lambda v: _real(v) and v >= 0, "a number >= 0")
_FRACTION = (lambda v: _real(v) and 0 <= v < 1, "a number in [0, 1)")
_RATIO = (lambda v: _real(v) and v >= 1, "a number >= 1")
_OPEN_FRACTION = (lambda v: _real(v) and 0 < v < 1, "a number in (0, 1)")

SCALARS = {
    "train.iterations": _WHOLE_AT_LEAST_1, "train.batch_size": _WHOLE_AT_LEAST_1, "resplits": _WHOLE_AT_LEAST_1,
    "train.base_lr": _POSITIVE, "train.lr_repeats": _WHOLE_AT_LEAST_1, "train.momentum": _FRACTION,
    "train.weight_decay": _NON_NEGATIVE, "train.lr_gamma": _POSITIVE, "train.lr_power": _NON_NEGATIVE,
    "train.input_scale": _POSITIVE, "train.warmup_steps": _WHOLE_AT_LEAST_0,
    "imbalance.repetitions": _WHOLE_AT_LEAST_0, "train_per_class": _WHOLE_AT_LEAST_0,
    "test_per_class": _WHOLE_AT_LEAST_0, "data_seed": _WHOLE_AT_LEAST_0, "seed": _WHOLE_AT_LEAST_0,
    "steps_per_call": _WHOLE_AT_LEAST_1, "eval_batch_size": _WHOLE_AT_LEAST_1, "cohort_size": _WHOLE_AT_LEAST_0,
    "checkpoint_every": _WHOLE_AT_LEAST_0, "curve_every": _WHOLE_AT_LEAST_0, "data_parallel": _WHOLE_AT_LEAST_1,
    "networks_per_vmap": _WHOLE_AT_LEAST_0, "two_phase_lr_factor": _POSITIVE, "zca_epsilon": _POSITIVE,
    "losses.focal_gamma": _NON_NEGATIVE, "losses.effective_beta": _FRACTION, "losses.ldam_max_margin": _POSITIVE,
    "losses.ldam_scale": _POSITIVE, "losses.drw_fraction": (lambda v: _real(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "stream.resize": _WHOLE_AT_LEAST_1, "stream.crop": _WHOLE_AT_LEAST_1, "stream.workers": _WHOLE_AT_LEAST_1,
    "crt_fraction": (lambda v: _real(v) and 0 < v <= 1, "a number in (0, 1]"),
    "statistics.margin": _OPEN_FRACTION, "statistics.target_difference": _OPEN_FRACTION,
}
SEQUENCES = {
    "train.lr_grid": _POSITIVE, "train.lr_steps": _WHOLE_AT_LEAST_1, "imbalance.step_rhos": _RATIO,
    "imbalance.step_mus": _OPEN_FRACTION, "imbalance.linear_rhos": _RATIO, "imbalance.exponential_rhos": _RATIO,
}


def _real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _whole(v) -> bool:
    return _real(v) and float(v) == int(v)


def _get(config, key):
    node = config
    for part in key.split("."):
        if part not in node:
            return None
        node = node[part]
    return node


def check_config(config: ml_collections.ConfigDict) -> None:
    """Raises ValueError (one line: key, value, allowed range) for the first value out of range."""
    for key, (ok, allowed) in SCALARS.items():
        value = _get(config, key)
        if value is not None and not ok(value):
            raise ValueError(f"config.{key}={value!r} is out of range; use {allowed}")
    for key, (ok, allowed) in SEQUENCES.items():
        values = _get(config, key)
        for value in values or ():
            if not ok(value):
                raise ValueError(f"config.{key} holds {value!r}; every entry must be {allowed}")
    for entry in _get(config, "imbalance.step_settings") or ():
        if len(entry) != 3 or not (_OPEN_FRACTION[0](entry[0]) and _RATIO[0](entry[1]) and _WHOLE_AT_LEAST_1[0](entry[2])):
            raise ValueError(f"config.imbalance.step_settings holds {tuple(entry)!r}; each entry is (mu in (0, 1), "
                             "rho >= 1, repetitions >= 1)")
    schedule = _get(config, "crt_schedule")
    if schedule is not None and schedule not in ("study", "kang2020"):
        raise ValueError(f"config.crt_schedule={schedule!r} is unknown; use 'study' or 'kang2020'")
    _check_study_shape(config)


def _check_study_shape(config) -> None:
    """Relations between values: a grid with networks in it, steps inside the run."""
    grid = config.imbalance
    if grid.repetitions == 0 and not grid.get("step_settings"):
        raise ValueError("config.imbalance.repetitions=0 plans no network; use a whole number >= 1")
    iterations = config.train.iterations
    for step in config.train.get("lr_steps", ()):
        if step >= iterations:
            raise ValueError(f"config.train.lr_steps holds {step}, not before train.iterations={iterations}; "
                             "use steps below it")
    warmup = config.train.get("warmup_steps", 0)
    if config.train.lr_policy.startswith("warmup") and not 0 < warmup < iterations:
        raise ValueError(f"config.train.warmup_steps={warmup} must be in [1, train.iterations={iterations}) "
                         f"for lr_policy={config.train.lr_policy!r}")
