"""EASE and RP3beta (closed forms checked by hand), the coordinate search's edge extension and BPR's
early stopping, all tuned on validation carved from training."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recommender.data import Catalogue
from recommender.evaluation import evaluate
from recommender.interactions import Interactions
from recommender.profiles import LearnerBatch
from recommender.rankers import BPRRanker, EASERanker, PopularityRanker, RP3betaRanker
from recommender.splits import temporal_last_n_split, validation_split
from recommender.training import coordinate_search, tune_bpr, tune_ease


def _tiny() -> Interactions:
    x = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1], [1, 0, 0, 1]], dtype=float)
    cat = Catalogue.from_ids([f"c{j}" for j in range(x.shape[1])])
    rows, cols = np.nonzero(x)
    events = pd.DataFrame({"learner_id": [f"u{r}" for r in rows], "content_id": [f"c{c}" for c in cols],
                           "event": "viewed", "value": 2.0, "timestamp": np.arange(rows.size, dtype=float),
                           "event_id": [f"e{i}" for i in range(rows.size)]})
    return Interactions.from_events(events, cat)


def test_ease_is_the_closed_form_with_zero_diagonal():
    inter = _tiny()
    x = (inter.matrix.toarray() > 0).astype(float)  # binary by default: counts of 2 do not matter
    lam = 0.7
    p = np.linalg.inv(x.T @ x + lam * np.eye(4))
    expected = -p / np.diag(p)[None, :]
    np.fill_diagonal(expected, 0.0)
    ease = EASERanker(l2=lam).fit(inter)
    np.testing.assert_allclose(ease.weights_, expected, rtol=1e-5, atol=1e-6)
    batch = LearnerBatch.from_rows(inter, np.arange(5))
    np.testing.assert_allclose(ease.score(batch), x @ expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError):
        EASERanker(l2=0)


def test_rp3beta_random_walk_by_hand():
    inter = _tiny()
    x = (inter.matrix.toarray() > 0).astype(float)
    p_ui = x / x.sum(axis=1, keepdims=True)
    p_iu = x.T / x.T.sum(axis=1, keepdims=True)
    pop = x.sum(axis=0)
    w = (p_iu @ p_ui) / pop[None, :] ** 0.5
    np.fill_diagonal(w, 0.0)
    rp3 = RP3betaRanker(alpha=1.0, beta=0.5, K=10).fit(inter)
    np.testing.assert_allclose(rp3.weights_.toarray(), w, rtol=1e-5)
    top1 = RP3betaRanker(alpha=1.0, beta=0.5, K=1).fit(inter).weights_
    assert (np.diff(top1.indptr) <= 1).all()  # only each item's strongest neighbour is kept
    assert top1.toarray().argmax(axis=1).tolist() == w.argmax(axis=1).tolist()


@pytest.mark.parametrize("ranker", [EASERanker(l2=200.0), RP3betaRanker(beta=0.4)], ids=["ease", "rp3beta"])
def test_item_models_beat_popularity_with_separate_intervals(train, split, ranker):
    pop = evaluate(PopularityRanker(), train, split.test, ks=(10,), n_boot=200)
    res = evaluate(ranker, train, split.test, ks=(10,), n_boot=200)
    assert res.summary["ndcg@10_ci_low"] > pop.summary["ndcg@10_ci_high"]


def test_unseen_learner_is_scored_from_live_history(train):
    ease = EASERanker(l2=100.0).fit(train)
    row = int(np.argmax(np.diff(train.matrix.indptr)))
    stored = LearnerBatch.from_rows(train, np.array([row]))
    history = train.matrix[row]
    live = LearnerBatch(np.array([-1]), history, stored.role, stored.levels, stored.completed,
                        np.array([True]))
    np.testing.assert_allclose(ease.score(live), ease.score(stored))


def test_coordinate_search_walks_past_the_edge_of_its_grid_and_stops():
    calls = []

    def score(p):  # best l2 = 3000, far right of the grid; alpha's best (1.0) lies inside its grid
        calls.append(p)
        return -abs(np.log10(p["l2"] / 3000.0)) - (p["alpha"] - 1.0) ** 2, {}

    best, table = coordinate_search(score, {"l2": (1.0, 10.0, 100.0), "alpha": (0.5, 1.0, 2.0)},
                                    {"l2": 10.0, "alpha": 0.5}, metric="score")
    # walked 100 -> 400 -> 1600 -> 6400 (worse than 1600: stop)
    assert best["l2"] == pytest.approx(1600.0) and best["alpha"] == 1.0
    assert sorted({c["l2"] for c in calls}) == [1.0, 10.0, 100.0, 400.0, 1600.0, 6400.0]
    assert table.iloc[0]["score"] == pytest.approx(score(best)[0])
    # a best value inside the grid is not extended
    best, _ = coordinate_search(lambda p: (-(np.log10(p["l2"]) - 1) ** 2, {}), {"l2": (1.0, 10.0, 100.0)},
                                {"l2": 1.0}, metric="score")
    assert best["l2"] == 10.0


def test_tuning_uses_validation_only_and_bpr_stops_early(world):
    outer = temporal_last_n_split(world.events, n=2)
    inner = temporal_last_n_split(outer.train, n=2)
    fit = Interactions.from_events(inner.train, world.catalogue, world.roles, world.learners)
    # the test events never reach the tuner: it only sees fit + validation
    params, table = tune_ease(fit, inner.test, grid={"l2": (10.0, 100.0, 1000.0)})
    assert params["l2"] in set(table["l2"]) and table.iloc[0]["ndcg@10"] >= table["ndcg@10"].max() - 1e-12
    params, table = tune_bpr(fit, inner.test, grid={"learning_rate": (0.01, 0.05)},
                             epochs={"step": 10, "max": 60, "patience": 1})
    assert 10 <= params["iterations"] <= 60 and params["iterations"] % 10 == 0
    assert {"learning_rate", "iterations", "ndcg@10"} <= set(table.columns)
    assert np.isfinite(table["ndcg@10"]).all()


def test_ease_fits_a_sparse_history_without_densifying_users():
    # a catalogue bigger than the learner count still fits (Gram is items x items)
    rng = np.random.default_rng(0)
    m = sp.random(30, 300, density=0.05, random_state=rng, format="csr")
    ids = [f"c{j}" for j in range(300)]
    rows, cols = m.nonzero()
    events = pd.DataFrame({"learner_id": [f"u{r}" for r in rows], "content_id": [ids[c] for c in cols],
                           "event": "viewed", "value": 1.0, "timestamp": np.arange(rows.size, dtype=float),
                           "event_id": [f"e{i}" for i in range(rows.size)]})
    inter = Interactions.from_events(events, Catalogue.from_ids(ids))
    ease = EASERanker(l2=1.0).fit(inter)
    assert ease.weights_.shape == (300, 300) and np.isfinite(ease.weights_).all()


def test_blend_weights_learned_on_validation_never_below_the_best_component(world):
    from recommender.rankers import BlendRanker, RolePopularityRanker
    from recommender.training import learn_blend_weights

    outer = temporal_last_n_split(world.events, n=2)
    inner = temporal_last_n_split(outer.train, n=2)
    fit = Interactions.from_events(inner.train, world.catalogue, world.roles, world.learners)
    comps = ["ease", "rp3beta", "role-popularity"]
    params, table = learn_blend_weights([(fit, inner.test)], comps, {"ease": {"l2": 200.0}})
    assert params["components"] == comps and any(params["weights"])
    weights = table[comps]
    singles = [table[(weights[c] == 1.0) & (weights.drop(columns=[c]).sum(axis=1) == 0)]["ndcg@10"]
               for c in comps]
    best_single = max(float(s.iloc[0]) for s in singles)
    assert params["normalise"] in set(table["normalise"])
    chosen = table[np.all([table[c] == w for c, w in zip(comps, params["weights"], strict=True)]
                          + [table["normalise"] == params["normalise"]], axis=0)]
    assert float(chosen["ndcg@10"].iloc[0]) >= best_single
    # the learned blend, refitted on the outer training split, is a ranker like any other
    train = Interactions.from_events(outer.train, world.catalogue, world.roles, world.learners)
    blend = BlendRanker([EASERanker(l2=200.0), RP3betaRanker(), RolePopularityRanker()], params["weights"],
                        params["normalise"])
    res = evaluate(blend, train, outer.test, ks=(10,), n_boot=100)
    pop = evaluate(PopularityRanker(), train, outer.test, ks=(10,), n_boot=100)
    assert res.summary["ndcg@10_ci_low"] > pop.summary["ndcg@10_ci_high"]
    recs = blend.recommend(world.learners.ids[0], 5)
    assert len(recs) == 5 and all(r.reason for r in recs)


def test_als_search_never_chooses_a_collapsed_model(world):
    from recommender.training import tune_als

    outer = temporal_last_n_split(world.events, n=2)
    inner = temporal_last_n_split(outer.train, n=2)
    fit = Interactions.from_events(inner.train, world.catalogue, world.roles, world.learners)
    grid = {"regularization": (1.0, 1e7), "alpha": (1.0,), "factors": (16,)}
    params, table = tune_als(fit, inner.test, grid=grid, start={"factors": 16, "regularization": 1e7,
                                                               "alpha": 1.0}, iterations=5)
    # lambda = 1e7 shrinks every learner factor to ~0: only the popularity fallback would be left
    assert bool(table.loc[table["regularization"] == 1e7, "collapsed"].iloc[0])
    assert params["regularization"] < 1e7 and "collapsed" not in params


def _planted_blocks(seed=0, n_users=300, n_items=120):
    """Two taste groups, each liking its own half of the catalogue; item popularity is Zipf-like inside
    each half, so global popularity says nothing about which half a learner likes."""
    rng = np.random.default_rng(seed)
    half = n_items // 2
    pop = 1.0 / np.arange(1, half + 1) ** 0.8
    rows = []
    for u in range(n_users):
        g = u % 2
        items = rng.choice(half, size=12, replace=False, p=pop / pop.sum()) + g * half
        rows += [(f"u{u}", f"c{j}") for j in items]
    frame = pd.DataFrame(rows, columns=["learner_id", "content_id"])
    return frame.assign(event="viewed", value=1.0, timestamp=np.arange(len(frame), dtype=float),
                        event_id=[f"e{i}" for i in range(len(frame))]), [f"c{j}" for j in range(n_items)]


def test_bpr_recovers_planted_tastes_with_the_uniform_sampler():
    """BPR with the paper's uniform negatives must put a learner's own half of the catalogue above the
    other half (the planted truth), for nearly every learner and in the top 10 of unseen items."""
    events, ids = _planted_blocks()
    inter = Interactions.from_events(events, Catalogue.from_ids(ids))
    ranker = BPRRanker(factors=8, learning_rate=0.05, regularization=0.01, iterations=30, seed=0).fit(inter)
    batch = LearnerBatch.from_rows(inter, np.arange(inter.n_learners))
    scores = ranker.score(batch)
    own = np.array([int(inter.learner_ids[r][1:]) % 2 for r in range(inter.n_learners)])
    half = len(ids) // 2
    item_group = np.array([int(inter.catalogue.ids[j][1:]) >= half for j in range(len(ids))], dtype=int)
    mine = item_group[None, :] == own[:, None]
    # mean score of own-half items above mean score of other-half items for (almost) every learner
    gap = np.where(mine, scores, 0).sum(1) / mine.sum(1) - np.where(~mine, scores, 0).sum(1) / (~mine).sum(1)
    assert (gap > 0).mean() > 0.95
    # the top 10 of unseen items are from the learner's own half
    ids10, _ = ranker.top_k(batch, 10, exclude=batch.history)
    assert np.mean(item_group[ids10] == own[:, None]) > 0.9


def test_bpr_continues_training_and_round_trips_its_sampler():
    events, ids = _planted_blocks(n_users=60)
    inter = Interactions.from_events(events, Catalogue.from_ids(ids))
    a = BPRRanker(factors=4, iterations=10, seed=3).fit(inter).train_more(5)
    b = BPRRanker(factors=4, iterations=10, seed=3).fit(inter).train_more(5)
    assert a.iterations == 15 and np.array_equal(a.item_factors_, b.item_factors_)
    assert BPRRanker(negatives="popularity").get_params()["negatives"] == "popularity"
    with pytest.raises(ValueError, match="negatives"):
        BPRRanker(negatives="hard")


def test_blend_weights_judged_on_two_random_validation_folds(world, monkeypatch):
    from recommender.splits import random_split
    from recommender.training import blend_folds, learn_blend_weights

    outer = random_split(world.events, 0.25, seed=0)
    options = {"test_fraction": 0.25, "seed": 0}
    train = Interactions.from_events(outer.train, world.catalogue, world.roles, world.learners)
    first = validation_split(outer, "random", options, 0)
    fit = Interactions.from_events(first.train, world.catalogue, world.roles, world.learners)
    (fit2, val2), = blend_folds(outer, "random", options, 0, train, world.learners)
    def pairs(frame):
        return set(zip(frame["learner_id"], frame["content_id"], strict=True))

    assert pairs(val2) != pairs(first.test)
    # a deterministic validation (each learner's last items) would only repeat the first fold
    last = temporal_last_n_split(world.events, n=2)
    assert blend_folds(last, "last-n", {}, 0, train) == []
    comps = ["popularity", "ease"]
    tuned = {"ease": {"l2": 200.0}}
    monkeypatch.setattr("recommender.training.BLEND_LEARNERS", 10**6)
    _, both = learn_blend_weights([(fit, first.test), (fit2, val2)], comps, tuned)
    _, one = learn_blend_weights([(fit, first.test)], comps, tuned)
    _, two = learn_blend_weights([(fit2, val2)], comps, tuned)

    def single(table, name):
        other = [c for c in comps if c != name][0]
        row = table[(table[name] == 1.0) & (table[other] == 0.0) & (table["normalise"] == "z")]
        return float(row["ndcg@10"].iloc[0])

    # every validation learner of both folds counts (no sampling here): a weight vector's value is the
    # mean over the learners of both folds, i.e. the learner-weighted mean of the two folds' values
    n1 = len(evaluate(PopularityRanker(), fit, first.test, ks=(10,), n_boot=1).per_learner)
    n2 = len(evaluate(PopularityRanker(), fit2, val2, ks=(10,), n_boot=1).per_learner)
    for name in comps:
        expected = (n1 * single(one, name) + n2 * single(two, name)) / (n1 + n2)
        assert single(both, name) == pytest.approx(expected, rel=1e-9)
