"""Every remedy beyond the paper trains through the same cohorts and lands in results.csv."""
import csv

from configs import longtail
from imbalance_jax import report, study


def test_longtail_study_runs_every_remedy(tmp_path):
    config = longtail.get_config()
    config.imbalance.exponential_rhos = (10,)
    config.imbalance.repetitions = 1
    config.train.iterations, config.steps_per_call = 12, 6
    config.losses.drw_fraction = 0.5
    s = study.Study(config, str(tmp_path))
    s.run()
    # One compiled step for all trained remedies of a stage: baseline, ROS, RUS, 6 losses, 2 samplers.
    assert len(s.cohorts[0]) == 11 and [c.method for c in s.cohorts[1]] == ["crt"]
    with open(tmp_path / "results.csv") as f:
        rows = {r["method"]: r for r in csv.DictReader(f)}
    assert set(rows) == set(longtail.REMEDIES)
    for r in rows.values():
        assert 0 <= float(r["auc"]) <= 1 and r["imbalance"] == "exponential"
    # tau = 1 post-hoc adjustment is the paper's thresholding, to the last digit.
    assert rows["posthoc_adjustment_tau1"]["accuracy"] == rows["thresholding"]["accuracy"]
    assert rows["posthoc_adjustment_tau1"]["auc"] == rows["thresholding"]["auc"]
    assert rows["crt"]["train_size"] == rows["baseline"]["train_size"]
    report.write_report(str(tmp_path))
    assert (tmp_path / "fig_longtail_auc_vs_rho.png").exists()
