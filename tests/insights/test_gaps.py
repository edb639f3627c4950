"""Gap overview on a generated organisation with known true levels (real CAT simulation, ~400 learners).

Tolerances. A group's measured share below a required level differs from the true share only through
the learners whose measured status (level from the CAT) differs from their true status; call their share
``f`` (about 0.1-0.25 here: SE ~0.4 logit against level bands 0.6 wide). If those flips went either way
at random the error would have SD ``sqrt(f / n)``; we allow 4 SD per cell (about 40 distinct cells, so a
4-SD excursion by chance has probability < 0.3%) plus 0.02 for the systematic part: posterior means and
level probabilities are computed under the N(0, 1) prior while roles sit up to 1 logit away from 0, so
flips are not symmetric (over 6 seeds the mean error was 0.00-0.02 for the reported level and 0.01-0.03
for the expected share); the mean error over the cells must stay within 0.04.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adaptive.errors import ValidationError
from adaptive.insights import gap_overview
from adaptive.synthetic_organisation import AREAS
from tests.insights.conftest import profile


def _measured_levels(org, learner_ids) -> np.ndarray:
    latest = {}
    for d in sorted(org.diagnostics, key=lambda d: d["finished_at"]):
        latest[d["learner_id"]] = d["profile"]
    return np.array([[latest[i]["areas"][a]["level"] for a in AREAS] for i in learner_ids])


def _members(truth, row) -> np.ndarray:
    if row.grouping == "organisation":
        return np.ones(len(truth), bool)
    return (truth[row.grouping] == row.group).to_numpy()


def _cells(overview, org, truth):
    """Per shown (grouping, group, competence): n, true share below, measured flips f, estimates."""
    measured = _measured_levels(org, truth["learner_id"])
    rows = []
    comp = overview.competences
    for _, r in comp[~comp["suppressed"]].iterrows():
        m = _members(truth, r)
        req = np.array([org.roles.get(role, {}).get(r.competence, 0) for role in truth["role"][m]])
        has = req > 0
        k = AREAS.index(r.area)
        true_below = truth[f"level_{r.area}"].to_numpy()[m][has] < req[has]
        measured_below = measured[m, k][has] < req[has]
        rows.append(dict(grouping=r.grouping, group=r.group, competence=r.competence, n=int(has.sum()),
                         n_reported=r.n, truth=true_below.mean(), f=max((true_below != measured_below).mean(),
                                                                       1 / has.sum()),
                         share_below=r.share_below, expected=r.expected_share_below))
    return pd.DataFrame(rows)


def test_counts_only_learners_with_a_finished_diagnostic(overview, org):
    g = overview.groups.set_index(["grouping", "group"])
    assert g.loc[("organisation", "all"), "n"] == org.diagnosed.sum()
    assert overview.n_learners == org.diagnosed.sum()
    assert overview.n_without_diagnostic == (~org.diagnosed).sum() > 0
    for role in ("clerk", "analyst", "it-specialist"):
        expected = ((org.learners["role"] == role) & org.diagnosed).sum()
        assert g.loc[("role", role), "n"] == expected


def test_share_below_required_recovers_the_true_share(overview, org, truth):
    cells = _cells(overview, org, truth)
    assert (cells["n"] == cells["n_reported"]).all()
    assert len(cells) > 100 and set(cells["grouping"]) == {"organisation", "role", "unit"}
    tol = 4 * np.sqrt(cells["f"] / cells["n"]) + 0.02
    for col in ("share_below", "expected"):
        err = cells[col] - cells["truth"]
        worst = cells.loc[(err.abs() / tol).idxmax()]
        assert (err.abs() <= tol).all(), worst.to_dict()
        assert abs(err.mean()) <= 0.04
    # and the figures are informative: true shares range widely and the estimates follow them
    assert cells["truth"].max() - cells["truth"].min() > 0.4
    assert np.corrcoef(cells["truth"], cells["share_below"])[0, 1] > 0.95


def test_competences_without_a_requirement_are_not_counted(overview):
    comp = overview.competences
    clerk = comp[(comp["grouping"] == "role") & (comp["group"] == "clerk")]
    assert "3.4" not in set(clerk["competence"]) and "3.3" in set(clerk["competence"])
    analyst = comp[(comp["grouping"] == "role") & (comp["group"] == "analyst")].set_index("competence")
    assert analyst.loc["1.3", "mean_required"] == 7 and analyst.loc["1.1", "mean_required"] == 6
    assert analyst.loc["1.3", "share_below"] >= analyst.loc["1.1", "share_below"]


def test_largest_gaps_name_the_truly_largest(overview, org, truth):
    cells = _cells(overview, org, truth)
    checked = 0
    for (grouping, group), c in cells[cells["grouping"] == "role"].groupby(["grouping", "group"]):
        top = overview.largest_gaps[(overview.largest_gaps["grouping"] == grouping)
                                    & (overview.largest_gaps["group"] == group)]
        assert list(top["rank"]) == list(range(1, len(top) + 1)) and len(top) <= 5
        assert top["share_below"].is_monotonic_decreasing
        true_order = c.sort_values("truth", ascending=False)
        best = true_order["truth"].iloc[0]
        runner_up = true_order.loc[true_order["truth"] < best, "truth"].max()   # competences of one area tie
        if best - runner_up >= 0.1:          # clearly separated: the estimate must find the same one
            winners = set(true_order.loc[true_order["truth"] == best, "competence"])
            assert top["competence"].iloc[0] in winners
            checked += 1
    assert checked >= 2


def test_level_distribution_recovers_the_true_one(overview, org, truth):
    measured = _measured_levels(org, truth["learner_id"])
    lv = overview.levels
    shown = lv[~lv["suppressed"]]
    assert len(shown) >= 5 * 8
    for _, r in shown.iterrows():
        m = _members(truth, r)
        k = AREAS.index(r.area)
        shares = r[[f"share_level_{i}" for i in range(1, 9)]].to_numpy(float)
        assert shares.sum() == pytest.approx(1.0)
        true_lv, est_lv = truth[f"level_{r.area}"].to_numpy()[m], measured[m, k]
        assert r.n == m.sum()
        # cumulative shares are "share below level j": same argument and tolerance as above
        for j in range(2, 9):
            f = max((( true_lv < j) != (est_lv < j)).mean(), 1 / m.sum())
            assert abs(shares[: j - 1].sum() - (true_lv < j).mean()) <= 4 * np.sqrt(f / m.sum()) + 0.02
        assert r.mean_level == pytest.approx(est_lv.mean())


def test_mean_theta_follows_the_true_role_means(overview, org, truth):
    """Posterior means shrink toward the prior mean 0 by about se^2/(1+se^2) ~ 15%, plus sampling error."""
    theta = org.true_latest()[org.diagnosed]
    lv = overview.levels
    for role in ("clerk", "analyst", "it-specialist"):
        m = (truth["role"] == role).to_numpy()
        for k, a in enumerate(AREAS):
            row = lv[(lv["grouping"] == "role") & (lv["group"] == role) & (lv["area"] == a)].iloc[0]
            true_mean = theta[m, k].mean()
            assert abs(row.mean_theta - true_mean) <= 0.2 * abs(true_mean) + 4 * 0.4 / np.sqrt(m.sum())


def test_competence_levels_override_the_area_level():
    learners = [{"learner_id": f"p{i}", "role": "r"} for i in range(6)]
    # everyone at area level 3; half are known to be at level 6 in 1.2
    profiles = {f"p{i}": profile({"1": 3, "2": 5}, competence_levels={"1.2": 6} if i % 2 else {})
                for i in range(6)}
    ov = gap_overview(learners, profiles, {"r": {"1.1": 4, "1.2": 4, "2.1": 4}})
    c = ov.competences[ov.competences["grouping"] == "role"].set_index("competence")
    assert c.loc["1.1", "share_below"] == 1.0 and c.loc["1.2", "share_below"] == 0.5
    assert c.loc["1.2", "expected_share_below"] == 0.5 and c.loc["2.1", "share_below"] == 0.0
    assert c.loc["1.1", "mean_gap"] == 1.0 and c.loc["1.2", "mean_gap"] == 0.5
    assert list(ov.largest_gaps["competence"][ov.largest_gaps["grouping"] == "role"]) == ["1.1", "1.2"]


def test_expected_share_uses_level_probabilities():
    learners = [{"learner_id": f"p{i}", "role": "r"} for i in range(5)]
    p = [0, 0, 0.2, 0.3, 0.5, 0, 0, 0]          # P(level < 5) = 0.5, reported level 5 (not below)
    prof = {"areas": {"1": {"theta": 0.3, "se": 0.4, "level": 5, "level_probabilities": p}}}
    ov = gap_overview(learners, {f"p{i}": prof for i in range(5)}, {"r": {"1.1": 5}})
    row = ov.competences[(ov.competences["grouping"] == "role") & (ov.competences["competence"] == "1.1")]
    assert row["share_below"].iloc[0] == 0.0 and row["expected_share_below"].iloc[0] == pytest.approx(0.5)


@pytest.mark.parametrize(("learners", "profiles", "match"), [
    ([{"id": "a"}], {}, "learner_id"),
    ([{"learner_id": "a"}, {"learner_id": "a"}], {}, "row 2.*listed twice"),
    ([{"learner_id": "a"}], {"a": {"areas": {"1": {"theta": float("nan"), "se": 0.3}}}}, "areas.1.theta"),
    ([{"learner_id": "a"}], {"a": {"areas": {"1": {"theta": 0.1, "se": 0}}}}, "areas.1.se"),
    ([{"learner_id": "a"}], {"a": {"areas": {"9": {"theta": 0.1, "se": 0.3}}}}, "unknown area"),
    ([{"learner_id": "a"}], {"a": {"areas": {"1": {"theta": 0.1, "se": 0.3, "level": 9}}}}, "areas.1.level"),
    ([{"learner_id": "a"}], {"b": profile({"1": 3})}, "'b' who is not among the learners"),
    ([{"learner_id": "a"}], {"a": profile({"1": 3}, competence_levels={"9.9": 2})}, "competence_levels"),
])
def test_bad_input_names_the_field(learners, profiles, match):
    with pytest.raises(ValidationError, match=match):
        gap_overview(learners, profiles, {})


def test_bad_role_profile_names_role_and_competence():
    with pytest.raises(ValidationError, match="role 'r'.*9.9"):
        gap_overview([{"learner_id": "a", "role": "r"}], {"a": profile({"1": 3})}, {"r": {"9.9": 3}})
    with pytest.raises(ValidationError, match="top_k"):
        gap_overview([{"learner_id": "a", "role": "r"}], {"a": profile({"1": 3})}, {"r": {"1.1": 3}}, top_k=0)
    # a role the profiles do not know has no requirement, but is reported
    ov = gap_overview([{"learner_id": "a", "role": "ghost"}], {"a": profile({"1": 3})}, {"r": {"1.1": 3}})
    assert ov.unknown_roles == ["ghost"] and ov.competences.empty


def test_accepts_recommender_role_profiles(org):
    from recommender.data import RoleProfiles

    rows = [(r, r.title(), c, lv) for r, req in org.roles.items() for c, lv in req.items()]
    roles = RoleProfiles.from_frame(pd.DataFrame(rows, columns=["role_id", "title", "competence",
                                                                "required_level"]))
    a = gap_overview(org.learners, org.diagnostics, roles).competences
    b = gap_overview(org.learners, org.diagnostics, org.roles).competences
    pd.testing.assert_frame_equal(a, b)
