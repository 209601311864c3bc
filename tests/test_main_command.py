"""The README's main command, for real: configs/quick.py through `python -m launch.study` (the same settings,
methods and balanced reference; 6 iterations of batches of 16), its printed table read back and checked against
results.csv."""
import csv
import os
import re
import subprocess
import sys

import jax
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_the_main_command_trains_the_quick_study_and_prints_its_table(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, "-m", "launch.study", "--config=configs/quick.py",
                           f"--workdir={tmp_path / 'quick'}", "--config.train.iterations=6",
                           "--config.steps_per_call=3", "--config.curve_every=3", "--config.train.batch_size=16"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(tmp_path / "quick" / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len({r["network"] for r in rows}) == 123  # 24 imbalanced sets x 5 trained methods + 3 references
    settings = {(r["imbalance"], float(r["rho"]), r["mu"]) for r in rows if r["method"] != "balanced"}
    assert settings == {("step", rho, mu) for rho in (10.0, 50.0) for mu in ("0.2", "0.5", "0.8")} | {
        ("linear", 10.0, ""), ("linear", 50.0, "")}
    table = [line for line in done.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    head = [c.strip() for c in table[0].strip("|").split("|")]
    parsed = [dict(zip(head, (c.strip() for c in line.strip("|").split("|")))) for line in table[1:]]
    assert len(parsed) == 8 * 8 + 1  # every setting's 8 methods, and the balanced reference
    for cell in parsed:
        method = cell.get("config name", cell.get("method"))
        label = cell["setting"]
        chosen = [float(r["auc"]) for r in rows if r["method"] == method and _label(r) == label]
        assert int(cell["n"]) == len(chosen) == 3
        assert float(cell["ROC AUC"]) == pytest.approx(np.mean(chosen), abs=6e-5)
        assert float(cell["sd"]) == pytest.approx(np.std(chosen, ddof=1), abs=6e-5)
        low, high = (float(v) for v in cell["95% CI"].strip("[]").split(", "))  # three repetitions: an interval
        assert 0 <= low <= float(cell["ROC AUC"]) <= high <= 1 or low == high
        assert cell["p"] != "n/a"
    assert "a test needs 3 repetitions" not in done.stdout
    report = (tmp_path / "quick" / "report.md").read_text()
    assert "## The paper's conclusions, checked (Section 5)" in report
    verdicts = dict(re.findall(r"^\| (\d) \| .+? \| (.+?) \|$", report, re.M))
    for number in "1235":  # the main command reaches a verdict on each of these
        assert not verdicts[number].startswith(("no test", "cannot be tested", "not in this study")), verdicts
    assert f"per setting and method; run on 1 x cpu (cpu backend), jax {jax.__version__}." in report  # log.txt's
    for figure in ("fig3_auc_vs_minority_classes.png", "fig4_auc_vs_rho.png", "fig5_linear_auc_vs_rho.png",
                   "fig6_accuracy_vs_minority_classes.png", "fig8_convergence.png"):
        assert (tmp_path / "quick" / figure).exists(), figure


def _label(row):
    label = f"{row['imbalance']} rho={float(row['rho']):g}"
    return label + (f" mu={float(row['mu']):g}" if row["mu"] else "")
