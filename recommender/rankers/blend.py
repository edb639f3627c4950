"""Blend: a weighted sum of any rankers' normalised scores, the weights learned on validation.

    score = sum_c w_c * norm(s_c)      (each component's scores normalised per learner)

Components score on different scales (EASE regression weights, ALS dot products, popularity shares), so
each learner's score row is normalised first, by one of (chosen on validation with the weights):

- ``"max"``: s / max_j |s_j| (to [-1, 1]; the first blend, kept for bundles saved with it);
- ``"z"``: (s - mean) / sd over the catalogue (z-score fusion; robust to one extreme score);
- ``"rrf"``: 1 / (60 + rank), reciprocal-rank fusion (Cormack, Clarke & Buettcher 2009): only the order
  of each component counts.

The weights are learned by coordinate ascent on a validation split carved from training
(:func:`recommender.training.learn_blend_weights`); the components keep their own tuned parameters.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recommender.interactions import Interactions
from recommender.profiles import LearnerBatch
from recommender.rankers.base import Ranker

DEFAULT_COMPONENTS = ("ease", "rp3beta", "item-knn", "als", "bpr", "popularity", "role-popularity", "gap")
NORMALISATIONS = ("max", "z", "rrf")
RRF_K = 60.0


def scale_rows(scores: np.ndarray) -> np.ndarray:
    scale = np.abs(scores).max(axis=1, keepdims=True)
    return np.divide(scores, scale, out=np.zeros_like(scores, dtype=np.float64), where=scale > 0)


def normalise_rows(scores: np.ndarray, how: str = "max") -> np.ndarray:
    """Per-learner normalisation of a (n, n_items) score array (see the module docstring)."""
    scores = np.asarray(scores, dtype=np.float64)
    if how == "max":
        return scale_rows(scores)
    if how == "z":
        sd = scores.std(axis=1, keepdims=True)
        centred = scores - scores.mean(axis=1, keepdims=True)
        return np.divide(centred, sd, out=np.zeros_like(scores), where=sd > 0)
    if how == "rrf":
        rank = np.empty_like(scores)
        order = np.argsort(-scores, axis=1, kind="stable")
        np.put_along_axis(rank, order, np.arange(scores.shape[1], dtype=np.float64)[None, :], axis=1)
        flat = np.ptp(scores, axis=1) <= 0  # a component with nothing to say ranks nothing
        out = 1.0 / (RRF_K + 1.0 + rank)
        out[flat] = 0.0
        return out
    raise ValueError(f"normalise must be one of {NORMALISATIONS}, got {how!r}")


class BlendRanker(Ranker):
    name = "blend"

    def __init__(self, components: list[Ranker] | None = None, weights: list[float] | None = None,
                 normalise: str = "z"):
        if components is None:
            from recommender.rankers import make_ranker

            components = [make_ranker(n) for n in DEFAULT_COMPONENTS]
        self.components = list(components)
        self.weights = [1.0] * len(self.components) if weights is None else [float(w) for w in weights]
        if len(self.weights) != len(self.components):
            raise ValueError("a blend needs one weight per component")
        if normalise not in NORMALISATIONS:
            raise ValueError(f"normalise must be one of {NORMALISATIONS}, got {normalise!r}")
        self.normalise = normalise

    def get_params(self) -> dict:
        return {"weights": list(self.weights), "components": [c.name for c in self.components],
                "normalise": self.normalise}

    def _fit(self, interactions: Interactions) -> None:
        for c in self.components:
            if getattr(c, "interactions_", None) is not interactions:
                c.fit(interactions, self.reasons_.names)

    def component_scores(self, batch: LearnerBatch, normalise: str | None = None) -> list[np.ndarray]:
        how = normalise or self.normalise
        return [normalise_rows(c.score(batch), how) for c in self.components]

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
        parts = [normalise_rows(c.score_role(role_idx)[None, :], self.normalise) for c in self.components]
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
