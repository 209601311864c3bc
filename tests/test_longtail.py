"""Every remedy beyond the paper trains through the same cohorts and lands in results.csv."""
import csv

import numpy as np
import pytest

from configs import longtail
from imbalance_jax import report, study
from imbalance_jax.workdir import Workdir


@pytest.mark.slow
def test_longtail_study_runs_every_remedy(tmp_path):
    config = longtail.get_config()
    config.imbalance.exponential_rhos = (10,)
    config.imbalance.repetitions = 1
    config.train.iterations, config.steps_per_call = 12, 6
    config.losses.drw_fraction = 0.5
    study.run_study(config, str(tmp_path))
    cohorts = [r.networks for r in Workdir(str(tmp_path)).cohorts()]
    # One compiled step for all trained remedies of a stage: baseline, ROS, RUS, 6 losses, 2 samplers.
    assert len(cohorts[0]) == 11 and [c.method for c in cohorts[1]] == ["crt"]
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


def test_crt_reinitialises_the_classifier_and_two_phase_keeps_the_parents():
    import types

    from configs import quick
    from imbalance_jax import cohort_training, design, study_setup, train
    from imbalance_jax.models import get_model

    config = quick.get_config()
    config.methods = ("baseline", "oversampling", "two_phase_oversampling", "crt")
    networks = design.all_networks(config, design.DatasetFacts(10, 30))
    children = [next(n for n in networks if n.method == m) for m in ("crt", "two_phase_oversampling")]
    model = get_model("lenet5", conv_impl="im2col")
    parents = train.init_state(model, np.array([7, 8]), (28, 28, 1))["params"]  # stand-ins for trained parents
    ctx = types.SimpleNamespace(config=config, hp=study_setup.hparams(config), model=model, input_shape=(28, 28, 1))
    state = cohort_training.initial_state(ctx, children, {"params": parents, "preprocess": {}})
    fresh = train.init_state(model, np.array([n.init_seed for n in children]), (28, 28, 1))["params"]
    got, old, new = (p["params"] for p in (state["params"], parents, fresh))
    assert np.array_equal(got["fc2"]["kernel"][0], new["fc2"]["kernel"][0])  # cRT: a fresh classifier
    assert not np.array_equal(got["fc2"]["kernel"][0], old["fc2"]["kernel"][0])
    assert np.array_equal(got["fc2"]["kernel"][1], old["fc2"]["kernel"][1])  # two-phase: the parent's
    config.crt_reinit = False  # the config value: cRT from the baseline's classifier
    kept = cohort_training.initial_state(ctx, children, {"params": parents, "preprocess": {}})["params"]["params"]
    assert np.array_equal(kept["fc2"]["kernel"][0], old["fc2"]["kernel"][0])
    for layer in ("conv1", "conv2", "fc1"):  # the features are the parents' for both
        assert np.array_equal(got[layer]["kernel"], old[layer]["kernel"])
