"""Streamed batches decoded in grain's worker processes (`stream.loader='grain'`, the default).

A thread pool shares one interpreter, so decoding JPEGs on threads is bounded by the GIL (673
images/s on a 16-core host, 2,603 on 16 processes; docs/performance.md). Here each record of a
grain `MapDataset` is one network's batch at one step: the worker walks the network's index table
with the numpy twin of the on-device sampler, decodes, resizes and crops with the same seeds as
`streaming.BatchStream`, so both loaders give the same batches. A record is a pure function of
(inputs, step, network), so the stream's checkpoint is the cohort's step: a resumed cohort reopens
the dataset at that step, and no loader state needs saving.
"""
import atexit
import os

import grain
import numpy as np
from absl import flags

from imbalance_jax.data import streaming

# Records a worker prepares ahead of the one the trainer asks for (each is a batch: 38 MB at 256 x 224^2).
PREFETCH_PER_WORKER = 2


class NetworkBatches:
    """Record r of a cohort's stream: network r % N's batch at step r // N, as (images, positions)."""

    def __init__(self, data: streaming.StreamData, inputs, batch_size: int):
        self.data, self.batch_size = data, batch_size
        self.inputs = streaming.host_inputs(inputs)
        self.num_networks = len(self.inputs.lengths)

    def __call__(self, record: int):
        step, network = divmod(int(record), self.num_networks)
        positions = streaming.network_positions(self.inputs, step, network, self.batch_size)
        seed = int(self.inputs.seeds[network])
        images = np.stack([streaming.training_crop(self.data, p, seed, step, slot) for slot, p in enumerate(positions)])
        return images, positions


class GrainStream:
    """A cohort's batches, K steps at a time, from grain worker processes running ahead of the trainer."""

    def __init__(self, data: streaming.StreamData, inputs, batch_size: int, workers: int, end_step: int):
        """workers=0 reads in this process (grain's own convention)."""
        self.records = NetworkBatches(data, inputs, batch_size)
        self.workers, self.end_step = workers, end_step
        self._iterator, self._next_step = None, None

    def _open(self, step: int) -> None:
        self.close()
        if not flags.FLAGS.is_parsed():  # grain reads its absl flags; library callers (tests, notebooks) parse none
            flags.FLAGS.mark_as_parsed()
        # A run stopped by an error (an unreadable image) leaves batches read ahead in shared memory;
        # multiprocessing's resource tracker unlinks them at exit and would print a warning after the
        # one-line error. The tracker, started with grain's first batch, takes this filter from the environment.
        os.environ.setdefault("PYTHONWARNINGS", "ignore:resource_tracker:UserWarning")
        n = self.records.num_networks
        dataset = (grain.MapDataset.range(step * n, self.end_step * n).map(self.records)
                   .to_iter_dataset(grain.ReadOptions(num_threads=1, prefetch_buffer_size=PREFETCH_PER_WORKER))
                   .mp_prefetch(grain.MultiprocessingOptions(num_workers=self.workers)))
        self._iterator, self._next_step = iter(dataset), step
        atexit.register(self.close)  # an interrupted study exits mid-cohort: stop the workers before teardown

    def chunk(self, step: int, num_steps: int, next_num_steps: int = 0):
        """K steps of (images [K, N, B, crop, crop, 3], labels [K, N, B]); the workers read on meanwhile."""
        del next_num_steps  # grain's workers always run ahead
        if step != self._next_step:  # the first call, or a resume at another step
            self._open(step)
        n, data = self.records.num_networks, self.records.data
        records = [next(self._iterator) for _ in range(num_steps * n)]
        self._next_step = step + num_steps
        if self._next_step >= self.end_step:
            self.close()
        images = np.stack([r[0] for r in records]).reshape(num_steps, n, self.records.batch_size, data.crop,
                                                           data.crop, 3)
        positions = np.stack([r[1] for r in records]).reshape(num_steps, n, self.records.batch_size)
        return images, data.y_train[positions]

    def close(self) -> None:
        """Stops the worker processes."""
        if self._iterator is not None:
            self._iterator.close()
            atexit.unregister(self.close)
        self._iterator, self._next_step = None, None
