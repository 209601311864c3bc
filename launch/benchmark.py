"""Cohort training throughput on the study's real compiled step, random data, no files.

  uv run python -m launch.benchmark --num_networks=1,8,32
  uv run python -m launch.benchmark --model=allcnn --num_networks=1,8
  uv run python -m launch.benchmark --model=resnet10 --num_networks=1 --batch_size=16
  python -m launch.benchmark --num_networks=1024,2048 --compute_dtype=bfloat16 --conv_impl=im2col,taps/im2col

Prints, per (conv lowering, dtype, steps per call, cohort size N): compile time, images/s summed
over networks, and networks per hour at the model's paper iteration count (for LeNet-5, the
projected time of the 22,500-network grid). --json_out appends each row as a JSON line.
"""
import itertools
import json

import jax
import jax.numpy as jnp
from absl import app, flags

from imbalance_jax import cli, estimate, profiling, train
from imbalance_jax.models import get_model, resolve_conv_impl

_NUM_NETWORKS = flags.DEFINE_list("num_networks", ["1", "8", "32"], "Cohort sizes to measure.")
_STEPS = flags.DEFINE_list("steps_per_call", ["50"], "Training steps per compiled call (one or several).")
_SECONDS = flags.DEFINE_float("seconds", 5.0, "Timed seconds per row (after compiling).")
_CONV_IMPL = flags.DEFINE_list("conv_impl", ["auto"], "Conv lowerings: auto, im2col, xla, taps, pallas, or "
                               "LeNet-5's conv1/conv2 pair such as taps/im2col.")
_DTYPE = flags.DEFINE_list("compute_dtype", ["float32"], "Compute dtypes: float32, bfloat16.")
_JSON_OUT = flags.DEFINE_string("json_out", "", "Append each measured row as a JSON line to this file.")
_NETWORKS_PER_VMAP = flags.DEFINE_integer("networks_per_vmap", 0, "Networks stepped at once (lax.map over "
                                          "groups); 0: vmap over the whole cohort.")
_PROFILE_TOP = flags.DEFINE_integer("profile_top", 0, "After each row, trace one call with jax.profiler and "
                                    "print this many XLA ops by time per step (0: no profile).")
_DATA_SIZE = flags.DEFINE_integer("data_size", 50_000, "Images in the device-resident dataset.")
_MODEL = flags.DEFINE_enum("model", "lenet5", ["lenet5", "allcnn", "resnet10"], "Which model to train.")
_BATCH = flags.DEFINE_integer("batch_size", 0, "Batch per network; 0 takes the paper's for the model.")
_DRY_RUN = flags.DEFINE_bool("dry_run", False, "Check the flags and print the rows it would measure, then exit.")

# Per model: input shape, classes, the paper's batch, iterations, input transform, networks in its grid.
SETTINGS = {
    "lenet5": dict(shape=(28, 28, 1), classes=10, batch=64, iterations=10_000, preprocess="scale", grid=22_500),
    "allcnn": dict(shape=(32, 32, 3), classes=10, batch=256, iterations=70_000, preprocess="gcn_zca", grid=640),
    "resnet10": dict(shape=(224, 224, 3), classes=1000, batch=256, iterations=320_000, preprocess="scale", grid=15),
}


