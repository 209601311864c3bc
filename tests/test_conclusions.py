"""The paper's five conclusions checked on made-up results where each verdict is known."""
import numpy as np

from imbalance_jax import conclusions

RHO = 1000.0


def _noise(*parts):
    """A small fixed perturbation per (method, mu, repetition), so paired differences have spread."""
    return 0.002 * np.random.default_rng([len(str(parts[0])), int(10 * parts[1]), parts[2]]).standard_normal()


def _rows(auc, accuracy=None, mus=(0.2, 0.8), reps=4, sizes=None):
    """Result rows: auc(method, mu, rep) and accuracy(method, mu, rep) give each network's numbers (plus
    _noise)."""
    accuracy = accuracy or (lambda m, mu, rep: 0.9)
    sizes = sizes or {"undersampling": 100, "oversampling": 9000}
    rows = []
    for mu in mus:
        for rep in range(reps):
            for method in ("baseline", "oversampling", "undersampling", "thresholding", "oversampling_thresholding",
                           "undersampling_thresholding", "undersampling_to_10", "undersampling_to_100",
                           "oversampling_to_10"):
                network = method.replace("_thresholding", "") if method != "thresholding" else "baseline"
                rows.append(dict(imbalance="step", rho=RHO, mu=mu, split="0", repetition=str(rep), method=method,
                                 auc=auc(network, mu, rep) + _noise(network, mu, rep),
                                 accuracy=accuracy(method, mu, rep) + _noise(method, mu, rep),
                                 train_size=sizes.get(network, 5000)))
    return rows


def _paper_like(method, mu, rep):
    """Oversampling best; undersampling on a par at mu=0.8; the best undersampling ratio falls with mu."""
    return {"baseline": 0.90, "oversampling": 0.97, "undersampling": 0.93 if mu < 0.5 else 0.969,
            "undersampling_to_10": 0.95 if mu < 0.5 else 0.94, "undersampling_to_100": 0.96 if mu < 0.5 else 0.92,
            "oversampling_to_10": 0.95}[method]


def test_paper_like_results_hold_every_conclusion_they_contain():
    accuracy = lambda m, mu, rep: {"thresholding": 0.95, "oversampling_thresholding": 0.96,  # noqa: E731
                                   "undersampling_thresholding": 0.90}.get(m, 0.93)
    rows = _rows(_paper_like, accuracy)
    found = {f.number: f for f in conclusions.findings(rows)}
    assert found[1].verdict == "holds" and "best or tied for best in 2 of 2 settings" in found[1].evidence
    assert found[2].verdict == "holds" and "on 100 against 9,000 training images" in found[2].evidence
    assert found[3].verdict == "holds"
    assert found[4].verdict == "holds" and "rho=1000 mu=0.2: 100, rho=1000 mu=0.8: 1" in found[4].evidence
    assert found[5].verdict == "not in this study"  # no curves given
    without = [dict(r, rho=10.0) for r in _rows(_paper_like, accuracy) if r["mu"] == 0.2 and r["method"] in (
        "baseline", "undersampling")]  # a setting of the grid with no reduced ratio to choose from
    assert "rho=10 " not in conclusions.sampling_levels(rows + without).evidence
    assert "| 1 | Oversampling outperforms" in conclusions.table(rows)


def test_contrary_results_are_reported_as_not_holding():
    flipped = lambda m, mu, rep: {"oversampling": 0.90, "baseline": 0.97}.get(m, 0.93)  # noqa: E731
    worse = lambda m, mu, rep: {"thresholding": 0.85}.get(m, 0.93)  # noqa: E731
    rows = _rows(flipped, worse)
    found = {f.number: f for f in conclusions.findings(rows)}
    assert found[1].verdict == "does not hold" and "baseline -0.0" in found[1].evidence
    assert found[2].verdict == "holds"  # undersampling beats oversampling here: at least on a par
    assert found[3].verdict == "does not hold" and "baseline -0.0" in found[3].evidence
    assert found[4].verdict == "does not hold"  # oversampling to 10 beats full oversampling
    one_rep = _rows(_paper_like, reps=1)
    assert conclusions.undersampling_on_par(one_rep).verdict == "not significant"  # n=1: no test
    unsure = _rows(lambda m, mu, rep: {"undersampling": 0.96 + 0.03 * (-1) ** rep}.get(m, 0.97))
    assert conclusions.undersampling_on_par(unsure).verdict == "not significant"  # too wide to call it a par


def test_overfitting_is_read_from_the_gap_between_training_and_test_accuracy():
    def curves(grow, first_window=0.0):
        rows = []
        for rep in range(3):
            for method, growth in (("baseline", 0.01), ("oversampling", grow)):
                for k, step in enumerate((250, 500, 1000)):
                    early = -first_window if k == 0 and method == "oversampling" else 0.0
                    rows.append(dict(imbalance="step", rho=RHO, mu=0.5, split="0", repetition=str(rep), method=method,
                                     step=str(step), selected="1", test_accuracy=0.9,
                                     train_accuracy=0.9 + growth * k + 0.001 * rep * k * len(method) + early))
        return rows
    calm, overfit = conclusions.no_overfitting(curves(0.0)), conclusions.no_overfitting(curves(0.05))
    assert calm.verdict == "holds" and "gap at the end +0.0240, grown by +0.0120" in calm.evidence
    assert overfit.verdict == "does not hold" and "minus the baseline's growth +0.04" in overfit.evidence
    # training accuracy averaged over the first, still-learning window is not read as a growing gap
    assert conclusions.no_overfitting(curves(0.0, first_window=0.2)).verdict == "holds"


def test_the_balanced_reference_gives_its_test_error():
    rows = [dict(method="balanced", accuracy=a) for a in (0.99, 0.992)]
    assert conclusions.balanced_reference(rows).endswith(f"(n=2), a test error of {100 * (1 - np.mean([0.99, 0.992])):.2f}%.")
