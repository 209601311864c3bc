"""Peer benchmark: LeNet-5 / All-CNN training speed in plain JAX and in PyTorch, side by side.

Run it in the same job as the project's own benchmark to quote ratios on one card.

Measures, in one process, on whatever device JAX and PyTorch see:
  * the card's ceilings (large matmul, fp32 and bf16),
  * a PyTorch peer: one LeNet-5 at a time (the way the original study trained),
    and PyTorch's own ensemble route (torch.func.vmap over stacked parameters),
  * JAX: N LeNet-5 networks trained at once with vmap, two conv lowerings
    (lax.conv under vmap, and im2col patches + batched matmul),
  * All-CNN (batch 256) single-network throughput, JAX vs PyTorch.
Prints one table; everything is images/second summed over networks.
Usage: python benchmarks/peer_bench.py [--small] [--json_out=rows.json]   (--small: CPU smoke sizes; the
torch rows need `uv sync --extra torch` or PyTorch installed; --json_out: every row as JSON too)
"""
import json
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

# Set by configure() (main() calls it): the sizes and the synthetic MNIST-shaped data every bench reads.
SMALL = False
DATA_N = 0
X_np = Y_np = X = Y = None
RESULTS = []


def record(name, value, unit, **extra):
    RESULTS.append(dict(name=name, value=value, unit=unit, **extra))
    print(f"{name:55s} {value:14.1f} {unit}", flush=True)


def configure(small: bool) -> None:
    """CPU smoke sizes (small) or the card's, and the synthetic data (60,000 images; 2,048 when small)."""
    global SMALL, DATA_N, X_np, Y_np, X, Y
    SMALL, DATA_N = small, 2048 if small else 60000
    rng = np.random.default_rng(0)
    X_np = rng.random((DATA_N, 28, 28, 1), dtype=np.float32)
    Y_np = rng.integers(0, 10, DATA_N).astype(np.int32)
    X, Y = jnp.asarray(X_np), jnp.asarray(Y_np)


# --------------------------------------------------------------------------- JAX


def glorot(key, shape, fan_in, fan_out):
    lim = np.sqrt(6.0 / (fan_in + fan_out))
    return jax.random.uniform(key, shape, jnp.float32, -lim, lim)


def lenet_init(key):
    k = jax.random.split(key, 4)
    return dict(
        c1=glorot(k[0], (5, 5, 1, 20), 25, 500), b1=jnp.zeros(20),
        c2=glorot(k[1], (5, 5, 20, 50), 500, 1250), b2=jnp.zeros(50),
        f1=glorot(k[2], (800, 500), 800, 500), b3=jnp.zeros(500),
        f2=glorot(k[3], (500, 10), 500, 10), b4=jnp.zeros(10),
    )


def maxpool2(x):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def conv(x, w, mode, dtype):
    x = x.astype(dtype)
    w = w.astype(dtype)
    if mode == "conv":
        return lax.conv_general_dilated(x, w, (1, 1), "VALID",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                        preferred_element_type=jnp.float32)
    # im2col: patches (B, H', W', C*kh*kw) with channel-major feature order
    kh, kw, cin, cout = w.shape
    p = lax.conv_general_dilated_patches(x, (kh, kw), (1, 1), "VALID",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
    wm = jnp.transpose(w, (2, 0, 1, 3)).reshape(cin * kh * kw, cout)
    return jnp.einsum("bhwk,ko->bhwo", p, wm, preferred_element_type=jnp.float32)


def lenet_apply(p, x, mode="conv", dtype=jnp.float32):
    x = maxpool2(conv(x, p["c1"], mode, dtype) + p["b1"])
    x = maxpool2(conv(x, p["c2"], mode, dtype) + p["b2"])
    x = x.reshape(x.shape[0], -1)
    x = jax.nn.relu(jnp.dot(x.astype(dtype), p["f1"].astype(dtype),
                            preferred_element_type=jnp.float32) + p["b3"])
    return jnp.dot(x.astype(dtype), p["f2"].astype(dtype),
                   preferred_element_type=jnp.float32) + p["b4"]


def make_train(mode, dtype, n_models, steps_per_call, batch=64, lr=0.01, wd=5e-4):
    def loss_fn(p, idx):
        logits = lenet_apply(p, X[idx], mode, dtype)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), Y[idx][:, None], 1))

    def one_step(p, m, key):
        idx = jax.random.randint(key, (batch,), 0, DATA_N)
        g = jax.grad(loss_fn)(p, idx)
        g = jax.tree.map(lambda g_, p_: g_ + wd * p_, g, p)
        m = jax.tree.map(lambda m_, g_: 0.9 * m_ + g_, m, g)
        p = jax.tree.map(lambda p_, m_: p_ - lr * m_, p, m)
        return p, m

    vstep = jax.vmap(one_step)

    @jax.jit
    def run(p, m, key):
        def body(carry, k):
            p, m = carry
            return vstep(p, m, jax.random.split(k, n_models)), None
        (p, m), _ = lax.scan(body, (p, m), jax.random.split(key, steps_per_call))
        return p, m

    return run


