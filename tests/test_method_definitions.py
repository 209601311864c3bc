"""Every registered method held to its definition, end to end on one tiny study: the batches each network
saw, the updates its second phase made and the scores it was reported with, each against an answer computed
here from the method's definition (the paper's Section 3.2, the long-tail papers), not from the code under
test. A method registered without a check here fails test_every_registered_method_has_a_definition_check."""
import csv
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from imbalance_jax import evaluate, losses, methods, design, run, samplers, scorings, train
from imbalance_jax import study as study_lib
from imbalance_jax import study_setup
from imbalance_jax.workdir import Workdir

FAMILY_INSTANCES = ("posthoc_adjustment_tau0.5", "tau_normalization_tau0.5", "oversampling_to_2",
                    "undersampling_to_2")
SHARE_STEPS = 400  # batches of each network walked for its class shares (25,600 draws at batch 64)
SECOND_PHASE_FACTOR = 0.1  # Section 3.2: "the base learning rate ... multiplied by the factor of 10^-1"
OUTPUT_LAYERS = ("fc2",)  # LeNet-5's last output layer, the one the second phase trains


class Call(NamedTuple):
    """One cohort's training as recorded: inputs, data, states before and after its first call, final state."""

    inputs: train.CohortInputs
    data: train.CohortData
    before: dict
    after_first: dict
    steps: int
    final: dict


