"""Competence profile dicts (``CompetenceProfile.to_dict()``) as arrays: per-competence levels and the
finished diagnostics of many learners (``ProfileSet``).

Profiles of finished diagnostics come as ``{learner_id: profile}`` (one each) or records
``{"learner_id", "profile"[, "diagnostic_id", "finished_at"]}`` where ``profile`` is a
``CompetenceProfile.to_dict()`` (per area ``theta, se, level, level_probabilities``; an optional
``competence_levels`` names competences whose level differs from their area's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from adaptive.crosswalk import level_in
from adaptive.errors import ValidationError
from adaptive.framework import Framework, load_framework
from adaptive.insights.tables import timestamps


def profile_levels(profile: dict | None, competence_ids: Sequence[str]) -> np.ndarray:
    """Level per competence (NaN: unknown) from a competence profile dict.

    ``{"areas": {"1": {"level": 3, ...}}, "competence_levels": {"1.3": 2}}``: a competence takes its
    area's level (DigComp ids: area ``"1"`` holds ``"1.x"``) unless ``competence_levels`` names it.
    """
    levels = np.full(len(competence_ids), np.nan)
    if not profile:
        return levels
    areas = profile.get("areas") or {}
    # the catalogue's and role profiles' levels are DigComp's eight levels: a profile reported in
    # another scheme (DigComp 3.0's four) is read through its mapped levels
    eight = load_framework()
    by_area = {a: level_in(profile, r, eight)[0] for a, r in areas.items()}
    for j, cid in enumerate(competence_ids):
        lv = by_area.get(cid.split(".")[0])
        if lv is not None:
            levels[j] = float(lv)
    for cid, lv in (profile.get("competence_levels") or {}).items():
        if cid in competence_ids and lv is not None:
            levels[list(competence_ids).index(cid)] = float(lv)
    return np.clip(levels, 1, 8)

@dataclass
class ProfileSet:
    """Finished diagnostics as arrays, one row per diagnostic (NaN: area not tested / level unknown)."""

    learner_ids: np.ndarray          # (N,) str
    diagnostic_ids: np.ndarray       # (N,) str
    finished_at: pd.Series           # (N,) UTC datetimes (NaT: unknown)
    area_ids: tuple[str, ...]
    competence_ids: tuple[str, ...]
    theta: np.ndarray                # (N, D)
    se: np.ndarray                   # (N, D)
    level: np.ndarray                # (N, D) float
    level_probabilities: np.ndarray  # (N, D, L) NaN when the profile has none
    competence_level: np.ndarray     # (N, C): the area's level unless the profile names the competence
    competence_given: np.ndarray     # (N, C) bool: level named explicitly in ``competence_levels``

    def __len__(self) -> int:
        return len(self.learner_ids)

    @classmethod
    def from_profiles(cls, profiles, framework: Framework | None = None) -> ProfileSet:
        fw = framework or load_framework()
        area_ids, comp_ids = tuple(fw.area_ids), tuple(fw.competence_ids)
        n_levels = len(fw.levels)
        records = _profile_records(profiles)
        n, d = len(records), len(area_ids)
        theta, se, level = (np.full((n, d), np.nan) for _ in range(3))
        probs = np.full((n, d, n_levels), np.nan)
        comp_level = np.full((n, len(comp_ids)), np.nan)
        given = np.zeros((n, len(comp_ids)), dtype=bool)
        a_index = {a: k for k, a in enumerate(area_ids)}
        for i, rec in enumerate(records):
            where = f"profile of learner {rec['learner_id']!r}"
            prof = rec["profile"]
            if not isinstance(prof, Mapping) or not isinstance(prof.get("areas"), Mapping):
                raise ValidationError("must be a competence profile with an 'areas' mapping", where=where,
                                      field="areas")
            for a, res in prof["areas"].items():
                if str(a) not in a_index:
                    raise ValidationError(f"unknown area {a!r}", where=where, field="areas")
                k = a_index[str(a)]
                t, s = _number(res, "theta", where, a), _number(res, "se", where, a)
                if not s > 0:
                    raise ValidationError(f"must be > 0, got {s}", where=where, field=f"areas.{a}.se")
                theta[i, k], se[i, k] = t, s
                # a profile reported in another framework's scheme is read through its mapped levels
                lv, p = level_in(dict(prof), dict(res), fw) if isinstance(res, Mapping) else (None, None)
                res = {**res, "level": lv, "level_probabilities": p} if isinstance(res, Mapping) else res
                if lv is not None:
                    if not (isinstance(lv, int | np.integer) and 1 <= lv <= n_levels):
                        raise ValidationError(f"must be an integer 1..{n_levels}, got {lv!r}", where=where,
                                              field=f"areas.{a}.level")
                    level[i, k] = lv
                p = res.get("level_probabilities")
                if p is not None:
                    p = np.asarray(p, dtype=float)
                    if p.shape != (n_levels,) or not np.all(np.isfinite(p)) or abs(p.sum() - 1) > 1e-6:
                        raise ValidationError(f"must be {n_levels} probabilities summing to 1", where=where,
                                              field=f"areas.{a}.level_probabilities")
                    probs[i, k] = p
            named = {c for c, v in (prof.get("competence_levels") or {}).items() if v is not None}
            unknown = named - set(comp_ids)
            if unknown:
                raise ValidationError(f"unknown competence {sorted(unknown)[0]!r}", where=where,
                                      field="competence_levels")
            comp_level[i] = profile_levels(dict(prof), comp_ids)
            given[i] = [c in named for c in comp_ids]
        finished = timestamps([r.get("finished_at") for r in records], "diagnostics", "finished_at")
        return cls(np.array([r["learner_id"] for r in records], dtype=object),
                   np.array([r["diagnostic_id"] for r in records], dtype=object),
                   finished.reset_index(drop=True), area_ids, comp_ids, theta, se, level, probs,
                   comp_level, given)

    def subset(self, idx) -> ProfileSet:
        idx = np.asarray(idx, dtype=np.intp)
        return ProfileSet(self.learner_ids[idx], self.diagnostic_ids[idx],
                          self.finished_at.iloc[idx].reset_index(drop=True), self.area_ids,
                          self.competence_ids, self.theta[idx], self.se[idx], self.level[idx],
                          self.level_probabilities[idx], self.competence_level[idx],
                          self.competence_given[idx])

    def order(self) -> np.ndarray:
        """Row order by learner, then finish time (unknown times last), then input order."""
        t = self.finished_at.astype("int64").to_numpy(dtype=float)
        t[self.finished_at.isna().to_numpy()] = np.inf
        return np.lexsort((np.arange(len(self)), t, self.learner_ids.astype(str)))

    def latest(self) -> ProfileSet:
        """The latest finished diagnostic of each learner."""
        o = self.order()
        ids = self.learner_ids[o]
        last = np.r_[ids[1:] != ids[:-1], True] if len(o) else np.zeros(0, dtype=bool)
        return self.subset(o[last])

    def below_probability(self, required: np.ndarray) -> np.ndarray:
        """(N, C) P(level < required) from the area's level probabilities (an indicator where the
        competence level is named explicitly or the profile has no probabilities); NaN if unmeasured."""
        fw_area = [self.area_ids.index(c.split(".")[0]) if c.split(".")[0] in self.area_ids else -1
                   for c in self.competence_ids]
        cum = np.concatenate([np.zeros(self.level_probabilities.shape[:2] + (1,)),
                              np.cumsum(self.level_probabilities, axis=-1)], axis=-1)   # P(level <= k)
        n, c = self.competence_level.shape
        out = (self.competence_level < required).astype(float)
        rows = np.arange(n)[:, None]
        for j in range(c):
            k = fw_area[j]
            if k < 0:
                continue
            req = np.clip(required[:, j] - 1, 0, cum.shape[-1] - 1)
            p = cum[rows[:, 0], k, req]
            use = ~self.competence_given[:, j] & np.isfinite(p)
            out[use, j] = p[use]
        out[np.isnan(self.competence_level)] = np.nan
        return out


def _number(res, key: str, where: str, area: str) -> float:
    try:
        v = float(res[key])
    except (KeyError, TypeError, ValueError):
        raise ValidationError("missing or not a number", where=where, field=f"areas.{area}.{key}") from None
    if not np.isfinite(v):
        raise ValidationError(f"must be finite, got {v}", where=where, field=f"areas.{area}.{key}")
    return v


def _profile_records(profiles) -> list[dict]:
    if isinstance(profiles, ProfileSet):
        raise TypeError("already a ProfileSet")
    if isinstance(profiles, Mapping):
        return [{"learner_id": str(k), "diagnostic_id": str(k), "finished_at": None, "profile": v}
                for k, v in profiles.items()]
    out = []
    for i, rec in enumerate(profiles):
        if not isinstance(rec, Mapping) or "learner_id" not in rec or "profile" not in rec:
            raise ValidationError("need 'learner_id' and 'profile'", where="diagnostics", row=i + 1)
        out.append({"learner_id": str(rec["learner_id"]), "diagnostic_id": str(rec.get("diagnostic_id", i)),
                    "finished_at": rec.get("finished_at"), "profile": rec["profile"]})
    return out


def as_profile_set(profiles, framework) -> ProfileSet:
    return profiles if isinstance(profiles, ProfileSet) else ProfileSet.from_profiles(profiles, framework)


