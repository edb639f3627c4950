"""The evaluation protocol: an oracle scores 1, works on a bare public-style event log, per-role output."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recommender.data import validate_events
from recommender.evaluation import evaluate, relevant_sets
from recommender.experiment import run_comparison
from recommender.interactions import Interactions
from recommender.rankers import PopularityRanker
from recommender.rankers.base import Ranker


class Oracle(Ranker):
    """Knows the held-out items: scores them 1, everything else 0."""

    name = "oracle"

    def __init__(self, test_events):
        self.test_events = test_events

    def _fit(self, inter):
        test = Interactions.from_events(self.test_events, inter.catalogue, learner_ids=inter.learner_ids)
        self.truth = (test.matrix > 0).astype(float).toarray()

    def score(self, batch):
        return self.truth[batch.rows]


def test_oracle_gets_perfect_scores_and_relevance_excludes_training_items(train, split):
    rows, rel, cold = relevant_sets(train, split.test)
    for r, items in zip(rows[:50], rel[:50], strict=True):
        assert not set(items) & set(train.matrix[r].indices)
    res = evaluate(Oracle(split.test), train, split.test, ks=(5, 10), n_boot=20)
    s = res.summary
    assert s["ndcg@10"] == pytest.approx(1.0) and s["map_min@10"] == pytest.approx(1.0) and s["mrr@10"] == 1.0
    assert s["map_r@10"] == pytest.approx(1.0)  # two relevant items, both in the top 10
    assert s["recall@10"] == pytest.approx(1.0)
    # two held-out items per learner: precision@10 is at most 2/10
    assert s["precision@10"] == pytest.approx(0.2)
    assert set(res.per_role["role"]) <= set(train.roles.role_ids) and res.per_role["n_learners"].sum() == len(
        rows
    )
    assert cold == 0


def bare_log(seed=0, n_users=800, n_items=300, n_clusters=5, per_user=25):
    """A public-style implicit log (user, item, play count): users mostly play items of their own cluster."""
    rng = np.random.default_rng(seed)
    item_cluster = rng.integers(0, n_clusters, n_items)
    popularity = rng.zipf(2.0, n_items).clip(max=50).astype(float)
    rows = []
    for u in range(n_users):
        c = rng.integers(n_clusters)
        w = popularity * np.where(item_cluster == c, 8.0, 1.0)
        items = rng.choice(n_items, size=per_user, replace=False, p=w / w.sum())
        for t, i in enumerate(items):
            rows.append((f"user{u}", f"item{i}", int(rng.integers(1, 20)), u * 100 + t))
    return pd.DataFrame(rows, columns=["learner_id", "content_id", "value", "timestamp"])


def test_comparison_on_a_bare_event_log_als_beats_popularity():
    events = validate_events(bare_log().astype(str))
    # a small grid keeps the test fast; tuning still happens on validation carved from training
    grid = {"regularization": (1.0, 10.0, 100.0), "alpha": (0.1, 1.0)}
    res = run_comparison(
        events, rankers=["popularity", "als", "gap"], split="last-n", ks=(10,), n_boot=200, als_grid=grid
    )
    s = res["summary"]
    # cluster structure is invisible to popularity; ALS sees it. The intervals must not overlap.
    assert s["als"]["ndcg@10_ci_low"] > s["popularity"]["ndcg@10_ci_high"]
    # without competences the gap ranker could only return popularity: skipped, and the result says why
    assert "gap" not in s and any(w.startswith("gap skipped") and "competences" in w for w in res["warnings"])
    assert set(res["per_role"]["role"]) == {"(none)"}
    assert res["tuning"]["als"]


def test_popularity_ignores_learner_history(train):
    pop = PopularityRanker().fit(train)
    lists = {
        tuple(r.content_id for r in pop.recommend(lid, 5, exclude_completed=False))
        for lid in train.learner_ids[:20]
    }
    assert len(lists) == 1


def test_paired_difference_is_the_mean_per_learner_difference_and_refuses_other_learners(train, split):
    from recommender.evaluation import paired_difference

    oracle = evaluate(Oracle(split.test), train, split.test, ks=(10,), n_boot=20)
    popular = evaluate(PopularityRanker(), train, split.test, ks=(10,), n_boot=20)
    d = paired_difference(oracle, popular, "ndcg@10", n_boot=200)
    assert d["difference"] == pytest.approx(oracle.summary["ndcg@10"] - popular.summary["ndcg@10"])
    assert 0 < d["ci_low"] <= d["difference"] <= d["ci_high"]
    fewer = evaluate(PopularityRanker(), train, split.test, ks=(10,), n_boot=20, max_learners=10)
    with pytest.raises(ValueError, match="same learners"):
        paired_difference(oracle, fewer, "ndcg@10")
