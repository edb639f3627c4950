"""Blend: a weighted sum of any rankers' scores, the weights learned on validation.

    score = sum_c w_c * s_c / max_j |s_c[j]|      (each component scaled per learner to [-1, 1])

The per-learner scaling makes the weights comparable across models whose scores live on different
scales (EASE regression weights, ALS dot products, popularity shares). The weights are learned by
coordinate ascent on a validation split carved from training
(:func:`recommender.training.learn_blend_weights`); the components keep their own tuned parameters.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recommender.interactions import Interactions
from recommender.profiles import LearnerBatch
from recommender.rankers.base import Ranker

DEFAULT_COMPONENTS = ("ease", "rp3beta", "item-knn", "als", "role-popularity", "gap")


def scale_rows(scores: np.ndarray) -> np.ndarray:
    scale = np.abs(scores).max(axis=1, keepdims=True)
    return np.divide(scores, scale, out=np.zeros_like(scores, dtype=np.float64), where=scale > 0)


class BlendRanker(Ranker):
    name = "blend"

    def __init__(self, components: list[Ranker] | None = None, weights: list[float] | None = None):
        if components is None:
            from recommender.rankers import make_ranker

            components = [make_ranker(n) for n in DEFAULT_COMPONENTS]
        self.components = list(components)
        self.weights = [1.0] * len(self.components) if weights is None else [float(w) for w in weights]
        if len(self.weights) != len(self.components):
            raise ValueError("a blend needs one weight per component")

    def get_params(self) -> dict:
        return {"weights": list(self.weights), "components": [c.name for c in self.components]}

    def _fit(self, interactions: Interactions) -> None:
        for c in self.components:
            if getattr(c, "interactions_", None) is not interactions:
                c.fit(interactions, self.reasons_.names)

    def component_scores(self, batch: LearnerBatch) -> list[np.ndarray]:
        return [scale_rows(c.score(batch)) for c in self.components]

    def combine(self, parts: list[np.ndarray], weights=None) -> np.ndarray:
        weights = self.weights if weights is None else weights
        out = np.zeros_like(parts[0])
        for w, s in zip(weights, parts, strict=True):
            if w:
                out += w * s
        return out

    def score(self, batch: LearnerBatch) -> np.ndarray:
        return self.combine(self.component_scores(batch))

    def score_role(self, role_idx: int) -> np.ndarray:
        parts = [scale_rows(c.score_role(role_idx)[None, :]) for c in self.components]
        return self.combine(parts)[0]

    def sources(self, batch: LearnerBatch, i: int, items) -> list[str]:
        one = _one(batch, i)
        parts = self.component_scores(one)
        out = []
        for item in items:
            share = [w * p[0, item] for w, p in zip(self.weights, parts, strict=True)]
            top = self.components[int(np.argmax(share))]
            out.append(top.source(one, 0, int(item)))
        return out

    def source(self, batch: LearnerBatch, i: int, item: int) -> str:
        return self.sources(batch, i, [item])[0]

    def save_state(self, directory: Path) -> None:
        for j, c in enumerate(self.components):
            sub = Path(directory) / f"blend-{j}-{c.name}"
            sub.mkdir(parents=True, exist_ok=True)
            c.save_state(sub)

    def load_state(self, directory: Path) -> None:
        for j, c in enumerate(self.components):
            c.restore(self.interactions_, Path(directory) / f"blend-{j}-{c.name}", self.reasons_.names)


def _one(batch: LearnerBatch, i: int) -> LearnerBatch:
    return batch.take(i)
