"""Small-group suppression: primary and complementary, on the rule and on the real tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adaptive.errors import ValidationError
from adaptive.insights import gap_overview, suppression_mask
from tests.insights.conftest import profile


def test_primary_and_secondary_suppression():
    # one small group: "total minus the rest" would reveal it, so the smallest other group goes too
    assert suppression_mask([10, 3, 20]).tolist() == [True, True, False]
    # two small groups holding 5 together: nothing recoverable about fewer than 5 people
    assert suppression_mask([2, 3, 50]).tolist() == [True, True, False]
    assert suppression_mask([12, 40]).tolist() == [False, False]
    assert suppression_mask([0, 7, 9]).tolist() == [False, False, False]      # empty groups are not shown
    assert suppression_mask([2, 2]).tolist() == [True, True]
    assert suppression_mask([4, 9], min_size=10).tolist() == [True, True]
    # groups hidden already stay hidden, and count towards the hidden total
    assert suppression_mask([6, 20, 30], hidden=[False, True, False]).tolist() == [False, True, False]
    assert suppression_mask([6, 2, 30], hidden=[False, True, False]).tolist() == [True, True, False]


def test_random_partitions_never_reveal_small_groups():
    rng = np.random.default_rng(1)
    for _ in range(2000):
        sizes = rng.integers(0, 15, size=rng.integers(1, 8))
        k = int(rng.integers(1, 8))
        mask = suppression_mask(sizes, k)
        shown = sizes[~mask]
        assert np.all((shown == 0) | (shown >= k))
        # what is hidden, taken together (= total - shown), is empty or at least k people
        # (or the organisation itself is too small, and its total is suppressed as well)
        assert sizes[mask].sum() == 0 or sizes[mask].sum() >= k or sizes.sum() < k


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "5"])
def test_min_group_size_is_validated(bad):
    with pytest.raises(ValidationError, match="min_group_size"):
        suppression_mask([10, 10], bad)


def test_tiny_roles_and_unit_are_suppressed_everywhere(overview):
    g = overview.groups.set_index(["grouping", "group"])
    for small in [("role", "data-protection-officer"), ("role", "auditor"), ("unit", "legal")]:
        assert g.loc[small, "suppressed"] and pd.isna(g.loc[small, "n"])
    # legal (3 people) alone would be "all - other units": one more unit must be hidden with it
    units = g.loc["unit"]
    assert units["suppressed"].sum() >= 2
    for table in (overview.levels, overview.competences):
        hidden = table[table["suppressed"]]
        value_cols = [c for c in table.columns if c.startswith(("share", "mean", "expected"))]
        assert hidden[value_cols + ["n"]].isna().all().all()
        for small in ["data-protection-officer", "auditor", "legal"]:
            assert table.loc[table["group"] == small, "suppressed"].all()
    assert not overview.largest_gaps["group"].isin(["data-protection-officer", "auditor", "legal"]).any()


def test_no_published_figure_covers_fewer_than_min_people_even_by_difference(overview, org):
    """For every partition and cell, the shown groups are >= 5 and organisation - shown is 0 or >= 5."""
    k = overview.min_group_size
    comp = overview.competences
    org_rows = comp[comp["grouping"] == "organisation"].set_index("competence")
    for grouping in ("role", "unit"):
        part = comp[comp["grouping"] == grouping]
        for c, cells in part.groupby("competence"):
            shown = cells.loc[~cells["suppressed"], "n"]
            assert (shown >= k).all()
            rest = org_rows.loc[c, "n"] - shown.sum()
            assert rest == 0 or rest >= k, (grouping, c, rest)
    groups = overview.groups
    total = groups.loc[groups["grouping"] == "organisation", "n"].iloc[0]
    for grouping in ("role", "unit"):
        shown = groups[(groups["grouping"] == grouping) & ~groups["suppressed"]]["n"]
        assert total - shown.sum() == 0 or total - shown.sum() >= k


def test_small_organisation_shows_nothing():
    learners = [{"learner_id": f"p{i}", "role": "r", "unit": "u"} for i in range(4)]
    profiles = {f"p{i}": profile({"1": 3}) for i in range(4)}
    ov = gap_overview(learners, profiles, {"r": {"1.1": 4}})
    assert ov.groups["suppressed"].all()
    assert ov.competences["suppressed"].all() and ov.levels["suppressed"].all()
    assert ov.largest_gaps.empty
    # the same five people are shown once there are five
    learners.append({"learner_id": "p4", "role": "r", "unit": "u"})
    profiles["p4"] = profile({"1": 5})
    ov = gap_overview(learners, profiles, {"r": {"1.1": 4}})
    row = ov.competences[(ov.competences["grouping"] == "role") & (ov.competences["competence"] == "1.1")]
    assert row["share_below"].iloc[0] == pytest.approx(0.8) and row["n"].iloc[0] == 5


def test_an_empty_organisation_gives_empty_tables():
    from adaptive.insights import training_impact
    from recommender.progress import pathway_progress

    ov = gap_overview([], {}, {"r": {"1.1": 3}})
    assert ov.n_learners == 0 and ov.competences.empty and ov.largest_gaps.empty and ov.levels.empty
    pp = pathway_progress([], {}, [])
    assert pp.learners.empty and pp.units.empty
    ti = training_impact([], [], [])
    assert ti.changes.empty and ti.groups.empty and ti.contents.empty


def test_overlap_rule_on_nested_and_overlapping_groups():
    from adaptive.insights.suppression import overlap_mask

    everyone = np.ones(12, dtype=bool)
    most = everyone.copy()
    most[:2] = False                                   # everyone but two people
    assert overlap_mask([everyone, most]).tolist() == [False, True]     # the smaller goes
    assert overlap_mask([everyone, everyone]).tolist() == [False, False]  # same people: nothing new
    half = np.r_[np.ones(6, bool), np.zeros(6, bool)]
    assert overlap_mask([everyone, half]).tolist() == [False, False]   # they differ by 6 people
    # groups hidden already stay hidden and are not compared
    assert overlap_mask([everyone, most], hidden=[True, False]).tolist() == [True, False]


def test_random_overlapping_groups_never_differ_by_a_few_people():
    from adaptive.insights.suppression import overlap_mask

    rng = np.random.default_rng(3)
    for _ in range(300):
        n_people, k = int(rng.integers(5, 40)), int(rng.integers(2, 7))
        members = rng.random((int(rng.integers(2, 9)), n_people)) < rng.uniform(0.2, 0.95)
        mask = overlap_mask(members, k)
        shown = members[~mask & members.any(axis=1)]
        for a in shown:
            for b in shown:
                differ = int((a ^ b).sum())
                assert differ == 0 or differ >= k


def test_a_role_nested_in_a_unit_with_a_few_more_people_is_suppressed():
    """Unit legal = 5 lawyers + 2 clerks, and lawyers work nowhere else: publishing both the lawyers (5)
    and legal (7) would give the two clerks' figure away as the difference. The lawyers' row goes."""
    from adaptive.insights import training_impact
    from recommender.progress import pathway_progress

    people = [(f"l{i}", "lawyer", "legal") for i in range(5)]
    people += [(f"c{i}", "clerk", "legal") for i in range(2)]
    people += [(f"f{i}", "clerk" if i < 6 else "analyst", "finance") for i in range(12)]
    learners = pd.DataFrame(people, columns=["learner_id", "role", "unit"])
    t0 = pd.Timestamp("2026-01-01", tz="UTC")
    diags = [{"learner_id": p[0], "diagnostic_id": f"{p[0]}-{k}", "finished_at": t0 + pd.Timedelta(days=30*k),
              "profile": profile({"1": 2 + k + j % 2}, theta=0.1 * j + k)}
             for j, p in enumerate(people) for k in range(2)]
    roles = {r: {"1.1": 4} for r in ("lawyer", "clerk", "analyst")}
    members = {("organisation", "all"): set(learners["learner_id"])}
    for col in ("role", "unit"):
        for g, ids in learners.groupby(col)["learner_id"]:
            members[(col, g)] = set(ids)

    def check(frame: pd.DataFrame, cell: list[str]) -> None:
        frame = frame[frame["grouping"].isin(["organisation", "role", "unit"])]
        assert bool(frame.loc[frame["group"] == "lawyer", "suppressed"].all())
        for _, rows in (frame.groupby(cell) if cell else [((), frame)]):
            shown = rows[~rows["suppressed"]]
            sets = [members[(g, v)] for g, v in zip(shown["grouping"], shown["group"], strict=True)]
            assert all(len(a ^ b) == 0 or len(a ^ b) >= 5 for a in sets for b in sets)
            assert ("unit", "legal") in set(zip(shown["grouping"], shown["group"], strict=True))

    ov = gap_overview(learners, diags, roles)
    check(ov.groups, [])
    check(ov.levels, ["area"])
    check(ov.competences, ["competence"])
    check(training_impact(learners, diags).groups, ["area"])
    pathways = {p[0]: ["c1", "c2"] for p in people}
    check(pathway_progress(learners, pathways, []).units, [])
