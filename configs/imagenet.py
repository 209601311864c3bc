"""The paper's ImageNet study (Section 3.3.3): 5 imbalanced ILSVRC-2012 subsets x 3 methods = 15 ResNet-10.

  TFDS_DATA_DIR=/data/tfds uv run python -m launch.study --config=configs/imagenet.py --workdir=runs/imagenet

ImageNet does not fit in memory, so it streams: TFDS `imagenet2012` (prepared once from the tar
files in its manual dir) is read on the host, the shorter side resized to 256, a random 224 crop
and horizontal flip for training and the centre crop for testing. Majority classes are capped at
1000 images; classes with fewer are always minority.
"""
import ml_collections

from configs import mnist


def get_config() -> ml_collections.ConfigDict:
    """Config of the paper's ImageNet settings."""
    config = mnist.get_config()
    config.dataset = "imagenet2012"
    config.input_pipeline = "stream"
    config.stream = ml_collections.ConfigDict({"resize": 256, "crop": 224, "workers": 16, "loader": "grain"})
    config.train_per_class = 1000
    config.test_per_class = 50

    # (mu, rho) = (0.1, 10) and (0.8, 50) once; (0.9, 100) three times with new minority classes.
    config.imbalance.step_rhos = ()
    config.imbalance.step_mus = ()
    config.imbalance.linear_rhos = ()
    config.imbalance.step_settings = ((0.1, 10, 1), (0.8, 50, 1), (0.9, 100, 3))  # (mu, rho, repetitions)
    config.imbalance.minority = "random"
    config.methods = ("baseline", "oversampling", "undersampling")

    config.model = "resnet10"
    config.preprocess = "scale"
    config.train.input_scale = 1 / 255
    config.train.batch_size = 256
    config.train.iterations = 320_000
    config.train.base_lr = 0.1
    config.train.weight_decay = 1e-4
    config.train.lr_policy = "poly"  # Caffe's poly with power 1: linear decay to 0
    config.train.lr_power = 1.0
    config.cohort_size = 1
    config.steps_per_call = 20
    config.checkpoint_every = 10_000  # one ResNet-10, ~40 MB a save, 32 saves in 320,000 steps
    config.curve_every = 10_000
    config.eval_batch_size = 250
    return config
