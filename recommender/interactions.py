"""Learning events -> a sparse learner x content confidence matrix with stable id maps.

Confidence of a (learner, content) pair is the sum over its events of

    viewed/enrolled/completed:  weight[event] * value      (value is a count, 1 when blank)
    rated, ratings="centred":   weight["rated"] * (value - rating_midpoint)
    rated, ratings="graded":    weight["rated"] * value / rating_midpoint

clipped below at 0; pairs whose total is 0 are dropped (a viewed-then-disliked item is not a positive).
The default weights make completion > enrolment > view and let a 5-star rating count like an enrolment.
``ratings="graded"`` reads explicit ratings as graded implicit feedback instead (every rating is a
positive, more stars more confidence: 1 star 0.5, 3 stars 1.5, 5 stars 2.5 by default), as implicit-
feedback studies on rating logs do; nothing is dropped.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recommender.data import EVENT_TYPES, Catalogue, Learners, RoleProfiles, unknown_content

log = logging.getLogger(__name__)
_EVENTS = frozenset(EVENT_TYPES)
RATING_MODES = ("centred", "graded")


@dataclass(frozen=True)
class EventWeights:
    viewed: float = 1.0
    enrolled: float = 3.0
    completed: float = 8.0
    rated: float = 1.5
    rating_midpoint: float = 3.0
    ratings: str = "centred"

    def __post_init__(self):
        if self.ratings not in RATING_MODES:
            raise ValueError(f"ratings must be one of {RATING_MODES}, got {self.ratings!r}")

    def confidence(self, event: np.ndarray, value: np.ndarray) -> np.ndarray:
        event = np.asarray(event).astype(str)
        value = np.asarray(value, dtype=float)
        weight = np.select(
            [event == "viewed", event == "enrolled", event == "completed", event == "rated"],
            [self.viewed, self.enrolled, self.completed, self.rated],
            0.0,
        )
        if self.ratings == "graded":
            rated = weight * value / self.rating_midpoint
        else:
            rated = weight * (value - self.rating_midpoint)
        return np.where(event == "rated", rated, weight * value)

    def to_dict(self) -> dict:
        return asdict(self)


CONFIDENCE_SCALES = ("linear", "log", "binary")


def scale_confidence(matrix: sp.spmatrix, how: str, eps: float | None = None) -> tuple[sp.csr_matrix, float]:
    """The confidence matrix as a model reads it; returns (matrix, eps).

    - ``linear``: as weighted (counts, stars, event weights);
    - ``binary``: 1 for every pair touched;
    - ``log``: log(1 + c / eps) (Hu, Koren & Volinsky 2008, for raw counts whose range spans orders of
      magnitude, e.g. plays). ``eps`` is the median positive confidence of the matrix the model was fitted
      on (pass it back when scaling a new learner's history), so a pair at the median gets log 2 whatever
      the unit of the counts, and the model's regularisation keeps its scale across data sets.

    Which one suits a data set is a hyper-parameter, chosen on validation.
    """
    out = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    if eps is None:
        positive = out.data[out.data > 0]
        eps = float(np.median(positive)) if how == "log" and positive.size else 1.0
    out.data = scale_values(out.data, how, eps)
    return out, float(eps)


def scale_values(confidence: np.ndarray, how: str, eps: float = 1.0) -> np.ndarray:
    """The values of :func:`scale_confidence` (one learner's history, say), with the fitted ``eps``."""
    if how not in CONFIDENCE_SCALES:
        raise ValueError(f"confidence must be one of {CONFIDENCE_SCALES}, got {how!r}")
    values = np.asarray(confidence, dtype=np.float64)
    if how == "binary":
        return np.ones_like(values)
    if how == "log":
        return np.log1p(np.maximum(values, 0.0) / eps)
    return values.copy()


def weighting_report(events: pd.DataFrame, weights: EventWeights | None = None) -> dict:
    """How the weighting rules treat an event log, per event type and overall.

    ``kept``: events whose own confidence is exactly 1 (counted as is); ``changed``: events with another
    positive confidence (re-weighted); ``dropped``: events with confidence <= 0 (e.g. ratings at or below
    ``rating_midpoint``), which add nothing or subtract. ``pairs_dropped`` counts (learner, content) pairs
    whose summed confidence is <= 0, i.e. that are absent from the matrix (training and test alike).
    """
    weights = weights or EventWeights()
    event = events["event"].to_numpy().astype(str)
    conf = weights.confidence(event, events["value"].to_numpy())
    out: dict = {"by_event": {}}
    for kind in EVENT_TYPES:
        sel = event == kind
        if sel.any():
            c = conf[sel]
            out["by_event"][kind] = {
                "events": int(sel.sum()),
                "kept": int((c == 1.0).sum()),
                "changed": int(((c > 0) & (c != 1.0)).sum()),
                "dropped": int((c <= 0).sum()),
            }
    for key in ("events", "kept", "changed", "dropped"):
        out[key] = int(sum(v[key] for v in out["by_event"].values()))
    pair = pd.DataFrame(
        {"l": events["learner_id"].to_numpy(), "c": events["content_id"].to_numpy(), "w": conf}
    )
    total = pair.groupby(["l", "c"], sort=False)["w"].sum()
    out["pairs"] = int(len(total))
    out["pairs_dropped"] = int((total <= 0).sum())
    return out


def describe_weighting(report: dict) -> str:
    """One line for people: "100 events: 56 kept, 0 changed, 44 dropped (rated: 44 of 100 <= midpoint)"."""
    text = (f"{report['events']:,} events: {report['kept']:,} kept as is, {report['changed']:,} re-weighted, "
            f"{report['dropped']:,} dropped by the weighting")
    parts = [
        f"{k}: {v['dropped']:,} of {v['events']:,}" for k, v in report["by_event"].items() if v["dropped"]
    ]
    if parts:
        text += f" ({'; '.join(parts)}); {report['pairs_dropped']:,} learner-content pairs left out of " \
                "training and test"
    return text


class Interactions:
    """Training interactions: ``matrix`` (n_learners, n_items) float32 CSR of confidences.

    Rows follow ``learner_ids`` (stable: sorted learner ids of the events, then known learners without
    events), columns follow ``catalogue.ids``. ``completed`` marks completed pairs. ``learner_role`` holds
    the role index per row (-1: none) and ``learner_levels`` the measured level per competence (NaN:
    unknown). ``unknown_content`` reports event content ids missing from the catalogue (their events are
    left out of the matrix and counted here; never silently).
    """

    def __init__(
        self,
        matrix: sp.csr_matrix,
        completed: sp.csr_matrix,
        learner_ids: np.ndarray,
        catalogue: Catalogue,
        roles: RoleProfiles,
        learner_role: np.ndarray,
        learner_levels: np.ndarray,
        weights: EventWeights | None = None,
        unknown_content: dict[str, int] | None = None,
        learner_language: np.ndarray | None = None,
    ):
        self.matrix = matrix.tocsr().astype(np.float32)
        self.completed = completed.tocsr().astype(bool)
        self.learner_ids = np.asarray(learner_ids).astype(str)
        self.learner_index = {x: i for i, x in enumerate(self.learner_ids)}
        self.catalogue = catalogue
        self.roles = roles
        self.learner_role = np.asarray(learner_role, dtype=np.int64)
        self.learner_levels = np.asarray(learner_levels, dtype=float)
        self.learner_language = (
            np.asarray(learner_language, dtype=object)
            if learner_language is not None
            else np.full(len(self.learner_ids), "", dtype=object)
        )
        self.weights = weights or EventWeights()
        self.unknown_content = unknown_content or {}

    @property
    def n_learners(self) -> int:
        return self.matrix.shape[0]

    @property
    def n_items(self) -> int:
        return self.matrix.shape[1]

    def row(self, learner_id: str) -> int:
        """Matrix row of a learner, -1 when not seen in training."""
        return self.learner_index.get(str(learner_id), -1)

    @classmethod
    def from_events(
        cls,
        events: pd.DataFrame,
        catalogue: Catalogue | None = None,
        roles: RoleProfiles | None = None,
        learners: Learners | None = None,
        weights: EventWeights | None = None,
        learner_ids=None,
    ) -> Interactions:
        """Build the matrix. Without a catalogue one is made from the event content ids (public logs).

        ``learner_ids`` fixes the row order (e.g. the training rows when building a test matrix); events
        of learners outside it are dropped.
        """
        weights = weights or EventWeights()
        if catalogue is None:
            catalogue = Catalogue.from_ids(
                np.sort(events["content_id"].astype(str).unique()),
                roles.competence_ids if roles is not None else (),
            )
        roles = roles if roles is not None else RoleProfiles.empty(catalogue.competence_ids)
        missing = unknown_content(events, catalogue)
        if missing:
            log.warning(
                "%d events reference %d content ids not in the catalogue (e.g. %s); left out",
                sum(missing.values()),
                len(missing),
                next(iter(missing)),
            )
        lid = events["learner_id"].to_numpy(dtype=str)
        cid = events["content_id"].to_numpy(dtype=str)
        if learner_ids is None:
            ids = np.unique(lid)
            if learners is not None:
                extra = np.setdiff1d(learners.ids, ids)
                ids = np.concatenate([ids, extra])
        else:
            ids = np.asarray(learner_ids).astype(str)
        row_of = pd.Index(ids)
        col_of = pd.Index(catalogue.ids)
        rows = row_of.get_indexer(lid)
        cols = col_of.get_indexer(cid)
        keep = (rows >= 0) & (cols >= 0)
        conf = weights.confidence(events["event"].to_numpy(), events["value"].to_numpy())
        shape = (len(ids), len(catalogue))
        matrix = sp.csr_matrix((conf[keep], (rows[keep], cols[keep])), shape=shape, dtype=np.float64)
        matrix.sum_duplicates()
        matrix.data = np.maximum(matrix.data, 0.0)
        matrix.eliminate_zeros()
        done = keep & (events["event"].to_numpy() == "completed")
        completed = sp.csr_matrix((np.ones(done.sum(), dtype=bool), (rows[done], cols[done])), shape=shape)
        learner_role = np.full(len(ids), -1, dtype=np.int64)
        levels = np.full((len(ids), len(catalogue.competence_ids)), np.nan)
        language = np.full(len(ids), "", dtype=object)
        if learners is not None:
            pos = pd.Index(learners.ids).get_indexer(ids)
            has = pos >= 0
            role_pos = np.array([roles.index.get(r, -1) for r in learners.role_ids], dtype=np.int64)
            learner_role[has] = role_pos[pos[has]]
            if learners.levels.shape[1] == levels.shape[1]:
                levels[has] = learners.levels[pos[has]]
            language[has] = learners.language[pos[has]]
        return cls(matrix, completed, ids, catalogue, roles, learner_role, levels, weights, missing, language)

    def subset_rows(self, rows: np.ndarray) -> Interactions:
        rows = np.asarray(rows)
        return Interactions(
            self.matrix[rows],
            self.completed[rows],
            self.learner_ids[rows],
            self.catalogue,
            self.roles,
            self.learner_role[rows],
            self.learner_levels[rows],
            self.weights,
            self.unknown_content,
            self.learner_language[rows],
        )

    def item_popularity(self) -> np.ndarray:
        """Number of learners who interacted with each item."""
        return np.diff(self.matrix.tocsc().indptr).astype(float)

    def live_row(self, events) -> tuple[sp.csr_matrix, sp.csr_matrix, list[str]]:
        """Confidence and completed rows (1, n_items) from live ``(content_id, event, value)`` tuples.

        Returns the unknown content ids (ignored) as the third element.
        """
        cols, kinds, values, unknown = [], [], [], []
        index = self.catalogue.index
        for ev in events or ():
            content_id, event = str(ev[0]), str(ev[1])
            value = (
                float(ev[2]) if len(ev) > 2 and ev[2] is not None else (np.nan if event == "rated" else 1.0)
            )
            j = index.get(content_id)
            if j is None or event not in _EVENTS or value != value:  # unknown id, bad event, NaN rating
                unknown.append(content_id)
                continue
            cols.append(j)
            kinds.append(event)
            values.append(value)
        n = self.n_items
        if not cols:
            empty = np.zeros(1, dtype=np.int32)
            return (
                sp.csr_matrix(
                    (np.zeros(0, np.float32), np.zeros(0, np.int32), np.r_[empty, empty]), shape=(1, n)
                ),
                sp.csr_matrix((np.zeros(0, bool), np.zeros(0, np.int32), np.r_[empty, empty]), shape=(1, n)),
                unknown,
            )
        conf = self.weights.confidence(np.array(kinds, dtype=object), np.array(values))
        # sum duplicates per item, clip at 0, drop zeros; built directly (scipy constructors are slow)
        uniq, inv = np.unique(np.asarray(cols), return_inverse=True)
        total = np.maximum(np.bincount(inv, weights=conf, minlength=uniq.size), 0.0)
        keep = total > 0
        idx, val = uniq[keep].astype(np.int32), total[keep].astype(np.float32)
        row = sp.csr_matrix((val, idx, np.array([0, idx.size], dtype=np.int32)), shape=(1, n))
        done_idx = np.unique(np.asarray(cols)[np.array(kinds, dtype=object) == "completed"]).astype(np.int32)
        completed = sp.csr_matrix(
            (np.ones(done_idx.size, dtype=bool), done_idx, np.array([0, done_idx.size], dtype=np.int32)),
            shape=(1, n),
        )
        return row.astype(np.float32), completed, unknown
