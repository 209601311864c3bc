"""Reports of a study's results: the summary table (figures live beside it)."""
from collections import defaultdict

import numpy as np

from imbalance_jax.methods import PAPER_METHODS


def setting_label(row: dict) -> str:
    """A readable name of a row's imbalance setting, e.g. 'step rho=10 mu=0.5'."""
    label = f"{row['imbalance']} rho={float(row['rho']):g}"
    if row["mu"] not in ("", None):
        label += f" mu={float(row['mu']):g}"
    return label


def mean_by_setting(rows: list[dict]) -> dict:
    """{(setting, method): {'n', 'auc', 'auc_std', 'accuracy'}} averaged over repetitions."""
    groups = defaultdict(list)
    for row in rows:
        groups[(setting_label(row), row["method"])].append(row)
    out = {}
    for key, group in groups.items():
        auc = np.array([float(r["auc"]) for r in group])
        out[key] = {"n": len(group), "auc": auc.mean(), "auc_std": auc.std(),
                    "accuracy": np.mean([float(r["accuracy"]) for r in group])}
    return out


def summary_table(rows: list[dict]) -> str:
    """Markdown table of mean multi-class ROC AUC and accuracy per imbalance setting and method."""
    means = mean_by_setting(rows)
    settings = list(dict.fromkeys(setting_label(r) for r in rows))
    method_order = list(dict.fromkeys([*PAPER_METHODS, *(r["method"] for r in rows)]))
    keys = sorted(means, key=lambda k: (settings.index(k[0]), method_order.index(k[1])))
    lines = ["| setting | method | runs | ROC AUC (mean ± sd) | accuracy |", "|---|---|---|---|---|"]
    for setting, method in keys:
        m = means[(setting, method)]
        lines.append(f"| {setting} | {method} | {m['n']} | {m['auc']:.4f} ± {m['auc_std']:.4f} | "
                     f"{m['accuracy']:.4f} |")
    return "\n".join(lines)
