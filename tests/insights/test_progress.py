"""Pathway progress: exact against the generated completions, and per-unit rates against the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adaptive.errors import ValidationError
from adaptive.synthetic_organisation import TINY_UNIT, UNITS
from recommender.progress import pathway_progress


def test_per_learner_share_matches_the_generated_completions(progress, org):
    per = progress.learners.set_index("learner_id")
    assert len(per) == len(org.learners)
    for lid, flags in org.pathway_done.items():
        row = per.loc[lid]
        assert row.n_steps == len(flags) and row.n_completed == sum(flags)
        if flags:
            assert row.share_completed == pytest.approx(np.mean(flags))
            undone = [c for c, f in zip(org.pathways[lid], flags, strict=True) if not f]
            assert row.next_content_id == (undone[0] if undone else None) or pd.isna(row.next_content_id)
        else:
            assert np.isnan(row.share_completed)
    # learners without a diagnostic have no pathway
    assert (per.loc[org.learners["learner_id"][~org.diagnosed], "n_steps"] == 0).all()


def test_unit_aggregates(progress, org):
    units = progress.units
    truth = {lid: np.mean(f) for lid, f in org.pathway_done.items() if f}
    unit_of = org.learners.set_index("learner_id")["unit"]
    shown = units[(units["grouping"] == "unit") & ~units["suppressed"]]
    assert len(shown) >= 3
    for _, r in shown.iterrows():
        members = [truth[lid] for lid in truth if unit_of[lid] == r.group]
        assert r.n == len(members)
        assert r.mean_share_completed == pytest.approx(np.mean(members))
        # each step was completed with the unit's probability p: the mean share estimates p with
        # SD <= sqrt(p (1 - p) / n_learners) (>= 1 step each); 4 SD
        p = UNITS[r.group][2]
        assert abs(r.mean_share_completed - p) <= 4 * np.sqrt(p * (1 - p) / r.n)
    order = shown.set_index("group")["mean_share_completed"]
    assert order["digital-office"] > order["finance"] > order["social-affairs"]
    hidden = units[(units["grouping"] == "unit") & units["suppressed"]]
    assert TINY_UNIT[0] in set(hidden["group"]) and hidden["mean_share_completed"].isna().all()


def _events(rows):
    return pd.DataFrame(rows, columns=["learner_id", "content_id", "event", "timestamp"])


def test_counting_rules():
    learners = [{"learner_id": f"p{i}", "unit": "u"} for i in range(5)]
    pathways = {"p0": ["a", "b", "c", "d"], "p1": [{"content_id": "a"}, {"content_id": "b"}], "p2": [],
                "p3": ["a", "a", "b"], "p4": ["x"]}
    events = _events([
        ("p0", "a", "completed", "2026-03-01T10:00:00Z"),
        ("p0", "a", "completed", "2026-03-02T10:00:00Z"),      # twice: counts once
        ("p0", "b", "viewed", "2026-03-01T10:00:00Z"),          # only completions count
        ("p0", "c", "completed", "2026-01-01T10:00:00Z"),       # before the pathway (since)
        ("p1", "a", "completed", 1767225600),                   # epoch seconds accepted
        ("p1", "b", "completed", 1767225700),
        ("p3", "b", "completed", "2026-03-01T10:00:00+01:00"),
        ("p4", "y", "completed", "2026-03-01T10:00:00Z"),       # not on the pathway
    ])
    res = pathway_progress(learners, pathways, events, since={"p0": "2026-02-01T00:00:00Z"}, min_group_size=2)
    per = res.learners.set_index("learner_id")
    assert per.loc["p0", ["n_steps", "n_completed"]].tolist() == [4, 1]
    assert per.loc["p0", "next_content_id"] == "b"
    assert per.loc["p1", "share_completed"] == 1.0 and pd.isna(per.loc["p1", "next_content_id"])
    assert np.isnan(per.loc["p2", "share_completed"])
    assert per.loc["p3", ["n_steps", "n_completed"]].tolist() == [2, 1]       # duplicate step once
    assert per.loc["p4", "share_completed"] == 0.0
    unit = res.units[(res.units["grouping"] == "unit")].iloc[0]
    assert unit.n == 4 and unit.mean_share_completed == pytest.approx((0.25 + 1 + 0.5 + 0) / 4)
    assert unit.share_started == 0.75 and unit.share_finished == 0.25
    assert unit.steps == 9 and unit.steps_completed == 4
    # four learners with a pathway: the unit (and the organisation) is below 5 and hidden
    res = pathway_progress(learners, pathways, events)
    assert res.units["suppressed"].all()


@pytest.mark.parametrize(("pathways", "events", "match"), [
    ({"nobody": ["a"]}, [], "'nobody' who is not among the learners"),
    ({"p0": [""]}, [], "content_id"),
    ({"p0": ["a"]}, [{"learner_id": "p0", "content_id": "a"}], "event"),
    ({"p0": ["a"]}, [{"learner_id": "p0", "content_id": "a", "event": "completed", "timestamp": "soon"}],
     "row 1.*timestamp"),
])
def test_bad_input(pathways, events, match):
    with pytest.raises(ValidationError, match=match):
        pathway_progress([{"learner_id": "p0"}], pathways, events)
