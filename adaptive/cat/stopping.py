"""Stopping: per area (SE target, classification, per-area limits) and for the whole test."""

from __future__ import annotations

import numpy as np

# one definition of the level probabilities, shared with estimation (re-exported: simulation and
# profile import it from here)
from adaptive.estimation import level_probabilities_batch

__all__ = ["StoppingRule"]


class StoppingRule:
    def __init__(self, config, cuts: np.ndarray | None):
        self.se_target = config.se_target
        self.min_items = config.min_items
        self.max_items = config.max_items
        self.min_per_area = config.min_items_per_area
        self.max_per_area = config.max_items_per_area
        self.threshold = config.classification_threshold
        self.cuts = cuts                      # (D, L-1) theta cut scores, or None

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
