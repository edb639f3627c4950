"""Hybrid ranker: collaborative filtering + competence gap + role popularity.

    score = w_cf * cf / max|cf|  +  w_gap * gap  +  w_role * role_popularity

Each component is on [0, 1] (CF scaled per learner by its largest absolute score), so the weights are
comparable; they are tuned on validation data (:func:`recommender.training.tune_hybrid`). A learner
without history has cf = 0 and is ranked by the gap and role terms; an experienced learner's own CF
signal dominates where it is sharp.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recommender.interactions import Interactions
from recommender.profiles import LearnerBatch
from recommender.rankers.base import Ranker
from recommender.rankers.cf import ALSRanker
from recommender.rankers.gap import CompetenceGapRanker


class HybridRanker(Ranker):
    name = "hybrid"

    def __init__(
        self,
        cf: Ranker | None = None,
        gap: CompetenceGapRanker | None = None,
        w_cf: float = 1.0,
        w_gap: float = 0.5,
        w_role: float = 0.2,
    ):
        self.cf = cf if cf is not None else ALSRanker()
        self.gap = gap if gap is not None else CompetenceGapRanker(popularity_weight=0.0)
        self.w_cf = w_cf
        self.w_gap = w_gap
        self.w_role = w_role

    def get_params(self) -> dict:
        return {"w_cf": self.w_cf, "w_gap": self.w_gap, "w_role": self.w_role}

    def _fit(self, interactions: Interactions) -> None:
        if getattr(self.cf, "interactions_", None) is not interactions:
            self.cf.fit(interactions, self.reasons_.names)
        if getattr(self.gap, "interactions_", None) is not interactions:
            self.gap.fit(interactions, self.reasons_.names)

    def components(self, batch: LearnerBatch) -> dict[str, np.ndarray]:
        cf = self.cf.score(batch)
        scale = np.abs(cf).max(axis=1, keepdims=True)
        cf = np.divide(cf, scale, out=np.zeros_like(cf, dtype=np.float64), where=scale > 0)
        return {"cf": cf, "gap": self.gap.gap_scores(batch), "role": self.popularity_.for_roles(batch.role)}

    def combine(self, comps: dict[str, np.ndarray], w_cf=None, w_gap=None, w_role=None) -> np.ndarray:
        w_cf = self.w_cf if w_cf is None else w_cf
        w_gap = self.w_gap if w_gap is None else w_gap
        w_role = self.w_role if w_role is None else w_role
        return w_cf * comps["cf"] + w_gap * comps["gap"] + w_role * comps["role"]

    def score(self, batch: LearnerBatch) -> np.ndarray:
        return self.combine(self.components(batch))

    def score_role(self, role_idx: int) -> np.ndarray:
        cf = self.cf.score_role(role_idx)
        scale = np.abs(cf).max()
        cf = cf / scale if scale > 0 else np.zeros_like(cf)
        gap = self.gap.gap_scores(LearnerBatch.for_role(self.interactions_, role_idx))[0]
        role = self.popularity_.for_roles(np.array([role_idx]))[0]
        return self.w_cf * cf + self.w_gap * gap + self.w_role * role

    def sources(self, batch: LearnerBatch, i: int, items) -> list[str]:
        one = batch.take(i)
        comps = self.components(one)
        out = []
        for item in items:
            parts = {
                "cf": self.w_cf * comps["cf"][0, item],
                "gap": self.w_gap * comps["gap"][0, item],
                "role": self.w_role * comps["role"][0, item],
            }
            best = max(parts, key=parts.get)
            out.append("popular" if best == "role" and batch.role[i] < 0 else best)
        return out

    def source(self, batch: LearnerBatch, i: int, item: int) -> str:
        return self.sources(batch, i, [item])[0]

    def save_state(self, directory: Path) -> None:
        self.cf.save_state(directory)

    def load_state(self, directory: Path) -> None:
        self.cf.restore(self.interactions_, directory, self.reasons_.names)
        self.gap.restore(self.interactions_, directory, self.reasons_.names)
