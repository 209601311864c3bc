"""The entry points: `python -m launch.<name>`, each a thin absl app over imbalance_jax."""
from imbalance_jax.host_memory import restart_keeping_freed_memory

# before anything else starts: glibc reads its malloc settings when a process starts (imbalance_jax/host_memory.py)
restart_keeping_freed_memory()
