"""Evaluation records -> results.csv (a row per network and method) and curves.csv (accuracy vs iterations),
and those rows read back for tables and figures."""
from imbalance_jax import longtail_metrics, methods
from imbalance_jax.files import RecordError, write_csv, write_text  # noqa: F401 - the one writer, for the reports
from imbalance_jax.methods import PAPER_METHODS
from imbalance_jax.tables import CURVES, PER_CLASS, RESULTS

# per_class.csv: a row per (network, method, class); train_count is the class's count in the imbalanced
# set (before any sampling), minority whether it is below the largest class's, shot its many/medium/few-shot
# group by those counts (imbalance_jax.longtail_metrics), test_count its test images. The columns of the three
# tables, their types and ranges are declared in imbalance_jax.tables.

RESULT_COLUMNS, PER_CLASS_COLUMNS, CURVE_COLUMNS = RESULTS.names, PER_CLASS.names, CURVES.names
# A class with fewer test images has no per-class recall, precision or AUC (a number from 0 to 2 images), and takes
# no part in a many/medium/few-shot mean; the report names it.
MIN_TEST_IMAGES = 3


def trained(row: dict) -> bool:
    """A row of a network that trained to the end with finite loss and weights."""
    return row.get("diverged", "") in ("", None)


def selected(row: dict) -> bool:
    """A row of the learning-rate run the study kept (rows written before the column count as kept)."""
    return str(row.get("selected", "1")) in ("1", "")


def mark_selected(rows: list[dict]) -> None:
    """Sets selected=1 on the best-AUC row of each (imbalanced set, method) over its finite learning-rate runs."""
    best = {}  # (set, method) -> position of its best row
    for i, row in enumerate(rows):
        key = (row["network"].split("/")[0], row["method"])
        if trained(row) and (key not in best or row["auc"] > rows[best[key]]["auc"]):
            best[key] = i
    chosen = set(best.values())
    for i, row in enumerate(rows):
        row["selected"] = int(i in chosen)


def curve_rows(networks: list, curves: dict) -> list[dict]:
    """Rows of curves.csv: train and test accuracy of each network at each recorded step."""
    if not curves or not curves["step"]:
        return []
    rows = []
    for j, n in enumerate(networks):
        for k, step in enumerate(curves["step"]):
            rows.append(dict(network=n.name, method=n.method, imbalance=n.imbalance, rho=n.rho,
                             mu="" if n.mu is None else n.mu, repetition=n.repetition, split=n.split,
                             lr=n.base_lr, lr_run=n.lr_run, step=step,
                             train_accuracy=curves["train_accuracy"][k][j],
                             test_accuracy=curves["test_accuracy"][k][j]))
    return rows


def _test_count(test_counts, row, c):
    counts = (test_counts or {}).get(int(row.get("split") or 0))
    return "" if counts is None else int(counts[c])


def _enough_test_images(test_counts, row, c) -> bool:
    """Whether class c has the test images a per-class metric needs in row's split (unknown counts: yes)."""
    tested = _test_count(test_counts, row, c)
    return tested == "" or tested >= MIN_TEST_IMAGES


def per_class_rows(rows: list[dict], class_counts: dict, class_names: tuple = (),
                   test_counts: dict = None) -> list[dict]:
    """Rows of per_class.csv, one per (network, method, class), from result rows (trained networks only),
    {network name: class counts}, the classes' names and {split: test images per class}."""
    out = []
    for row in filter(trained, rows):
        counts = class_counts[row["network"]]
        shots, _ = longtail_metrics.shot_groups(counts)
        metrics = {key: str(row.get(f"per_class_{key}", "")).split() for key in ("recall", "precision", "auc")}
        for key, values in metrics.items():
            for c in range(len(values)):
                if not _enough_test_images(test_counts, row, c):
                    values[c] = ""
        for c, count in enumerate(counts):
            out.append(dict({key: row[key] for key in ("network", "method", "imbalance", "rho", "mu", "repetition",
                                                        "split")},
                            selected=row.get("selected", 1), train_count=count, minority=int(count < max(counts)),
                            shot=shots[c], test_count=_test_count(test_counts, row, c),
                            class_name=class_names[c] if c < len(class_names) else str(c),
                            **{"class": c}, **{key: values[c] if c < len(values) else ""
                                               for key, values in metrics.items()}))
    return out


def write(workdir, rows: list[dict], curves: list[dict], class_counts: dict = None,
          class_names: tuple = (), test_counts: dict = None) -> list[dict]:
    """results.csv, per_class.csv (given each network's class counts, which also give results.csv's
    many/medium/few-shot recall, and {split: test images per class}) and curves.csv (when there are curves) in the
    workdir (a workdir.Workdir), with their checksums; returns per_class.csv's rows."""
    mark_selected(rows)
    if class_counts is not None:
        for row in rows:
            counts = class_counts[row["network"]]
            usable = [_enough_test_images(test_counts, row, c) for c in range(len(counts))]
            row.update(longtail_metrics.result_columns(row.get("per_class_recall"), counts, usable))
    written = {RESULTS: rows}
    per_class = per_class_rows(rows, class_counts, class_names, test_counts) if class_counts is not None else []
    if class_counts is not None:
        written[PER_CLASS] = per_class
    if curves:
        # a network's curve is selected when its own method's row is (the lr protocol's pick)
        chosen = {(r["network"], r["method"]) for r in rows if r["selected"]}
        for c in curves:
            c["selected"] = int((c["network"], c["method"]) in chosen)
        written[CURVES] = curves
    workdir.tables.write_tables(written)
    return per_class


def keeps_ranking(name: str) -> bool:
    """A method whose scores rank like its network's softmax (thresholding): AUC never tells it apart."""
    method = methods.lookup(name)
    return method is not None and method.scoring.keeps_ranking and method.network != name


def partial_sampling(name: str) -> bool:
    """Sampling to a reduced ratio (Section 4.5): drawn in Fig. 7 only."""
    method = methods.lookup(name)
    return method is not None and method.partial_sampling


def sampling_reduced(name: str) -> str:
    """The full sampling method (oversampling, undersampling) a sampling to a reduced ratio stops short of;
    '' for any other method."""
    method = methods.lookup(name)
    return "" if method is None else method.reduces


def typed(rows: list[dict]) -> list[dict]:
    """The selected rows of trained networks (the best of each learning-rate protocol) of results.csv's rows
    as Workdir reads them, with rho, auc and accuracy as floats, mu a float or None, split an int."""
    out = [dict(r) for r in rows if selected(r) and trained(r)]
    for r in out:
        for key in ("rho", "auc", "accuracy"):
            r[key] = float(r[key])
        r["mu"] = float(r["mu"]) if r["mu"] not in ("", None) else None
        r["split"] = int(float(r.get("split") or 0))
        r["num_minority"] = len(r["minority_classes"].split())
    return out


def setting_label(row: dict) -> str:
    """A readable name of a row's imbalance setting, e.g. 'step rho=10 mu=0.5'."""
    label = f"{row['imbalance']} rho={float(row['rho']):g}"
    if row["mu"] not in ("", None):
        label += f" mu={float(row['mu']):g}"
    return label


def method_order(rows):
    """The paper's methods first, then the others by name."""
    return list(dict.fromkeys([*PAPER_METHODS, *sorted({r["method"] for r in rows})]))
