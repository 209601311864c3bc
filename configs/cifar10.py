"""The paper's CIFAR-10 study (Section 3.3.2): 16 imbalanced sets x 5 trained methods x 8 lr runs = 640 All-CNN,
and the balanced reference (8 lr runs on the balanced set, the best kept), 648 in all.

  uv run python -m launch.study --config=configs/cifar10.py --workdir=runs/cifar10
  uv run python -m launch.study --config=configs/cifar10.py --workdir=runs/cifar10 \
      --config.dataset=cifar:/data/cifar-10-batches-py
  uv run python -m launch.study --config=configs/cifar10.py:appendix_a --workdir=runs/cifar10_appendix_a

--config.dataset takes cifar10 (TFDS) or cifar:<dir> (CIFAR-10's python-pickle folder). Every
(set, method) trains with each lr of train.lr_grid twice, as one 8-network cohort, and the report
keeps the network with the best test ROC AUC.

`:appendix_a` is Appendix A's check of the step experiments: the step grid (12 sets) on 3 seeded,
stratified train/test re-splits (split 0 the dataset's own), 12 x 3 x 5 x 8 = 1,440 All-CNN and
the balanced reference on each split; the report gives each split's table and the pooled one.
"""
import ml_collections

from configs import mnist


def get_config(variant: str = "") -> ml_collections.ConfigDict:
    """Config of the paper's CIFAR-10 grid ('appendix_a': its step grid on 3 train/test splits)."""
    if variant not in ("", "appendix_a"):
        raise ValueError(f"configs/cifar10.py:{variant}: no such variant; use configs/cifar10.py or "
                         "configs/cifar10.py:appendix_a")
    config = mnist.get_config()
    config.dataset = "cifar10"
    config.train_per_class = 5000
    config.test_per_class = 1000

    config.imbalance.step_rhos = (2, 10, 20, 50)
    config.imbalance.step_mus = (0.2, 0.5, 0.8)
    config.imbalance.linear_rhos = (2, 10, 20, 50)
    config.imbalance.repetitions = 1
    config.imbalance.minority = "lowest"  # the lowest labels are the minority classes

    config.model = "allcnn"
    # The 8 lr runs of a cohort step one after another: one All-CNN at batch 256 fills a GPU, and
    # cuDNN then runs dense convolutions (115.7k img/s for the cohort on an H100, 1.5x vmapped
    # im2col); with several devices set it to 0, which shards the networks instead.
    config.networks_per_vmap = 1
    config.preprocess = "gcn_zca"  # GCN then ZCA, fitted on each imbalanced training set
    config.zca_epsilon = 0.1

    config.train.batch_size = 256
    config.train.iterations = 70_000
    config.train.base_lr = 0.05
    config.train.lr_grid = (0.05, 0.005, 0.0005, 0.00005)
    config.train.lr_repeats = 2
    config.train.weight_decay = 1e-3
    config.train.lr_policy = "multistep"  # lr x 0.1 at 40k, 50k and 60k iterations
    config.train.lr_gamma = 0.1
    config.train.lr_steps = (40_000, 50_000, 60_000)
    config.cohort_size = 8  # the 8 learning-rate runs of one (set, method) train together
    config.steps_per_call = 250
    config.checkpoint_every = 5000  # 8 All-CNN, ~90 MB a save: 13 saves cost well under 1% of a cohort
    config.curve_every = 1000
    if variant == "appendix_a":
        config.imbalance.linear_rhos = ()
        config.resplits = 3
    return config
