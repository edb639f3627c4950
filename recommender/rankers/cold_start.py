"""Content-based cold start: a fitted ranker serving a catalogue that grew after it was trained.

The fitted ranker (``base``) scores the content it was trained on, as before. Content it has never seen
interactions for (the positions after the trained ones, see
:func:`recommender.live_catalogue.merge_catalogue`) is scored from its tags: the competence-gap score of its
competences, learning outcomes and level against the learner's gaps
(:class:`~recommender.rankers.gap.CompetenceGapRanker`, on the live tags), put on the base ranker's scale
for that learner by rank: new content whose tag match beats a share q of the trained content gets the
base score at quantile q of the learner's scores of the trained content (mid-ranks for ties). So better
tags, higher score, on whatever scale the base ranker scores (EASE weights, ALS dot products, a hybrid's
mix), and the trained content's scores are untouched. Without a known level nothing can be matched: new
content then sits at the learner's median score.

Once a retraining has seen interactions with it, the content is trained content and leaves this path.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import scipy.sparse as sp

from recommender.interactions import Interactions
from recommender.profiles import LearnerBatch
from recommender.rankers.base import Ranker, ReasonBuilder
from recommender.rankers.gap import CompetenceGapRanker
from recommender.rankers.popularity import RolePopularityRanker

MATCHED_ON_TAGS = ("new content matched on its tags (competences, learning outcomes, level), "
                   "no learner activity yet")


class ContentReasons(ReasonBuilder):
    """Reasons that say when content was matched on its tags alone (positions >= ``n_known``)."""

    SOURCES = {**ReasonBuilder.SOURCES, "content": ""}

    def __init__(self, inter: Interactions, competence_names: dict[str, str], n_known: int):
        super().__init__(inter, competence_names)
        self.n_known = n_known

    def reason(self, item: int, levels: np.ndarray, role: int, source: str, for_role: bool = False,
               **targets) -> str:
        if item >= self.n_known:  # nobody has touched it: not "popular", not "similar learners took it"
            source = "content"
        text = super().reason(item, levels, role, source, for_role, **targets)
        if item >= self.n_known:
            text = MATCHED_ON_TAGS if text == "recommended" else f"{text}; {MATCHED_ON_TAGS}"
        return text


class ColdStartRanker(Ranker):
    """``base`` (fitted on the first ``n_known`` items) plus tag-matched scores for the items after them."""

    name = "cold-start"

    def __init__(self, base: Ranker | None = None, sigma: float = 0.8, below: float = 0.2):
        self.base = base
        self.sigma = sigma  # of the content (gap) score, as in CompetenceGapRanker
        self.below = below

    def get_params(self) -> dict:
        return {"sigma": self.sigma, "below": self.below, "base": getattr(self.base, "name", None)}

    def _fit(self, interactions: Interactions) -> None:
        self.n_known_ = self.base.interactions_.n_items
        if interactions.n_items < self.n_known_:
            raise ValueError("the live catalogue must keep the trained content in its positions")
        self.reasons_ = ContentReasons(interactions, self.reasons_.names, self.n_known_)
        self.content_ = CompetenceGapRanker(self.sigma, self.below, popularity_weight=0.0)
        self.content_.fit(interactions, self.reasons_.names)

    def known(self, batch: LearnerBatch) -> LearnerBatch:
        """The batch as the base ranker knows it (its columns only); the last one is kept, since a ranking
        scores a batch and then asks the sources of the same batch (one tuple: safe across threads)."""
        last = getattr(self, "_last_known", None)
        if last is not None and last[0] is batch:
            return last[1]
        n = self.n_known_
        # live targets (role profile, objectives) travel with the batch
        out = dataclasses.replace(batch, history=_first_columns(batch.history, n),
                                  completed=_first_columns(batch.completed, n))
        self._last_known = (batch, out)
        return out

    def content_scores(self, batch: LearnerBatch) -> np.ndarray:
        """The tag match of every item (trained or not) with each learner's gaps, (n, n_items)."""
        return self.content_.gap_scores(batch)

    def _place(self, base: np.ndarray, content: np.ndarray) -> np.ndarray:
        n = self.n_known_
        out = np.empty((base.shape[0], content.shape[1]), dtype=np.float64)
        out[:, :n] = base
        if content.shape[1] == n or n == 0:
            out[:, n:] = 0.0
            return out
        # the trained content the academy still serves sets the scale (all of it if none is served)
        avail = self.interactions_.catalogue.available[:n]
        ref = avail if avail.any() else np.ones(n, dtype=bool)
        grid = np.arange(int(ref.sum()), dtype=np.float64)
        for i in range(base.shape[0]):
            b = np.sort(base[i, ref])
            c = np.sort(content[i, :n][ref])
            new = content[i, n:]
            mid = 0.5 * (np.searchsorted(c, new, "left") + np.searchsorted(c, new, "right"))
            q = np.clip(mid - 0.5, 0.0, grid[-1])  # mid-rank -> fractional position among the trained scores
            out[i, n:] = np.interp(q, grid, b)
        return out

    def score(self, batch: LearnerBatch) -> np.ndarray:
        return self._place(self.base.score(self.known(batch)), self.content_scores(batch))

    def score_role(self, role_idx: int) -> np.ndarray:
        base = self.base.score_role(role_idx)[None, :]
        content = self.content_scores(LearnerBatch.for_role(self.interactions_, role_idx))
        return self._place(base, content)[0]

    def sources(self, batch: LearnerBatch, i: int, items) -> list[str]:
        items = [int(x) for x in items]
        old = [x for x in items if x < self.n_known_]
        got = dict(zip(old, self.base.sources(self.known(batch), i, old), strict=True)) if old else {}
        return [got.get(x, "content") for x in items]

    def source(self, batch: LearnerBatch, i: int, item: int) -> str:
        return self.sources(batch, i, [item])[0]


