"""A study of a dataset as it is (imbalance.as_is): every network trains on the file's own class counts (after its
method's sampling), the report opens with a recommendation whose numbers recompute from results.csv, and bad
datasets are refused in one line before anything is written."""
import csv
import math
import os
import re

import numpy as np
import pytest
import scipy.stats
from PIL import Image

import tiny
from test_bad_inputs import _one_line_exit
from test_verdict_evidence import _holm
from imbalance_jax import data, design, report, study
from imbalance_jax.method_labels import method_label

METHODS = ("baseline", "oversampling", "undersampling", "two_phase_oversampling", "thresholding", "weighted_ce")
COUNTS = (120, 60, 30, 15, 8)  # a long tail of five digit classes


def long_tailed_npz(path, counts=COUNTS, test=12, seed=0, short_test=(4, 2)):
    """An npz of digits with the given training counts per class (the tool is not told how it was made), `test`
    test images per class but short_test's (class, images): one class too thin for per-class metrics."""
    x, y = data.load("digits", "train")
    xt, yt = data.load("digits", "test")
    rng = np.random.default_rng(seed)
    train = np.sort(np.concatenate([rng.choice(np.flatnonzero(y == c), n, replace=False)
                                    for c, n in enumerate(counts)]))
    held = np.sort(np.concatenate([np.flatnonzero(yt == c)[:short_test[1] if c == short_test[0] else test]
                                   for c in range(len(counts))]))
    np.savez(path, x_train=x[train], y_train=y[train], x_test=xt[held], y_test=yt[held])
    return path


def as_is_config(dataset, repetitions=3):
    config = tiny.tiny_config()
    config.dataset = f"npz:{dataset}"
    config.imbalance.as_is = True
    config.imbalance.repetitions = repetitions
    config.methods = METHODS
    config.cohort_size = 20
    return config


@pytest.fixture(scope="module")
def as_is_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("as_is")
    config = as_is_config(long_tailed_npz(str(root / "lt.npz")))
    workdir = str(root / "w")
    study.run_study(config, workdir)
    report.write_report(workdir)
    with open(os.path.join(workdir, "results.csv")) as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(workdir, "report.md")) as f:
        text = f.read()
    return config, workdir, rows, text


def test_every_network_trains_on_the_files_own_counts_after_its_sampling(as_is_study):
    config, workdir, rows, _ = as_is_study
    setup, _ = study.open_study(config, workdir)
    labels = np.load(config.dataset[4:])["y_train"]
    networks = design.all_networks(config, design.DatasetFacts(len(COUNTS), max(COUNTS), COUNTS))
    assert {n.method for n in networks} == {"baseline", "oversampling", "undersampling", "two_phase_oversampling",
                                            "weighted_ce"}
    assert len(networks) == 5 * 3 and {n.imbalance for n in networks} == {"as_is"}
    for n in networks:
        assert n.class_counts == COUNTS  # nothing balanced away, nothing imposed
        drawn = np.bincount(labels[design.training_indices(n, labels)], minlength=len(COUNTS))
        expected = {"oversampling": [max(COUNTS)] * 5, "undersampling": [min(COUNTS)] * 5}.get(
            n.method, list(COUNTS))  # two-phase's own set is the imbalanced one (its parent oversampled)
        assert drawn.tolist() == expected, n.name
    assert {r["imbalance"] for r in rows} == {"as_is"}
    assert {float(r["rho"]) for r in rows} == {max(COUNTS) / min(COUNTS)}
    assert {r["repetition"] for r in rows} == {"0", "1", "2"}
    assert setup.data.n_max == max(COUNTS) and np.bincount(setup.data.y_train).tolist() == list(COUNTS)


