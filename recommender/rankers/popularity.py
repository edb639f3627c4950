"""Baselines: global popularity and popularity within the learner's role."""

from __future__ import annotations

import numpy as np

from recommender.profiles import LearnerBatch
from recommender.rankers.base import Ranker


class PopularityRanker(Ranker):
    """Items ranked by how many training learners interacted with them (same list for everyone)."""

    name = "popularity"

    def score(self, batch: LearnerBatch) -> np.ndarray:
        return np.tile(self.popularity_.global_score, (len(batch), 1))

    def score_role(self, role_idx: int) -> np.ndarray:
        return self.popularity_.global_score.copy()

    def source(self, batch, i, item) -> str:
        return "popular"


class RolePopularityRanker(Ranker):
    """Items ranked by how many learners in the learner's role interacted with them; global otherwise."""

    name = "role-popularity"

    def missing_inputs(self, interactions) -> str | None:
        if not (interactions.learner_role >= 0).any():
            return "no learner has a role (give --learners with role_id and --roles)"
        return None

    def score(self, batch: LearnerBatch) -> np.ndarray:
        return self.popularity_.for_roles(batch.role)

    def source(self, batch, i, item) -> str:
        return "role" if batch.role[i] >= 0 else "popular"
