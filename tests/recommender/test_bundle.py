"""The servable bundle: training entry point, routing, pathways, save/load round trip."""

from __future__ import annotations

import numpy as np
import pytest

from adaptive.errors import UnknownIdError, ValidationError
from recommender.bundle import RecommenderBundle
from recommender.training import train_bundle


@pytest.fixture(scope="module")
def trained(world):
    # a 2-point regularization grid keeps the suite fast; the full coordinate search runs in the bootstrap
    return train_bundle(
        world.catalogue,
        world.roles,
        world.events,
        world.learners,
        ranker="hybrid",
        seed=0,
        progress=False,
        als_grid={"regularization": (0.1, 1.0)},
    )


def test_train_bundle_reports_test_metrics_and_params(trained):
    bundle, metrics = trained
    assert bundle.ranker_name == "hybrid"
    for key in (
        "test_ndcg_at_10",
        "test_recall_at_10",
        "test_map_min_at_10",
        "test_map_r_at_10",
        "test_mrr_at_10",
        "test_coverage_at_10",
        "test_ndcg_at_10_ci_low",
        "param.w_gap",
        "param.regularization",
        "popularity.ndcg_at_10",
    ):
        assert key in metrics and np.isfinite(metrics[key]), key
    assert all("@" not in k for k in metrics)  # MLflow-safe names
    # the tuned hybrid (chosen on validation only) beats global popularity on the test split
    assert metrics["test_ndcg_at_10"] > metrics["popularity.ndcg_at_10"]
    assert (
        metrics["test_ndcg_at_10_ci_low"] <= metrics["test_ndcg_at_10"] <= metrics["test_ndcg_at_10_ci_high"]
    )
    assert bundle.metrics == metrics and bundle.framework_version == "2.2"


def test_routing(world, trained):
    bundle, _ = trained
    known = world.learners.ids[0]
    assert bundle.recommend(known, k=5).strategy == "personal"
    assert (
        bundle.recommend("new", k=5, events=[(world.catalogue.ids[0], "completed", 1)]).strategy == "personal"
    )
    assert bundle.recommend("new", k=5, profile=world.profiles[known], role="clerk").strategy == "gap"
    assert bundle.recommend("new", k=5, role="clerk").strategy == "role-popularity"
    plain = bundle.recommend("new", k=5)
    assert plain.strategy == "popularity" and len(plain) == 5
    # unknown learner, unknown content, unknown role: no exception, reported
    odd = bundle.recommend("who", k=3, role="astronaut", events=[("C-missing", "viewed", 1)])
    assert len(odd) == 3 and "C-missing" in odd.unknown_content and "role:astronaut" in odd.unknown_content
    with pytest.raises(ValidationError, match="k must be >= 1"):
        bundle.recommend(known, k=0)
    with pytest.raises(UnknownIdError):
        bundle.recommend_for_role("astronaut")
    rec = bundle.recommend(known, k=1)[0]
    assert rec.title and rec.competences and 1 <= rec.level <= 8 and rec.reason


def test_pathway_climbs_level_by_level(world, trained):
    bundle, _ = trained
    lid = world.learners.ids[5]
    profile = world.profiles[lid]
    role = str(world.learners.role_ids[5])
    steps = bundle.pathway(lid, profile, role, language="en")
    assert steps
    req = bundle.roles.required_levels(role)
    by_comp: dict[str, list[int]] = {}
    done = {
        bundle.catalogue.ids[j] for j in bundle.interactions.completed[bundle.interactions.row(lid)].indices
    }
    for s in steps:
        by_comp.setdefault(s.competence, []).append(s.level)
        item = bundle.catalogue.index[s.content_id]
        assert s.competence in bundle.catalogue.competences[item]
        assert bundle.catalogue.level[item] == s.level and bundle.catalogue.language[item] == "en"
        assert s.content_id not in done
        assert profile["competence_levels"][s.competence] < s.level <= req[s.competence]
    for levels in by_comp.values():
        assert levels == sorted(levels) and len(set(levels)) == len(levels)
    assert [s.order for s in steps] == list(range(1, len(steps) + 1))
    assert bundle.pathway("nobody", None, None) == []


def test_pathway_never_lists_one_content_twice(world, trained):
    """Content that develops two competences with gaps is one step (a learner completes it once), so a
    pathway's length is its number of distinct contents, as the insights' progress counts them."""
    bundle, _ = trained
    total = 0
    for i in range(40):
        lid = world.learners.ids[i]
        steps = bundle.pathway(lid, world.profiles[lid], str(world.learners.role_ids[i]))
        ids = [s.content_id for s in steps]
        assert len(ids) == len(set(ids)), lid
        total += len(ids)
    assert total > 40  # pathways of several steps were checked


def test_save_load_round_trip_identical_rankings(world, trained, tmp_path):
    bundle, _ = trained
    bundle.save(tmp_path / "b")
    again = RecommenderBundle.load(tmp_path / "b")
    assert again.metrics == bundle.metrics and again.ranker_name == bundle.ranker_name
    lids = list(world.learners.ids[:20])
    live = [(cid, "completed", 1.0) for cid in world.catalogue.ids[:4]]
    for lid in lids:
        a, b = bundle.recommend(lid, k=10), again.recommend(lid, k=10)
        assert [r.content_id for r in a] == [r.content_id for r in b]
        assert [r.reason for r in a] == [r.reason for r in b]
        np.testing.assert_allclose([r.score for r in a], [r.score for r in b], rtol=1e-6)
    fold_a = bundle.recommend("fresh", k=10, events=live, language="lt")
    fold_b = again.recommend("fresh", k=10, events=live, language="lt")
    assert [r.content_id for r in fold_a] == [r.content_id for r in fold_b]
    assert [r.content_id for r in bundle.recommend_for_role("manager", 10)] == [
        r.content_id for r in again.recommend_for_role("manager", 10)
    ]
    assert bundle.recommend_batch(lids, k=10) == again.recommend_batch(lids, k=10)


@pytest.mark.parametrize("kind", ["als", "bpr", "item-knn", "role-popularity", "ease", "rp3beta", "blend"])
def test_other_rankers_round_trip(world, tmp_path, kind):
    bundle, _ = train_bundle(
        world.catalogue,
        world.roles,
        world.events,
        world.learners,
        ranker=kind,
        tune=False,
        progress=False,
        baselines=False,
    )
    bundle.save(tmp_path / kind)
    again = RecommenderBundle.load(tmp_path / kind)
    for lid in world.learners.ids[:5]:
        assert [r.content_id for r in bundle.recommend(lid, 10)] == [
            r.content_id for r in again.recommend(lid, 10)
        ]
