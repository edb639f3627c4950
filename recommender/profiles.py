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
    ``required`` (n, n_comp), when given, is the level each learner is to reach per competence (0: none),
    in place of the bundle's role profile: role profiles and objectives are live data, not model
    parameters. ``target_words`` says per learner and competence where that level came from (reasons).
    """

    rows: np.ndarray
    history: sp.csr_matrix
    role: np.ndarray
    levels: np.ndarray
    completed: sp.csr_matrix
    fold_in: np.ndarray
    unknown_content: list[str] = field(default_factory=list)
    required: np.ndarray | None = None
    target_words: list[dict[str, str]] | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def take(self, i: int) -> LearnerBatch:
        """Learner ``i`` alone (everything the rankers read, targets included)."""
        return LearnerBatch(
            self.rows[i : i + 1],
            self.history[i : i + 1],
            self.role[i : i + 1],
            self.levels[i : i + 1],
            self.completed[i : i + 1],
            self.fold_in[i : i + 1],
            required=None if self.required is None else self.required[i : i + 1],
            target_words=None if self.target_words is None else self.target_words[i : i + 1],
        )

    @staticmethod
    def required_row(inter: Interactions, targets: dict[str, int]) -> np.ndarray:
        """(1, n_comp) required levels from ``{competence: level}``; competences the catalogue does not
        know are left out (no content could close them)."""
        comp = inter.catalogue.competence_ids
        row = np.zeros((1, len(comp)))
        pos = {c: j for j, c in enumerate(comp)}
        for c, lv in targets.items():
            if c in pos:
                row[0, pos[c]] = float(lv)
        return row

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
        targets: dict[str, int] | None = None,
        target_words: dict[str, str] | None = None,
    ) -> LearnerBatch:
        """One learner from their id (known or not), optional profile dict, role id and live events.

        ``targets``: required level per competence (replaces the role's requirements from training);
        ``target_words``: per competence where it came from (``"your role needs"``)."""
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
        if isinstance(role, float) or role == "":  # a missing role in a pandas column (NaN) is no role
            role = None
        if role is not None:
            if role in inter.roles.index:
                role_idx = inter.roles.index[role]
            else:
                # a role the training data did not hold (no learned popularity): said in the reply, and
                # not logged per learner (an insights request over a whole organisation logged one line
                # per learner); the API answers 404 for a role without a profile
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
            None if targets is None else cls.required_row(inter, targets),
            None if targets is None else [dict(target_words or {})],
        )

    @classmethod
    def for_role(
        cls, inter: Interactions, role_idx: int, targets: dict[str, int] | None = None
    ) -> LearnerBatch:
        """A typical member of a role: no history, the role's mean measured level (NaN if none known).

        With ``targets`` (the role's current profile) levels nobody in the training data showed are taken
        as no level (0), so a role the recommender never saw still gets content for its requirements."""
        members = inter.learner_role == role_idx
        levels = np.full(len(inter.catalogue.competence_ids), np.nan)
        if members.any():
            lv = inter.learner_levels[members]
            known = ~np.isnan(lv)
            cnt = known.sum(axis=0)
            levels = np.where(cnt > 0, np.where(known, lv, 0).sum(axis=0) / np.maximum(cnt, 1), np.nan)
        if targets is not None:
            levels = np.nan_to_num(levels, nan=0.0)
        return cls(
            np.array([-1]),
            sp.csr_matrix((1, inter.n_items), dtype=np.float32),
            np.array([role_idx]),
            levels[None, :],
            sp.csr_matrix((1, inter.n_items), dtype=bool),
            np.array([False]),
            required=None if targets is None else cls.required_row(inter, targets),
        )
