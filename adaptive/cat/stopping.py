"""Stopping: per area (SE target, classification, per-area limits) and for the whole test."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr


def level_probabilities_batch(theta: np.ndarray, se: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """P(level = 1..L) under a normal posterior, vectorised: theta, se (..., D); cuts (D, L-1) -> (..., D, L).

    Same definition as ``adaptive.estimation.level_probabilities`` (which takes one area at a time).
    """
    z = (cuts - theta[..., None]) / np.maximum(se, 1e-12)[..., None]
    cdf = ndtr(z)
    ones = np.ones_like(cdf[..., :1])
    return np.diff(np.concatenate([np.zeros_like(ones), cdf, ones], axis=-1), axis=-1)


class StoppingRule:
    def __init__(self, config, cuts: np.ndarray | None):
        self.se_target = config.se_target
        self.min_items = config.min_items
        self.max_items = config.max_items
        self.min_per_area = config.min_items_per_area
        self.max_per_area = config.max_items_per_area
        self.threshold = config.classification_threshold
        self.cuts = cuts                      # (D, 7) theta cut scores, or None

    def area_done(self, theta: np.ndarray, se: np.ndarray, n_area: np.ndarray) -> np.ndarray:
        """(R, D): an area needs no more items."""
        precise = se <= self.se_target
        if self.threshold is not None and self.cuts is not None:
            probs = level_probabilities_batch(theta, se, self.cuts)
            precise |= probs.max(axis=-1) >= self.threshold
        return (n_area >= self.max_per_area) | ((n_area >= self.min_per_area) & precise)

    def finished(self, n_items: np.ndarray, area_done: np.ndarray) -> np.ndarray:
        """(R,): the test is over (the caller also ends it when no item is eligible)."""
        return (n_items >= self.max_items) | ((n_items >= self.min_items) & area_done.all(axis=1))