def test_long_tail_columns_recompute_and_a_thin_test_class_gets_no_per_class_number(as_is_study):
    _, workdir, rows, text = as_is_study
    with open(os.path.join(workdir, "per_class.csv")) as f:
        per_class = list(csv.DictReader(f))
    thin = [r for r in per_class if r["class"] == "4"]
    assert thin and all(r["test_count"] == "2" and r["recall"] == r["precision"] == r["auc"] == "" for r in thin)
    assert "- class 4 (4): 2 test images: no recall, precision or one-vs-rest AUC for it" in text
    # Liu et al.'s bounds on 120/60/30/15/8 training images: many (> 100): class 0; medium: 1, 2; few (< 20): 3, 4
    for row in rows:
        recall = {int(r["class"]): float(r["recall"]) for r in per_class if (r["network"], r["method"]) == (
            row["network"], row["method"]) and r["recall"] != ""}
        expected = {"many": [recall[0]], "medium": [recall[1], recall[2]], "few": [recall[3]]}  # class 4: no recall
        for group, values in expected.items():
            assert float(row[f"{group}_shot_recall"]) == pytest.approx(np.mean(values), abs=1e-4), (row, group)


@pytest.mark.parametrize("metric,name", [("auc", "ROC AUC"), ("balanced_accuracy", "balanced accuracy"),
                                         ("few_shot_recall", "few-shot recall")])
def test_the_recommendation_recomputes_from_results_csv(as_is_study, metric, name):
    _, _, rows, text = as_is_study
    assert text.index("## Which method to use on this data") < text.index("## What this study can detect")
    values = {}
    for r in rows:
        if metric == "auc" and r["method"] == "thresholding":
            continue  # ranks as its network does
        values.setdefault(r["method"], {})[r["repetition"]] = float(r[metric])
    means = {m: np.mean(list(v.values())) for m, v in values.items()}
    line = next(x for x in text.splitlines() if x.startswith(f"- **{name}**"))
    best = re.search(r"\*\*[^*]+\*\* \(([a-z_0-9.]+)\) ", line).group(1)
    assert means[best] == pytest.approx(max(means.values()), abs=1e-12), line  # the highest mean (ties: any)
    others = sorted((m for m in means if m != best), key=lambda m: -means[m])
    raw = [scipy.stats.ttest_rel([values[best][k] for k in "012"], [values[m][k] for k in "012"]).pvalue
           for m in others]
    tested = [i for i, p in enumerate(raw) if not math.isnan(p)]  # identical values: no test, out of the family
    holm = [math.nan] * len(raw)
    for i, h in zip(tested, _holm([raw[i] for i in tested])):
        holm[i] = h
    assert f"**{method_label(best)}** ({best}) {means[best]:.4f}" in line, line
    for m, h in zip(others, holm):
        shown = re.search(rf"{re.escape(method_label(m))} \(([+-][0-9.]+), Holm ([<0-9.]+|n/a)\)", line)
        if shown:  # not told apart: its difference and Holm p are printed
            assert float(shown.group(1)) == pytest.approx(means[best] - means[m], abs=1e-4)
            assert shown.group(2) == ("n/a" if math.isnan(h) else "<0.001" if h < 0.001 else f"{h:.3f}")
            assert math.isnan(h) or h >= 0.05
        else:
            assert h < 0.05 and method_label(m) in line.split("it is ahead of")[1], line
    tied = [method_label(m) for m in others if abs(means[m] - means[best]) < 1e-9]  # named, none favoured
    verdict = f"{method_label(best)} wins" if all(h < 0.05 for h in holm) else \
        f"none shown better than {method_label(best)}" + (f" (tied with {', '.join(tied)})" if tied else "")
    assert not tied or f", tied with {', '.join(tied)}" in line
    assert f"| {name} | {verdict} |" in text


def test_the_balanced_reference_is_refused_in_one_line(capsys, tmp_path):
    config = as_is_config(long_tailed_npz(str(tmp_path / "lt.npz")))
    config.methods = ("baseline", "balanced")
    line = _one_line_exit(capsys, lambda: study.open_study(config, str(tmp_path / "w")))
    assert "config.methods holds 'balanced'" in line and "drop it from methods" in line
    config = as_is_config(str(tmp_path / "lt.npz"))
    config.train_per_class = 50
    line = _one_line_exit(capsys, lambda: study.open_study(config, str(tmp_path / "w")))
    assert line == ("error: config.train_per_class=50 balances the training set; a study of the data as it is "
                    "(imbalance.as_is=True) trains on every training image: set train_per_class=0")


