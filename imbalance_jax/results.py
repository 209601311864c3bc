"""Evaluation records -> results.csv (a row per network and method) and curves.csv (accuracy vs iterations)."""
import csv
import os

RESULT_COLUMNS = (
    "dataset", "imbalance", "rho", "mu", "minority_classes", "seed", "repetition", "method",
    "auc", "accuracy", "balanced_accuracy", "macro_f1", "train_size", "iterations", "lr", "lr_run",
    "selected", "network", "cohort", "per_class_recall", "per_class_auc", "diverged",
)
CURVE_COLUMNS = ("network", "method", "imbalance", "rho", "mu", "repetition", "step",
                 "train_accuracy", "test_accuracy")


def trained(row: dict) -> bool:
    """A row of a network that trained to the end with finite loss and weights."""
    return row.get("diverged", "") in ("", None)


def mark_selected(rows: list[dict]) -> None:
    """Sets selected=1 on the best-AUC row of each (imbalanced set, method) over its finite learning-rate runs."""
    best = {}
    for row in filter(trained, rows):
        key = (row["network"].split("/")[0], row["method"])
        if key not in best or row["auc"] > best[key]["auc"]:
            best[key] = row
    chosen = {id(r) for r in best.values()}
    for row in rows:
        row["selected"] = int(id(row) in chosen)


def curve_rows(networks: list, curves: dict) -> list[dict]:
    """Rows of curves.csv: train and test accuracy of each network at each recorded step."""
    if not curves or not curves["step"]:
        return []
    rows = []
    for j, n in enumerate(networks):
        for k, step in enumerate(curves["step"]):
            rows.append(dict(network=n.name, method=n.method, imbalance=n.imbalance, rho=n.rho,
                             mu="" if n.mu is None else n.mu, repetition=n.repetition, step=step,
                             train_accuracy=curves["train_accuracy"][k][j], test_accuracy=curves["test_accuracy"][k][j]))
    return rows


def write_csv(path: str, columns, rows: list[dict]) -> None:
    """Writes a CSV atomically (a per-process temporary file, then a rename)."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def write(workdir: str, rows: list[dict], curves: list[dict]) -> None:
    """results.csv (and curves.csv when there are curves) in the workdir."""
    mark_selected(rows)
    write_csv(os.path.join(workdir, "results.csv"), RESULT_COLUMNS, rows)
    if curves:
        write_csv(os.path.join(workdir, "curves.csv"), CURVE_COLUMNS, curves)
