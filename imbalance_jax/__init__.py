"""Class imbalance in CNNs (Buda, Maki & Mazurowski 2018) in JAX: imbalance_jax.run_on_arrays studies arrays you
hold; the launch/ entry points run configs."""


def __getattr__(name):
    if name == "run_on_arrays":  # imported on first use: `import imbalance_jax.data` stays light
        from imbalance_jax.api import run_on_arrays

        return run_on_arrays
    raise AttributeError(f"module 'imbalance_jax' has no attribute {name!r}")