class Study:
    """The tiny study with every registered method, and what its training fed each network."""

    def __init__(self, workdir: str, config, calls: list):
        self.workdir, self.config = workdir, config
        self.setup = study_setup.build(config, Workdir(workdir))
        self.hp, self.data = self.setup.hp, self.setup.data
        self.where = {}  # trained method -> (Network, Call, position in its cohort)
        for record in Workdir(workdir).cohorts():
            seeds = [n.init_seed for n in record.networks]
            call = next(c for c in calls if np.asarray(c.inputs.seeds)[:len(seeds)].tolist() == seeds)
            for j, network in enumerate(record.networks):
                self.where[network.method] = (network, call, j)
        with open(f"{workdir}/results.csv") as f:
            self.rows = {r["method"]: r for r in csv.DictReader(f)}
        with open(f"{workdir}/per_class.csv") as f:
            self.recall = {}
            for r in csv.DictReader(f):
                self.recall.setdefault(r["method"], {})[int(r["class"])] = float(r["recall"])
        self._labels, self._probs = {}, {}

    def network(self, method: str) -> tuple:
        """(Network, Call, position) of the network a method reads."""
        return self.where[methods.get(method).network]

    def leaf(self, tree, j):
        """Network j's slice of a cohort pytree, as numpy."""
        return jax.tree.map(lambda x: np.asarray(x[j]), tree)

    def single(self, state, j):
        """Network j of a cohort state, as a cohort of one (the shared step count as it is)."""
        return jax.tree.map(lambda x: np.array(x[j:j + 1]) if np.ndim(x) else x, state)

    def batch_labels(self, method: str) -> np.ndarray:
        """[SHARE_STEPS, batch] labels of the batches the network's inputs draws at steps 0, 1, ..."""
        _, call, j = self.network(method)
        if id(call) not in self._labels:
            batch = self.hp.batch_size
            walk = jax.jit(lambda inputs, steps: jax.vmap(lambda s: train.batch_indices(inputs, s, batch))(steps))
            indices = np.asarray(walk(call.inputs, jnp.arange(SHARE_STEPS)))
            self._labels[id(call)] = np.asarray(call.data.labels)[indices]  # [steps, N, batch]
        return self._labels[id(call)][:, j]

    def shares(self, method: str, steps=slice(None)) -> np.ndarray:
        """The class shares of the network's batches over the given steps."""
        labels = self.batch_labels(method)[steps].ravel()
        return np.bincount(labels, minlength=self.data.num_classes) / labels.size

    def imbalanced_counts(self) -> np.ndarray:
        """The tiny study's step imbalance by its definition: n_max in majority classes, n_max / rho in minority."""
        network, _, _ = self.where["baseline"]
        counts = np.full(self.data.num_classes, self.data.n_max)
        counts[network.minority_classes] = round(self.data.n_max / network.rho)
        assert len(network.minority_classes) == round(network.mu * self.data.num_classes)
        return counts

    def prior(self) -> np.ndarray:
        """Class shares of the imbalanced training set before sampling: the labels the baseline's rows hold."""
        _, call, j = self.where["baseline"]
        row = np.asarray(call.inputs.table[j])[:int(call.inputs.lengths[j])]
        counts = np.bincount(np.asarray(call.data.labels)[row], minlength=self.data.num_classes)
        return (counts / counts.sum()).astype(np.float32)

    def probs(self, method: str, state=None) -> np.ndarray:
        """The test softmax [n, C] of the network a method reads (or of a given single-network state)."""
        if state is None:
            if method not in self._probs:
                _, call, j = self.network(method)
                self._probs[method] = self.probs(method, self.single(call.final, j))
            return self._probs[method]
        return np.asarray(self.setup.predict()(state, self.setup.test_images()))[0]

    def assert_reported(self, method: str, scores: np.ndarray) -> None:
        """results.csv's accuracy and per_class.csv's recall of a method equal those of these scores."""
        y = np.asarray(self.data.y_test)
        hit = scores.argmax(1) == y
        assert float(self.rows[method]["accuracy"]) == pytest.approx(hit.mean(), abs=1e-6), method
        recall = [hit[y == c].mean() for c in range(self.data.num_classes)]
        got = [self.recall[method][c] for c in range(self.data.num_classes)]
        np.testing.assert_allclose(got, recall, atol=6e-5, err_msg=method)


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """The tiny study with every registered method (and one instance of each family), its training recorded."""
    import tiny

    config = tiny.tiny_config()
    config.methods = tuple(methods.names()) + FAMILY_INSTANCES
    config.cohort_size = 16
    calls, real = [], train.make_train_chunk
    as_numpy = lambda tree: jax.tree.map(np.array, tree)  # noqa: E731 - a copy: the chunk donates its state

    def recording(*args, **kwargs):
        chunk = real(*args, **kwargs)

        def recorded(state, data, inputs, steps):
            before = as_numpy(state) if not any(c.inputs is inputs for c in calls) else None
            state, out = chunk(state, data, inputs, steps)
            if before is not None:
                calls.append(Call(inputs, data, before, as_numpy(state), steps, None))
            i = next(i for i, c in enumerate(calls) if c.inputs is inputs)
            calls[i] = calls[i]._replace(final=as_numpy(state))
            return state, out
        return recorded

    workdir = str(tmp_path_factory.mktemp("definitions"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run.train, "make_train_chunk", recording)
        study_lib.run_study(config, workdir)
    return Study(workdir, config, calls)


# --- what each method is, by its definition ------------------------------------------------------------

def _uniform(study):
    return np.full(study.data.num_classes, 1 / study.data.num_classes)


def _shares_of(counts):
    counts = np.asarray(counts, np.float64)
    return counts / counts.sum()


def _plain_softmax_reported(study, method):
    """A trained method's own row: its network's softmax, unchanged."""
    study.assert_reported(method, study.probs(method))


def _trains_on(shares_fn):
    def check(study, method):
        np.testing.assert_allclose(study.shares(method), shares_fn(study), atol=0.01, err_msg=method)
        _plain_softmax_reported(study, method)
    return check


def _partial(study, method):
    counts, target = study.imbalanced_counts(), float(method.rsplit("_", 1)[1])
    if method.startswith("oversampling_to_"):  # minority classes raised to n_max / target
        expected = np.maximum(counts, round(counts.max() / target))
    else:  # majority classes lowered to n_min x target
        expected = np.minimum(counts, round(counts.min() * target))
    np.testing.assert_allclose(study.shares(method), _shares_of(expected), atol=0.01)
    _plain_softmax_reported(study, method)


def _balanced_reference(study, method):
    network, call, j = study.network(method)
    assert network.imbalance == "balanced" and int(call.inputs.lengths[j]) == study.data.num_classes * study.data.n_max
    _trains_on(_uniform)(study, method)


def _progressive(study, method):
    """p_c(t) = (1 - t/T) n_c / N + (t/T) / C over training, class-balanced from T on."""
    T, counts = study.hp.max_iter, study.imbalanced_counts()
    expected = np.mean([(1 - t / T) * _shares_of(counts) + (t / T) / len(counts) for t in range(T)], axis=0)
    np.testing.assert_allclose(study.shares(method, slice(0, T)), expected, atol=0.03)  # 1,280 draws
    np.testing.assert_allclose(study.shares(method, slice(T, None)), _uniform(study), atol=0.01)
    _plain_softmax_reported(study, method)


def _numpy_loss(study, method, logits, labels, step):
    """Each loss's formula in numpy, with its parameters from the set's class counts and config.losses."""
    s, counts = study.config.losses, study.imbalanced_counts().astype(np.float64)
    C, prior = len(counts), counts / counts.sum()
    effective = (1 - s.effective_beta) / (1 - s.effective_beta ** counts)
    weights, z, gamma, by_weights = np.ones(C), logits.astype(np.float64), 0.0, False
    if method == "weighted_ce":
        weights = (1 / counts) * C / (1 / counts).sum()
    elif method == "effective_number_ce":
        weights = effective * C / effective.sum()
    elif method == "focal":
        gamma = s.focal_gamma
    elif method == "ldam_drw":  # logits are s * cos; the true class's cosine loses its margin ~ n^(-1/4)
        margins = counts ** -0.25 * s.ldam_max_margin / (counts ** -0.25).max()
        z = z - s.ldam_scale * margins[None, :] * np.eye(C)[labels]
        if step >= round(s.drw_fraction * study.hp.max_iter):
            weights = effective * C / effective.sum()
        by_weights = True
    elif method == "logit_adjusted":
        z = z + s.logit_adjust_tau * np.log(prior)
    elif method == "balanced_softmax":
        z = z + np.log(prior)
    z = z - z.max(1, keepdims=True)
    log_p = (z - np.log(np.exp(z).sum(1, keepdims=True)))[np.arange(len(labels)), labels]
    per_example = weights[labels] * (1 - np.exp(log_p)) ** gamma * -log_p
    return per_example.sum() / (weights[labels].sum() if by_weights else len(labels))


def _loss(study, method):
    """The network trains on the imbalanced set with the loss the paper of its method defines."""
    _trains_on(lambda st: _shares_of(st.imbalanced_counts()))(study, method)
    _, call, j = study.network(method)
    objective = losses.Objective(*study.leaf(call.before["objective"], j))
    weighted_mean = bool(np.asarray(call.inputs.weighted_mean)[j])
    rng = np.random.default_rng(0)
    labels = rng.integers(0, study.data.num_classes, 64)
    logits = rng.normal(0, 3, (64, study.data.num_classes)).astype(np.float32)
    if method == "ldam_drw":
        assert bool(objective.cosine) and float(objective.logit_scale) == study.config.losses.ldam_scale
        logits = study.config.losses.ldam_scale * np.tanh(logits / 3)  # scaled cosines
    for step in (0, study.hp.max_iter - 1):
        got = float(losses.loss(jnp.asarray(logits), jnp.asarray(labels), objective, jnp.int32(step), weighted_mean))
        assert got == pytest.approx(_numpy_loss(study, method, logits, labels, step), rel=1e-5), (method, step)


def _replayed_second_phase(study, method, parent):
    """The first call of a fine-tuning network replayed by Caffe's SGD in numpy: gradients of plain cross-entropy
    on the batches its inputs drew, applied to the output layers only, at the inv schedule x SECOND_PHASE_FACTOR."""
    network, call, j = study.network(method)
    before, after = (study.leaf(s["params"]["params"], j) for s in (call.before, call.after_first))
    _, parent_call, pj = study.where[parent]
    parents = study.leaf(parent_call.final["params"]["params"], pj)
    for layer in before:
        if layer not in OUTPUT_LAYERS:  # the features are the parent's, and stay so
            for leaf in before[layer]:
                assert np.array_equal(before[layer][leaf], parents[layer][leaf]), (method, layer)
                assert np.array_equal(after[layer][leaf], before[layer][leaf]), (method, layer)
    hp, model = study.hp, study.setup.model
    labels_of = np.asarray(call.data.labels)
    walk = jax.jit(lambda inputs, s: train.batch_indices(inputs, s, hp.batch_size))

    def cross_entropy(params, x, y):
        log_p = jax.nn.log_softmax(model.apply({"params": params}, x))
        return -jnp.mean(log_p[jnp.arange(len(y)), y])

    grad = jax.jit(jax.grad(cross_entropy))
    params = jax.tree.map(jnp.asarray, before)
    velocity = {layer: {k: np.zeros_like(v) for k, v in before[layer].items()} for layer in OUTPUT_LAYERS}
    for t in range(call.steps):
        idx = np.asarray(walk(call.inputs, jnp.int32(t)))[j]
        x = jnp.asarray(np.asarray(call.data.images)[idx], jnp.float32) * hp.input_scale
        grads = grad(params, x, jnp.asarray(labels_of[idx]))
        lr = hp.base_lr * (1 + hp.lr_gamma * t) ** -hp.lr_power * SECOND_PHASE_FACTOR
        new = {layer: dict(params[layer]) for layer in params}
        for layer in OUTPUT_LAYERS:
            for k, w in params[layer].items():
                w, g = np.asarray(w, np.float64), np.asarray(grads[layer][k], np.float64)
                mult = hp.bias_lr_mult if k == "bias" else 1.0
                velocity[layer][k] = hp.momentum * velocity[layer][k] + lr * mult * (g + hp.weight_decay * w)
                new[layer][k] = jnp.asarray(w - velocity[layer][k], jnp.float32)
        params = new
    for layer in OUTPUT_LAYERS:
        for k in before[layer]:
            moved = np.abs(after[layer][k] - before[layer][k]).max()
            assert moved > 0 or k == "bias", (method, layer, k)
            np.testing.assert_allclose(after[layer][k], params[layer][k], rtol=1e-4, atol=1e-3 * moved + 1e-9,
                                       err_msg=f"{method} {layer} {k}")
    return before, parents


def _two_phase(study, method):
    """Phase two: the sampled network's output layer fine-tuned on the imbalanced set, lr x 0.1."""
    assert study.config.two_phase_lr_factor == SECOND_PHASE_FACTOR
    np.testing.assert_allclose(study.shares(method), _shares_of(study.imbalanced_counts()), atol=0.01)
    parent = method.removeprefix("two_phase_")
    before, parents = _replayed_second_phase(study, method, parent)
    for leaf in before[OUTPUT_LAYERS[0]]:  # starts from the parent's output layer
        assert np.array_equal(before[OUTPUT_LAYERS[0]][leaf], parents[OUTPUT_LAYERS[0]][leaf])
    _plain_softmax_reported(study, method)


def _crt(study, method):
    """cRT (Kang et al. 2020): the baseline's classifier re-initialised and re-trained on class-balanced batches."""
    assert study.config.crt_reinit and study.config.crt_schedule == "study"
    np.testing.assert_allclose(study.shares(method), _uniform(study), atol=0.01)
    before, parents = _replayed_second_phase(study, method, "baseline")
    assert not np.array_equal(before["fc2"]["kernel"], parents["fc2"]["kernel"])  # a fresh classifier
    _plain_softmax_reported(study, method)


def _thresholding(study, method):
    """Section 2.2: the network's softmax divided by the class priors of the imbalanced set before sampling."""
    probs = study.probs(method)
    scores = probs / study.prior()[None, :]
    study.assert_reported(method, scores)
    if method == "thresholding":  # the tiny study's prior moves predictions: a uniform prior would not
        y = np.asarray(study.data.y_test)
        assert (scores.argmax(1) == y).sum() != (probs.argmax(1) == y).sum()


def _posthoc(study, method):
    """Menon et al. 2021: softmax / prior^tau."""
    tau = methods.get(method).scoring.tau
    study.assert_reported(method, study.probs(method) / study.prior()[None, :] ** tau)


def _tau_normalization(study, method):
    """Kang et al. 2020: each class's weight vector w_c / ||w_c||^tau, logits without the bias."""
    tau = methods.get(method).scoring.tau
    _, call, j = study.network(method)
    state = study.single(call.final, j)
    head = state["params"]["params"]["fc2"]
    norms = np.sqrt((head["kernel"][0] ** 2).sum(0))  # [C]: the kernel is [features, classes]
    normalised = evaluate.tau_normalize(state, "fc2", tau)["params"]["params"]["fc2"]["kernel"][0]
    np.testing.assert_allclose(np.sqrt((np.asarray(normalised) ** 2).sum(0)), norms ** (1 - tau), rtol=1e-5)
    head["kernel"] = head["kernel"] / norms[None, None, :] ** tau
    head["bias"] = np.zeros_like(head["bias"])
    study.assert_reported(method, study.probs(method, state))


def _imbalanced(study):
    return _shares_of(study.imbalanced_counts())


CHECKS = {
    "baseline": _trains_on(_imbalanced),
    "oversampling": _trains_on(_uniform),
    "undersampling": _trains_on(_uniform),
    "two_phase_oversampling": _two_phase,
    "two_phase_undersampling": _two_phase,
    "thresholding": _thresholding,
    "oversampling_thresholding": _thresholding,
    "undersampling_thresholding": _thresholding,
    "balanced": _balanced_reference,
    "oversampling_to_<rho>, undersampling_to_<rho>": _partial,
    "weighted_ce": _loss,
    "effective_number_ce": _loss,
    "focal": _loss,
    "ldam_drw": _loss,
    "logit_adjusted": _loss,
    "balanced_softmax": _loss,
    "class_aware_sampling": _trains_on(_uniform),
    "sqrt_sampling": _trains_on(lambda st: _shares_of(np.sqrt(st.imbalanced_counts()))),
    "progressively_balanced_sampling": _progressive,
    "crt": _crt,
    "posthoc_adjustment_tau<t>": _posthoc,
    "tau_normalization_tau<t>": _tau_normalization,
}


def test_every_registered_method_has_a_definition_check():
    registered = set(methods.names()) | set(methods.registry.family_examples())
    assert registered == set(CHECKS), (f"methods without a definition check: {sorted(registered - set(CHECKS))}; "
                                       f"checks of no registered method: {sorted(set(CHECKS) - registered)}")
    for example in methods.registry.family_examples():  # the study holds an instance of every family
        prefixes = [e.split("<")[0] for e in example.split(", ")]
        assert all(any(m.startswith(p) for m in FAMILY_INSTANCES) for p in prefixes), example


STUDIED = tuple(methods.names()) + FAMILY_INSTANCES


def test_every_sampler_loss_and_scoring_is_held_to_its_definition_by_a_studied_method():
    trainings = [methods.get(m).training for m in STUDIED if methods.get(m).training is not None]
    assert {samplers.get(t.sampler).name for t in trainings} == set(samplers.SAMPLERS.names())
    assert {t.loss for t in trainings} == set(losses.names())
    assert {methods.get(m).scoring.kind for m in STUDIED} == set(scorings.KINDS.names())


def _family_key(name: str) -> str:
    if name in CHECKS:
        return name
    return next(key for key in CHECKS if "<" in key and any(name.startswith(e.split("<")[0]) for e in key.split(", ")))


@pytest.mark.parametrize("method", STUDIED)
def test_method_matches_its_definition(tiny_study, method):
    CHECKS[_family_key(method)](tiny_study, method)


def test_each_training_set_has_the_size_its_sampler_declares(tiny_study):
    """What sizing and the dry run count (Sampler.counts) is the set each network was drawn and trained on."""
    for method, (network, call, j) in tiny_study.where.items():
        row = np.asarray(call.inputs.table[j])[:int(call.inputs.lengths[j])]
        drawn = np.bincount(np.asarray(call.data.labels)[row], minlength=tiny_study.data.num_classes)
        training = methods.get(method).training
        declared = samplers.get(training.sampler).counts(network.class_counts, training.target_rho)
        assert drawn.tolist() == np.asarray(declared).tolist(), method
        assert design.training_size(network) == len(row), method
