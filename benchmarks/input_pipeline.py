"""The streamed ImageNet input pipeline's images/s on this host, over synthetic JPEGs of ImageNet's sizes.

  uv run python benchmarks/input_pipeline.py --images=2000 --workers=8,16
  uv run python benchmarks/input_pipeline.py --images=64 --batch_size=16 --seconds=1   # a smoke run

Writes --images JPEGs (ILSVRC-2012's common sizes, 500x375 and its kin, smooth content so files are
~100 KB like real photos), then times, per worker count:
  * `threads`: the study's own `BatchStream` (decode, resize shorter side to 256, random 224 crop and
    flip, on a thread pool), K steps of one network's batches at a time, exactly as training asks;
  * `processes`: the same per-image work on a bare process pool (no sampler, no batching: the
    ceiling of any multiprocess loader);
  * `grain`: the study's `GrainStream` (`stream.loader='grain'`), the same batches as `threads`, decoded
    in grain's worker processes.
Compare with `launch.benchmark --model=resnet10 --batch_size=256`: the pipeline must outrun the step.
--json_out appends each row as a JSON line.
"""
import concurrent.futures
import json
import multiprocessing
import os
import tempfile
import time

import numpy as np
from absl import app, flags
from PIL import Image

from imbalance_jax import train
from imbalance_jax.data import grain_stream, streaming

_IMAGES = flags.DEFINE_integer("images", 2000, "Synthetic JPEGs to write and read.")
_WORKERS = flags.DEFINE_list("workers", ["8", "16"], "Worker counts to measure.")
_BATCH = flags.DEFINE_integer("batch_size", 256, "Images per step (ResNet-10's batch).")
_STEPS = flags.DEFINE_integer("steps_per_chunk", 4, "Steps of batches prepared per call, as the stream does.")
_SECONDS = flags.DEFINE_float("seconds", 4.0, "Timed seconds per row.")
_FOLDER = flags.DEFINE_string("folder", "", "Where to write the JPEGs; empty: a temporary folder.")
_JSON_OUT = flags.DEFINE_string("json_out", "", "Append each row as a JSON line to this file.")

# ILSVRC-2012 training images: most are 500 px on the long side; a few are larger.
SIZES = ((500, 375), (375, 500), (500, 333), (500, 400), (500, 500), (640, 480), (800, 600))
SIZE_WEIGHTS = (0.45, 0.15, 0.15, 0.1, 0.05, 0.06, 0.04)
# forking a process that runs JAX's threads can deadlock
FORKSERVER = multiprocessing.get_context("forkserver")


def write_jpeg(args) -> int:
    """Writes one smooth random photo-sized JPEG; returns its size in bytes."""
    path, seed = args
    rng = np.random.default_rng(seed)
    w, h = SIZES[rng.choice(len(SIZES), p=SIZE_WEIGHTS)]
    coarse = rng.integers(0, 256, (h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize((w, h), Image.BICUBIC)
    noisy = np.clip(np.asarray(image, np.int16) + rng.integers(-12, 13, (h, w, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(noisy).save(path, quality=90)
    return os.path.getsize(path)


def crop_one(args) -> np.ndarray:
    """The training transform of one image, for the process pool."""
    path, seed = args
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"))
    return streaming.random_crop_flip(streaming.resize_shorter_side(pixels, 256), 224, np.random.default_rng(seed))


def stream_for(source: streaming.FolderSource, workers: int, loader: str):
    """The study's stream over the folder (BatchStream or GrainStream): one network sampling the whole set."""
    n = len(source)
    data = streaming.StreamData(source, np.arange(n), source.labels, source, np.arange(n), source.labels,
                                1000, n, 256, 224)
    inputs = train.plain_inputs([np.arange(n)], width=n)
    if loader == "grain":
        return grain_stream.GrainStream(data, inputs, _BATCH.value, workers, end_step=2**31 // _BATCH.value)
    return streaming.BatchStream(data, inputs, _BATCH.value, workers=workers)


def chunks_of(stream):
    """A call that reads the stream's next K steps and returns how many images they hold."""
    step = [0]

    def call():
        images, _ = stream.chunk(step[0], _STEPS.value, _STEPS.value)
        step[0] += _STEPS.value
        return images.size // (224 * 224 * 3)
    return call


def timed(call) -> float:
    """Images/s of repeated calls of `call` (which returns how many images it prepared)."""
    call()  # warm: pools started, files in the page cache
    images, t0 = 0, time.perf_counter()
    while images == 0 or time.perf_counter() - t0 < _SECONDS.value:
        images += call()
    return images / (time.perf_counter() - t0)


def main(argv):
    del argv
    folder = _FOLDER.value or tempfile.mkdtemp(prefix="jpegs_")
    os.makedirs(folder, exist_ok=True)
    paths = [os.path.join(folder, f"{i:06d}.jpg") for i in range(_IMAGES.value)]
    t0 = time.perf_counter()
    with concurrent.futures.ProcessPoolExecutor(os.cpu_count(), mp_context=FORKSERVER) as pool:
        sizes = list(pool.map(write_jpeg, zip(paths, range(len(paths))), chunksize=16))
    print(f"{len(paths)} JPEGs, mean {np.mean(sizes) / 1e3:.0f} KB, written in {time.perf_counter() - t0:.1f} s "
          f"on {os.cpu_count()} cores", flush=True)
    source = streaming.FolderSource(paths, np.arange(len(paths), dtype=np.int32) % 1000)
    per_call = _STEPS.value * _BATCH.value
    for workers in map(int, _WORKERS.value):
        rows = {}
        for loader in ("threads", "grain"):
            stream = stream_for(source, workers, loader)
            rows[loader] = timed(chunks_of(stream))
            stream.close()
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=FORKSERVER) as pool:
            seeds = iter(range(10**9))

            def processes():
                picks = np.random.default_rng(next(seeds)).integers(0, len(paths), per_call)
                return len(list(pool.map(crop_one, [(paths[p], next(seeds)) for p in picks], chunksize=8)))
            rows["processes"] = timed(processes)
        for kind, rate in rows.items():
            row = dict(benchmark="input_pipeline", kind=kind, workers=workers, cores=os.cpu_count(),
                       batch=_BATCH.value, images_per_s=rate, mean_jpeg_kb=float(np.mean(sizes) / 1e3))
            print(f"{kind:>10} {workers:>3} workers: {rate:10,.0f} images/s", flush=True)
            if _JSON_OUT.value:
                with open(_JSON_OUT.value, "a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    app.run(main)
