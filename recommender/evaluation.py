"""Offline evaluation of rankers on a train/test split (metrics defined in :mod:`recommender.metrics`).

Protocol: fit on the training events; for every training learner with held-out test events, the
relevant set is the held-out content with positive confidence that the learner had not touched in
training; the ranker ranks all catalogue items except the learner's training items; metrics at each k
are averaged over those learners (overall and per role) with percentile-bootstrap 95% intervals.
Learners that only appear in the test split (cold) are counted in ``n_cold_learners`` and skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recommender import metrics as M
from recommender.interactions import Interactions
from recommender.profiles import LearnerBatch
from recommender.rankers.base import Ranker

METRICS = ("precision", "recall", "ndcg", "map_min", "map_r", "mrr")


@dataclass
class EvaluationResult:
    ranker: str
    summary: dict[str, float]
    per_role: pd.DataFrame
    per_learner: pd.DataFrame
    params: dict = field(default_factory=dict)

    def metric(self, name: str) -> float:
        return self.summary[name]


def relevant_sets(train: Interactions, test_events: pd.DataFrame) -> tuple[np.ndarray, list[np.ndarray], int]:
    """(training rows, relevant item indices per row, number of cold test learners)."""
    test = Interactions.from_events(
        test_events, train.catalogue, train.roles, weights=train.weights, learner_ids=train.learner_ids
    )
    positive = test.matrix.copy()
    positive.data = (positive.data > 0).astype(np.float32)
    seen = train.matrix.copy()
    seen.data[:] = 1.0
    positive = (positive - positive.multiply(seen)).tocsr()
    positive.eliminate_zeros()
    rows = np.flatnonzero(np.diff(positive.indptr) > 0)
    rel = [positive.indices[positive.indptr[r] : positive.indptr[r + 1]] for r in rows]
    cold = len(set(test_events["learner_id"].astype(str)) - set(train.learner_ids))
    return rows, rel, cold


def rank_rows(
    ranker: Ranker,
    train: Interactions,
    rows: np.ndarray,
    k: int,
    batch_size: int | None = None,
    progress=None,
) -> np.ndarray:
    """Top-k item indices (n, k) for training rows, excluding their training items."""
    out = np.full((len(rows), k), -1, dtype=np.int64)
    # dense score blocks of about 16M cells whatever the catalogue size (memory stays ~0.5 GB)
    batch_size = batch_size or int(np.clip(16_000_000 // max(train.n_items, 1), 16, 4096))
    for s in range(0, len(rows), batch_size):
        part = rows[s : s + batch_size]
        batch = LearnerBatch.from_rows(train, part)
        ids, _ = ranker.top_k(batch, k, exclude=batch.history)
        out[s : s + len(part)] = ids
        if progress is not None:
            progress(len(part))
    return out


def per_learner_metrics(ranked: np.ndarray, relevant: list[np.ndarray], ks=(5, 10, 20)) -> pd.DataFrame:
    hits = M.hits_matrix(ranked, relevant)
    n_rel = np.array([len(r) for r in relevant])
    cols = {}
    for k in ks:
        cols[f"precision@{k}"] = M.precision_at_k_batch(hits, n_rel, k)
        cols[f"recall@{k}"] = M.recall_at_k_batch(hits, n_rel, k)
        cols[f"ndcg@{k}"] = M.ndcg_at_k_batch(hits, n_rel, k)
        # two normalisations of MAP@k are in use; both kept under their own names (see recommender.metrics)
        cols[f"map_min@{k}"] = M.average_precision_at_k_batch(hits, n_rel, k)
        cols[f"map_r@{k}"] = M.average_precision_at_k_batch(hits, n_rel, k, denominator="relevant")
        cols[f"mrr@{k}"] = M.reciprocal_rank_batch(hits[:, :k])
    cols["n_relevant"] = n_rel
    return pd.DataFrame(cols)


def evaluate(
    ranker: Ranker,
    train: Interactions,
    test_events: pd.DataFrame,
    ks=(5, 10, 20),
    n_boot: int = 500,
    seed=0,
    fitted: bool = False,
    progress: bool = False,
    max_learners: int | None = None,
) -> EvaluationResult:
    """Fit (unless ``fitted``) and evaluate one ranker; see the module docstring for the protocol."""
    if not fitted:
        ranker.fit(train)
    rows, rel, cold = relevant_sets(train, test_events)
    if max_learners is not None and len(rows) > max_learners:
        pick = np.sort(np.random.default_rng(seed).choice(len(rows), max_learners, replace=False))
        rows, rel = rows[pick], [rel[i] for i in pick]
    kmax = max(ks)
    if progress and len(rows):
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(f"ranking with {ranker.name}", total=len(rows))
            ranked = rank_rows(ranker, train, rows, kmax, progress=lambda n: bar.advance(task, n))
    else:
        ranked = rank_rows(ranker, train, rows, kmax)
    table = per_learner_metrics(ranked, rel, ks)
    roles = train.learner_role[rows]
    role_names = np.array([train.roles.role_ids[r] if r >= 0 else "(none)" for r in roles], dtype=object)
    table.insert(0, "learner_id", train.learner_ids[rows])
    table.insert(1, "role", role_names)
    summary: dict[str, float] = {"n_learners": float(len(rows)), "n_cold_learners": float(cold)}
    counts = train.item_popularity()
    for col in table.columns[2:]:
        if col == "n_relevant":
            continue
        values = table[col].to_numpy()
        summary[col] = float(values.mean()) if len(values) else float("nan")
        lo, hi = M.bootstrap_ci(values, n_boot=n_boot, seed=seed)
        summary[f"{col}_ci_low"], summary[f"{col}_ci_high"] = lo, hi
    for k in ks:
        summary[f"coverage@{k}"] = M.catalogue_coverage(ranked[:, :k], train.n_items)
        summary[f"novelty@{k}"] = M.novelty(ranked[:, :k], counts, train.n_learners)
    per_role = table.drop(columns=["learner_id"]).groupby("role").mean(numeric_only=True)
    per_role.insert(0, "n_learners", table.groupby("role").size())
    return EvaluationResult(ranker.name, summary, per_role.reset_index(), table, ranker.get_params())


def paired_difference(
    result: EvaluationResult, reference: EvaluationResult, metric: str = "ndcg@10", n_boot: int = 1000, seed=0
) -> dict[str, float]:
    """``result`` minus ``reference`` on ``metric``, paired by learner: the mean difference and its
    percentile-bootstrap 95% interval over learners (both rankers scored the same learners on the same
    split, so the learner-to-learner spread that widens each ranker's own interval cancels)."""
    a, b = result.per_learner, reference.per_learner
    if not np.array_equal(a["learner_id"].to_numpy(), b["learner_id"].to_numpy()):
        raise ValueError("paired differences need two evaluations of the same learners on one split")
    diff = a[metric].to_numpy(float) - b[metric].to_numpy(float)
    lo, hi = M.bootstrap_ci(diff, n_boot=n_boot, seed=seed)
    return {"difference": float(diff.mean()) if diff.size else float("nan"), "ci_low": lo, "ci_high": hi}


def compare(
    rankers: dict[str, Ranker],
    train: Interactions,
    test_events: pd.DataFrame,
    ks=(5, 10, 20),
    n_boot: int = 500,
    seed=0,
    progress: bool = False,
) -> tuple[pd.DataFrame, dict[str, EvaluationResult]]:
    """Evaluate several rankers on one split; returns a table (one row per ranker) and the results."""
    results = {}
    for name, ranker in rankers.items():
        results[name] = evaluate(ranker, train, test_events, ks, n_boot, seed, progress=progress)
    table = pd.DataFrame({name: r.summary for name, r in results.items()}).T
    return table, results
