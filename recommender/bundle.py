"""The servable recommender: fitted ranker(s), id maps, catalogue, role profiles and metrics.

Routing in :meth:`RecommenderBundle.recommend`:

- a learner seen in training, or one with live events (ALS fold-in from those events): the main ranker
  (``strategy="personal"``);
- a learner with only a diagnostic profile: the competence-gap ranker (``"gap"``);
- nothing known: role popularity, or global popularity without a (known) role (``"popularity"``).

Unknown learner ids are new learners; unknown content ids in live events are ignored and listed in the
returned list's ``unknown_content`` (and logged). Saved as plain files: ``bundle.json`` (metadata,
metrics, ranker spec), ``catalogue.csv``, ``roles.csv``, ``learners.csv``, ``interactions.npz`` and one
``.npz`` per fitted model (implicit's own format for ALS, loaded through the CPU class).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from adaptive.errors import ValidationError
from recommender.data import Catalogue, Learners, RoleProfiles
from recommender.interactions import EventWeights, Interactions
from recommender.profiles import LearnerBatch
from recommender.rankers import (
    BlendRanker,
    CompetenceGapRanker,
    HybridRanker,
    RolePopularityRanker,
    make_ranker,
)
from recommender.rankers.base import Ranker, Recommendation, RecommendationList, reason_targets

log = logging.getLogger(__name__)
FORMAT_VERSION = 1


@dataclass
class PathwayStep:
    order: int
    competence: str
    competence_name: str
    level: int
    content_id: str
    title: str
    reason: str
    score: float

    def to_dict(self) -> dict:
        return asdict(self)


class RecommenderBundle:
    def __init__(
        self,
        ranker: Ranker,
        metrics: dict | None = None,
        framework_version: str | None = None,
        split: str = "",
        weights: EventWeights | None = None,
        created_at: float | None = None,
    ):
        self.ranker = ranker
        self.interactions: Interactions = ranker.interactions_
        self.catalogue: Catalogue = self.interactions.catalogue
        self.roles: RoleProfiles = self.interactions.roles
        self.metrics = dict(metrics or {})
        self.split = split
        self.weights = weights or self.interactions.weights
        self.created_at = created_at or time.time()
        names = ranker.reasons_.names
        self.competence_names = dict(names)
        if framework_version is None and self.catalogue.competence_ids:
            from adaptive.framework import load_framework

            framework_version = load_framework().version
        self.framework_version = framework_version
        self.gap = CompetenceGapRanker().fit(self.interactions, names)
        self.popularity = RolePopularityRanker().fit(self.interactions, names)

    @property
    def ranker_name(self) -> str:
        return self.ranker.name

    # ------------------------------------------------------------------ serving
    def _route(self, batch: LearnerBatch) -> tuple[Ranker, str]:
        if batch.rows[0] >= 0 or batch.history.nnz > 0:
            return self.ranker, "personal"
        if not np.isnan(batch.levels[0]).all():
            return self.gap, "gap"
        return self.popularity, "role-popularity" if batch.role[0] >= 0 else "popularity"

    def recommend(
        self,
        learner_id: str | None,
        k: int = 10,
        profile: dict | None = None,
        role: str | None = None,
        events=None,
        exclude_completed: bool = True,
        language: str | None = None,
        format: str | None = None,
        targets: dict[str, int] | None = None,
        target_words: dict[str, str] | None = None,
    ) -> RecommendationList:
        """``targets``: the learner's required level per competence (their role's current profile and
        their objectives, kept outside the bundle); None: the role profile the bundle was trained with."""
        if int(k) < 1:
            raise ValidationError(f"k must be >= 1, got {k}", field="k")
        batch = LearnerBatch.single(
            self.interactions, learner_id, profile, role, events, targets, target_words
        )
        ranker, strategy = self._route(batch)
        return ranker.recommend_batch_item(
            batch, int(k), exclude_completed, language, format, strategy=strategy
        )

    def recommend_for_role(
        self,
        role_id: str,
        k: int = 10,
        language: str | None = None,
        format: str | None = None,
        targets: dict[str, int] | None = None,
    ) -> RecommendationList:
        """Content for a role. With ``targets`` (the role's current profile, kept outside the bundle) the
        competence-gap ranker closes them from the role's typical levels, with the role's learned
        popularity as tie-breaker (``strategy="gap:role"``); the role need not be in the training data."""
        if int(k) < 1:
            raise ValidationError(f"k must be >= 1, got {k}", field="k")
        if targets is None:
            return self.ranker.recommend_for_role(role_id, int(k), language, format)
        gap = self.gap
        batch = LearnerBatch.for_role(self.interactions, self.roles.index.get(role_id, -1), targets)
        scores = gap._with_fallback(batch, gap.score(batch))
        ids, top = gap.top_k(batch, int(k), allowed=self.catalogue.mask(language, format), scores=scores)
        recs = gap._to_recommendations(batch, 0, ids[0], top[0], for_role=True)
        return RecommendationList(recs, "gap:role")

    def recommend_batch(self, learner_ids, k: int = 10, batch_size: int = 4096) -> dict[str, list[str]]:
        """Top-k content ids for many training learners (minus what they completed); unknown ids skipped."""
        inter = self.interactions
        rows = np.array([inter.row(x) for x in learner_ids])
        rows = rows[rows >= 0]
        out = {}
        for s in range(0, len(rows), batch_size):
            part = rows[s : s + batch_size]
            batch = LearnerBatch.from_rows(inter, part)
            ids, _ = self.ranker.top_k(batch, k, exclude=batch.completed)
            for r, row_ids in zip(part, ids, strict=True):
                out[str(inter.learner_ids[r])] = [str(self.catalogue.ids[i]) for i in row_ids if i >= 0]
        return out

    def explain(self, learner_id, content_id, profile=None, role=None, events=None) -> dict:
        return self.ranker.explain(learner_id, content_id, profile, role, events)

    def pathway(
        self,
        learner_id: str | None,
        profile: dict | None = None,
        role: str | None = None,
        events=None,
        language: str | None = None,
        format: str | None = None,
        targets: dict[str, int] | None = None,
        target_words: dict[str, str] | None = None,
    ) -> list[PathwayStep]:
        """For each competence with a gap (largest first), one item per level from the learner's next
        level up to the required level, choosing the best-ranked item at each level. Levels within a
        competence never go down, and no content appears twice. Empty when no level is known.
        ``targets``: the required level per competence (see :meth:`recommend`)."""
        inter, cat = self.interactions, self.catalogue
        batch = LearnerBatch.single(inter, learner_id, profile, role, events, targets, target_words)
        levels = batch.levels[0]
        if np.isnan(levels).all():
            return []
        ranker, _ = self._route(batch)
        scores = ranker._with_fallback(batch, ranker.score(batch))[0]
        required = self.gap.requirements(batch.role, batch.required)[0]
        allowed = cat.mask(language, format)
        done = np.zeros(len(cat), dtype=bool)
        done[batch.completed.indices] = True
        chosen = np.zeros(len(cat), dtype=bool)  # content developing two competences is one step, not two
        gaps = np.nan_to_num(required - levels, nan=0.0)
        comp_items = cat.competence_matrix.tocsc()
        steps: list[PathwayStep] = []
        for j in np.argsort(-gaps, kind="stable"):
            if gaps[j] <= 0:
                break
            items = comp_items.indices[comp_items.indptr[j] : comp_items.indptr[j + 1]]
            items = items[allowed[items] & ~done[items]]
            cid = cat.competence_ids[j]
            for level in range(int(np.floor(levels[j])) + 1, int(required[j]) + 1):
                at = items[(cat.level[items] == level) & ~chosen[items]]
                if at.size == 0:
                    continue
                best = int(at[np.argmax(scores[at])])
                chosen[best] = True
                reason = self.gap.reasons_.reason(
                    best, levels, int(batch.role[0]), "gap", **reason_targets(batch, 0)
                )
                reason = f"step towards {cid} level {level}: " + reason
                steps.append(
                    PathwayStep(
                        len(steps) + 1,
                        cid,
                        self.competence_names.get(cid, ""),
                        level,
                        str(cat.ids[best]),
                        str(cat.titles[best]),
                        reason,
                        float(scores[best]),
                    )
                )
        return steps

    def with_catalogue(self, catalogue: Catalogue) -> RecommenderBundle:
        """This bundle serving a live catalogue (:func:`recommender.live_catalogue.merge_catalogue`):
        the fitted model for the content it was trained on, tags for content it has never seen
        (:mod:`recommender.rankers.cold_start`). No retraining; build once per catalogue version."""
        from recommender.rankers.cold_start import serve_catalogue

        return serve_catalogue(self, catalogue)

    # ------------------------------------------------------------------ persistence
    def _spec(self, ranker: Ranker) -> dict:
        spec = {"kind": ranker.name, "params": ranker.get_params()}
        if isinstance(ranker, HybridRanker):
            spec["cf"] = self._spec(ranker.cf)
            spec["gap"] = self._spec(ranker.gap)
        if isinstance(ranker, BlendRanker):
            spec["parts"] = [self._spec(c) for c in ranker.components]
        return spec

    def save(self, directory: str | Path) -> Path:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        inter = self.interactions
        self.catalogue.write(d / "catalogue.csv")
        self.roles.write(d / "roles.csv")
        role_ids = np.array(
            [self.roles.role_ids[r] if r >= 0 else "" for r in inter.learner_role], dtype=object
        )
        Learners(
            inter.learner_ids,
            role_ids,
            inter.learner_levels,
            self.catalogue.competence_ids,
            inter.learner_language,
        ).write(d / "learners.csv")
        m, c = inter.matrix, inter.completed
        np.savez(
            d / "interactions.npz",
            data=m.data,
            indices=m.indices,
            indptr=m.indptr,
            shape=np.array(m.shape),
            completed_indices=c.indices,
            completed_indptr=c.indptr,
        )
        self.ranker.save_state(d)
        meta = {
            "format_version": FORMAT_VERSION,
            "ranker": self._spec(self.ranker),
            "metrics": self.metrics,
            "framework_version": self.framework_version,
            "competence_ids": list(self.catalogue.competence_ids),
            "competence_names": self.competence_names,
            "split": self.split,
            "weights": self.weights.to_dict(),
            "created_at": self.created_at,
            "unknown_content": inter.unknown_content,
        }
        (d / "bundle.json").write_text(json.dumps(meta, indent=2, default=float))
        return d

    @classmethod
    def load(cls, directory: str | Path) -> RecommenderBundle:
        d = Path(directory)
        meta = json.loads((d / "bundle.json").read_text())
        comp_ids = tuple(meta["competence_ids"])
        catalogue = Catalogue.read(d / "catalogue.csv", comp_ids)
        roles = RoleProfiles.read(d / "roles.csv", comp_ids)
        learners = Learners.read(d / "learners.csv", comp_ids, roles)
        with np.load(d / "interactions.npz") as z:
            shape = tuple(int(x) for x in z["shape"])
            matrix = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=shape)
            completed = sp.csr_matrix(
                (
                    np.ones(z["completed_indices"].size, dtype=bool),
                    z["completed_indices"],
                    z["completed_indptr"],
                ),
                shape=shape,
            )
        role_pos = np.array([roles.index.get(r, -1) for r in learners.role_ids], dtype=np.int64)
        weights = EventWeights(**meta["weights"])
        inter = Interactions(
            matrix,
            completed,
            learners.ids,
            catalogue,
            roles,
            role_pos,
            learners.levels,
            weights,
            meta.get("unknown_content"),
            learners.language,
        )
        ranker = _build(meta["ranker"]).restore(inter, d, meta["competence_names"])
        return cls(
            ranker,
            meta["metrics"],
            meta["framework_version"],
            meta.get("split", ""),
            weights,
            meta.get("created_at"),
        )


def _build(spec: dict) -> Ranker:
    if spec["kind"] == "hybrid":
        return HybridRanker(cf=_build(spec["cf"]), gap=_build(spec["gap"]), **spec["params"])
    if spec["kind"] == "blend":
        return BlendRanker([_build(part) for part in spec["parts"]], spec["params"]["weights"],
                           spec["params"].get("normalise", "max"))  # bundles saved before it: "max"
    params = dict(spec["params"])
    if "binary" in params:  # bundles saved before the confidence scale was a hyper-parameter
        params["confidence"] = "binary" if params.pop("binary") else "linear"
    return make_ranker(spec["kind"], **params)


__all__ = ["RecommenderBundle", "PathwayStep", "Recommendation", "RecommendationList"]
