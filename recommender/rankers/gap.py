"""Competence-gap ranker: content that closes the gaps between a learner's levels and their role's needs.

For learner u, competence c with measured level l_uc (from the diagnostic) and role requirement r_c
(``default_target`` when the learner has no role), the gap weight is g_uc = max(r_c - l_uc, 0) / 7.
Content j targeting level L_j and developing competences C_j scores

    gap_j = max_{c in C_j} g_uc * exp(-(L_j - (l_uc + 1))^2 / (2 sigma^2)) * (below if L_j <= l_uc else 1)

i.e. highest for the next level up in the competence with the largest gap; far-above-level content and
content at or below the learner's level (``below`` factor) score little. Unknown levels contribute 0;
a learner without any known level gets role (then global) popularity.
"""

from __future__ import annotations

import numpy as np

from recommender.interactions import Interactions
from recommender.profiles import LearnerBatch
from recommender.rankers.base import Ranker


class CompetenceGapRanker(Ranker):
    name = "gap"

    def __init__(
        self, sigma: float = 0.8, below: float = 0.2, default_target: int = 5, popularity_weight: float = 0.02
    ):
        self.sigma = sigma
        self.below = below
        self.default_target = default_target
        self.popularity_weight = popularity_weight  # a small role-popularity tie-breaker

    def missing_inputs(self, interactions: Interactions) -> str | None:
        if interactions.catalogue.competence_matrix.nnz == 0:
            return "the catalogue tags no content with competences (give --catalogue with competences)"
        if np.isnan(interactions.learner_levels).all():
            return "no learner has a measured competence level (give --learners with level_<competence>)"
        return None

    def _fit(self, interactions: Interactions) -> None:
        self._prepare(interactions)

    def _prepare(self, interactions: Interactions) -> None:
        cm = interactions.catalogue.competence_matrix.tocsr()
        cm.sort_indices()
        self.pair_item_ = np.repeat(np.arange(cm.shape[0]), np.diff(cm.indptr))
        self.pair_comp_ = cm.indices.copy()
        counts = np.diff(cm.indptr)
        self.items_with_pairs_ = np.flatnonzero(counts > 0)
        self.pair_starts_ = cm.indptr[self.items_with_pairs_]
        self.pair_level_ = interactions.catalogue.level[self.pair_item_].astype(float)

    def load_state(self, directory) -> None:
        self._prepare(self.interactions_)

    def requirements(self, role: np.ndarray, required: np.ndarray | None = None) -> np.ndarray:
        """Required level per learner and competence: ``required`` when given (the live role profile and
        objectives), else the training data's role profile (``default_target`` without a role)."""
        if required is not None:
            return np.asarray(required, dtype=float)
        roles = self.interactions_.roles
        n_comp = len(self.interactions_.catalogue.competence_ids)
        req = np.full((len(role), n_comp), float(self.default_target))
        has = (role >= 0) & (role < len(roles))
        if has.any():
            req[has] = roles.required[role[has]]
        return req

    def gap_scores(self, batch: LearnerBatch) -> np.ndarray:
        n, n_items = len(batch), self.interactions_.n_items
        out = np.zeros((n, n_items))
        if self.pair_comp_.size == 0:
            return out
        levels = batch.levels
        weight = np.clip(self.requirements(batch.role, batch.required) - levels, 0, None) / 7.0
        weight = np.nan_to_num(weight, nan=0.0)
        lv = levels[:, self.pair_comp_]  # (n, P)
        delta = self.pair_level_[None, :] - (lv + 1.0)
        suit = np.exp(-0.5 * (delta / self.sigma) ** 2)
        suit = np.where(self.pair_level_[None, :] <= lv, suit * self.below, suit)
        suit = np.where(self.pair_level_[None, :] > 0, suit, 0.0)
        value = np.nan_to_num(weight[:, self.pair_comp_] * suit, nan=0.0)
        out[:, self.items_with_pairs_] = np.maximum.reduceat(value, self.pair_starts_, axis=1)
        return out

    def score(self, batch: LearnerBatch) -> np.ndarray:
        return self.gap_scores(batch) + self.popularity_weight * self.popularity_.for_roles(batch.role)

    def score_role(self, role_idx: int) -> np.ndarray:
        return self.score(LearnerBatch.for_role(self.interactions_, role_idx))[0]

    def source(self, batch, i, item) -> str:
        return "gap" if not np.isnan(batch.levels[i]).all() else ("role" if batch.role[i] >= 0 else "popular")