def bench_jax_lenet(mode, dtype, n_models, target_s=3.0):
    steps = 20 if SMALL else 100
    p = jax.vmap(lenet_init)(jax.random.split(jax.random.key(1), n_models))
    m = jax.tree.map(jnp.zeros_like, p)
    run = make_train(mode, dtype, n_models, steps)
    t0 = time.perf_counter()
    p, m = run(p, m, jax.random.key(2))
    jax.block_until_ready(p)
    compile_s = time.perf_counter() - t0
    calls, t0 = 0, time.perf_counter()
    while True:
        p, m = run(p, m, jax.random.key(3 + calls))
        calls += 1
        if calls % 2 == 0:
            jax.block_until_ready(p)
            if time.perf_counter() - t0 > (0.5 if SMALL else target_s):
                break
    jax.block_until_ready(p)
    dt = time.perf_counter() - t0
    ips = calls * steps * 64 * n_models / dt
    finite = bool(jnp.all(jnp.isfinite(p["f2"])))
    record(f"jax lenet {mode} {jnp.dtype(dtype).name} N={n_models}", ips, "img/s",
           compile_s=round(compile_s, 1), finite=finite)
    return ips


def bench_matmul():
    n = 1024 if SMALL else 8192
    for dt in (jnp.float32, jnp.bfloat16):
        a = jax.random.normal(jax.random.key(0), (n, n), dt)
        b = jax.random.normal(jax.random.key(1), (n, n), dt)
        f = jax.jit(lambda a, b: a @ b)
        f(a, b).block_until_ready()
        reps = 3 if SMALL else 20
        t0 = time.perf_counter()
        for _ in range(reps):
            c = f(a, b)
        c.block_until_ready()
        dt_s = (time.perf_counter() - t0) / reps
        record(f"jax matmul {n}^3 {jnp.dtype(dt).name}", 2 * n ** 3 / dt_s / 1e12, "TFLOP/s")


# All-CNN (Springenberg et al.), the study's CIFAR-10 model, dropout omitted for timing.
ALLCNN = [(3, 96, 1, 1), (3, 96, 1, 1), (3, 96, 2, 1), (3, 192, 1, 1), (3, 192, 1, 1),
          (3, 192, 2, 1), (3, 192, 1, 0), (1, 192, 1, 0), (1, 10, 1, 0)]


def allcnn_init(key):
    ps, cin = [], 3
    for i, (k, cout, _, _) in enumerate(ALLCNN):
        ps.append((glorot(jax.random.fold_in(key, i), (k, k, cin, cout), k * k * cin, k * k * cout),
                   jnp.zeros(cout)))
        cin = cout
    return ps


def allcnn_apply(ps, x, dtype):
    for (w, b), (k, cout, s, pad) in zip(ps, ALLCNN):
        x = lax.conv_general_dilated(x.astype(dtype), w.astype(dtype), (s, s), [(pad, pad)] * 2,
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                     preferred_element_type=jnp.float32) + b
        x = jax.nn.relu(x)
    return x.mean(axis=(1, 2))


def bench_jax_allcnn(dtype, batch=256):
    bs = 16 if SMALL else batch
    xc = jax.random.normal(jax.random.key(0), (8 * bs, 32, 32, 3))
    yc = jax.random.randint(jax.random.key(1), (8 * bs,), 0, 10)
    ps = allcnn_init(jax.random.key(2))
    mom = jax.tree.map(jnp.zeros_like, ps)

    def loss_fn(ps, x, y):
        lg = allcnn_apply(ps, x, dtype)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(lg), y[:, None], 1))

    @jax.jit
    def step(ps, mom, i):
        x = lax.dynamic_slice_in_dim(xc, (i % 8) * bs, bs)
        y = lax.dynamic_slice_in_dim(yc, (i % 8) * bs, bs)
        g = jax.grad(loss_fn)(ps, x, y)
        mom = jax.tree.map(lambda m_, g_, p_: 0.9 * m_ + g_ + 1e-3 * p_, mom, g, ps)
        ps = jax.tree.map(lambda p_, m_: p_ - 0.01 * m_, ps, mom)
        return ps, mom

    ps, mom = step(ps, mom, 0)
    jax.block_until_ready(ps)
    n = 3 if SMALL else 60
    t0 = time.perf_counter()
    for i in range(n):
        ps, mom = step(ps, mom, i)
    jax.block_until_ready(ps)
    record(f"jax allcnn {jnp.dtype(dtype).name} B={bs}", n * bs / (time.perf_counter() - t0), "img/s")


