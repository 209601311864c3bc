"""Evaluation: a cohort's final checkpoint -> test scores under each reported method -> metric rows.

Each method's Scoring (imbalance_jax.methods) says how a network's softmax becomes scores: as it
is, divided by the class prior (thresholding), by prior^tau (post-hoc adjustment), or the softmax
of the network with tau-normalised classifier weights. The record written per cohort quotes the
checkpoint's token, so a retrained cohort is evaluated again.
"""
import jax
import jax.numpy as jnp
import numpy as np

from imbalance_jax import methods, metrics, scorings


@jax.jit
def _metrics(scores, labels):
    """Metrics of score matrices [R, n, C] against the test labels."""
    def one(s):
        recall = metrics.per_class_recall(s, labels)
        class_auc = metrics.per_class_auc(s, labels)
        return {"auc": jnp.mean(class_auc), "accuracy": metrics.accuracy(s, labels),
                "balanced_accuracy": jnp.mean(recall), "macro_f1": metrics.macro_f1(s, labels),
                "per_class_recall": recall, "per_class_auc": class_auc,
                "per_class_precision": metrics.per_class_precision(s, labels)}
    return jax.vmap(one)(scores)


def method_scores(scoring: methods.Scoring, probs: jax.Array, prior: jax.Array, tau_normalized: dict) -> jax.Array:
    """A network's test scores [n, C] under a method's scoring, from its softmax [n, C]."""
    kind = scorings.get(scoring.kind)
    return kind.scores(probs, prior, scoring.tau, tau_normalized.get(scoring.tau) if kind.transforms_head else None)


def tau_normalize(state, head: str, tau: float, keep_bias: bool = False):
    """The state with its classifier's class weight vectors divided by their norm^tau (Kang et al. 2020) and,
    as their public code scores (logits = features . normalised weights), its bias dropped unless keep_bias."""
    def scale(kernel):  # [N, ..., C]: a norm per network and class over the other axes
        axes = tuple(range(1, kernel.ndim - 1))
        return kernel / jnp.maximum(jnp.sqrt(jnp.sum(kernel * kernel, axis=axes, keepdims=True)), 1e-12) ** tau
    params = dict(state["params"]["params"])
    params[head] = {**params[head], "kernel": scale(params[head]["kernel"])}
    if not keep_bias and "bias" in params[head]:
        params[head]["bias"] = jnp.zeros_like(params[head]["bias"])
    return {**state, "params": {**state["params"], "params": params}}


def cohort_probabilities(state, predict, x_test, head: str, wanted: list, keep_bias: bool = False) -> tuple:
    """(softmax [N, n, C], {tau: softmax with tau-normalised heads}) for the scorings wanted."""
    taus = sorted({methods.get(m).scoring.tau for _, m in wanted
                   if scorings.get(methods.get(m).scoring.kind).transforms_head})
    probs = predict(state, x_test)
    return probs, {t: predict(tau_normalize(state, head, t, keep_bias), x_test) for t in taus}


METRIC_COLUMNS = ("auc", "accuracy", "balanced_accuracy", "macro_f1", "per_class_recall", "per_class_auc",
                  "per_class_precision")


def evaluate_cohort(networks: list, wanted: list, train_sizes: list, probs, tau_normalized: dict,
                    labels, context: dict, diverged: list = None, rows_per_call: int = 256) -> list[dict]:
    """Result rows of each wanted (network position, method name) of a cohort from its test probabilities.

    context holds the columns every row shares (dataset, iterations, cohort). A diverged network's
    rows carry the step it diverged at and no metrics: it did not train.
    """
    diverged = diverged or [None] * len(networks)
    counts = np.array([n.class_counts for n in networks], np.float32)
    prior = jnp.asarray(counts / counts.sum(1, keepdims=True))
    results = []
    for start in range(0, len(wanted), rows_per_call):
        part = wanted[start:start + rows_per_call]
        scores = jnp.stack([method_scores(methods.get(m).scoring, probs[j], prior[j],
                                          {t: p[j] for t, p in tau_normalized.items()}) for j, m in part])
        results.append(jax.tree.map(np.asarray, _metrics(scores, labels)))
    merged = jax.tree.map(lambda *xs: np.concatenate(xs), *results) if results else {}
    rows = []
    for r, (j, method) in enumerate(wanted):
        n = networks[j]
        rows.append(dict(
            context, imbalance=n.imbalance, rho=n.rho, mu="" if n.mu is None else n.mu,
            minority_classes=" ".join(map(str, n.minority_classes)), seed=n.set_seed, repetition=n.repetition,
            split=n.split, method=method, auc=float(merged["auc"][r]), accuracy=float(merged["accuracy"][r]),
            balanced_accuracy=float(merged["balanced_accuracy"][r]), macro_f1=float(merged["macro_f1"][r]),
            per_class_recall=" ".join(f"{v:.4f}" for v in merged["per_class_recall"][r]),
            per_class_auc=" ".join(f"{v:.4f}" for v in merged["per_class_auc"][r]),
            per_class_precision=" ".join(f"{v:.4f}" for v in merged["per_class_precision"][r]),
            train_size=train_sizes[j], lr=n.base_lr, lr_run=n.lr_run, network=n.name,
            diverged="" if diverged[j] is None else diverged[j]))
        if diverged[j] is not None:
            rows[-1].update({column: "" for column in METRIC_COLUMNS})
    return rows
