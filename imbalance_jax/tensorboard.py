"""TensorBoard event files without TensorFlow: scalar summaries as Event protocol buffers in TFRecord
framing, the format TensorBoard reads (tensorboard/compat/proto/event.proto, summary.proto).

A study writes workdir/tensorboard/: per (setting, method) the mean training loss and accuracy over
its networks after every compiled call, their test accuracy at every curve point, and each cohort's
images/s. Open it with `uv run --with tensorboard tensorboard --logdir <workdir>/tensorboard`.
Written by hand (60 lines) rather than through a new dependency: only scalars are needed.
"""
import os
import socket
import struct
import time
from collections import defaultdict

import numpy as np

from imbalance_jax.results import setting_label


def _crc32c_table() -> list:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as TFRecord framing uses."""
    c = 0xFFFFFFFF
    for byte in data:
        c = _CRC_TABLE[(c ^ byte) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def _masked(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:  # a length-delimited field
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def event(wall_time: float, step: int = 0, scalars: dict = None, file_version: str = None) -> bytes:
    """One serialized Event: a file-version marker, or scalar summaries {tag: value} at a step."""
    out = _varint(1 << 3 | 1) + struct.pack("<d", wall_time) + _varint(2 << 3 | 0) + _varint(step)
    if file_version:
        out += _field(3, file_version.encode())
    if scalars:
        values = b"".join(_field(1, _field(1, tag.encode()) + _varint(2 << 3 | 5) + struct.pack("<f", value))
                          for tag, value in scalars.items())
        out += _field(5, values)
    return out


def record(data: bytes) -> bytes:
    """TFRecord framing: length, its masked CRC, the data, its masked CRC."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", _masked(crc32c(length))) + data + struct.pack("<I", _masked(crc32c(data)))


class EventWriter:
    """Appends scalar summaries to one events file in logdir."""

    def __init__(self, logdir: str):
        os.makedirs(logdir, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}"
        self.path = os.path.join(logdir, name)
        self._file = open(self.path, "ab")
        self._file.write(record(event(time.time(), file_version="brain.Event:2")))

    def scalars(self, step: int, values: dict) -> None:
        """Writes {tag: value} at a step (non-finite values are skipped: a diverged group has none)."""
        finite = {tag: float(v) for tag, v in values.items() if np.isfinite(v)}
        if finite:
            self._file.write(record(event(time.time(), int(step), finite)))
            self._file.flush()

    def close(self) -> None:
        """Closes the file."""
        self._file.close()


class CohortBoard:
    """A cohort's TensorBoard scalars, averaged per (setting, method) over its networks."""

    def __init__(self, writer: EventWriter, networks: list, cohort_id: str):
        self.writer, self.cohort_id = writer, cohort_id
        self.groups = defaultdict(list)
        for j, n in enumerate(networks):
            setting = setting_label({"imbalance": n.imbalance, "rho": n.rho, "mu": n.mu})
            self.groups[f"{setting}/{n.method}"].append(j)

    def _means(self, prefix: str, values) -> dict:
        values = np.asarray(values, np.float64)
        out = {}
        for group, members in self.groups.items():
            finite = values[members][np.isfinite(values[members])]
            out[f"{prefix}/{group}"] = finite.mean() if finite.size else float("nan")
        return out

    def training(self, step: int, loss, accuracy, images_per_s: float = float("nan")) -> None:
        """After a compiled call: mean training loss and accuracy per group, the cohort's images/s."""
        scalars = {**self._means("train_loss", loss), **self._means("train_accuracy", accuracy),
                   f"images_per_s/{self.cohort_id}": images_per_s}
        self.writer.scalars(step, scalars)

    def test_accuracy(self, step: int, accuracy) -> None:
        """At a curve point: mean test accuracy per group."""
        self.writer.scalars(step, self._means("test_accuracy", accuracy))
