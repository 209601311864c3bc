"""The paper's five conclusions (Section 5) checked against a study's results: for each, the evidence
(paired differences with 95% t intervals, pooled over the settings it concerns) and a verdict.

Pooled comparisons pair two methods' networks of the same imbalanced set (setting, split and
repetition), so every pair shares its training images and initial weights.
"""
from typing import NamedTuple, Optional

import numpy as np

from imbalance_jax import methods, statistics
from imbalance_jax.results import keeps_ranking, partial_sampling, setting_label

HOLDS, FAILS, UNSURE, ABSENT = "holds", "does not hold", "not significant", "not in this study"
# "On a par" (conclusion 2): a 95% interval of the AUC difference inside -PAR_MARGIN; the paper counts
# differences of 1-2 AUC points between runs as noise.
PAR_MARGIN = 0.01


class Finding(NamedTuple):
    """One conclusion of the paper, what this study shows about it, and the verdict."""

    number: int
    paper: str
    evidence: str
    verdict: str


def _key(row: dict) -> tuple:
    return (setting_label(row), str(row.get("split") or 0), str(row.get("repetition", 0)))


def _values(rows: list[dict], method: str, metric: str = "auc") -> dict:
    """{(setting, split, repetition): metric} of one method's rows."""
    return {_key(r): float(r[metric]) for r in rows if r["method"] == method}


def _difference(rows: list[dict], a: str, b: str, metric: str = "auc") -> statistics.Paired:
    return statistics.paired(_values(rows, a, metric), _values(rows, b, metric))


def _show(d: statistics.Paired) -> str:
    return (f"{d.mean_difference:+.4f} {statistics.format_interval(d.ci_low, d.ci_high)}, "
            f"p={statistics.format_p(d.p_value)}, n={d.n}")


def _above(d: statistics.Paired) -> bool:
    return statistics.significant(d) and d.mean_difference > 0


def _below(d: statistics.Paired) -> bool:
    return statistics.significant(d) and d.mean_difference < 0


def _imbalanced(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["imbalance"] != "balanced" and not partial_sampling(r["method"])]


def oversampling_wins(rows: list[dict]) -> Finding:
    """1: oversampling has the best multi-class ROC AUC in most cases."""
    paper = "Oversampling outperforms every other method on ROC AUC in most cases."
    rows = _imbalanced(rows)
    others = sorted({r["method"] for r in rows} - {"oversampling"}, key=str)
    others = [m for m in others if not keeps_ranking(m)]
    if "oversampling" not in {r["method"] for r in rows} or not others:
        return Finding(1, paper, "needs oversampling and another trained method", ABSENT)
    settings = list(dict.fromkeys(setting_label(r) for r in rows))
    top = tied = 0  # settings where oversampling has the highest mean / no method is significantly above it
    for setting in settings:
        here = [r for r in rows if setting_label(r) == setting]
        means = {m: np.mean([float(r["auc"]) for r in here if r["method"] == m]) for m in {r["method"] for r in here}
                 if not keeps_ranking(m)}
        top += max(means, key=means.get) == "oversampling"
        tied += "oversampling" in means and not any(_below(_difference(here, "oversampling", m)) for m in others)
    diffs = {m: _difference(rows, "oversampling", m) for m in others}
    evidence = (f"best or tied for best in {tied} of {len(settings)} settings (the highest mean AUC in {top}); "
                "oversampling minus, pooled: " + "; ".join(f"{m} {_show(d)}" for m, d in diffs.items()))
    beaten = any(_below(d) for d in diffs.values())  # some method significantly better, pooled
    verdict = FAILS if beaten or tied <= len(settings) / 2 else HOLDS if _above(
        diffs.get("baseline", statistics.paired({}, {}))) else UNSURE
    return Finding(1, paper, evidence, verdict)


