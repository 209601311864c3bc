"""Where a compiled step's time goes: jax.profiler traces read back as seconds per XLA op."""
import collections
import glob
import os
import re
import tempfile

import jax
from jax.profiler import ProfileData

# Events on XLA:CPU's threads that wrap or wait for the ops rather than being ops.
_CPU_SCAFFOLDING = ("ThunkExecutor", "SlinkyThreadPool", "Await", "TaskRunner", "ThreadpoolListener")


def op_times(xplane_path: str, op_names=None) -> dict[str, float]:
    """Seconds per XLA op summed over a trace: GPU ops from the device's 'XLA Ops' line (its
    stream lines when that is missing); on the CPU, the host events named like one of op_names
    (the compiled program's instructions), or without op_names those on XLA's worker threads."""
    data = ProfileData.from_file(xplane_path)
    times = collections.Counter()
    device_planes = [p for p in data.planes if p.name.startswith(("/device:GPU", "/device:TPU"))]
    for plane in device_planes:
        lines = list(plane.lines)
        chosen = [ln for ln in lines if ln.name == "XLA Ops"] or [ln for ln in lines if ln.name.startswith("Stream")]
        for line in chosen:
            for event in line.events:
                times[event.name] += event.duration_ns * 1e-9
    if not device_planes:
        for plane in data.planes:
            for line in plane.lines:
                # small programs run their ops on the calling thread, large ones on XLA's workers
                if op_names is None and not line.name.startswith("tf_XLAEigen"):
                    continue
                for event in line.events:
                    wanted = event.name in op_names if op_names is not None else not event.name.startswith(
                        _CPU_SCAFFOLDING)
                    if wanted:
                        times[event.name] += event.duration_ns * 1e-9
    return dict(times)


def profile_op_times(fn, *args, calls: int = 2, op_names=None) -> dict[str, float]:
    """Seconds per XLA op over `calls` calls of fn(*args) (compile it first: this traces run time only)."""
    with tempfile.TemporaryDirectory() as trace_dir:
        with jax.profiler.trace(trace_dir):
            for _ in range(calls):
                jax.block_until_ready(fn(*args))
        paths = glob.glob(os.path.join(trace_dir, "**", "*.xplane.pb"), recursive=True)
        if not paths:
            raise RuntimeError(f"jax.profiler wrote no .xplane.pb under {trace_dir}")
        return op_times(paths[0], op_names)


_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%?([\w.\-]+) = (\S+) ")
_OP_NAME = re.compile(r'op_name="([^"]+)"')
_CALLS = re.compile(r"calls=%?([\w.\-]+)")
_COMPUTATION = re.compile(r"^(?:ENTRY )?%?([\w.\-]+) .*\{\s*$")


def op_labels(compiled_hlo_text: str) -> dict[str, str]:
    """XLA instruction name -> its output shape and the jax operation it came from, for every
    instruction of compiled.as_text(); a fusion without its own metadata takes its root's."""
    op_name_of, calls_of, shape_of, root_op_name = {}, {}, {}, {}
    computation = None
    for line in compiled_hlo_text.splitlines():
        header = _COMPUTATION.match(line)
        if header and " = " not in line:
            computation = header.group(1)
            continue
        inst = _INSTRUCTION.match(line)
        if not inst:
            continue
        name, shape = inst.groups()
        shape_of[name] = shape
        op_name = _OP_NAME.search(line)
        if op_name:
            op_name_of[name] = op_name.group(1)
            if computation and (line.lstrip().startswith("ROOT") or computation not in root_op_name):
                root_op_name[computation] = op_name.group(1)
        called = _CALLS.search(line)
        if called:
            calls_of[name] = called.group(1)
    labels = {}
    for name, shape in shape_of.items():
        op_name = op_name_of.get(name) or root_op_name.get(calls_of.get(name, ""), "")
        # jit(chunk)/while/body/closed_call/transpose(jvp(bhwk,ko->bhwo))/dot_general -> the last two parts
        labels[name] = f"{shape} {'/'.join(op_name.split('/')[-2:])}".strip()
    return labels


def top_ops_table(times: dict[str, float], steps: int, top: int, labels: dict[str, str] | None = None) -> str:
    """The `top` ops by time: microseconds per training step, share of all op time, and what each op is."""
    labels = labels or {}
    total = sum(times.values()) or 1.0
    rows = sorted(times.items(), key=lambda kv: -kv[1])[:top]
    lines = [f"    op time per step {total / steps * 1e6:,.0f} us over {len(times)} ops; top {len(rows)}:"]
    lines += [f"    {t / steps * 1e6:>10,.1f} us {100 * t / total:5.1f}%  {name:28.28s} {labels.get(name, '')[:100]}"
              for name, t in rows]
    return "\n".join(lines)
