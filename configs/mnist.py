"""The paper's MNIST study (Section 3.3.1): 4,500 imbalanced sets x 5 trained methods = 22,500 LeNet-5,
and the balanced reference (Section 4.3): one LeNet-5 per repetition on the balanced set, 50 more.

  uv run python -m launch.study --config=configs/mnist.py --workdir=runs/mnist
  uv run python -m launch.study --config=configs/mnist.py --workdir=runs/fashion \
      --config.dataset=idx:/usr/share/datasets/fashion-mnist

--config.dataset takes mnist, fashion_mnist (TFDS) or idx:<dir> (MNIST-format files).
"""
import ml_collections

from imbalance_jax.methods import PAPER_METHODS

RHOS = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000)


def get_config() -> ml_collections.ConfigDict:
    """Config of the paper's full MNIST grid."""
    config = ml_collections.ConfigDict()
    config.dataset = "mnist"
    # Table 1: 5000 training images per class, a balanced test set (0 takes the smallest class's
    # count: MNIST's smallest test class has 892 images; Fashion-MNIST has 1000 of each).
    config.train_per_class = 5000
    config.test_per_class = 0
    config.data_seed = 0
    config.seed = 0
    # Appendix A: every network trained on each of `resplits` train/test splits; split 0 is the
    # dataset's own, split k > 0 a seeded, stratified re-draw of the pooled balanced train + test sets.
    config.resplits = 1

    config.imbalance = ml_collections.ConfigDict()
    config.imbalance.step_rhos = RHOS
    config.imbalance.step_mus = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    config.imbalance.linear_rhos = RHOS
    config.imbalance.step_settings = ()  # extra (mu, rho, repetitions) step settings
    config.imbalance.exponential_rhos = ()  # long-tail imbalance (not in the paper)
    config.imbalance.repetitions = 50
    config.imbalance.minority = "random"  # new minority classes every repetition

    # The paper's methods and the reference they are read against (drawn as a line in Figs. 3-6).
    config.methods = (*PAPER_METHODS, "balanced")

    # 'resident': the dataset sits on the device as uint8; 'stream': read and cropped on the host
    # (ImageNet), config.stream says how.
    config.input_pipeline = "resident"
    # loader 'grain': decoding in grain's worker processes; 'threads': a thread pool (same batches).
    config.stream = ml_collections.ConfigDict({"resize": 256, "crop": 224, "workers": 8, "loader": "grain"})
    config.model = "lenet5"
    config.preprocess = "scale"  # pixels x train.input_scale
    config.zca_epsilon = 0.1  # used by preprocess='gcn_zca' only
    # ZCA fitted on each network's imbalanced set ('imbalanced': a network sees nothing beyond its set)
    # or once on the whole balanced training set ('full', as the authors' public All-CNN code did).
    config.zca_fit = "imbalanced"
    # 'im2col', 'xla' (lax.conv), 'taps', LeNet-5's pair like 'taps/im2col', or 'auto' (measured best
    # per backend); outputs agree to float tolerance.
    config.conv_impl = "auto"
    config.compute_dtype = "float32"  # 'bfloat16' on GPUs: bf16 operands and activations, fp32 weights
    # Networks of a cohort stepped at once by vmap; 0: all. 1 runs them one after another in the
    # compiled step, so cuDNN sees dense convolutions instead of vmap's grouped ones.
    config.networks_per_vmap = 0

    config.train = ml_collections.ConfigDict()
    config.train.batch_size = 64
    config.train.iterations = 10_000
    config.train.base_lr = 0.01
    config.train.momentum = 0.9
    config.train.weight_decay = 5e-4
    # Caffe's SGD (lr inside the velocity); or 'sgd_nesterov' / 'adamw' (imbalance_jax.optim).
    config.train.optimizer = "caffe_sgd"
    # Caffe's inv: base_lr * (1 + gamma * t) ** -power; or fixed, multistep (x gamma at lr_steps), poly,
    # warmup_cosine, warmup_multistep (linear warmup over warmup_steps, then x gamma at lr_steps).
    config.train.lr_policy = "inv"
    config.train.lr_gamma = 1e-4
    config.train.lr_power = 0.75
    config.train.lr_steps = ()
    config.train.warmup_steps = 0
    config.train.input_scale = 1 / 255
    # Caffe's LeNet example trains biases at twice the weights' rate; the paper does not say, so 1.
    config.train.bias_lr_mult = 1.0
    # The CIFAR-10 protocol trains each lr of lr_grid lr_repeats times and keeps the best on the
    # test set; MNIST trains once at base_lr.
    config.train.lr_grid = ()
    config.train.lr_repeats = 1
    config.two_phase_lr_factor = 0.1  # also cRT's, which re-trains the output layer the same way
    # The layers two-phase training and cRT fine-tune; () takes the model's output layer (LeNet-5:
    # fc2). The paper says "the last output layer" for LeNet-5; ('fc1', 'fc2') would be both of its
    # fully connected layers.
    config.finetune_layers = ()
    # cRT re-initialises the classifier before re-training it, as Kang et al. 2020 do; False starts
    # from the baseline's.
    config.crt_reinit = True
    # cRT's learning rate: 'study' (the config's schedule x two_phase_lr_factor over every iteration, like
    # two-phase training) or 'kang2020' (as its authors ran it: a cosine from the base lr to 0 over
    # crt_fraction of the iterations -- their 10 of 90 epochs -- then no update).
    config.crt_schedule = "study"
    config.crt_fraction = 10 / 90

    # Settings of the remedies beyond the paper (imbalance_jax.losses).
    config.losses = ml_collections.ConfigDict()
    config.losses.focal_gamma = 2.0
    config.losses.effective_beta = 0.9999
    config.losses.ldam_max_margin = 0.5
    config.losses.ldam_scale = 30.0
    config.losses.drw_fraction = 0.8  # LDAM's re-weighting starts at this fraction of the iterations
    config.losses.logit_adjust_tau = 1.0
    # tau-normalisation scores with the normalised class weights and no bias, as Kang et al.'s public code
    # does; True keeps the classifier's bias (evaluation only: launch.evaluate --force re-scores a study).
    config.losses.tau_norm_keep_bias = False

    # Networks per compiled step; 0 picks the most that fit the device's free memory.
    config.cohort_size = 0
    config.eval_batch_size = 1000
    # Devices that split each network's batch; the rest split the cohort's networks.
    config.data_parallel = 1
    config.steps_per_call = 500
    # Save the cohort in flight every this many steps (0: only at the end). A 3,750-network LeNet-5
    # cohort saves ~12 GB: one save in its 10,000 steps costs under 1% of its ~25 minutes on an H100.
    config.checkpoint_every = 5000
    # Record training and test accuracy every this many steps (Fig. 8); 0 turns it off.
    config.curve_every = 1000
    config.report = True
    # What the report may conclude (imbalance_jax.conclusions): "on a par" and "does not overfit" need the
    # difference's 90% interval inside +-margin (AUC, accuracy); launch.plan says how many repetitions detect
    # target_difference at 80% power.
    config.statistics = ml_collections.ConfigDict({"margin": 0.01, "target_difference": 0.01})
    return config
