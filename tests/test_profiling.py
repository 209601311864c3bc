import jax
import jax.numpy as jnp

from imbalance_jax import profiling


def test_profile_names_the_ops_of_a_compiled_function_and_labels_them():
    @jax.jit
    def f(a, b):
        return jnp.tanh(a @ b).sum(0)

    a = jnp.ones((256, 256))
    jax.block_until_ready(f(a, a))
    labels = profiling.op_labels(f.lower(a, a).compile().as_text())
    assert any("dot_general" in label for label in labels.values())
    times = profiling.profile_op_times(f, a, a, calls=2, op_names=set(labels))
    # the ops the trace saw are the program's own instructions, and they took time
    assert times and set(times) <= set(labels) and sum(times.values()) > 0
    table = profiling.top_ops_table(times, steps=2, top=2, labels=labels)
    lines = table.splitlines()
    assert lines[0].startswith("    op time per step") and len(lines) == 1 + min(2, len(times))
    slowest = max(times, key=times.get)
    assert slowest in lines[1] and labels[slowest] in lines[1]
