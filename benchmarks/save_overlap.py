"""How long a cohort's save stops training: the seconds save() blocks, for an interval save written in the
background (orbax's asynchronous checkpointing, the default) against the same save waited for. What remains
in the background case is the checksum and the copy to the host.

  uv run python benchmarks/save_overlap.py --networks=200
"""
import argparse
import os
import shutil
import tempfile
import time

import jax
import numpy as np

from imbalance_jax import checkpoint, train
from imbalance_jax.models import LeNet5


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=200)
    parser.add_argument("--saves", type=int, default=3)
    parser.add_argument("--train_seconds", type=float, default=5.0, help="training between saves (a sleep stands "
                        "for it: a background write has that long to finish)")
    args = parser.parse_args()
    state = train.init_state(LeNet5(), np.arange(args.networks), (28, 28, 1))
    size = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state)) / 2**20
    for wait in (False, True):
        folder = tempfile.mkdtemp()
        blocked = []
        with checkpoint.CohortCheckpoints(os.path.join(folder, "cohort")) as ckpt:
            for k in range(args.saves):
                started = time.perf_counter()
                ckpt.save(k + 1, state, {"networks": args.networks})
                if wait:
                    ckpt.finish()
                blocked.append(time.perf_counter() - started)
                time.sleep(args.train_seconds)
        shutil.rmtree(folder)
        print(f"{args.networks} LeNet-5 ({size:,.0f} MiB) on {jax.devices()[0].device_kind}: "
              f"{'waited for' if wait else 'in the background'}: save() blocks {np.median(blocked):.2f} s (median of "
              f"{args.saves})", flush=True)


if __name__ == "__main__":
    main()