# ------------------------------------------------------------------------- torch
def torch_benches():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    print("torch", torch.__version__, dev, flush=True)

    def sync():
        if dev == "cuda":
            torch.cuda.synchronize()

    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(1, 20, 5)
            self.c2 = nn.Conv2d(20, 50, 5)
            self.f1 = nn.Linear(800, 500)
            self.f2 = nn.Linear(500, 10)

        def forward(self, x):
            x = F.max_pool2d(self.c1(x), 2)
            x = F.max_pool2d(self.c2(x), 2)
            return self.f2(F.relu(self.f1(x.flatten(1))))

    Xt = torch.from_numpy(X_np).permute(0, 3, 1, 2).contiguous().to(dev)
    Yt = torch.from_numpy(Y_np).long().to(dev)

    # one network at a time, data already on the device (the peer's best case)
    net = LeNet().to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def step():
        idx = torch.randint(0, DATA_N, (64,), device=dev)
        loss = F.cross_entropy(net(Xt[idx]), Yt[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(20):
        step()
    sync()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < (0.5 if SMALL else 3.0):
        for _ in range(50):
            step()
        n += 50
        sync()
    record("torch lenet eager N=1 (one net at a time)", n * 64 / (time.perf_counter() - t0), "img/s")

    # the ensemble route: torch.func.vmap over stacked parameters, hand-written SGD
    from torch.func import functional_call, grad, stack_module_state, vmap
    for nm in ((4,) if SMALL else (32, 256)):
        nets = [LeNet().to(dev) for _ in range(nm)]
        params, _ = stack_module_state(nets)
        base = LeNet().to("meta")
        mom = {k: torch.zeros_like(v) for k, v in params.items()}

        def loss_one(p, idx):
            return F.cross_entropy(functional_call(base, p, (Xt[idx],)), Yt[idx])

        g_all = vmap(grad(loss_one))

        def vstep():
            idx = torch.randint(0, DATA_N, (nm, 64), device=dev)
            g = g_all(params, idx)
            with torch.no_grad():
                for k in params:
                    mom[k].mul_(0.9).add_(g[k] + 5e-4 * params[k])
                    params[k].sub_(0.01 * mom[k])

        for _ in range(5):
            vstep()
        sync()
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < (0.5 if SMALL else 3.0):
            for _ in range(10):
                vstep()
            n += 10
            sync()
        record(f"torch lenet func.vmap N={nm}", n * 64 * nm / (time.perf_counter() - t0), "img/s")

    # All-CNN single network, batch 256
    layers, cin = [], 3
    for k, cout, s, pad in ALLCNN:
        layers += [nn.Conv2d(cin, cout, k, s, pad), nn.ReLU()]
        cin = cout
    anet = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten()).to(dev)
    anet = anet.to(memory_format=torch.channels_last)
    aopt = torch.optim.SGD(anet.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-3)
    bs = 16 if SMALL else 256
    xa = torch.randn(8 * bs, 3, 32, 32, device=dev).to(memory_format=torch.channels_last)
    ya = torch.randint(0, 10, (8 * bs,), device=dev)
    for amp in (False, True):
        def astep(i):
            x, y = xa[(i % 8) * bs:(i % 8 + 1) * bs], ya[(i % 8) * bs:(i % 8 + 1) * bs]
            with torch.autocast(dev, dtype=torch.bfloat16, enabled=amp):
                loss = F.cross_entropy(anet(x), y)
            aopt.zero_grad(set_to_none=True)
            loss.backward()
            aopt.step()
        for i in range(5):
            astep(i)
        sync()
        n = 3 if SMALL else 60
        t0 = time.perf_counter()
        for i in range(n):
            astep(i)
        sync()
        record(f"torch allcnn {'bf16-amp' if amp else 'fp32'} B={bs}",
               n * bs / (time.perf_counter() - t0), "img/s")


def main():
    configure("--small" in sys.argv)
    print("jax", jax.__version__, jax.devices(), flush=True)
    t_start = time.perf_counter()
    bench_matmul()
    ns = (1, 8) if SMALL else (1, 64, 256, 1024)
    for mode in ("conv", "im2col"):
        for n in ns:
            bench_jax_lenet(mode, jnp.float32, n)
    bench_jax_lenet("im2col", jnp.bfloat16, ns[-1])
    bench_jax_lenet("conv", jnp.bfloat16, ns[-1])
    bench_jax_allcnn(jnp.float32)
    bench_jax_allcnn(jnp.bfloat16)
    try:
        torch_benches()
    except Exception as e:  # the peer is optional: report, do not die
        print("torch benches failed:", repr(e), flush=True)
    print(f"total {time.perf_counter() - t_start:.0f}s")
    out = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--json_out=")), "")
    if out:
        with open(out, "w") as f:
            json.dump(RESULTS, f, indent=1)


if __name__ == "__main__":
    main()
