"""Datasets as numpy arrays: uint8 NHWC images and int32 labels, plus Table 1's balanced subsets and
Appendix A's re-splits of them."""
from imbalance_jax.data.loaders import DatasetError, load
from imbalance_jax.data.balanced import BalancedData, balanced_indices, check_classes, load_as_is, load_balanced
from imbalance_jax.data.resplit import resplit

__all__ = ["DatasetError", "load", "BalancedData", "balanced_indices", "check_classes", "load_as_is", "load_balanced",
           "resplit"]
