"""Input transforms applied inside the compiled step: pixel scaling, or GCN + ZCA whitening (CIFAR-10).

GCN and ZCA follow pylearn2 as used by Goodfellow et al. (2013), which the paper cites: each image
minus its mean, scaled to norm `scale`; then ZCA fitted on the training set actually used.
"""
import jax
import jax.numpy as jnp
import numpy as np

PREPROCESSORS = ("scale", "gcn_zca")


def global_contrast_normalize(x: jax.Array, scale: float = 55.0, min_divisor: float = 1e-8) -> jax.Array:
    """Per image: subtract its mean, divide by its L2 norm / scale ([n, ...] -> [n, d])."""
    x = x.reshape(x.shape[0], -1).astype(jnp.float32)
    x = x - x.mean(axis=1, keepdims=True)
    norm = jnp.sqrt(jnp.sum(x * x, axis=1, keepdims=True)) / scale
    return x / jnp.where(norm < min_divisor, 1.0, norm)


def fit_zca(images: np.ndarray, epsilon: float, gcn_scale: float = 55.0, batch: int = 5000) -> dict:
    """ZCA of the GCN-normalised images: {'mean': [d], 'whiten': [d, d]} (jax arrays, on the device)."""
    d = int(np.prod(images.shape[1:]))
    total = jnp.zeros(d, jnp.float32)
    second = jnp.zeros((d, d), jnp.float32)
    for i in range(0, len(images), batch):  # streamed, so 50,000 x 3072 floats never sit in memory
        x = global_contrast_normalize(jnp.asarray(images[i:i + batch]), gcn_scale)
        total += x.sum(0)
        second += x.T @ x
    n = len(images)
    mean = total / n
    cov = second / n - jnp.outer(mean, mean)
    eigvals, eigvecs = jnp.linalg.eigh(cov)
    whiten = (eigvecs * (1.0 / jnp.sqrt(jnp.maximum(eigvals, 0.0) + epsilon))) @ eigvecs.T
    return {"mean": mean, "whiten": whiten}


def apply(kind: str, images: jax.Array, preprocess: dict, input_scale: float, gcn_scale: float = 55.0) -> jax.Array:
    """uint8 images [n, h, w, c] -> float model inputs of the same shape."""
    if kind == "scale":
        return images.astype(jnp.float32) * input_scale
    if kind == "gcn_zca":
        x = global_contrast_normalize(images, gcn_scale)
        x = (x - preprocess["mean"]) @ preprocess["whiten"]
        return x.reshape(images.shape)
    raise ValueError(f"preprocess={kind!r} is unknown; use one of {PREPROCESSORS}")
