"""Many devices and hosts: a cohort's network axis sharded over local devices, batches data-parallel.

The mesh has two axes: 'networks' splits a cohort's networks across devices, 'data' splits each
network's batch (for one large network, such as ResNet-10 on ImageNet). With several hosts
(jax.distributed), each host trains its own share of the cohorts on its local devices.
"""
from typing import Optional

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P


def make_mesh(data_parallel: int = 1) -> Optional[Mesh]:
    """A ('networks', 'data') mesh over this host's devices, or None with a single device."""
    devices = jax.local_devices()
    if data_parallel < 1 or len(devices) % data_parallel:
        raise ValueError(f"data_parallel={data_parallel} must divide the {len(devices)} local devices")
    if len(devices) == 1:
        return None
    return Mesh(np.array(devices).reshape(len(devices) // data_parallel, data_parallel), ("networks", "data"))


def pad_networks(tree, multiple: int):
    """Pads every leaf with a leading network axis to a multiple of `multiple` by repeating the last network."""
    leaves = [x for x in jax.tree.leaves(tree) if np.ndim(x) > 0]
    n = leaves[0].shape[0]
    extra = -n % multiple
    if not extra:
        return tree

    def pad(x):
        if np.ndim(x) == 0:
            return x
        return jax.numpy.concatenate([x, jax.numpy.repeat(x[-1:], extra, axis=0)])

    return jax.tree.map(pad, tree)


def unpad_networks(tree, n: int):
    """Keeps the first n networks of every leaf with a network axis."""
    return jax.tree.map(lambda x: x if np.ndim(x) == 0 else x[:n], tree)


def shard_networks(tree, mesh: Mesh):
    """Places leaves with a network axis split over 'networks'; scalars replicated."""
    def place(x):
        spec = P() if np.ndim(x) == 0 else P("networks")
        return jax.device_put(x, NamedSharding(mesh, spec))
    return jax.tree.map(place, tree)


def replicate(tree, mesh: Mesh):
    """Places every leaf whole on every device of the mesh."""
    return jax.tree.map(lambda x: jax.device_put(x, NamedSharding(mesh, P())), tree)


def batch_sharding(mesh: Optional[Mesh]):
    """The sharding of [networks, batch] index arrays: networks over 'networks', batch over 'data'."""
    return None if mesh is None else NamedSharding(mesh, P("networks", "data"))


def my_cohorts(num_cohorts: int) -> list[int]:
    """The cohorts this host trains and evaluates: every process_count-th, from its process_index."""
    return list(range(jax.process_index(), num_cohorts, jax.process_count()))
