"""The competence profile of a diagnostic, and the one estimator that produces it from responses.

:func:`estimate_profile` (or :class:`ProfileEstimator` for many people) is the scoring of record: the
live CAT's final result (``CatSession.result``), the ``digcomp-item-bank`` MLflow model's ``predict``,
the simulator's final estimates and the synthetic organisation all come from it. It is the joint
posterior of the area thetas (``adaptive.estimation.MultidimensionalPosterior``: MAP + Laplace) under
the bank's correlated area prior (``adaptive.cat.start.prior``: area correlation x ``prior_sd``, or
independent areas), with level probabilities under the normal (Laplace) posterior. Pilot items are never
scored. The CAT's running estimate (``adaptive.cat.posterior.BatchPosterior``, grid-tabulated) is only
its hot-path kernel for item selection and stopping; it agrees with this one to ~1e-3.

An area with no scored items does not change the marginal posterior of the others (the likelihood
factorises over areas and the prior is Gaussian: the joint mode's tested part is the mode under the
marginal prior, and the Laplace covariance's tested block is the marginal's). So scoring only the areas
a person has responses in (``areas=None``) gives the same thetas and SEs as scoring a CAT over more areas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from adaptive.cat.start import prior, resolve_areas
from adaptive.cat.tables import per_bank
from adaptive.errors import ValidationError
from adaptive.estimation import MultidimensionalEstimate, MultidimensionalPosterior, level_probabilities


@dataclass
class AreaResult:
    theta: float
    se: float
    level: int | None                         # most likely level 1..L of the bank's scheme (None: no cuts)
    level_probabilities: list[float] | None   # P(level = 1..L), L = len(cut scores) + 1
    n_items: int
    level_code: str | None = None             # the level's name in the framework's scheme ("Intermediate")
    mapped_levels: list[dict] | None = None   # the level in other schemes/frameworks (adaptive.crosswalk)


# A competence gets its own estimate only from this many scored items on. Why: (1) precision: with the
# synthetic/operational discriminations (a ~ 1.2, at most ~0.36 information per 2PL item) fewer items
# leave a posterior SD above ~0.6 theta units, wider than a level band (0.6), so the estimate would say
# little beyond the area's; (2) secrecy: with one or two items the estimate (like a raw score) maps back
# to whether each item was answered right, which would let a results page harvest the answer keys.
MIN_ITEMS_FOR_COMPETENCE_ESTIMATE = 5


@dataclass
class CompetenceEvidence:
    """What a result says about one competence: how many scored items gave evidence, and an estimate
    (theta on the area's scale, SE) only from ``MIN_ITEMS_FOR_COMPETENCE_ESTIMATE`` items on. Never
    raw item scores."""

    items: int
    theta: float | None = None
    se: float | None = None


@dataclass
class CompetenceProfile:
    areas: dict[str, AreaResult]
    competences: dict[str, CompetenceEvidence] = field(default_factory=dict)
    # the framework and level scheme the levels are reported in: {id, name, version, level_scheme}
    framework: dict | None = None

    def to_dict(self) -> dict:
        out = {
            "areas": {a: {"theta": r.theta, "se": r.se, "level": r.level,
                          "level_probabilities": r.level_probabilities, "n_items": r.n_items,
                          **({"level_code": r.level_code, "mapped_levels": r.mapped_levels}
                             if self.framework is not None else {})}
                      for a, r in self.areas.items()},
            "competences": {c: {"items": e.items, "theta": e.theta, "se": e.se}
                            for c, e in self.competences.items()},
        }
        if self.framework is not None:
            out["framework"] = self.framework
        return out

    @classmethod
    def from_dict(cls, data: dict) -> CompetenceProfile:
        # profiles stored before issue 13 carry raw score/max_score per competence: dropped, never shown;
        # results stored before issue 12 have no framework, level codes or mapped levels
        return cls(areas={a: AreaResult(**r) for a, r in data["areas"].items()},
                   competences={c: CompetenceEvidence(int(e["items"]), e.get("theta"), e.get("se"))
                                for c, e in data.get("competences", {}).items()},
                   framework=data.get("framework"))


class _BankIndex:
    """Per-item arrays of a bank the estimator needs (built once per estimator)."""

    def __init__(self, bank):
        items = list(bank.items)
        self.area_ids = [str(a) for a in bank.area_ids]
        self.index = {it.id: i for i, it in enumerate(items)}
        self.item_area = np.asarray(bank.item_areas(), dtype=np.intp)
        self.pilot = np.array([it.status == "pilot" for it in items], dtype=bool)
        self.competence_ids: list[str] = []
        pos: dict[str, int] = {}
        self.item_competence = np.empty(len(items), dtype=np.intp)
        for i, it in enumerate(items):
            if it.competence not in pos:
                pos[it.competence] = len(self.competence_ids)
                self.competence_ids.append(it.competence)
            self.item_competence[i] = pos[it.competence]
        self.competence_area = np.zeros(len(self.competence_ids), dtype=np.intp)
        self.competence_area[self.item_competence] = self.item_area
        params = bank.parameters()
        self.params = params
        self.max_score = np.asarray(params.n_categories, dtype=np.int64) - 1


_bank_index = per_bank(_BankIndex)


class ProfileEstimator:
    """Competence profiles from scored responses on one bank under one prior.

    ``areas``: the areas every profile reports (``None``: the areas each person has scored items in, in
    bank order). ``prior_sd``/``independent_areas``/``prior_correlation_shrinkage``/``start_theta`` define
    the prior exactly as
    ``CatConfig``/``CatSession`` do (``adaptive.cat.start.prior``). ``framework``: the framework the
    levels are reported in (default ``adaptive.framework.framework_for_bank``); with one whose scheme has
    as many levels as the bank's cut scores, each area also gets its level code and mapped levels.
    """

    def __init__(self, bank, areas: Sequence[str] | None = None, *, prior_sd: float = 1.0,
                 independent_areas: bool = False, start_theta: dict[str, float] | None = None,
                 framework=None, prior_correlation_shrinkage: float = 0.0):
        self.bank = bank
        self.areas = None if areas is None else resolve_areas(bank, list(areas))
        self.prior_sd = float(prior_sd)
        self.independent_areas = bool(independent_areas)
        self.prior_correlation_shrinkage = float(prior_correlation_shrinkage)
        self.start_theta = dict(start_theta or {})
        self._ix = _bank_index(bank)
        cut_scores = getattr(bank, "cut_scores", None) or {}
        self._cuts = {a: np.asarray(c, dtype=float) for a, c in cut_scores.items()}
        self._posteriors: dict[tuple[str, ...], MultidimensionalPosterior] = {}
        self._reporter = _reporter(bank, framework, self._cuts)

    # -- the estimate ----------------------------------------------------------------------------
    def posterior(self, areas: Sequence[str]) -> MultidimensionalPosterior:
        """The joint posterior over ``areas`` (the prior's marginal over them), cached per area set."""
        key = tuple(areas)
        post = self._posteriors.get(key)
        if post is None:
            mean, cov = prior(self.bank, list(key), self.start_theta, self.prior_sd, self.independent_areas,
                              self.prior_correlation_shrinkage)
            post = self._posteriors[key] = MultidimensionalPosterior(mean, cov)
        return post

    def indices(self, item_ids: Sequence[str]) -> np.ndarray:
        """Bank indices of ``item_ids`` (``UnknownIdError`` naming an unknown item)."""
        try:
            return np.fromiter((self._ix.index[str(i)] for i in item_ids), dtype=np.intp, count=len(item_ids))
        except KeyError:
            for i in item_ids:       # the bank's own error, naming the item
                self.bank.index_of(str(i))
            raise

    def scored(self, index: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The responses that count: pilot items dropped."""
        keep = ~self._ix.pilot[index]
        return index[keep], scores[keep]

    def areas_for(self, index: np.ndarray) -> list[str]:
        if self.areas is not None:
            return self.areas
        present = set(self._ix.item_area[index].tolist())
        return [a for k, a in enumerate(self._ix.area_ids) if k in present]

    def posterior_estimate(self, index: np.ndarray, scores: np.ndarray,
                           areas: Sequence[str]) -> MultidimensionalEstimate:
        """Joint MAP + Laplace covariance over ``areas`` from scored (non-pilot) items by bank index."""
        dim_of = np.full(len(self._ix.area_ids), -1, dtype=np.intp)
        for k, a in enumerate(areas):
            dim_of[self._ix.area_ids.index(a)] = k
        dims = dim_of[self._ix.item_area[index]]
        if (dims < 0).any():
            bad = int(index[np.flatnonzero(dims < 0)[0]])
            raise ValidationError(f"item {self.bank.items[bad].id!r} is in area "
                                  f"{self._ix.area_ids[self._ix.item_area[bad]]!r}, not among the "
                                  f"profile's areas {list(areas)}", where="responses", field="item_id")
        return self.posterior(areas).estimate(self._ix.params.subset(index), dims,
                                              np.asarray(scores, dtype=np.int64))

    def estimate(self, item_ids: Sequence[str], scores: Sequence[int]) -> CompetenceProfile:
        """The competence profile from one person's scored responses (pilot items are dropped)."""
        scores = np.asarray(scores, dtype=np.int64).reshape(-1)
        index = self.indices(list(item_ids))
        if len(index) != len(scores):
            raise ValidationError(f"{len(index)} item ids but {len(scores)} scores", where="responses",
                                  field="response")
        if len(np.unique(index)) != len(index):
            raise ValidationError("an item is answered twice", where="responses", field="item_id")
        return self.estimate_indices(index, scores)

    def estimate_indices(self, index: np.ndarray, scores: np.ndarray) -> CompetenceProfile:
        """``estimate`` with items given by bank index (no duplicate check)."""
        index, scores = self.scored(np.asarray(index, dtype=np.intp), np.asarray(scores, dtype=np.int64))
        areas = self.areas_for(index)
        if not areas:                  # nothing scored (e.g. pilot items only) and no areas asked for
            return CompetenceProfile({}, {})
        return self._profile(areas, self.posterior_estimate(index, scores, areas), index, scores)

    # -- assembly --------------------------------------------------------------------------------
    def _profile(self, areas: list[str], est: MultidimensionalEstimate, index: np.ndarray,
                 scores: np.ndarray) -> CompetenceProfile:
        ix = self._ix
        theta, se = est.theta, est.se
        area_pos = [ix.area_ids.index(a) for a in areas]
        n_area = np.bincount(ix.item_area[index], minlength=len(ix.area_ids))
        results = {}
        for k, a in enumerate(areas):
            p = None
            if a in self._cuts:
                p = [float(x) for x in level_probabilities(float(theta[k]), float(se[k]), self._cuts[a])]
            level = None if p is None else int(np.argmax(p)) + 1
            results[a] = AreaResult(theta=float(theta[k]), se=float(se[k]), level=level,
                                    level_probabilities=p, n_items=int(n_area[area_pos[k]]))
            if self._reporter is not None and level is not None:
                results[a].level_code = self._reporter.framework.level(level).label
                results[a].mapped_levels = self._reporter.mapped_levels(level, p)
        n_comp = len(ix.competence_ids)
        comp_items = np.bincount(ix.item_competence[index], minlength=n_comp)
        in_profile = np.isin(ix.competence_area, area_pos)
        comps = {}
        for j, c in enumerate(ix.competence_ids):
            if not in_profile[j]:
                continue
            ev = CompetenceEvidence(int(comp_items[j]))
            if comp_items[j] >= MIN_ITEMS_FOR_COMPETENCE_ESTIMATE:
                # the same joint estimator on the competence's items alone, under its area's prior
                mine = ix.item_competence[index] == j
                area = ix.area_ids[ix.competence_area[j]]
                one = self.posterior_estimate(index[mine], scores[mine], [area])
                ev.theta, ev.se = float(one.theta[0]), float(one.se[0])
            comps[c] = ev
        info = None if self._reporter is None else self._reporter.framework_info()
        return CompetenceProfile(results, comps, framework=info)


_REPORTERS: dict[str, object] = {}


def _reporter(bank, framework, cuts: dict[str, np.ndarray]):
    """The level reporter for the bank's framework, or None (unknown framework, or its scheme's number of
    levels is not the bank's: then levels are reported as numbers only, as before)."""
    from adaptive.crosswalk import LevelReporter
    from adaptive.framework import framework_for_bank

    fw = framework if framework is not None else framework_for_bank(bank)
    if fw is None or not cuts or any(len(c) + 1 != fw.n_levels for c in cuts.values()):
        return None
    if framework is not None:
        return LevelReporter(fw)
    rep = _REPORTERS.get(fw.id)
    if rep is None or rep.framework is not fw:
        rep = _REPORTERS[fw.id] = LevelReporter(fw)
    return rep


def estimate_profile(bank, item_ids: Sequence[str], scores: Sequence[int], *,
                     areas: Sequence[str] | None = None, prior_sd: float = 1.0,
                     independent_areas: bool = False,
                     start_theta: dict[str, float] | None = None,
                     prior_correlation_shrinkage: float = 0.0) -> CompetenceProfile:
    """The competence profile from one person's scored responses (``scores`` 0..K-1 per item).

    Pilot items are dropped. ``areas``: the areas to report (``None``: those with scored items); the
    prior is the bank's area correlation x ``prior_sd`` (identity with ``independent_areas``) with mean
    ``start_theta`` (0 where not given), as in ``CatConfig``. See the module docstring.
    """
    return ProfileEstimator(bank, areas, prior_sd=prior_sd, independent_areas=independent_areas,
                            start_theta=start_theta,
                            prior_correlation_shrinkage=prior_correlation_shrinkage
                            ).estimate(item_ids, scores)