def _first_columns(matrix: sp.csr_matrix, n: int) -> sp.csr_matrix:
    """``matrix[:, :n]`` built directly: scipy's slicing costs milliseconds per request (measured)."""
    m = matrix.tocsr()
    keep = m.indices < n
    if keep.all():
        data, indices, indptr = m.data, m.indices, m.indptr
    else:
        rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))[keep]
        data, indices = m.data[keep], m.indices[keep]
        counts = np.bincount(rows, minlength=m.shape[0])
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(m.indptr.dtype)
    return sp.csr_matrix((data, indices, indptr), shape=(m.shape[0], n))


def _pad(matrix: sp.csr_matrix, n_items: int) -> sp.csr_matrix:
    """The same rows with empty columns appended (new content nobody has touched in training)."""
    m = matrix.tocsr()
    return sp.csr_matrix((m.data, m.indices, m.indptr), shape=(m.shape[0], n_items))


def serve_catalogue(bundle, catalogue):  # noqa: ANN001, ANN201 - RecommenderBundle (import cycle)
    """A view of ``bundle`` serving ``catalogue`` (from :func:`~recommender.live_catalogue.merge_catalogue`):
    same fitted model and learners, the live titles and tags, new content by :class:`ColdStartRanker`,
    retired content never recommended. Nothing is refitted but the tag-based parts (milliseconds)."""
    inter = bundle.interactions
    if tuple(catalogue.ids[: inter.n_items]) != tuple(bundle.catalogue.ids):
        raise ValueError("the live catalogue must keep the trained content in its positions")
    n = len(catalogue)
    live = Interactions(_pad(inter.matrix, n), _pad(inter.completed, n), inter.learner_ids, catalogue,
                        inter.roles, inter.learner_role, inter.learner_levels, inter.weights,
                        inter.unknown_content, inter.learner_language)
    names = bundle.competence_names
    view = copy.copy(bundle)
    view.interactions, view.catalogue = live, catalogue
    view.ranker = ColdStartRanker(bundle.ranker).fit(live, names)
    view.gap = CompetenceGapRanker().fit(live, names)
    view.popularity = RolePopularityRanker().fit(live, names)
    for ranker in (view.gap, view.popularity):
        ranker.reasons_ = ContentReasons(live, names, inter.n_items)
    return view
