"""Ranking metrics against values worked out by hand, plus properties (bounds, perfect ranking = 1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender import metrics as M

# ranked a..e, relevant {b, d, f}: hits at ranks 2 and 4, |R| = 3
RANKED = ["a", "b", "c", "d", "e"]
RELEVANT = {"b", "d", "f"}


def test_precision_recall_by_hand():
    assert M.precision_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 / 5)
    assert M.precision_at_k(RANKED, RELEVANT, 2) == pytest.approx(1 / 2)
    assert M.precision_at_k(RANKED, RELEVANT, 1) == 0.0
    assert M.recall_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 / 3)
    assert M.recall_at_k(RANKED, RELEVANT, 3) == pytest.approx(1 / 3)


def test_ndcg_by_hand():
    # DCG = 1/log2(3) + 1/log2(5) = 0.63093 + 0.43068; IDCG (3 hits) = 1 + 0.63093 + 0.5
    assert M.ndcg_at_k(RANKED, RELEVANT, 5) == pytest.approx(1.06161 / 2.13093, abs=1e-5)
    assert M.ndcg_at_k(["x", "y", "z"], {"z"}, 3) == pytest.approx(0.5)  # 1/log2(4) over IDCG 1
    assert M.ndcg_at_k(["z", "y"], {"z"}, 2) == pytest.approx(1.0)


def test_average_precision_and_rr_by_hand():
    # hits at 2 and 4: (P@2 + P@4) / min(5, 3) = (1/2 + 2/4) / 3
    assert M.average_precision_at_k(RANKED, RELEVANT, 5) == pytest.approx(1 / 3)
    assert M.average_precision_at_k(["x", "y", "z"], {"z"}, 3) == pytest.approx(1 / 3)
    assert M.average_precision_at_k(["z", "q", "y"], {"z", "y"}, 3) == pytest.approx((1 + 2 / 3) / 2)
    assert M.reciprocal_rank(RANKED, RELEVANT) == pytest.approx(0.5)
    # one hit at rank 1 out of 3 relevant items with k = 2: min(k, |R|) = 2 versus |R| = 3
    assert M.average_precision_at_k(["z", "q"], {"z", "y", "w"}, 2) == pytest.approx(1 / 2)
    assert M.average_precision_at_k(["z", "q"], {"z", "y", "w"}, 2, denominator="relevant") == pytest.approx(
        1 / 3
    )
    assert M.reciprocal_rank(["x", "y"], {"q"}) == 0.0
    assert M.mean_reciprocal_rank([RANKED, ["x", "y", "z"]], [RELEVANT, {"z"}]) == pytest.approx(
        (1 / 2 + 1 / 3) / 2
    )


def test_coverage_and_novelty_by_hand():
    assert M.catalogue_coverage(np.array([[0, 1], [1, 2]]), 10) == pytest.approx(0.3)
    assert M.catalogue_coverage(np.array([[0, -1]]), 4) == pytest.approx(0.25)  # padding ignored
    # 9 learners; item 0 seen by all: p = 10/10 -> 0 bits; item 1 by 1: p = 2/10 -> log2(5) bits
    assert M.novelty(np.array([[0, 1]]), np.array([9, 1, 0]), 9) == pytest.approx(math.log2(5) / 2)


def test_batch_matches_single_and_short_lists_never_hit():
    ranked = np.array([[0, 1, 2, 3, 4], [5, 6, -1, -1, -1]])
    rel = [np.array([1, 3, 9]), np.array([6])]
    hits = M.hits_matrix(ranked, rel)
    assert hits.tolist() == [[False, True, False, True, False], [False, True, False, False, False]]
    n = np.array([3, 1])
    assert M.ndcg_at_k_batch(hits, n, 5)[0] == pytest.approx(M.ndcg_at_k(RANKED, RELEVANT, 5))
    assert M.reciprocal_rank_batch(hits).tolist() == [0.5, 0.5]


def test_bootstrap_ci_brackets_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    small, large = rng.random(100), rng.random(10_000)
    lo_s, hi_s = M.bootstrap_ci(small, n_boot=500)
    lo_l, hi_l = M.bootstrap_ci(large, n_boot=500)
    assert lo_s < small.mean() < hi_s and lo_l < large.mean() < hi_l
    # the width of a mean's CI scales like 1/sqrt(n): 10x narrower for 100x the data (within 40%)
    assert (hi_s - lo_s) / (hi_l - lo_l) == pytest.approx(10, rel=0.4)


rankings = st.lists(st.integers(0, 30), min_size=1, max_size=15, unique=True)
relevants = st.sets(st.integers(0, 30), min_size=1, max_size=10)


@settings(max_examples=150, deadline=None)
@given(rankings, relevants, st.integers(1, 15))
def test_metrics_are_bounded(ranked, relevant, k):
    for fn in (M.precision_at_k, M.recall_at_k, M.ndcg_at_k, M.average_precision_at_k):
        assert 0.0 <= fn(ranked, relevant, k) <= 1.0 + 1e-12
    assert 0.0 <= M.reciprocal_rank(ranked, relevant) <= 1.0


@settings(max_examples=100, deadline=None)
@given(relevants, st.integers(0, 5), st.integers(1, 15))
def test_perfect_ranking_scores_one(relevant, n_extra, k):
    ranked = sorted(relevant) + [100 + i for i in range(n_extra)]  # every relevant item first
    assert M.ndcg_at_k(ranked, relevant, k) == pytest.approx(1.0)
    assert M.average_precision_at_k(ranked, relevant, k) == pytest.approx(1.0)
    assert M.reciprocal_rank(ranked, relevant) == 1.0
    assert M.recall_at_k(ranked, relevant, k) == pytest.approx(min(k, len(relevant)) / len(relevant))
    assert M.precision_at_k(ranked, relevant, k) == pytest.approx(min(k, len(relevant)) / k)


@settings(max_examples=100, deadline=None)
@given(rankings, relevants, st.integers(1, 15))
def test_moving_a_hit_up_never_lowers_ndcg(ranked, relevant, k):
    hits = [i for i, x in enumerate(ranked[:k]) if x in relevant]
    misses = [i for i, x in enumerate(ranked[:k]) if x not in relevant]
    if not hits or not misses or misses[0] > hits[-1]:
        return
    better = list(ranked)
    i, j = misses[0], hits[-1]
    better[i], better[j] = better[j], better[i]
    assert M.ndcg_at_k(better, relevant, k) >= M.ndcg_at_k(ranked, relevant, k) - 1e-12
