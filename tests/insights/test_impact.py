"""Training impact on the generated organisation: known per-content effects on theta, real CAT retests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adaptive.change import reliable_change, remove_prior
from adaptive.errors import ValidationError
from adaptive.insights import training_impact
from adaptive.synthetic_organisation import AREAS, CONTENTS
from tests.insights.conftest import profile


def test_reliable_change_index_reference_values():
    delta, se, rci, change = reliable_change([0.0, 0.0, 0.0], [0.3, 0.3, 0.3], [1.0, -0.9, 0.5],
                                             [0.4, 0.4, 0.4])
    assert se == pytest.approx([0.5] * 3) and rci == pytest.approx([2.0, -1.8, 1.0])
    assert change.tolist() == [1, 0, 0]                  # 95%: |rci| > 1.96
    assert reliable_change([0], [0.3], [-0.9], [0.4], confidence=0.9)[3].tolist() == [-1]    # > 1.645
    with pytest.raises(ValidationError, match="confidence"):
        reliable_change([0], [1], [0], [1], confidence=1.0)


def test_remove_prior_inverts_a_known_normal_posterior():
    rng = np.random.default_rng(0)
    d = 4
    cov0 = 0.5 * np.eye(d) + 0.5           # equicorrelated prior, unit variances
    mu0 = np.array([0.2, 0.0, -0.1, 0.3])
    lik_theta = rng.normal(0, 1.5, (50, d))
    lik_prec = rng.uniform(2, 20, (50, d))
    q = np.linalg.inv(cov0)
    post_cov = np.linalg.inv(q[None] + lik_prec[:, :, None] * np.eye(d))
    post_mean = np.einsum("nij,nj->ni", post_cov, lik_prec * lik_theta + q @ mu0)
    post_se = np.sqrt(np.diagonal(post_cov, axis1=1, axis2=2))
    theta, se = remove_prior(post_mean, post_se, mu0, cov0)
    assert theta == pytest.approx(lik_theta, abs=1e-6)
    assert se == pytest.approx(1 / np.sqrt(lik_prec), rel=1e-6)
    # an area not tested drops out of that learner's prior
    post_mean[0, 2] = post_se[0, 2] = np.nan
    theta, _ = remove_prior(post_mean, post_se, mu0, cov0)
    assert np.isnan(theta[0, 2]) and np.isfinite(theta[0, [0, 1, 3]]).all()
    assert theta[1:] == pytest.approx(lik_theta[1:], abs=1e-6)
    with pytest.raises(ValidationError, match="prior"):
        remove_prior(post_mean, post_se, mu0[:2], cov0)


def test_changes_table(impact, org):
    ch = impact.changes
    assert set(ch["learner_id"]) == set(org.learners["learner_id"][org.retest])
    assert len(ch) == org.retest.sum() * len(AREAS)
    assert ch["se_delta"].to_numpy() == pytest.approx(np.hypot(ch["se_before"], ch["se_after"]).to_numpy())
    assert ch["delta"].to_numpy() == pytest.approx((ch["theta_after"] - ch["theta_before"]).to_numpy())
    assert (ch["before_at"] < ch["after_at"]).all()
    z = np.where(ch["change"] == "improved", 1, np.where(ch["change"] == "declined", -1, 0))
    assert (z == np.sign(ch["rci"]) * (ch["rci"].abs() > 1.959964)).all()


def _true_gain(org, impact) -> pd.DataFrame:
    gain = pd.DataFrame(org.true_after - org.true_before, columns=list(AREAS))
    gain["learner_id"] = org.learners["learner_id"]
    trained = pd.DataFrame(np.zeros((len(org.learners), len(AREAS)), bool), columns=list(AREAS))
    for j, c in enumerate(org.content_ids):
        trained[CONTENTS[c][0]] |= org.took[:, j] & (CONTENTS[c][1] > 0)
    trained["learner_id"] = org.learners["learner_id"]
    long = gain.melt(id_vars="learner_id", var_name="area", value_name="true_gain").merge(
        trained.melt(id_vars="learner_id", var_name="area", value_name="trained"))
    return impact.changes.merge(long, on=["learner_id", "area"])


def test_reliable_change_false_positives_and_power(impact, org):
    x = _true_gain(org, impact)
    untrained = x[~x["trained"]]
    # no training in the area (true change ~ N(0, 0.1)): a reliable change is a false positive; the RCI
    # uses posterior SDs, which are conservative for EAP scores, so the rate stays <= 5% (+3 SE)
    n = len(untrained)
    fp = (untrained["change"] != "none").mean()
    assert n > 500 and fp <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / n)
    big = x[x["true_gain"] >= 0.6]
    assert len(big) > 50
    # with ~8 items per area, se_delta ~0.55: only gains beyond ~1.1 logit are reliably detected one by one,
    # so power at 0.6-0.8 is low, but the RCI moves with the true gain (its SD is ~1 under no change)
    assert (big["change"] == "improved").mean() > fp
    assert big["rci"].mean() - untrained["rci"].mean() > 0.4 + 4 / np.sqrt(len(big))
    assert (big["change"] == "declined").mean() < 0.02


def test_content_effects_are_recovered(impact):
    """Adjusted (prior-free) differences recover each content's true effect within 3.5 SE (8 contents:
    family-wise false alarm ~0.4%); plain posterior differences are attenuated toward zero."""
    c = impact.contents.set_index("content_id")
    ratios_plain, ratios_adjusted = [], []
    for cid, (area, effect) in CONTENTS.items():
        row = c.loc[cid]
        assert row.area == area                        # the catalogue restricts a content to its area
        assert not row.suppressed and row.n_completed > 50 and row.n_not_completed > 100
        assert abs(row.difference_adjusted - effect) <= 3.5 * row.se_difference_adjusted, (cid, row.to_dict())
        assert row.ci_low_adjusted < row.difference_adjusted < row.ci_high_adjusted
        if effect >= 0.4:
            ratios_plain.append(row.difference / effect)
            ratios_adjusted.append(row.difference_adjusted / effect)
            assert row.ci_low_adjusted > 0                # a real effect of >= 0.4 logit is detected
    assert np.mean(ratios_plain) < 0.9 and abs(np.mean(ratios_adjusted) - 1) < abs(np.mean(ratios_plain) - 1)
    assert impact.caveat.startswith("Observational")


def test_group_mean_change_recovers_the_true_mean_gain(impact, org):
    x = _true_gain(org, impact)
    g = impact.groups
    for grouping in ("organisation", "role", "unit"):
        shown = g[(g["grouping"] == grouping) & ~g["suppressed"]]
        assert len(shown) >= 5
        for _, r in shown.iterrows():
            m = (x["area"] == r.area) & ((x[grouping] == r.group) if grouping != "organisation" else True)
            truth = x.loc[m, "true_gain"].mean()
            assert r.n == m.sum()
            assert abs(r.mean_delta_adjusted - truth) <= 3.5 * r.se_mean_delta_adjusted
            assert r.ci_low <= r.mean_delta <= r.ci_high
    small = g[g["group"].isin(["legal", "data-protection-officer", "auditor"])]
    assert small["suppressed"].all() and small["mean_delta"].isna().all()


def _diagnostic(lid, when, theta, se=0.3, level=4):
    prof = profile({a: level for a in AREAS}, theta=theta, se=se)
    return {"learner_id": lid, "diagnostic_id": f"{lid}-{when}", "finished_at": when, "profile": prof}


def test_pairing_and_completion_window():
    learners = [{"learner_id": f"p{i}", "role": "r", "unit": "u"} for i in range(6)]
    diags = []
    for i in range(6):
        diags += [_diagnostic(f"p{i}", "2026-01-01", 0.0), _diagnostic(f"p{i}", "2026-04-01", 0.5),
                  _diagnostic(f"p{i}", "2026-02-01", 0.2)]            # out of order on purpose
    first_last = training_impact(learners, diags, min_group_size=2).changes
    last_two = training_impact(learners, diags, pairing="last-two", min_group_size=2).changes
    assert first_last["delta"].to_numpy() == pytest.approx([0.5] * 30)
    assert last_two["delta"].to_numpy() == pytest.approx([0.3] * 30)
    # p0..p2 complete "k" in between; p3 before the first diagnostic, p4 after the last: both "not"
    when = {"p0": "2026-02-10", "p1": "2026-03-10", "p2": "2026-04-01", "p3": "2025-12-01",
            "p4": "2026-05-01"}
    events = [{"learner_id": k, "content_id": "k", "event": "completed", "timestamp": v}
              for k, v in when.items()]
    c = training_impact(learners, diags, events, catalogue=[{"content_id": "k", "competences": "2.1;2.2"}],
                        min_group_size=3).contents
    assert c["area"].tolist() == ["2"] and c["n_completed"].iloc[0] == 3 and c["n_not_completed"].iloc[0] == 3
    c = training_impact(learners, diags, events, min_group_size=4).contents
    assert len(c) == 5 and c["suppressed"].all()
    assert c["difference"].isna().all() and c["n_completed"].isna().all()


def test_learners_with_one_diagnostic_and_bad_input():
    learners = [{"learner_id": "a"}, {"learner_id": "b"}]
    res = training_impact(learners, [_diagnostic("a", "2026-01-01", 0.0)])
    assert res.changes.empty and res.groups.empty
    with pytest.raises(ValidationError, match="row 1.*finished_at"):
        training_impact(learners, [{"learner_id": "a", "profile": profile({"1": 3})}])
    with pytest.raises(ValidationError, match="pairing"):
        training_impact(learners, [], pairing="best")
    with pytest.raises(ValidationError, match="'zz' who is not among"):
        training_impact(learners, [_diagnostic("zz", "2026-01-01", 0.0)])