def undersampling_on_par(rows: list[dict]) -> Finding:
    """2: at the most extreme imbalance with most classes minority, undersampling is on a par with
    oversampling (on a much smaller training set)."""
    paper = ("At extreme imbalance with a large share of minority classes, undersampling is on a par with "
             "oversampling (and trains on far fewer images).")
    step = [r for r in rows if r["imbalance"] == "step"]
    if not step or not {"oversampling", "undersampling"} <= {r["method"] for r in step}:
        return Finding(2, paper, "needs step imbalance with oversampling and undersampling", ABSENT)
    rho = max(float(r["rho"]) for r in step)
    mus = sorted({float(r["mu"]) for r in step if float(r["rho"]) == rho})
    at = lambda mu: [r for r in step if float(r["rho"]) == rho and float(r["mu"]) == mu]  # noqa: E731
    extreme = _difference(at(mus[-1]), "undersampling", "oversampling")
    sizes = [np.mean([float(r["train_size"]) for r in at(mus[-1]) if r["method"] == m])
             for m in ("undersampling", "oversampling")]
    evidence = (f"rho={rho:g}, mu={mus[-1]:g}: undersampling minus oversampling {_show(extreme)} (on a par: "
                f"the interval above -{PAR_MARGIN:g}), on "
                f"{sizes[0]:,.0f} against {sizes[1]:,.0f} training images")
    if len(mus) > 1:
        few = _difference(at(mus[0]), "undersampling", "oversampling")
        evidence += f"; at mu={mus[0]:g} (few minority classes): {_show(few)}"
    # On a par: not significantly worse, and the interval rules out a loss above PAR_MARGIN.
    if _below(extreme):
        verdict = FAILS
    elif _above(extreme) or (extreme.n >= 2 and extreme.ci_low >= -PAR_MARGIN):
        verdict = HOLDS
    else:
        verdict = UNSURE
    return Finding(2, paper, evidence, verdict)


def thresholding_accuracy(rows: list[dict]) -> Finding:
    """3: thresholding raises accuracy with the baseline and oversampling, not with undersampling."""
    paper = ("For accuracy, apply thresholding: with the baseline and oversampling, not with undersampling.")
    rows = _imbalanced(rows)
    pairs = [("thresholding", "baseline"), ("oversampling_thresholding", "oversampling"),
             ("undersampling_thresholding", "undersampling")]
    found = {r["method"] for r in rows}
    pairs = [(a, b) for a, b in pairs if {a, b} <= found]
    if not pairs:
        return Finding(3, paper, "needs a thresholded method and its network's method", ABSENT)
    diffs = {a: _difference(rows, a, b, "accuracy") for a, b in pairs}
    evidence = "accuracy gained by thresholding, pooled: " + "; ".join(
        f"{b} {_show(diffs[a])}" for a, b in pairs)
    helps = [diffs[a] for a in ("thresholding", "oversampling_thresholding") if a in diffs]
    under = diffs.get("undersampling_thresholding")
    if any(_below(d) for d in helps) or (under is not None and _above(under)):
        verdict = FAILS
    elif all(_above(d) for d in helps) and (under is None or not _above(under)):
        verdict = HOLDS
    else:
        verdict = UNSURE
    return Finding(3, paper, evidence, verdict)


def _ratio(method: str, rho: float) -> Optional[float]:
    """The imbalance ratio a method samples to: 1 for full sampling, rho for the baseline."""
    if method == "baseline":
        return rho
    found = methods.lookup(method)
    if found is None or found.training is None or found.training.sampler not in ("oversample", "undersample"):
        return None
    return float(found.training.target_rho)


def sampling_levels(rows: list[dict]) -> Finding:
    """4: oversample fully; the best undersampling ratio falls as the share of minority classes grows."""
    paper = ("Oversample until the imbalance is gone; the best undersampling ratio depends on the imbalance, "
             "lower with more minority classes (Fig. 7).")
    partial = [r for r in rows if partial_sampling(r["method"])]
    if not partial:
        return Finding(4, paper, "needs sampling to reduced ratios (configs/mnist_fig7.py)", ABSENT)
    step = [r for r in rows if r["imbalance"] == "step"]
    over = sorted({r["method"] for r in partial if methods.lookup(r["method"]).training.sampler == "oversample"})
    diffs = {m: _difference(step, "oversampling", m) for m in over}
    evidence = "full oversampling minus oversampling to a reduced ratio, pooled: " + "; ".join(
        f"{m} {_show(d)}" for m, d in diffs.items())
    best = []
    for setting in dict.fromkeys((float(r["rho"]), float(r["mu"])) for r in step):
        sel = [r for r in step if (float(r["rho"]), float(r["mu"])) == setting]
        if not any(partial_sampling(r["method"]) for r in sel):
            continue  # baseline and full undersampling only: no reduced ratio to choose
        means = {}
        for method in {r["method"] for r in sel}:
            ratio = _ratio(method, setting[0])
            if ratio is not None and (method == "baseline" or methods.lookup(method).training.sampler == "undersample"):
                means[ratio] = np.mean([float(r["auc"]) for r in sel if r["method"] == method])
        if len(means) > 1:
            best.append((setting, max(means, key=means.get)))
    best.sort()
    if best:
        evidence += "; best undersampling ratio by mean AUC: " + ", ".join(
            f"rho={rho:g} mu={mu:g}: {ratio:g}" for (rho, mu), ratio in best)
    falling = all(b[1] <= a[1] for a, b in zip(best, best[1:]) if a[0][0] == b[0][0])
    if any(_below(d) for d in diffs.values()) or (len(best) > 1 and not falling):
        verdict = FAILS
    elif len(best) > 1 and len({r for _, r in best}) > 1:
        verdict = HOLDS
    else:
        verdict = UNSURE
    return Finding(4, paper, evidence, verdict)