def measure(num_networks: int, conv_impl: str, dtype: str, steps: int) -> dict:
    """Compile time and training throughput of one cohort size, lowering, dtype and scan length."""
    setting = SETTINGS[_MODEL.value]
    batch = _BATCH.value or setting["batch"]
    model = get_model(_MODEL.value, num_classes=setting["classes"], conv_impl=conv_impl, dtype=jnp.dtype(dtype),
                      networks_per_vmap=_NETWORKS_PER_VMAP.value)
    hp = train.TrainHParams(batch_size=batch, preprocess=setting["preprocess"], base_lr=1e-3,
                            networks_per_vmap=_NETWORKS_PER_VMAP.value)
    chunk = train.make_train_chunk(model, hp)
    state, data, inputs = estimate.random_cohort(model, hp, (_DATA_SIZE.value, *setting["shape"]), num_networks,
                                               setting["classes"], varied_sets=True)
    state, metrics, calls_per_s, compile_s = estimate.timed_calls(chunk, state, data, inputs, steps, _SECONDS.value)
    if not bool(jnp.all(jnp.isfinite(metrics["loss"]))):
        raise RuntimeError(f"N={num_networks}: training diverged (non-finite loss)")
    images_per_s = calls_per_s * steps * batch * num_networks
    networks_per_hour = images_per_s * 3600 / (setting["iterations"] * setting["batch"])
    row = dict(model=_MODEL.value, device=jax.devices()[0].device_kind, conv=conv_impl, dtype=dtype, steps=steps,
               n=num_networks, networks_per_vmap=_NETWORKS_PER_VMAP.value, compile_s=compile_s,
               images_per_s=images_per_s, networks_per_hour=networks_per_hour,
               grid_hours=setting["grid"] / networks_per_hour)
    if _PROFILE_TOP.value:
        carried = [state]  # the chunk donates its state: each call trains on the last one's output

        def one_call():
            carried[0], _ = chunk(carried[0], data, inputs, steps)
            return carried[0]
        try:  # the throughput row stands without its profile (a profiler missing on some machine)
            labels = profiling.op_labels(chunk.lower(carried[0], data, inputs, steps).compile().as_text())
            times = profiling.profile_op_times(one_call, calls=1, op_names=set(labels))
        except Exception as e:  # noqa: BLE001
            row["profile"] = f"    profile failed: {str(e).splitlines()[0][:200]}"
            return row
        row["top_ops_us_per_step"] = {f"{name} {labels.get(name, '')}": t / steps * 1e6 for name, t in
                                      sorted(times.items(), key=lambda kv: -kv[1])[:_PROFILE_TOP.value]}
        row["profile"] = profiling.top_ops_table(times, steps, _PROFILE_TOP.value, labels)
    return row


def main(argv):
    del argv
    setting = SETTINGS[_MODEL.value]
    with cli.one_line_errors():
        for name in _DTYPE.value:
            if name not in ("float32", "bfloat16"):
                raise ValueError(f"--compute_dtype={name!r} is unknown; use float32 or bfloat16")
        lowerings = [resolve_conv_impl(c, _MODEL.value, _NETWORKS_PER_VMAP.value) for c in _CONV_IMPL.value]
        for name, values in (("num_networks", _NUM_NETWORKS.value), ("steps_per_call", _STEPS.value)):
            if not all(v.isdigit() and int(v) > 0 for v in values):
                raise ValueError(f"--{name}={','.join(values)}: give whole numbers > 0, e.g. --{name}=1,8")
    if _DRY_RUN.value:
        rows = list(itertools.product(lowerings, _DTYPE.value, _STEPS.value, _NUM_NETWORKS.value))
        print(f"dry run: {len(rows)} rows of {_MODEL.value} (conv, dtype, steps per call, N): {rows}")
        return
    print(f"{_MODEL.value}, batch {_BATCH.value or setting['batch']} per network; jax {jax.__version__} on "
          f"{jax.devices()[0].device_kind} ({jax.default_backend()}); networks/h at {setting['iterations']:,} "
          f"iterations; grid h = the paper's {setting['grid']:,} networks"
          + (f"; networks stepped {_NETWORKS_PER_VMAP.value} at a time" if _NETWORKS_PER_VMAP.value else ""),
          flush=True)
    print(f"{'conv':>12} {'dtype':>9} {'steps':>5} {'N':>6} {'compile s':>10} {'images/s':>12} {'networks/h':>11} "
          f"{'grid h':>8}", flush=True)
    for conv, dtype, steps, n in itertools.product(lowerings, _DTYPE.value, _STEPS.value, _NUM_NETWORKS.value):
        try:
            r = measure(int(n), conv, dtype, int(steps))
        except Exception as e:  # e.g. out of memory at the largest N: report the row, measure the rest
            print(f"{conv:>12} {dtype:>9} {steps:>5} {n:>6} failed: {str(e).splitlines()[0][:200]}", flush=True)
            continue
        print(f"{conv:>12} {dtype:>9} {steps:>5} {r['n']:>6} {r['compile_s']:>10.1f} {r['images_per_s']:>12,.0f} "
              f"{r['networks_per_hour']:>11,.1f} {r['grid_hours']:>8,.1f}", flush=True)
        if "profile" in r:
            print(r.pop("profile"), flush=True)
        if _JSON_OUT.value:
            with open(_JSON_OUT.value, "a") as f:
                f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    app.run(main)  # no study config: the flags are the benchmark's own