@pytest.mark.parametrize("case,expected", [
    ("no training image of class 2", "train: class 2 has no images; labels must be 0..C-1 with every class present"),
    ("no test image of the last class", "class 4 has no test image; every label 0..4 needs images in both splits"),
    ("one class", "has 1 class; a study compares classes, so it needs at least 2"),
    ("a negative label", "train: labels must be integers 0..C-1; found int32 from -1"),
])
def test_bad_datasets_are_refused_in_one_line_with_nothing_written(capsys, tmp_path, case, expected):
    path = long_tailed_npz(str(tmp_path / "lt.npz"))
    arrays = dict(np.load(path))
    if case == "no training image of class 2":
        keep = arrays["y_train"] != 2
        arrays["x_train"], arrays["y_train"] = arrays["x_train"][keep], arrays["y_train"][keep]
    elif case == "no test image of the last class":
        keep = arrays["y_test"] != 4
        arrays["x_test"], arrays["y_test"] = arrays["x_test"][keep], arrays["y_test"][keep]
    elif case == "one class":
        for split in ("train", "test"):
            arrays[f"y_{split}"] = np.zeros_like(arrays[f"y_{split}"])
    else:
        arrays["y_train"] = arrays["y_train"].copy()
        arrays["y_train"][3] = -1
    np.savez(path, **arrays)
    workdir = tmp_path / "w"
    line = _one_line_exit(capsys, lambda: study.open_study(as_is_config(path), str(workdir)))
    assert expected in line and line.startswith("error: dataset="), line
    assert not (workdir / "config.json").exists() and not (workdir / "results.csv").exists()


def test_repetitions_of_one_small_dataset_get_their_own_test_sets_with_resplits(tmp_path):
    config = as_is_config(long_tailed_npz(str(tmp_path / "lt.npz")), repetitions=1)
    config.resplits = 2
    setup, _ = study.open_study(config, str(tmp_path / "w"))
    first, second = setup.splits
    assert np.bincount(second.y_train).tolist() == list(COUNTS)  # stratified: the same counts
    assert np.bincount(second.y_test).tolist() == np.bincount(first.y_test).tolist()
    assert not np.array_equal(first.x_test, second.x_test)
    assert math.isclose(first.n_max, max(COUNTS))


def _image_folders(root, counts, test=2, size=20):
    rng = np.random.default_rng(0)
    for split, per_class in (("train", counts), ("test", [test] * len(counts))):
        for name, n in zip(("cat", "dog", "emu"), per_class):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(
                    root / split / name / f"{i}.png")
    return f"folder:{root / 'train'},{root / 'test'}"


@pytest.mark.parametrize("pipeline", ["resident", "stream"])
def test_image_folders_are_studied_as_they_are_resident_or_streamed(tmp_path, pipeline):
    from configs import imagenet
    from imbalance_jax import study_setup

    dataset = _image_folders(tmp_path, (9, 4, 2))
    config = imagenet.get_config() if pipeline == "stream" else tiny.tiny_config()
    config.dataset = dataset + ("@20" if pipeline == "resident" else "")
    config.imbalance.as_is, config.imbalance.repetitions, config.train_per_class = True, 2, 0
    config.test_per_class = 0  # the test split as it is
    config.methods = ("baseline", "oversampling", "undersampling")
    config.stream.resize, config.stream.crop = 20, 16
    loaded, _ = study_setup.load_data(config, prepare=False)
    assert np.bincount(loaded.y_train).tolist() == [9, 4, 2] and np.bincount(loaded.y_test).tolist() == [2, 2, 2]
    assert loaded.n_max == 9 and loaded.class_names == ("cat", "dog", "emu")
    networks = design.all_networks(config, design.DatasetFacts(3, loaded.n_max, (9, 4, 2)))
    assert [(n.set_name, n.method, n.class_counts) for n in networks][:3] == [
        ("as_is_rep0", "baseline", (9, 4, 2)), ("as_is_rep0", "oversampling", (9, 4, 2)),
        ("as_is_rep0", "undersampling", (9, 4, 2))]
    assert {design.training_size(n) for n in networks} == {15, 27, 6}