def _change_from_second(points: list) -> float:
    """The last value minus the second's, of (step, value) points (the first's where there are only two): the
    first point's training accuracy is the mean over the first iterations, still learning, which would count
    as a growing gap."""
    ordered = sorted(points)
    return ordered[-1][1] - ordered[1 if len(ordered) > 2 else 0][1]


def no_overfitting(curve_rows: list[dict]) -> Finding:
    """5: oversampling does not overfit: its train-test accuracy gap does not grow with iterations
    more than the baseline's."""
    paper = "Oversampling does not make CNNs overfit (Fig. 8)."
    rows = [r for r in curve_rows or [] if str(r.get("selected", "1")) in ("1", "") and r["imbalance"] != "balanced"]
    growth = {}
    for method in ("oversampling", "baseline"):
        by_network, test = {}, {}
        for r in rows:
            if r["method"] == method:
                by_network.setdefault(_key(r), []).append(
                    (int(r["step"]), float(r["train_accuracy"]) - float(r["test_accuracy"])))
                test.setdefault(_key(r), []).append((int(r["step"]), float(r["test_accuracy"])))
        growth[method + " test"] = {k: _change_from_second(v) for k, v in test.items() if len(v) > 1}
        growth[method] = {k: _change_from_second(v) for k, v in by_network.items() if len(v) > 1}
        growth[method + " end"] = {k: max(v)[1] for k, v in by_network.items()}
    if not growth["oversampling"] or not growth["baseline"]:
        return Finding(5, paper, "needs curves.csv with two or more points of oversampling and baseline", ABSENT)
    own = statistics.describe(list(growth["oversampling"].values()))
    versus = statistics.paired(growth["oversampling"], growth["baseline"])
    end = statistics.describe(list(growth["oversampling end"].values()))
    evidence = (f"oversampling's train-test accuracy gap at the end {end.mean:+.4f}, grown by {own.mean:+.4f} "
                f"{statistics.format_interval(own.ci_low, own.ci_high)} from the second curve point on (the first "
                "point's training accuracy averages the first, still-learning iterations), while its test accuracy "
                f"changed by {np.mean(list(growth['oversampling test'].values())):+.4f}; minus the baseline's growth "
                f"{_show(versus)}")
    verdict = FAILS if _above(versus) else HOLDS if versus.n >= 2 else UNSURE
    return Finding(5, paper, evidence, verdict)


def balanced_reference(rows: list[dict]) -> str:
    """The balanced reference's test accuracy with its interval, or '' without one."""
    accuracy = [float(r["accuracy"]) for r in rows if r["method"] == "balanced"]
    if not accuracy:
        return ""
    s = statistics.describe(accuracy)
    return (f"The balanced reference (Section 4.3) reaches test accuracy {s.mean:.4f} "
            f"{statistics.format_interval(s.ci_low, s.ci_high)} (n={s.n}), a test error of {100 * (1 - s.mean):.2f}%.")


def findings(rows: list[dict], curve_rows: Optional[list[dict]] = None) -> list[Finding]:
    """The five conclusions, each checked against the rows (and curves.csv's rows for the fifth)."""
    return [oversampling_wins(rows), undersampling_on_par(rows), thresholding_accuracy(rows),
            sampling_levels(rows), no_overfitting(curve_rows)]


def table(rows: list[dict], curve_rows: Optional[list[dict]] = None) -> str:
    """Markdown: a row per conclusion with this study's evidence and verdict."""
    lines = ["| # | the paper concludes | this study | verdict |", "|---|---|---|---|"]
    lines += [f"| {f.number} | {f.paper} | {f.evidence} | {f.verdict} |" for f in findings(rows, curve_rows)]
    return "\n".join(lines)
