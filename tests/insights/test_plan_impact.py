"""Insights follow the stored plans (issue 18): training impact of following a plan (recovery of a known
difference, the counting window, suppression) and pathway progress against plans (hidden steps,
overdue deadlines)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adaptive.errors import ValidationError
from adaptive.insights.impact import PLAN_CAVEAT, plan_adherence, training_impact
from recommender.progress import pathway_progress
from tests.insights.conftest import profile


def _diagnostic(lid: str, when: str, thetas: dict[str, float], se: float = 0.3) -> dict:
    prof = profile({a: 4 for a in thetas}, se=se)
    for a, t in thetas.items():
        prof["areas"][a]["theta"] = t
    return {"learner_id": lid, "diagnostic_id": f"{lid}-{when}", "finished_at": when, "profile": prof}


def test_the_difference_of_followers_recovers_the_known_gain_difference():
    """Followers gain 0.5, those who did not follow 0.1, those without a plan 0.2 (true thetas); each
    estimate carries N(0, 0.3^2) error, so a change has SD sqrt(2) * 0.3 = 0.42. With 120 / 80 learners the
    difference has SE 0.061: within 4 SE of 0.4 (a failure rate of 6e-5 per area), and the reported SE
    matches that value to 20% (the SD of 80-120 draws is estimated to ~8%)."""
    rng = np.random.default_rng(20261202)
    gains = {"followed": 0.5, "not": 0.1, "none": 0.2}
    sizes = {"followed": 120, "not": 80, "none": 60}
    learners, diags, plans, events = [], [], [], []
    for kind, n in sizes.items():
        for i in range(n):
            lid = f"{kind}-{i}"
            learners.append({"learner_id": lid, "role": "r", "unit": "u"})
            true = rng.normal(0, 1, 2)
            before = {a: float(true[k] + rng.normal(0, 0.3)) for k, a in enumerate(("1", "2"))}
            after = {a: float(true[k] + gains[kind] + rng.normal(0, 0.3)) for k, a in enumerate(("1", "2"))}
            diags += [_diagnostic(lid, "2026-01-10", before), _diagnostic(lid, "2026-06-10", after)]
            if kind == "none":
                continue
            steps = [f"c{j}" for j in range(4)]
            plans.append({"learner_id": lid, "accepted_at": "2026-01-12", "steps": steps})
            k_done = 3 if kind == "followed" else 1
            events += [{"learner_id": lid, "content_id": c, "event": "completed", "timestamp": "2026-03-01"}
                       for c in steps[:k_done]]
    res = training_impact(learners, diags, events, plans=plans)
    table = res.plans.set_index("area")
    assert list(table.index) == ["1", "2"] and not table["suppressed"].any()
    assert table["n_followed"].tolist() == [120, 120] and table["n_not_followed"].tolist() == [80, 80]
    assert table["n_without_plan"].tolist() == [60, 60]
    se_true = np.sqrt(2 * 0.3**2 * (1 / 120 + 1 / 80))
    for _, row in table.iterrows():
        assert abs(row["difference"] - 0.4) < 4 * se_true
        assert row["se_difference"] == pytest.approx(se_true, rel=0.2)
        assert row["ci_low"] < row["difference"] < row["ci_high"]
        assert abs(row["mean_delta_without_plan"] - 0.2) < 4 * np.sqrt(2 * 0.3**2 / 60)
    assert res.plan_caveat == PLAN_CAVEAT and "not the effect" in PLAN_CAVEAT
    assert "plans" in res.tables()


def test_who_followed_counts_steps_completed_in_the_window_only():
    learners = [{"learner_id": f"p{i}", "role": "r", "unit": "u"} for i in range(6)]
    diags = []
    for i in range(6):
        diags += [_diagnostic(f"p{i}", "2026-01-10", {"1": 0.0}),
                  _diagnostic(f"p{i}", "2026-06-10", {"1": 0.1 * i})]
    plans = [
        {"learner_id": "p0", "accepted_at": "2026-01-12", "steps": ["a", "b"]},            # 2 of 2: followed
        # "a" done before the plan, "b" hidden (does not count), "c" never: 0 of 2
        {"learner_id": "p1", "accepted_at": "2026-02-01",
         "steps": [{"content_id": "a"}, {"content_id": "b", "hidden": True}, {"content_id": "c"}]},
        {"learner_id": "p2", "accepted_at": "2026-07-01", "steps": ["a"]},  # after the retest: no plan then
        # accepted before the first diagnostic: counts from the diagnostic; p5's plan is empty: no plan
        {"learner_id": "p4", "accepted_at": "2025-12-01", "steps": ["a", "b"]},
        {"learner_id": "p5", "accepted_at": "2026-01-12", "steps": []},
    ]
    events = [{"learner_id": lid, "content_id": c, "event": "completed", "timestamp": t} for lid, c, t in [
        ("p0", "a", "2026-02-01"), ("p0", "b", "2026-06-10"),          # the retest's own time counts
        ("p1", "a", "2026-01-20"), ("p1", "b", "2026-03-01"),
        ("p2", "a", "2026-03-01"),
        ("p4", "a", "2026-01-05"), ("p4", "b", "2026-06-11"),          # before the window, after it
    ]]
    res = training_impact(learners, diags, events, plans=plans, min_group_size=1)
    who = plan_adherence(res.changes, events, plans).set_index("learner_id")
    assert who["followed"].to_dict() == {"p0": True, "p1": False, "p2": None, "p3": None, "p4": False,
                                         "p5": None}
    assert who.loc["p1", ["plan_steps", "plan_completed"]].tolist() == [2, 0]
    assert who.loc["p4", ["plan_steps", "plan_completed"]].tolist() == [2, 0]
    row = res.plans.iloc[0]
    assert (row["n_followed"], row["n_not_followed"], row["n_without_plan"]) == (1, 2, 3)
    assert row["mean_delta_followed"] == pytest.approx(0.0)
    assert row["mean_delta_not_followed"] == pytest.approx((0.1 + 0.4) / 2)
    assert row["mean_delta_without_plan"] == pytest.approx((0.2 + 0.3 + 0.5) / 3)
    # a group of 1..min_size-1 hides the whole row (its mean would follow from the organisation's)
    hidden = training_impact(learners, diags, events, plans=plans, min_group_size=2).plans.iloc[0]
    assert hidden["suppressed"] and pd.isna(hidden["n_followed"]) and np.isnan(hidden["difference"])
    assert np.isnan(hidden["mean_delta_without_plan"])
    # without plans the table is empty; bad input names the row and field
    assert training_impact(learners, diags, events).plans.empty
    with pytest.raises(ValidationError, match="row 1.*accepted_at"):
        training_impact(learners, diags, events, plans=[{"learner_id": "p0", "steps": ["a"]}])
    with pytest.raises(ValidationError, match="followed_share"):
        training_impact(learners, diags, events, plans=plans, followed_share=0)


def test_progress_against_plans_skips_hidden_steps_and_counts_overdue_ones():
    learners = [{"learner_id": f"p{i}", "unit": "u"} for i in range(2)]
    plans = {"p0": [{"content_id": "a", "deadline": "2026-03-01T00:00:00Z"},
                    {"content_id": "b", "hidden": True, "deadline": "2026-01-01T00:00:00Z"},
                    {"content_id": "c", "deadline": "2026-12-31T00:00:00Z"},
                    {"content_id": "d", "deadline": "2026-02-01T00:00:00Z"}],
             "p1": [{"content_id": "a"}]}
    events = [{"learner_id": "p0", "content_id": "d", "event": "completed", "timestamp": "2026-02-15"},
              {"learner_id": "p0", "content_id": "b", "event": "completed", "timestamp": "2026-02-15"}]
    res = pathway_progress(learners, plans, events, min_group_size=1, now="2026-06-01T00:00:00Z")
    per = res.learners.set_index("learner_id")
    # b is hidden: not a step; d completed (late, but done); a open past its deadline; c not due yet
    assert per.loc["p0", ["n_steps", "n_completed", "n_overdue"]].tolist() == [3, 1, 1]
    assert per.loc["p0", "next_content_id"] == "a"
    assert per.loc["p1", ["n_steps", "n_overdue"]].tolist() == [1, 0]
    unit = res.units[res.units["grouping"] == "unit"].iloc[0]
    assert (unit["steps"], unit["steps_completed"], unit["steps_overdue"]) == (4, 1, 1)
