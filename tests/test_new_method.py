"""A method is one file: registered from a module of its own, it appears in the results, the report and the
figures that should show it, with no edit anywhere else."""
import csv
import importlib
import re
import sys

import matplotlib.colors
import numpy as np
import pytest

from imbalance_jax import figures as figs
from imbalance_jax import methods, report, results
from imbalance_jax.results import RESULT_COLUMNS
from imbalance_jax.workdir import Workdir

PLUGIN = '''
from imbalance_jax.methods import Method, Training, register
from imbalance_jax.workdir import Workdir

register(Method("throwaway_remedy", "throwaway_remedy", Training(sampler="oversample", target_rho=2.0),
                label="Throwaway remedy", style=("#123456", "p", "-."), figures=("fig6", "fig8")))
register(Method("quiet_remedy", "quiet_remedy", Training(), label="Quiet remedy"))
'''
NEW = ("throwaway_remedy", "quiet_remedy")
PAPER = ("baseline", "oversampling", "undersampling", "thresholding")


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """Imports a module that registers two methods (one drawn in Fig. 6 and Fig. 8 with its own style, one in
    no fixed figure), and unregisters them afterwards."""
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "throwaway_method.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(folder))
    importlib.import_module("throwaway_method")
    yield
    for name in NEW:
        methods.unregister(name)
    sys.modules.pop("throwaway_method", None)


def _rows():
    rng = np.random.default_rng(0)
    rows = []
    for rho in (10, 100):
        for mu in (0.2, 0.5):
            for rep in range(3):
                k = int(mu * 10)
                for m in PAPER + NEW:
                    rows.append(dict(dataset="toy", imbalance="step", rho=rho, mu=mu, seed=rep, repetition=rep,
                                     split=0, method=m, minority_classes=" ".join(map(str, range(k))),
                                     auc=rng.uniform(0.8, 0.99), accuracy=rng.uniform(0.5, 0.9),
                                     balanced_accuracy=0.5, train_size=100, iterations=10, selected=1,
                                     network=f"step{rho}{mu}{rep}/{m}", cohort=0))
    return rows


def _write(path, columns, rows):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def test_a_method_registered_in_its_own_file_reaches_results_report_and_figures(plugin, tmp_path):
    import matplotlib.pyplot as plt

    _write(tmp_path / "results.csv", RESULT_COLUMNS, _rows())
    curves = [dict(network=f"step1000.50/{m}", method=m, imbalance="step", rho=100, mu=0.5, repetition=0, selected=1,
                   step=step, train_accuracy=0.5 + step / 100, test_accuracy=0.4 + step / 100)
              for m in PAPER[:3] + NEW for step in (10, 20, 30)]
    _write(tmp_path / "curves.csv", list(curves[0]), curves)

    rows = results.typed(Workdir(str(tmp_path)).tables.results())
    assert results.method_order(rows)[-2:] == sorted(NEW)  # after the paper's methods
    assert all(not results.keeps_ranking(m) and not results.partial_sampling(m) for m in NEW)

    text = open(report.write_report(str(tmp_path))).read()
    for name, label in zip(NEW, ("Throwaway remedy", "Quiet remedy")):
        assert re.search(rf"^\| {label} \| step rho=100 mu=0\.5 \| {name} \| 3 \|", text, re.M), name
    assert (tmp_path / "fig6_accuracy_vs_minority_classes.png").stat().st_size > 10_000

    specs = {s.file: s for s in figs.figure_specs(rows)}
    fig3 = specs["fig3_auc_vs_minority_classes.png"].draw()
    drawn3 = {c.get_label() for c in fig3.axes[0].containers}
    assert {"Throwaway remedy", "Quiet remedy"} <= drawn3 and "Thresholding" not in drawn3  # its AUC is its own
    fig6 = specs["fig6_accuracy_vs_minority_classes.png"].draw()
    lines = {c.get_label(): c for c in fig6.axes[0].containers}
    assert list(lines) == ["Baseline", "ROS", "RUS", "Thresholding", "Throwaway remedy"]  # not the quiet one
    line = lines["Throwaway remedy"][0]
    assert (matplotlib.colors.to_hex(line.get_color()), line.get_marker(), line.get_linestyle()) == ("#123456", "p",
                                                                                                     "-.")
    title, fig8 = figs.draw_fig8(curves)
    assert [ax.get_title() for ax in fig8.axes if ax.has_data()] == ["Baseline", "ROS", "RUS", "Throwaway remedy"]
    assert matplotlib.colors.to_hex(fig8.axes[3].get_lines()[0].get_color()) == "#123456"
    plt.close("all")


def test_a_registration_that_contradicts_itself_is_refused():
    with pytest.raises(ValueError, match="thresholds='oversampling' but reads the network of 'baseline'"):
        methods.Method("odd", "baseline", scoring=methods.Scoring("prior"), thresholds="oversampling")
    with pytest.raises(ValueError, match="paper_role='ROS' is 'oversampling''s; leave it ''"):
        methods.register(methods.Method("second_ros", "second_ros", methods.Training(), paper_role=methods.ROS))
    assert "second_ros" not in methods.names()
