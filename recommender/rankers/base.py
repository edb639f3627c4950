"""The ranker interface shared by every ranker, plus reasons and the top-k machinery.

A ranker is fitted on :class:`~recommender.interactions.Interactions` and scores a
:class:`~recommender.profiles.LearnerBatch` as a dense (n_learners, n_items) array; everything else
(filters, leaving out completed content, top-k, reasons, role rankings) lives here once.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recommender.interactions import Interactions
from recommender.profiles import LearnerBatch


@dataclass
class Recommendation:
    content_id: str
    score: float
    reason: str
    title: str = ""
    competences: list[str] = field(default_factory=list)
    level: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class RecommendationList(list):
    """A list of :class:`Recommendation` that also says how it was made and what was ignored."""

    def __init__(self, items=(), strategy: str = "", unknown_content=()):
        super().__init__(items)
        self.strategy = strategy
        self.unknown_content = list(unknown_content)


class PopularityStats:
    """Learner counts per item, overall and per role, scaled to [0, 1] (used by several rankers)."""

    def __init__(self, inter: Interactions):
        binary = inter.matrix.copy()
        binary.data[:] = 1.0
        self.global_counts = np.asarray(binary.sum(axis=0)).ravel()
        n_roles = len(inter.roles)
        self.role_counts = np.zeros((n_roles, inter.n_items))
        if n_roles:
            has = inter.learner_role >= 0
            member = sp.csr_matrix(
                (np.ones(has.sum()), (inter.learner_role[has], np.flatnonzero(has))),
                shape=(n_roles, inter.n_learners),
            )
            self.role_counts = np.asarray((member @ binary).todense())
        self.global_score = self.global_counts / max(self.global_counts.max(initial=0.0), 1.0)
        self.role_score = self.role_counts / np.maximum(self.role_counts.max(axis=1, keepdims=True), 1.0)

    def for_roles(self, role: np.ndarray) -> np.ndarray:
        """(n, n_items): role popularity, global popularity for learners without a (known) role.

        A small share of global popularity breaks ties among items nobody in the role has touched.
        """
        role = np.asarray(role)
        out = np.tile(self.global_score, (len(role), 1))
        has = (role >= 0) & (role < len(self.role_score))
        if has.any():
            out[has] = self.role_score[role[has]] + 1e-3 * self.global_score
        return out


class ReasonBuilder:
    """Short human reasons: "develops 1.3 Managing data...; your level 2, your role needs 4"."""

    SOURCES = {
        "cf": "learners with similar activity took it",
        "role": "popular in your role",
        "popular": "popular with learners overall",
        "gap": "",
    }

    def __init__(self, inter: Interactions, competence_names: dict[str, str]):
        self.inter = inter
        self.names = competence_names
        self.comp_pos = {c: j for j, c in enumerate(inter.catalogue.competence_ids)}

    def reason(
        self,
        item: int,
        levels: np.ndarray,
        role: int,
        source: str,
        for_role: bool = False,
        required: np.ndarray | None = None,
        words: dict[str, str] | None = None,
    ) -> str:
        """``required``: the learner's required level per competence (live role profile and objectives)
        in place of the training data's role profile; ``words``: per competence where it came from."""
        text = self._reason(item, levels, role, source, required, words)
        if for_role:  # a role ranking speaks of the role's typical member, not "you"
            text = text.replace("your level", "typical level in the role").replace(
                "your role needs", "the role needs"
            )
            text = text.replace("popular with learners in your role", "popular with learners in the role")
        return text

    def _reason(
        self, item: int, levels: np.ndarray, role: int, source: str, required=None, words=None
    ) -> str:
        cat, roles = self.inter.catalogue, self.inter.roles
        comps = cat.competences[item]
        parts = []
        if comps:
            if required is None:
                required = roles.required[role] if 0 <= role < len(roles) else None

            def gap(c):
                j = self.comp_pos[c]
                lv = levels[j]
                req = required[j] if required is not None else 0
                return (req - lv) if not np.isnan(lv) else (req - 9)

            best = max(comps, key=gap)
            j = self.comp_pos[best]
            text = f"develops {best} {self.names.get(best, '')}".rstrip()
            lv, req = levels[j], (int(required[j]) if required is not None else 0)
            target = int(cat.level[item])
            needs = (words or {}).get(best, "your role needs")
            if not np.isnan(lv) and lv < 1:  # no level shown yet (a role's typical member in a new role)
                lv = np.nan
            if not np.isnan(lv) and req > 0:
                text += f"; your level {int(round(lv))}, {needs} {req}"
            elif not np.isnan(lv):
                text += f"; your level {int(round(lv))}, this content targets level {target}"
            elif req > 0:
                text += f"; level {target} content, {needs} {req}"
            elif target:
                text += f"; level {target} content"
            parts.append(text)
        extra = self.SOURCES.get(source, "")
        if source == "role" and 0 <= role < len(roles) and roles.titles[role]:
            extra = f"popular with learners in your role ({roles.titles[role]})"
        if extra:
            parts.append(extra)
        return "; ".join(parts) if parts else "recommended"


