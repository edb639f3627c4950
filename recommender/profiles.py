"""Learner context for ranking: competence profile dicts -> level arrays, and batches of learners."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from adaptive.insights.profiles import profile_levels
from recommender.interactions import Interactions

log = logging.getLogger(__name__)


@dataclass
class LearnerBatch:
    """What rankers score: n learners, each with a training row (-1: unseen), a history, role and levels.

    ``history`` is the confidence row used for collaborative filtering (the training row, live events,
    or both); ``fold_in`` marks rows whose history is not the training row, so matrix-factorisation
    rankers recompute the learner's factors (ALS fold-in) instead of reading the fitted ones.
    """

    rows: np.ndarray
    history: sp.csr_matrix
    role: np.ndarray
    levels: np.ndarray
    completed: sp.csr_matrix
    fold_in: np.ndarray
    unknown_content: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def from_rows(cls, inter: Interactions, rows: np.ndarray) -> LearnerBatch:
        rows = np.asarray(rows, dtype=np.int64)
        return cls(
            rows,
            inter.matrix[rows],
            inter.learner_role[rows],
            inter.learner_levels[rows],
            inter.completed[rows],
            np.zeros(len(rows), dtype=bool),
        )

    @classmethod
    def single(
        cls,
        inter: Interactions,
        learner_id: str | None = None,
        profile: dict | None = None,
        role: str | None = None,
        events=None,
    ) -> LearnerBatch:
        """One learner from their id (known or not), optional profile dict, role id and live events."""
        row = inter.row(learner_id) if learner_id is not None else -1
        n_comp = len(inter.catalogue.competence_ids)
        if row >= 0:
            history, completed = inter.matrix[row], inter.completed[row]
            role_idx, levels = int(inter.learner_role[row]), inter.learner_levels[row].copy()
        else:
            history = sp.csr_matrix((1, inter.n_items), dtype=np.float32)
            completed = sp.csr_matrix((1, inter.n_items), dtype=bool)
            role_idx, levels = -1, np.full(n_comp, np.nan)
        unknown: list[str] = []
        fold_in = False
        if events:
            live, live_done, unknown = inter.live_row(events)
            if unknown:
                log.warning(
                    "learner %r: ignored %d live events with unknown content/event (%s)",
                    learner_id,
                    len(unknown),
                    ", ".join(unknown[:3]),
                )
            if live.nnz:
                history = (history + live).tocsr() if history.nnz else live
                completed = (completed + live_done).tocsr() if completed.nnz else live_done
                fold_in = True
        if role is not None:
            if role in inter.roles.index:
                role_idx = inter.roles.index[role]
            else:
                log.warning("unknown role %r ignored", role)
                unknown.append(f"role:{role}")
        if profile:
            given = profile_levels(profile, inter.catalogue.competence_ids)
            levels = np.where(np.isnan(given), levels, given)
        return cls(
            np.array([row]),
            history.astype(np.float32),
            np.array([role_idx]),
            levels[None, :],
            completed.astype(bool),
            np.array([fold_in]),
            unknown,
        )

    @classmethod
    def for_role(cls, inter: Interactions, role_idx: int) -> LearnerBatch:
        """A typical member of a role: no history, the role's mean measured level (NaN if none known)."""
        members = inter.learner_role == role_idx
        levels = np.full(len(inter.catalogue.competence_ids), np.nan)
        if members.any():
            lv = inter.learner_levels[members]
            known = ~np.isnan(lv)
            cnt = known.sum(axis=0)
            levels = np.where(cnt > 0, np.where(known, lv, 0).sum(axis=0) / np.maximum(cnt, 1), np.nan)
        return cls(
            np.array([-1]),
            sp.csr_matrix((1, inter.n_items), dtype=np.float32),
            np.array([role_idx]),
            levels[None, :],
            sp.csr_matrix((1, inter.n_items), dtype=bool),
            np.array([False]),
        )
