"""The README's public-function examples run as written, on numpy inputs, and say what they return."""
import os
import re

import numpy as np
from sklearn.metrics import roc_auc_score

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def _public_functions_block() -> str:
    text = open(README).read()
    section = text[text.index("## Public functions, one example each"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_examples_run_and_their_comments_hold():
    scope = {}
    exec(compile(_public_functions_block(), "README.md", "exec"), scope)  # noqa: S102 - the README's own code
    x, y, d, counts, by_label, idx = (scope[k] for k in ("x", "y", "d", "counts", "by_label", "idx"))
    assert x.dtype == np.uint8 and x.shape == (1497, 28, 28, 1) and y.shape == (1497,)
    assert len(d.y_train) == 1400 and list(counts) == [14] * 5 + [140] * 5
    assert sorted(np.bincount(d.y_train[idx], minlength=10)) == sorted(by_label)
    labels_in = d.y_train[idx]
    assert set(scope["ros"]) >= set(range(len(idx)))  # every original kept
    assert np.bincount(labels_in[scope["rus"]]).max() == 140 and np.bincount(labels_in[scope["rus"]]).min() == 14
    assert scope["table"].indices.shape == (2, 1400)
    probs, labels = scope["probs"], scope["labels"]
    expected = np.mean([roc_auc_score(labels == c, probs[:, c]) for c in range(10)])
    from imbalance_jax import metrics

    assert abs(float(metrics.multiclass_auc(probs, labels)) - expected) < 1e-6
    thresholded = np.asarray(metrics.threshold(probs, scope["prior"]))
    assert abs(float(metrics.multiclass_auc(thresholded, labels)) - expected) < 1e-6  # same AUC


def _arrays_block() -> str:
    text = open(README).read()
    section = text[text.index("## Your own arrays"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_arrays_example_runs_the_study_through_the_runner(tmp_path, monkeypatch):
    import csv

    import configs.quick  # noqa: F401 - imported from the repository before the working folder moves

    monkeypatch.chdir(tmp_path)  # the example writes runs/arrays relative to where it runs
    scope = {}
    exec(compile(_arrays_block(), "README.md", "exec"), scope)  # noqa: S102 - the README's own code
    rows = scope["rows"]
    assert {r["method"] for r in rows} == {"baseline", "oversampling", "thresholding"}
    assert len({r["network"] for r in rows}) == 6 and all(0 <= r["auc"] <= 1 for r in rows)  # 3 repetitions
    workdir = tmp_path / "runs" / "arrays"
    assert (workdir / "report.md").exists() and (workdir / "arrays.npz").exists()
    assert "cohort 1 of 1 (cohort_00000)" in (workdir / "log.txt").read_text()  # progress, as on the command line
    with open(workdir / "per_class.csv") as f:
        names = {r["class_name"] for r in csv.DictReader(f)}
    assert names == {f"digit {c}" for c in range(10)}
    with open(workdir / "config.json") as f:  # the study reads the arrays it saved: the CLI's own path
        assert f'"dataset": "npz:{workdir / "arrays.npz"}"' in f.read()