class Ranker:
    """Base ranker: subclasses implement ``_fit`` and ``score`` (and optionally ``score_role``/``source``)."""

    name = "ranker"

    # run-time settings that are not hyper-parameters (they do not change what is learned)
    _runtime_arguments: tuple[str, ...] = ("num_threads",)

    def get_params(self) -> dict:
        """Hyper-parameters: the ``__init__`` arguments read back from attributes (scikit-learn's rule)."""
        sig = inspect.signature(type(self).__init__)
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        names = [
            n for n, p in sig.parameters.items()
            if n != "self" and p.kind in kinds and n not in self._runtime_arguments
        ]
        return {n: getattr(self, n) for n in names}

    def missing_inputs(self, interactions: Interactions) -> str | None:
        """Why this ranker could only return popularity on these data (None: it has what it needs)."""
        return None

    # ------------------------------------------------------------------ fitting
    def fit(self, interactions: Interactions, competence_names: dict[str, str] | None = None) -> Ranker:
        self.interactions_ = interactions
        self.popularity_ = PopularityStats(interactions)
        if competence_names is None:
            competence_names = _framework_names(interactions.catalogue.competence_ids)
        self.reasons_ = ReasonBuilder(interactions, competence_names)
        self._fit(interactions)
        return self

    def _fit(self, interactions: Interactions) -> None:
        pass

    # ------------------------------------------------------------------ scoring
    def score(self, batch: LearnerBatch) -> np.ndarray:
        raise NotImplementedError

    def score_role(self, role_idx: int) -> np.ndarray:
        """Scores for a whole role: by default what the role's learners engage with."""
        return self.popularity_.for_roles(np.array([role_idx]))[0]

    def source(self, batch: LearnerBatch, i: int, item: int) -> str:
        """Which signal put ``item`` in learner ``i``'s list (for the reason text)."""
        return "cf"

    def sources(self, batch: LearnerBatch, i: int, items) -> list[str]:
        return [self.source(batch, i, int(item)) for item in items]

    def _with_fallback(self, batch: LearnerBatch, scores: np.ndarray) -> np.ndarray:
        """Learners the ranker knows nothing about (flat scores) get role, then global popularity."""
        flat = np.ptp(scores, axis=1) <= 1e-12 if scores.size else np.zeros(0, bool)
        if flat.any():
            scores = scores.copy()
            scores[flat] = self.popularity_.for_roles(batch.role[flat])
        return scores

    def top_k(
        self,
        batch: LearnerBatch,
        k: int = 10,
        exclude: sp.csr_matrix | None = None,
        allowed: np.ndarray | None = None,
        scores: np.ndarray | None = None,
    ):
        """(ids (n, k) with -1 padding, scores (n, k)): best items per learner after masking."""
        if scores is None:
            scores = self._with_fallback(batch, self.score(batch))
        scores = np.array(scores, dtype=np.float64, copy=True)
        if allowed is not None:
            scores[:, ~allowed] = -np.inf
        if exclude is not None and exclude.nnz:
            exclude = exclude.tocsr()
            scores[np.repeat(np.arange(exclude.shape[0]), np.diff(exclude.indptr)), exclude.indices] = -np.inf
        n_items = scores.shape[1]
        k_eff = min(k, n_items)
        part = (
            np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff]
            if k_eff < n_items
            else np.tile(np.arange(n_items), (len(scores), 1))
        )
        part_scores = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        ids = np.take_along_axis(part, order, axis=1)
        top = np.take_along_axis(part_scores, order, axis=1)
        ids = np.where(np.isfinite(top), ids, -1)
        return ids, top

    # ------------------------------------------------------------------ public API
    def recommend(
        self,
        learner_id: str | None,
        k: int = 10,
        profile: dict | None = None,
        role: str | None = None,
        exclude_completed: bool = True,
        language: str | None = None,
        format: str | None = None,
        events=None,
    ) -> RecommendationList:
        batch = LearnerBatch.single(self.interactions_, learner_id, profile, role, events)
        return self.recommend_batch_item(batch, k, exclude_completed, language, format)

    def recommend_batch_item(
        self,
        batch: LearnerBatch,
        k: int = 10,
        exclude_completed: bool = True,
        language: str | None = None,
        format: str | None = None,
        strategy: str | None = None,
    ) -> RecommendationList:
        allowed = self.interactions_.catalogue.mask(language, format)
        exclude = batch.completed if exclude_completed else None
        raw = self.score(batch)
        scores = self._with_fallback(batch, raw)
        ids, top = self.top_k(batch, k, exclude=exclude, allowed=allowed, scores=scores)
        fallback = scores is not raw  # the ranker had nothing for this learner: popularity was used
        recs = self._to_recommendations(batch, 0, ids[0], top[0], popularity_source=fallback)
        return RecommendationList(recs, strategy or self.name, batch.unknown_content)

    def recommend_for_role(
        self, role_id: str, k: int = 10, language: str | None = None, format: str | None = None
    ) -> RecommendationList:
        inter = self.interactions_
        role_idx = inter.roles.position(role_id)
        batch = LearnerBatch.for_role(inter, role_idx)
        scores = self.score_role(role_idx)[None, :]
        ids, top = self.top_k(batch, k, allowed=inter.catalogue.mask(language, format), scores=scores)
        return RecommendationList(
            self._to_recommendations(batch, 0, ids[0], top[0], role_source=True), f"{self.name}:role"
        )

    def explain(
        self,
        learner_id: str | None,
        content_id: str,
        profile: dict | None = None,
        role: str | None = None,
        events=None,
    ) -> dict:
        """Score, rank and reason of one content item for one learner."""
        inter = self.interactions_
        item = inter.catalogue.position(content_id)
        batch = LearnerBatch.single(inter, learner_id, profile, role, events)
        scores = self._with_fallback(batch, self.score(batch))[0]
        return {
            "content_id": content_id,
            "score": float(scores[item]),
            "rank": int((scores > scores[item]).sum()) + 1,
            "reason": self.reasons_.reason(
                item,
                batch.levels[0],
                int(batch.role[0]),
                self.source(batch, 0, item),
                **reason_targets(batch, 0),
            ),
        }

    def _to_recommendations(
        self, batch, i, ids, scores, role_source=False, popularity_source=False, for_role=None
    ) -> list[Recommendation]:
        for_role = role_source if for_role is None else for_role
        cat = self.interactions_.catalogue
        out = []
        valid = ids[ids >= 0]
        if role_source or popularity_source:
            srcs = ["role" if role_source or batch.role[i] >= 0 else "popular"] * len(valid)
        else:
            srcs = self.sources(batch, i, valid)
        for item, s, src in zip(valid, scores[: len(valid)], srcs, strict=True):
            out.append(
                Recommendation(
                    content_id=str(cat.ids[item]),
                    score=float(s),
                    reason=self.reasons_.reason(
                        int(item),
                        batch.levels[i],
                        int(batch.role[i]),
                        src,
                        for_role,
                        **reason_targets(batch, i),
                    ),
                    title=str(cat.titles[item]),
                    competences=list(cat.competences[item]),
                    level=int(cat.level[item]) or None,
                )
            )
        return out

    # ------------------------------------------------------------------ persistence
    def save_state(self, directory: Path) -> None:
        """Write fitted arrays (not the interactions, which the bundle saves once)."""

    def load_state(self, directory: Path) -> None:
        self._fit_from_state = True

    def restore(
        self, interactions: Interactions, directory: Path, competence_names: dict[str, str] | None = None
    ) -> Ranker:
        """Rebuild a saved ranker around its training interactions without refitting the model."""
        self.interactions_ = interactions
        self.popularity_ = PopularityStats(interactions)
        self.reasons_ = ReasonBuilder(
            interactions, competence_names or _framework_names(interactions.catalogue.competence_ids)
        )
        self.load_state(Path(directory))
        return self


def reason_targets(batch: LearnerBatch, i: int) -> dict:
    """The reason arguments for learner ``i``'s live targets (none: the role profile from training)."""
    if batch.required is None:
        return {}
    return {"required": batch.required[i], "words": (batch.target_words or [{}] * (i + 1))[i]}


def _framework_names(competence_ids) -> dict[str, str]:
    if not competence_ids:
        return {}
    from recommender.data import competence_names

    return competence_names()


def write_json(path: Path, obj) -> None:
    Path(path).write_text(json.dumps(obj, indent=2, default=float))
