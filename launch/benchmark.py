"""Cohort training throughput on the study's real compiled step, random data, no files.

  uv run python -m launch.benchmark --num_networks=1,8,32
  uv run python -m launch.benchmark --model=allcnn --num_networks=1,8
  uv run python -m launch.benchmark --model=resnet10 --num_networks=1 --batch_size=16
  python -m launch.benchmark --num_networks=256,1024,2048 --compute_dtype=bfloat16   # on a GPU

Prints, per cohort size N: compile time, images/s summed over networks, and networks per hour
at the model's paper iteration count (for LeNet-5, the projected time of the 22,500-network grid).
"""
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from imbalance_jax import sampling, train
from imbalance_jax.models import get_model, resolve_conv_impl

_NUM_NETWORKS = flags.DEFINE_list("num_networks", ["1", "8", "32"], "Cohort sizes to measure.")
_STEPS = flags.DEFINE_integer("steps_per_call", 50, "Training steps per compiled call.")
_SECONDS = flags.DEFINE_float("seconds", 5.0, "Timed seconds per cohort size (after compiling).")
_CONV_IMPL = flags.DEFINE_enum("conv_impl", "auto", ["auto", "im2col", "xla"], "Conv lowering.")
_DTYPE = flags.DEFINE_enum("compute_dtype", "float32", ["float32", "bfloat16"], "Compute dtype.")
_DATA_SIZE = flags.DEFINE_integer("data_size", 50_000, "Images in the device-resident dataset.")
_MODEL = flags.DEFINE_enum("model", "lenet5", ["lenet5", "allcnn", "resnet10"], "Which model to train.")
_BATCH = flags.DEFINE_integer("batch_size", 0, "Batch per network; 0 takes the paper's for the model.")

# Per model: input shape, classes, the paper's batch, iterations, input transform, networks in its grid.
SETTINGS = {
    "lenet5": dict(shape=(28, 28, 1), classes=10, batch=64, iterations=10_000, preprocess="scale", grid=22_500),
    "allcnn": dict(shape=(32, 32, 3), classes=10, batch=256, iterations=70_000, preprocess="gcn_zca", grid=640),
    "resnet10": dict(shape=(224, 224, 3), classes=1000, batch=256, iterations=320_000, preprocess="scale", grid=15),
}


def measure(num_networks: int) -> dict:
    """Compile time and training throughput of one cohort size."""
    setting = SETTINGS[_MODEL.value]
    batch = _BATCH.value or setting["batch"]
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (_DATA_SIZE.value, *setting["shape"]), dtype=np.uint8)
    labels = rng.integers(0, setting["classes"], _DATA_SIZE.value).astype(np.int32)
    data = train.CohortData(jnp.asarray(images), jnp.asarray(labels))
    # Sets of different sizes, as an imbalance grid gives: half to all of the data.
    sets = [rng.choice(_DATA_SIZE.value, rng.integers(_DATA_SIZE.value // 2, _DATA_SIZE.value + 1),
                       replace=False) for _ in range(num_networks)]
    table = sampling.index_table(sets, width=_DATA_SIZE.value)
    plan = train.CohortPlan(jnp.asarray(table.indices), jnp.asarray(table.lengths),
                            jnp.arange(num_networks, dtype=jnp.uint32), jnp.ones(num_networks, jnp.float32),
                            jnp.zeros(num_networks, bool))
    model = get_model(_MODEL.value, num_classes=setting["classes"], conv_impl=_CONV_IMPL.value,
                      dtype=jnp.dtype(_DTYPE.value))
    hp = train.TrainHParams(batch_size=batch, preprocess=setting["preprocess"], base_lr=1e-3)
    chunk = train.make_train_chunk(model, hp)
    preprocess = None
    if setting["preprocess"] == "gcn_zca":  # an identity whitening costs what a fitted one does
        d = int(np.prod(setting["shape"]))
        preprocess = {"mean": jnp.zeros((num_networks, d)), "whiten": jnp.tile(jnp.eye(d), (num_networks, 1, 1))}
    state = train.init_state(model, np.arange(num_networks), setting["shape"], preprocess)
    steps = _STEPS.value
    t0 = time.perf_counter()
    state, _ = chunk(state, data, plan, steps)
    jax.block_until_ready(state)
    compile_s = time.perf_counter() - t0
    calls, t0 = 0, time.perf_counter()
    while calls == 0 or time.perf_counter() - t0 < _SECONDS.value:
        state, metrics = chunk(state, data, plan, steps)
        jax.block_until_ready(state)
        calls += 1
    elapsed = time.perf_counter() - t0
    if not bool(jnp.all(jnp.isfinite(metrics["loss"]))):
        raise RuntimeError(f"N={num_networks}: training diverged (non-finite loss)")
    images_per_s = calls * steps * batch * num_networks / elapsed
    networks_per_hour = images_per_s * 3600 / (setting["iterations"] * setting["batch"])
    return dict(n=num_networks, compile_s=compile_s, images_per_s=images_per_s,
                networks_per_hour=networks_per_hour, grid_hours=setting["grid"] / networks_per_hour)


def main(argv):
    del argv
    setting = SETTINGS[_MODEL.value]
    print(f"{_MODEL.value}, batch {_BATCH.value or setting['batch']} per network; jax {jax.__version__} on "
          f"{jax.devices()[0].device_kind} ({jax.default_backend()}), conv "
          f"{resolve_conv_impl(_CONV_IMPL.value, _MODEL.value)}, {_DTYPE.value}, "
          f"{_STEPS.value} steps per call", flush=True)
    print(f"{'N':>6} {'compile s':>10} {'images/s':>12} {'networks/h':>11} {'grid h':>10}   "
          f"(networks/h at {setting['iterations']:,} iterations of batch {setting['batch']}; "
          f"grid = the paper's {setting['grid']:,} networks)", flush=True)
    for n in _NUM_NETWORKS.value:
        r = measure(int(n))
        print(f"{r['n']:>6} {r['compile_s']:>10.1f} {r['images_per_s']:>12,.0f} {r['networks_per_hour']:>11,.1f} "
              f"{r['grid_hours']:>10,.1f}", flush=True)


if __name__ == "__main__":
    app.run(main)
