"""Where does vmapped LeNet-5 training time go on a GPU? Variants of one cohort step, N networks x 64.

Variants: conv lowering per layer (grouped conv from vmap, or im2col + batched matmul), max-pool
lowering (reduce_window, whose gradient is select_and_scatter, or reshape + max), dtype.
Usage: python benchmarks/lenet_variants.py [--small]
"""
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


def glorot(key, shape, fi, fo):
    lim = np.sqrt(6.0 / (fi + fo))
    return jax.random.uniform(key, shape, jnp.float32, -lim, lim)


def init(key):
    k = jax.random.split(key, 4)
    return dict(c1=glorot(k[0], (5, 5, 1, 20), 25, 500), b1=jnp.zeros(20),
                c2=glorot(k[1], (5, 5, 20, 50), 500, 1250), b2=jnp.zeros(50),
                f1=glorot(k[2], (800, 500), 800, 500), b3=jnp.zeros(500),
                f2=glorot(k[3], (500, 10), 500, 10), b4=jnp.zeros(10))


def pool_rw(x):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def pool_reshape(x):
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def conv(x, w, how, dt):
    x, w = x.astype(dt), w.astype(dt)
    if how == "conv":
        return lax.conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                        preferred_element_type=jnp.float32)
    kh, kw, ci, co = w.shape
    h, wd = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    p = jnp.concatenate([x[:, i:i + h, j:j + wd, :] for i in range(kh) for j in range(kw)], axis=-1)
    return jnp.einsum("bhwk,ko->bhwo", p, w.reshape(kh * kw * ci, co), preferred_element_type=jnp.float32)


def apply(p, x, c1, c2, pool, dt):
    x = pool(conv(x, p["c1"], c1, dt) + p["b1"])
    x = pool(conv(x, p["c2"], c2, dt) + p["b2"])
    x = x.reshape(x.shape[0], -1)
    x = jax.nn.relu(jnp.dot(x.astype(dt), p["f1"].astype(dt), preferred_element_type=jnp.float32) + p["b3"])
    return jnp.dot(x.astype(dt), p["f2"].astype(dt), preferred_element_type=jnp.float32) + p["b4"]


def make(c1, c2, pool, dt, steps, images, labels, n):
    """A jitted call of `steps` SGD-momentum steps of n networks, batch 64 each, on (images, labels)."""
    def loss(p, idx):
        x = images[idx].astype(jnp.float32) * (1 / 255)
        lg = apply(p, x, c1, c2, pool, dt)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(lg), labels[idx][:, None], 1))

    def one(p, m, key):
        idx = jax.random.randint(key, (64,), 0, images.shape[0])
        g = jax.grad(loss)(p, idx)
        m = jax.tree.map(lambda m_, g_, p_: 0.9 * m_ + g_ + 5e-4 * p_, m, g, p)
        return jax.tree.map(lambda p_, m_: p_ - 0.01 * m_, p, m), m

    @jax.jit
    def run(p, m, key):
        def body(c, k):
            return jax.vmap(one)(*c, jax.random.split(k, n)), None
        return lax.scan(body, (p, m), jax.random.split(key, steps))[0]
    return run


VARIANTS = [
    ("conv", "conv", pool_rw, jnp.float32),
    ("conv", "conv", pool_reshape, jnp.float32),
    ("conv", "im2col", pool_reshape, jnp.float32),
    ("conv", "im2col", pool_reshape, jnp.bfloat16),
    ("im2col", "im2col", pool_reshape, jnp.bfloat16),
    ("conv", "conv", pool_reshape, jnp.bfloat16),
]


def main():
    small = "--small" in sys.argv
    n, data_n, steps = (8, 2048, 10) if small else (1024, 60000, 50)
    images = jnp.asarray(np.random.default_rng(0).integers(0, 256, (data_n, 28, 28, 1), dtype=np.uint8))
    labels = jnp.asarray(np.random.default_rng(1).integers(0, 10, data_n).astype(np.int32))
    print("jax", jax.__version__, jax.devices(), "N", n, flush=True)
    # the variants compute the same function: check on one network's forward first
    p1 = init(jax.random.key(0))
    xx = jax.random.uniform(jax.random.key(1), (4, 28, 28, 1))
    ref = apply(p1, xx, "conv", "conv", pool_rw, jnp.float32)
    for c1, c2, pool in [("im2col", "im2col", pool_reshape), ("conv", "im2col", pool_reshape)]:
        out = apply(p1, xx, c1, c2, pool, jnp.float32)
        print("max |diff|", c1, c2, pool.__name__, float(jnp.max(jnp.abs(out - ref))), flush=True)
    for c1, c2, pool, dt in VARIANTS:
        p = jax.vmap(init)(jax.random.split(jax.random.key(2), n))
        m = jax.tree.map(jnp.zeros_like, p)
        run = make(c1, c2, pool, dt, steps, images, labels, n)
        t0 = time.perf_counter()
        p, m = run(p, m, jax.random.key(3))
        jax.block_until_ready(p)
        tc = time.perf_counter() - t0
        calls, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < (0.3 if small else 2.0):
            p, m = run(p, m, jax.random.key(4 + calls))
            calls += 1
            jax.block_until_ready(p)
        dt_s = time.perf_counter() - t0
        ok = bool(jnp.all(jnp.isfinite(p["f2"])))
        print(f"conv1={c1:6s} conv2={c2:6s} pool={pool.__name__:12s} {jnp.dtype(dt).name:8s} "
              f"{calls * steps * 64 * n / dt_s:12.0f} img/s  compile {tc:5.1f}s finite={ok}", flush=True)


if __name__ == "__main__":
    main()
