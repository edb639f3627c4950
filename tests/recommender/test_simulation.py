"""The pathway simulation (recommender.simulation) on a tiny world, tested against what its learner
model implies: no learning means nobody arrives; a perfect learner on a served pathway wastes no item;
drop-out happens at its stated rate; content that closes the gap beats popularity."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.simulation import LearnerModel, SimulatedLearners, simulate, summarise
from recommender.synthetic import generate_world
from recommender.training import train_bundle


@pytest.fixture(scope="module")
def tiny():
    return generate_world(n_learners=400, n_content=400, mean_items=12, seed=3)


@pytest.fixture(scope="module")
def bundles(tiny):
    return {
        name: train_bundle(tiny.catalogue, tiny.roles, tiny.events, tiny.learners, ranker=name, tune=False,
                           progress=False, baselines=False)[0]
        for name in ("popularity", "gap")
    }


def test_no_learning_gain_means_nobody_reaches_the_level(tiny, bundles):
    model = LearnerModel(gain=0.0, gain_sd=0.0, dropout=0.0)
    learners = SimulatedLearners.from_world(tiny, model, n=40, max_gap=8)
    for mode in ("pathway", "ranking"):
        res = simulate(bundles["gap"], learners, model, budget=15, mode=mode)
        assert res.curve.sum() == 0, mode
        assert (res.learners["end_gap"] == res.learners["start_gap"]).all()


def test_perfect_learner_on_the_pathway_wastes_no_item(tiny, bundles):
    """Gain exactly one level, every item completed, an exact diagnostic, no drop-out: each pathway step is
    the next level of a competence with a gap, so the goal takes at most as many items as levels to climb
    (fewer when one item develops two competences)."""
    model = LearnerModel(gain=1.0, gain_sd=0.0, dropout=0.0, diagnostic_sd=0.0, engagement=50.0)
    learners = SimulatedLearners.from_world(tiny, model, n=40, max_gap=8)
    res = simulate(bundles["popularity"], learners, model, budget=30, mode="pathway")
    table = res.learners
    reached = table["reached_at"].notna()
    # a learner can only miss the goal when the catalogue lacks content at a level they need
    assert (reached | table["stuck"]).all()
    assert reached.mean() > 0.5
    assert (table.loc[reached, "reached_at"] <= table.loc[reached, "start_gap"]).all()
    assert table.loc[reached, "reached_at"].sum() >= 0.8 * table.loc[reached, "start_gap"].sum()


def test_dropout_at_its_stated_rate(tiny, bundles):
    """Without learning nobody stops by arriving, so the share gone after 10 items is 1 - (1 - p)^10;
    120 learners: binomial SE ~0.045, tolerance 3 SE."""
    p, budget = 0.1, 10
    model = LearnerModel(gain=0.0, gain_sd=0.0, dropout=p)
    learners = SimulatedLearners.from_world(tiny, model, n=120, max_gap=20, seed=1)
    res = simulate(bundles["popularity"], learners, model, budget=budget, mode="ranking")
    expected = 1 - (1 - p) ** budget
    se = np.sqrt(expected * (1 - expected) / len(learners))
    assert abs(res.learners["dropped"].mean() - expected) < 3 * se
    assert (res.learners.loc[~res.learners["dropped"], "items"] == budget).all()


def test_ranking_that_targets_the_gap_beats_popularity(tiny, bundles):
    """Learners taking the best-ranked item: the gap ranker (exact diagnostic) offers next-level content
    where the learner falls short, popularity offers what many took; the paired difference in the share
    at the role's level after 20 items must be positive with its bootstrap CI above 0."""
    model = LearnerModel(diagnostic_sd=0.0, dropout=0.0)
    learners = SimulatedLearners.from_world(tiny, model, n=60, max_gap=8, seed=2)
    results = {name: simulate(b, learners, model, budget=20, mode="ranking", name=name)
               for name, b in bundles.items()}
    table = summarise(results, checkpoints=(20,), n_boot=500).set_index("ranker")
    assert table.loc["gap", "diff@20_ci_low"] > 0
    assert table.loc["gap", "gap_closed"] > table.loc["popularity", "gap_closed"]


def test_same_learners_same_luck(tiny, bundles):
    """Common random numbers: a rerun is identical, and without learning (nobody stops by arriving) each
    learner drops out before the same item under any bundle."""
    model = LearnerModel()
    learners = SimulatedLearners.from_world(tiny, model, n=15, max_gap=8)
    a = simulate(bundles["gap"], learners, model, budget=10, mode="pathway", seed=4)
    b = simulate(bundles["gap"], learners, model, budget=10, mode="pathway", seed=4)
    assert a.learners.equals(b.learners) and np.array_equal(a.curve, b.curve)
    still = LearnerModel(gain=0.0, gain_sd=0.0, dropout=0.2)
    runs = [simulate(bundles[name], learners, still, budget=10, mode=mode, seed=4)
            for name in ("gap", "popularity") for mode in ("pathway", "ranking")]
    for other in runs[1:]:
        assert other.learners["dropped"].equals(runs[0].learners["dropped"])
        assert other.learners["items"].equals(runs[0].learners["items"])
    assert 0 < runs[0].learners["dropped"].sum() < len(learners)


def test_unknown_mode_is_refused(tiny, bundles):
    learners = SimulatedLearners.from_world(tiny, n=2, max_gap=8)
    with pytest.raises(ValueError, match="mode"):
        simulate(bundles["gap"], learners, budget=3, mode="walk")


def test_study_command_writes_table_plot_and_one_mlflow_run_per_ranker_and_mode(tmp_path):
    from experiments.pathway_simulation import main
    from models import tracking

    out = main(["--learners", "300", "--items", "250", "--simulated", "20", "--max-gap", "10",
                "--rankers", "gap", "--checkpoints", "5,10", "--no-tune", "--n-boot", "50",
                "--home", str(tmp_path / "home"), "--out", str(tmp_path / "out")])
    summary = out["summary"]
    # popularity is always simulated as the baseline
    assert sorted(zip(summary["ranker"], summary["mode"], strict=True)) == [
        ("gap", "pathway"), ("gap", "ranking"), ("popularity", "pathway"), ("popularity", "ranking")]
    assert (summary.loc[summary["ranker"] == "popularity", "diff@10"] == 0).all()
    assert (tmp_path / "out" / "summary.csv").exists() and out["plot"].stat().st_size > 10_000
    client = tracking.client()
    exp = client.get_experiment_by_name("pathway-simulation")
    runs = client.search_runs([exp.experiment_id])
    assert sorted(r.info.run_name for r in runs) == ["gap:pathway", "gap:ranking", "popularity:pathway",
                                                      "popularity:ranking"]
    by_name = {r.info.run_name: r for r in runs}
    row = summary[(summary["ranker"] == "gap") & (summary["mode"] == "ranking")].iloc[0]
    assert by_name["gap:ranking"].data.metrics["reached_at_10"] == pytest.approx(row["reached@10"])
    assert by_name["gap:ranking"].data.params["dropout"] == "0.02"
