"""Ranking metrics, computed by us (binary relevance), with their definitions.

For one learner with ranked list ``r_1..r_k`` (top k) and relevant set ``R`` (held-out content):

- ``hit_i = 1`` if ``r_i`` is in ``R``.
- precision@k = (sum_i hit_i) / k                       (k, not the list length: a short list is penalised)
- recall@k    = (sum_i hit_i) / |R|
- NDCG@k      = DCG@k / IDCG@k, DCG@k = sum_i hit_i / log2(i + 1), IDCG@k the DCG of min(k, |R|) hits.
- AP@k has two normalisations in the literature, kept apart under two names (MAP = mean over learners):
  map_min@k   = (1 / min(k, |R|)) * sum_i hit_i * precision@i   (1 for a perfect top-k list; implicit's
                ``mean_average_precision_at_k`` and most libraries)
  map_r@k     = (1 / |R|) * sum_i hit_i * precision@i            (the textbook AP truncated at k: a learner
                with more than k relevant items cannot reach 1; some published tables use it)
- MRR@k       = mean over learners of 1 / (rank of the first relevant item in the top k), 0 if none.
- catalogue coverage@k = |union of all top-k lists| / n_items.
- novelty@k   = mean over all recommended items of -log2(p_i), p_i = (n_i + 1) / (n_learners + 1) the
  share of training learners who interacted with item i (self-information; higher = less popular).

Learners with an empty ``R`` are excluded before averaging. (implicit's ``precision_at_k`` divides by
min(k, |R|), which is not the precision above.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def hits_matrix(ranked: np.ndarray, relevant: Sequence[set] | Sequence[np.ndarray]) -> np.ndarray:
    """(n, k) bool: whether ranked[u, i] is in relevant[u]. Negative entries (short lists) never hit.

    Integer item indices are matched in one vectorised pass; any other ids fall back to a per-row test.
    """
    ranked = np.asarray(ranked)
    if ranked.ndim != 2:
        raise ValueError("ranked must be a 2-d array (learners x k)")
    if np.issubdtype(ranked.dtype, np.integer):
        rel_arrays = [
            np.fromiter(r, dtype=np.int64) if isinstance(r, set) else np.asarray(r, dtype=np.int64)
            for r in relevant
        ]
        width = int(max(ranked.max(initial=-1), max((a.max(initial=-1) for a in rel_arrays), default=-1))) + 1
        keys = (
            np.concatenate([u * width + a for u, a in enumerate(rel_arrays)]) if rel_arrays else np.zeros(0)
        )
        rows = np.arange(ranked.shape[0])[:, None]
        return np.isin(rows * width + ranked, keys) & (ranked >= 0)
    out = np.zeros(ranked.shape, dtype=bool)
    for u, rel in enumerate(relevant):
        out[u] = np.isin(ranked[u], list(rel))
    return out


def _check(hits: np.ndarray, n_relevant: np.ndarray, k: int):
    hits = np.atleast_2d(np.asarray(hits, dtype=bool))[:, :k]
    n_relevant = np.atleast_1d(np.asarray(n_relevant, dtype=float))
    if k <= 0:
        raise ValueError("k must be positive")
    return hits, n_relevant


def precision_at_k_batch(hits, n_relevant, k: int) -> np.ndarray:
    hits, _ = _check(hits, n_relevant, k)
    return hits.sum(axis=1) / k


def recall_at_k_batch(hits, n_relevant, k: int) -> np.ndarray:
    hits, n_rel = _check(hits, n_relevant, k)
    return hits.sum(axis=1) / np.maximum(n_rel, 1)


def ndcg_at_k_batch(hits, n_relevant, k: int) -> np.ndarray:
    hits, n_rel = _check(hits, n_relevant, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits * discounts[: hits.shape[1]]).sum(axis=1)
    ideal_cum = np.concatenate([[0.0], np.cumsum(discounts)])
    idcg = ideal_cum[np.minimum(n_rel, k).astype(int)]
    return np.where(idcg > 0, dcg / np.where(idcg > 0, idcg, 1), 0.0)


def average_precision_at_k_batch(hits, n_relevant, k: int, denominator: str = "min") -> np.ndarray:
    """AP@k divided by min(k, |R|) (``denominator="min"``) or by |R| (``"relevant"``)."""
    if denominator not in ("min", "relevant"):
        raise ValueError("denominator must be 'min' or 'relevant'")
    hits, n_rel = _check(hits, n_relevant, k)
    ranks = np.arange(1, hits.shape[1] + 1)
    prec_at_i = np.cumsum(hits, axis=1) / ranks
    denom = np.minimum(n_rel, k) if denominator == "min" else n_rel
    return np.where(denom > 0, (prec_at_i * hits).sum(axis=1) / np.maximum(denom, 1), 0.0)


def reciprocal_rank_batch(hits) -> np.ndarray:
    hits = np.atleast_2d(np.asarray(hits, dtype=bool))
    any_hit = hits.any(axis=1)
    first = np.argmax(hits, axis=1) + 1
    return np.where(any_hit, 1.0 / first, 0.0)


# single-list conveniences (what a reader checks by hand)
def _one(ranked, relevant):
    ranked = list(ranked)
    rel = set(relevant)
    return np.array([[x in rel for x in ranked]], dtype=bool), np.array([len(rel)])


def precision_at_k(ranked, relevant, k: int) -> float:
    h, n = _one(list(ranked)[:k], relevant)
    return float(precision_at_k_batch(h, n, k)[0])


def recall_at_k(ranked, relevant, k: int) -> float:
    h, n = _one(list(ranked)[:k], relevant)
    return float(recall_at_k_batch(h, n, k)[0])


def ndcg_at_k(ranked, relevant, k: int) -> float:
    h, n = _one(list(ranked)[:k], relevant)
    return float(ndcg_at_k_batch(h, n, k)[0])


def average_precision_at_k(ranked, relevant, k: int, denominator: str = "min") -> float:
    h, n = _one(list(ranked)[:k], relevant)
    return float(average_precision_at_k_batch(h, n, k, denominator)[0])


def reciprocal_rank(ranked, relevant) -> float:
    h, _ = _one(ranked, relevant)
    return float(reciprocal_rank_batch(h)[0])


def mean_reciprocal_rank(rankings, relevants) -> float:
    return float(np.mean([reciprocal_rank(r, rel) for r, rel in zip(rankings, relevants, strict=True)]))


def catalogue_coverage(ranked: np.ndarray, n_items: int) -> float:
    ranked = np.asarray(ranked).ravel()
    ranked = ranked[ranked >= 0]
    return float(np.unique(ranked).size / n_items) if n_items else 0.0


def novelty(ranked: np.ndarray, item_counts: np.ndarray, n_learners: int) -> float:
    ranked = np.asarray(ranked).ravel()
    ranked = ranked[ranked >= 0]
    if ranked.size == 0:
        return 0.0
    p = (np.asarray(item_counts, dtype=float)[ranked] + 1.0) / (n_learners + 1.0)
    return float(np.mean(-np.log2(p)))


def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, level: float = 0.95, seed=0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean, resampling learners with replacement."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // values.size)  # bound memory for large learner counts
    means = np.concatenate(
        [
            values[rng.integers(0, values.size, size=(min(chunk, n_boot - s), values.size))].mean(axis=1)
            for s in range(0, n_boot, chunk)
        ]
    )
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))
