"""Organisation insights as plain analytics: competence gaps, pathway progress and training impact.

Everything here works on pandas/numpy data and knows nothing of HTTP or the database; the service reads
its tables into these inputs. Inputs:

- ``learners``: a frame (or records) ``learner_id, role, unit`` (role/unit may be blank: ``(none)``).
- profiles of finished diagnostics: ``{learner_id: profile}`` (one each) or records
  ``{"learner_id", "profile"[, "diagnostic_id", "finished_at"]}`` where ``profile`` is a
  ``CompetenceProfile.to_dict()`` (per area ``theta, se, level, level_probabilities``; an optional
  ``competence_levels`` names competences whose level differs from their area's).
- ``roles``: a :class:`recommender.data.RoleProfiles` or ``{role_id: {competence_id: required_level}}``.
- ``events``: learning events ``learner_id, content_id, event, timestamp`` (only ``completed`` counts).

Aggregates are given per ``organisation`` (everyone), per ``role`` and per ``unit``; groups too small
are suppressed by :mod:`api.insights.suppression`. Per-learner tables (pathway progress, individual
change) are individual data by design: they are for the learner's own supervisor, not for publication.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from adaptive.errors import ValidationError
from adaptive.framework import Framework, load_framework
from api.insights.change import critical_value, reliable_change, remove_prior
from api.insights.suppression import (
    DEFAULT_MIN_GROUP_SIZE,
    check_min_size,
    suppress_partition,
    suppression_mask,
)
from recommender.profiles import profile_levels

NONE_LABEL = "(none)"
GROUPINGS = ("organisation", "role", "unit")
ORGANISATION = "all"
OBSERVATIONAL_CAVEAT = (
    "Observational comparison: learners chose (or were assigned) their training, so differences between "
    "those who completed a content and those who did not may reflect who took it, not what it did."
)


# ============================================================================ inputs
def learners_frame(learners) -> pd.DataFrame:
    """``learner_id, role, unit`` as strings (missing role/unit -> ``(none)``); errors name the row."""
    frame = pd.DataFrame(learners).copy() if not isinstance(learners, pd.DataFrame) else learners.copy()
    if frame.empty and "learner_id" not in frame.columns:      # no learners at all (e.g. a new organisation)
        frame = pd.DataFrame(columns=["learner_id", "role", "unit"], dtype=object)
    if "learner_id" not in frame.columns:
        raise ValidationError("missing column", where="learners", field="learner_id")
    for col in ("role", "unit"):
        if col not in frame.columns:
            frame[col] = None
    frame = frame[["learner_id", "role", "unit"]].reset_index(drop=True)
    ids = frame["learner_id"]
    bad = ids.isna() | (ids.astype(str).str.strip() == "")
    if bad.any():
        raise ValidationError("blank learner id", where="learners", row=int(np.flatnonzero(bad)[0]) + 1,
                              field="learner_id")
    frame["learner_id"] = ids.astype(str)
    dup = frame["learner_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise ValidationError(f"learner {frame['learner_id'][i]!r} listed twice", where="learners", row=i + 1,
                              field="learner_id")
    for col in ("role", "unit"):
        v = frame[col]
        blank = v.isna() | (v.astype(str).str.strip() == "")
        frame[col] = np.where(blank, NONE_LABEL, v.astype(str).str.strip())
    return frame


def required_matrix(roles, role_ids: Sequence[str], competence_ids: Sequence[str]) -> np.ndarray:
    """(n, C) required level per learner and competence (0: not required / role unknown)."""
    if roles is None:
        table = {}
    elif hasattr(roles, "required_levels") and hasattr(roles, "role_ids"):
        table = {r: roles.required_levels(r) for r in roles.role_ids}
    else:
        table = {str(r): dict(req) for r, req in roles.items()}
    comp_index = {c: j for j, c in enumerate(competence_ids)}
    rows = {}
    for r, req in table.items():
        row = np.zeros(len(competence_ids), dtype=np.int64)
        for c, lv in req.items():
            if c not in comp_index:
                raise ValidationError(f"unknown competence {c!r}", where=f"role {r!r}", field="competence")
            if not 0 <= int(lv) <= 8:
                raise ValidationError(f"required level must be 0..8, got {lv!r}", where=f"role {r!r}",
                                      field=c)
            row[comp_index[c]] = int(lv)
        rows[r] = row
    out = np.zeros((len(role_ids), len(competence_ids)), dtype=np.int64)
    for i, r in enumerate(role_ids):
        if r in rows:
            out[i] = rows[r]
    return out


def _time(values, where: str, field: str) -> pd.Series:
    """Timestamps (datetimes, ISO strings or epoch seconds) as UTC datetimes; NaT allowed."""
    s = pd.Series(values)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return pd.to_datetime(s, unit="s", utc=True)
    out = pd.to_datetime(s, utc=True, errors="coerce", format="mixed")
    bad = out.isna() & s.notna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValidationError(f"not a timestamp: {s.iloc[i]!r}", where=where, row=i + 1, field=field)
    return out


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
                lv = res.get("level")
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
        finished = _time([r.get("finished_at") for r in records], "diagnostics", "finished_at")
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


def _as_profiles(profiles, framework) -> ProfileSet:
    return profiles if isinstance(profiles, ProfileSet) else ProfileSet.from_profiles(profiles, framework)


def completions_frame(events) -> pd.DataFrame:
    """The first ``completed`` event per (learner, content): ``learner_id, content_id, completed_at``."""
    frame = pd.DataFrame(events).copy() if not isinstance(events, pd.DataFrame) else events.copy()
    if frame.empty:
        return pd.DataFrame({"learner_id": pd.Series(dtype=object), "content_id": pd.Series(dtype=object),
                             "completed_at": pd.Series(dtype="datetime64[ns, UTC]")})
    for col in ("learner_id", "content_id", "event"):
        if col not in frame.columns:
            raise ValidationError("missing column", where="events", field=col)
    if "timestamp" not in frame.columns:
        frame["timestamp"] = None
    frame = frame.reset_index(drop=True)
    frame["completed_at"] = _time(frame["timestamp"], "events", "timestamp")
    frame = frame[frame["event"].astype(str) == "completed"]
    frame = frame.assign(learner_id=frame["learner_id"].astype(str),
                         content_id=frame["content_id"].astype(str))
    frame = frame.sort_values("completed_at", kind="stable", na_position="first")
    return frame.drop_duplicates(["learner_id", "content_id"])[["learner_id", "content_id", "completed_at"]]


def _groups(learners: pd.DataFrame) -> dict[str, np.ndarray]:
    return {"organisation": np.full(len(learners), ORGANISATION, dtype=object),
            "role": learners["role"].to_numpy(dtype=object), "unit": learners["unit"].to_numpy(dtype=object)}


def _group_sizes(labels: dict[str, np.ndarray], min_size: int) -> tuple[pd.DataFrame, set]:
    """``grouping, group, n, suppressed`` and the set of suppressed (grouping, group) pairs."""
    rows = []
    for grouping, lab in labels.items():
        vals, counts = np.unique(lab.astype(str), return_counts=True) if len(lab) else ([], [])
        mask = suppression_mask(np.asarray(counts, dtype=np.int64), min_size)
        rows += [(grouping, v, int(c), bool(m)) for v, c, m in zip(vals, counts, mask, strict=True)]
    frame = pd.DataFrame(rows, columns=["grouping", "group", "n", "suppressed"])
    hidden = {(g, v) for g, v, _, m in rows if m}
    frame["n"] = frame["n"].astype("Int64").mask(frame["suppressed"])
    return frame, hidden


def _tables_to_csv(tables: dict[str, pd.DataFrame], out_dir) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in tables.items():
        paths[name] = out / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    return paths


class _Report:
    """Result tables with CSV export."""

    table_names: tuple[str, ...] = ()

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in self.table_names}

    def to_csv(self, name: str) -> str:
        if name not in self.table_names:
            raise ValidationError(f"unknown table {name!r}; known: {', '.join(self.table_names)}",
                                  field="table")
        return getattr(self, name).to_csv(index=False)

    def write_csv(self, out_dir) -> dict[str, Path]:
        return _tables_to_csv(self.tables(), out_dir)


# ============================================================================ gap overview
@dataclass
class GapOverview(_Report):
    """Competence gaps of an organisation per role and unit (only learners with a finished diagnostic).

    Tables (long format, one row per grouping x group x ...):
    - ``groups``: learners per group;
    - ``levels``: per area, the share of learners at each DigComp level and the mean theta;
    - ``competences``: per competence, the share of learners below their role's required level
      (``share_below``: from the reported level; ``expected_share_below``: mean posterior probability of
      being below, which accounts for measurement error), the mean gap in levels;
    - ``largest_gaps``: the ``top_k`` competences with the highest ``share_below`` per group.
    """

    groups: pd.DataFrame
    levels: pd.DataFrame
    competences: pd.DataFrame
    largest_gaps: pd.DataFrame
    min_group_size: int
    n_learners: int
    n_without_diagnostic: int
    unknown_roles: list[str] = field(default_factory=list)
    table_names = ("groups", "levels", "competences", "largest_gaps")


def gap_overview(learners, profiles, roles, *, framework: Framework | None = None,
                 min_group_size: int = DEFAULT_MIN_GROUP_SIZE, top_k: int = 5) -> GapOverview:
    """Gap overview from the learners, their finished diagnostics (the latest per learner counts) and
    the role profiles. Learners without a finished diagnostic do not count."""
    min_size = check_min_size(min_group_size)
    fw = framework or load_framework()
    people = learners_frame(learners)
    prof = _as_profiles(profiles, fw).latest()
    index = {x: i for i, x in enumerate(prof.learner_ids)}
    unknown = sorted(set(index) - set(people["learner_id"]))
    if unknown:
        raise ValidationError(f"diagnostic of learner {unknown[0]!r} who is not among the learners",
                              where="diagnostics", field="learner_id")
    has = people["learner_id"].map(index)
    counted = people[has.notna()].reset_index(drop=True)
    rows = has.dropna().astype(int).to_numpy()
    known_roles = (set(roles.role_ids) if hasattr(roles, "role_ids") else set(map(str, (roles or {}))))
    unknown_roles = sorted(set(counted["role"]) - known_roles - {NONE_LABEL})
    labels = _groups(counted)
    groups, hidden = _group_sizes(labels, min_size)

    level_rows, comp_rows = [], []
    theta, level = prof.theta[rows], prof.level[rows]
    n_levels = len(fw.levels)
    required = required_matrix(roles, counted["role"].tolist(), prof.competence_ids)
    comp_level = prof.competence_level[rows]
    p_below = prof.subset(rows).below_probability(required)
    has_req = (required > 0) & ~np.isnan(comp_level)
    below = np.where(has_req, comp_level < required, False)
    gap = np.where(has_req, np.clip(required - np.nan_to_num(comp_level), 0, None), 0.0)
    area_names = {a.id: a.name for a in fw.areas}
    for grouping, lab in labels.items():
        for g in pd.unique(lab):
            m = lab == g
            for k, a in enumerate(prof.area_ids):
                tested = m & ~np.isnan(theta[:, k])
                lv = level[tested, k]
                lv = lv[~np.isnan(lv)].astype(int)
                n_lv = len(lv)
                shares = np.bincount(lv - 1, minlength=n_levels)[:n_levels] / n_lv if n_lv else \
                    np.full(n_levels, np.nan)
                level_rows.append((grouping, g, a, area_names.get(a, ""), int(tested.sum()),
                                   float(theta[tested, k].mean()) if tested.any() else np.nan,
                                   float(lv.mean()) if n_lv else np.nan, *shares))
            for j, c in enumerate(prof.competence_ids):
                mj = m & has_req[:, j]
                nj = int(mj.sum())
                if nj == 0:
                    continue
                comp_rows.append((grouping, g, c, c.split(".")[0], nj, float(required[mj, j].mean()),
                                  float(comp_level[mj, j].mean()), float(below[mj, j].mean()),
                                  float(np.nanmean(p_below[mj, j])), float(gap[mj, j].mean())))
    share_cols = [f"share_level_{i}" for i in range(1, n_levels + 1)]
    levels = pd.DataFrame(level_rows, columns=["grouping", "group", "area", "area_name", "n", "mean_theta",
                                               "mean_level", *share_cols])
    levels = levels[levels["n"] > 0].reset_index(drop=True)          # areas nobody in the group took
    levels = suppress_partition(levels, ["grouping", "area"], "n", ["mean_theta", "mean_level", *share_cols],
                                min_size, hidden)
    comp_cols = ["mean_required", "mean_level", "share_below", "expected_share_below", "mean_gap"]
    competences = pd.DataFrame(comp_rows,
                               columns=["grouping", "group", "competence", "area", "n", *comp_cols])
    competences = suppress_partition(competences, ["grouping", "competence"], "n", comp_cols, min_size,
                                     hidden)
    return GapOverview(groups, levels, competences, largest_gaps(competences, top_k), min_size,
                       n_learners=len(counted), n_without_diagnostic=int(has.isna().sum()),
                       unknown_roles=unknown_roles)


def largest_gaps(competences: pd.DataFrame, top_k: int = 5) -> pd.DataFrame:
    """The ``top_k`` competences per group by share below requirement (then mean gap); suppressed
    cells never rank."""
    if int(top_k) < 1:
        raise ValidationError(f"must be >= 1, got {top_k}", field="top_k")
    shown = competences[~competences["suppressed"]]
    shown = shown[shown["share_below"] > 0]
    shown = shown.sort_values(["grouping", "group", "share_below", "mean_gap", "competence"],
                              ascending=[True, True, False, False, True], kind="stable")
    top = shown.groupby(["grouping", "group"], sort=False).head(int(top_k)).copy()
    top.insert(2, "rank", top.groupby(["grouping", "group"], sort=False).cumcount() + 1)
    return top[["grouping", "group", "rank", "competence", "area", "n", "share_below", "expected_share_below",
                "mean_gap"]].reset_index(drop=True)


# ============================================================================ pathway progress
@dataclass
class PathwayProgress(_Report):
    """Share of each learner's recommended pathway completed, and its aggregate per unit.

    ``learners``: ``learner_id, role, unit, n_steps, n_completed, share_completed, next_content_id,
    last_completed_at`` (``share_completed`` NaN for an empty pathway: nothing to do).
    ``units``: per group, learners with a non-empty pathway, mean/median share completed, share who started
    and share who finished their pathway (suppressed below the minimum group size).
    """

    learners: pd.DataFrame
    units: pd.DataFrame
    min_group_size: int
    table_names = ("learners", "units")


def _pathway_frame(pathways) -> pd.DataFrame:
    if isinstance(pathways, pd.DataFrame):
        frame = pathways.copy()
        for col in ("learner_id", "content_id"):
            if col not in frame.columns:
                raise ValidationError("missing column", where="pathways", field=col)
        if "step" not in frame.columns:
            frame["step"] = frame.groupby("learner_id").cumcount() + 1
    else:
        rows = []
        for lid, steps in pathways.items():
            for s, step in enumerate(steps):
                cid = step.get("content_id") if isinstance(step, Mapping) else step
                rows.append((str(lid), cid, s + 1))
        frame = pd.DataFrame(rows, columns=["learner_id", "content_id", "step"])
    frame = frame.reset_index(drop=True)
    blank = frame["content_id"].isna() | (frame["content_id"].astype(str).str.strip() == "")
    if blank.any():
        raise ValidationError("blank content id", where="pathways", row=int(np.flatnonzero(blank)[0]) + 1,
                              field="content_id")
    frame = frame.assign(learner_id=frame["learner_id"].astype(str),
                         content_id=frame["content_id"].astype(str))
    # a content listed twice in one pathway is one step
    frame = frame.sort_values(["learner_id", "step"], kind="stable")
    return frame.drop_duplicates(["learner_id", "content_id"])


def pathway_progress(learners, pathways, events, *, since: Mapping[str, object] | None = None,
                     min_group_size: int = DEFAULT_MIN_GROUP_SIZE) -> PathwayProgress:
    """Progress along recommended pathways.

    ``pathways``: ``{learner_id: [content_id | PathwayStep dict, ...]}`` or a frame ``learner_id,
    content_id[, step]``; learners not in it have no pathway. ``since``: optional ``{learner_id: time}``
    the pathway was recommended; completions before it do not count.
    """
    min_size = check_min_size(min_group_size)
    people = learners_frame(learners)
    steps = _pathway_frame(pathways)
    unknown = sorted(set(steps["learner_id"]) - set(people["learner_id"]))
    if unknown:
        raise ValidationError(f"pathway of learner {unknown[0]!r} who is not among the learners",
                              where="pathways", field="learner_id")
    done = completions_frame(events)
    if since:
        start = _time(pd.Series(since, dtype=object).reset_index(drop=True), "since", "since")
        start.index = [str(k) for k in since]
        start = done["learner_id"].map(start).to_numpy()
        done = done[pd.isna(start) | (done["completed_at"].to_numpy() >= start)]
    steps = steps.merge(done, on=["learner_id", "content_id"], how="left")
    steps["completed"] = steps["completed_at"].notna()
    per = steps.groupby("learner_id", sort=False).agg(n_steps=("content_id", "size"),
                                                       n_completed=("completed", "sum"),
                                                       last_completed_at=("completed_at", "max"))
    nxt = steps[~steps["completed"]].groupby("learner_id", sort=False)["content_id"].first()
    out = people.join(per, on="learner_id")
    out["n_steps"] = out["n_steps"].fillna(0).astype(int)
    out["n_completed"] = out["n_completed"].fillna(0).astype(int)
    out["share_completed"] = np.where(out["n_steps"] > 0, out["n_completed"] / out["n_steps"].clip(lower=1),
                                      np.nan)
    out["next_content_id"] = out["learner_id"].map(nxt)
    out = out[["learner_id", "role", "unit", "n_steps", "n_completed", "share_completed", "next_content_id",
               "last_completed_at"]]

    active = out[out["n_steps"] > 0]
    labels = _groups(active.reset_index(drop=True))
    rows = []
    for grouping in ("organisation", "unit", "role"):
        lab = labels[grouping]
        for g in pd.unique(lab):
            m = lab == g
            s = active["share_completed"].to_numpy()[m]
            steps_g, done_g = active["n_steps"].to_numpy()[m], active["n_completed"].to_numpy()[m]
            rows.append((grouping, g, len(s), float(s.mean()), float(np.median(s)), float((s > 0).mean()),
                         float((s >= 1).mean()), int(steps_g.sum()), int(done_g.sum())))
    cols = ["mean_share_completed", "median_share_completed", "share_started", "share_finished",
            "steps", "steps_completed"]
    units = pd.DataFrame(rows, columns=["grouping", "group", "n", *cols])
    units = suppress_partition(units, ["grouping"], "n", cols, min_size)
    return PathwayProgress(out.reset_index(drop=True), units, min_size)


# ============================================================================ training impact
@dataclass
class TrainingImpact(_Report):
    """Change between two diagnostics of the same learner, per area.

    ``changes`` (per learner and area): ``delta = theta_after - theta_before``, ``se_delta =
    sqrt(se_before^2 + se_after^2)``, the reliable change index ``rci = delta / se_delta`` and
    ``change`` = improved / declined / none by ``|rci| > z`` (z = 1.96 at 95%).
    ``groups``: per organisation/role/unit and area, mean change with its standard error (between-learner
    SD / sqrt n) and confidence interval, shares reliably improved / declined.
    ``contents``: per content and area, mean change of the learners who completed it between their two
    diagnostics against those who did not (difference, Welch SE, CI). Observational: see ``caveat``.

    With the diagnostic's ``prior`` known, ``*_adjusted`` columns give the same figures on prior-free
    (likelihood) thetas (:func:`api.insights.change.remove_prior`): posterior means shrink a gain toward
    zero, so the plain ``delta`` understates training effects; the adjusted ones do not (but are noisier).
    """

    changes: pd.DataFrame
    groups: pd.DataFrame
    contents: pd.DataFrame
    confidence: float
    min_group_size: int
    caveat: str = OBSERVATIONAL_CAVEAT
    table_names = ("changes", "groups", "contents")


def _catalogue_areas(catalogue) -> dict[str, set[str]] | None:
    """content_id -> areas it develops, from a frame/records with ``competences`` (list or ';'-joined)
    or ``area``; None: unknown (every area is reported)."""
    if catalogue is None:
        return None
    if hasattr(catalogue, "to_frame") and not isinstance(catalogue, pd.DataFrame):
        catalogue = catalogue.to_frame()
    frame = pd.DataFrame(catalogue)
    if "content_id" not in frame.columns:
        raise ValidationError("missing column", where="catalogue", field="content_id")
    out: dict[str, set[str]] = {}
    comps = frame["competences"] if "competences" in frame.columns else pd.Series([None] * len(frame))
    areas = frame["area"] if "area" in frame.columns else pd.Series([None] * len(frame))
    for cid, cs, a in zip(frame["content_id"].astype(str), comps, areas, strict=True):
        cs = cs.split(";") if isinstance(cs, str) else (cs if isinstance(cs, list | tuple) else [])
        found = {str(c).strip().split(".")[0] for c in cs if str(c).strip()}
        if a is not None and not pd.isna(a):
            found.add(str(a))
        out[cid] = found
    return out


def training_impact(learners, diagnostics, events=None, *, catalogue=None, pairing: str = "first-last",
                    prior: tuple | None = None, confidence: float = 0.95, framework: Framework | None = None,
                    min_group_size: int = DEFAULT_MIN_GROUP_SIZE) -> TrainingImpact:
    """Compare two finished diagnostics per learner (``pairing``: ``first-last`` or ``last-two``).

    ``diagnostics``: records with ``learner_id, profile, finished_at`` (several per learner; learners with
    one are skipped). ``events``: learning events, for the per-content comparison (completions strictly
    after the first diagnostic and up to the second). ``catalogue``: optional, restricts each content's
    comparison to the areas it develops. ``prior``: optional ``(mean (D,), cov (D, D))`` over the
    framework's areas that the diagnostics used (``adaptive.cat.start.prior``), for the adjusted columns.
    """
    min_size = check_min_size(min_group_size)
    z = critical_value(confidence)
    if pairing not in ("first-last", "last-two"):
        raise ValidationError(f"must be 'first-last' or 'last-two', got {pairing!r}", field="pairing")
    fw = framework or load_framework()
    people = learners_frame(learners)
    prof = _as_profiles(diagnostics, fw)
    if len(prof) and prof.finished_at.isna().any():
        i = int(np.flatnonzero(prof.finished_at.isna().to_numpy())[0])
        raise ValidationError("needed to order a learner's diagnostics", where="diagnostics", row=i + 1,
                              field="finished_at")
    unknown = sorted(set(prof.learner_ids) - set(people["learner_id"]))
    if unknown:
        raise ValidationError(f"diagnostic of learner {unknown[0]!r} who is not among the learners",
                              where="diagnostics", field="learner_id")
    o = prof.order()
    ids = prof.learner_ids[o]
    first = np.r_[True, ids[1:] != ids[:-1]] if len(o) else np.zeros(0, dtype=bool)
    last = np.r_[ids[1:] != ids[:-1], True] if len(o) else np.zeros(0, dtype=bool)
    after = o[last & ~first]                                 # learners with >= 2 diagnostics
    before = o[np.flatnonzero(last & ~first) - 1] if pairing == "last-two" else o[first][~last[first]]
    adjusted = prior is not None
    if adjusted:
        t_lik, s_lik = remove_prior(prof.theta, prof.se, *prior)
    meta = people.set_index("learner_id")
    pair_ids = prof.learner_ids[after]
    recs = []
    for k, a in enumerate(prof.area_ids):
        t1, s1 = prof.theta[before, k], prof.se[before, k]
        t2, s2 = prof.theta[after, k], prof.se[after, k]
        ok = ~np.isnan(t1) & ~np.isnan(t2)
        delta, se, rci, change = reliable_change(t1[ok], s1[ok], t2[ok], s2[ok], confidence)
        rec = pd.DataFrame({
            "learner_id": pair_ids[ok].astype(str), "area": a,
            "before_at": prof.finished_at.iloc[before[ok]].to_numpy(),
            "after_at": prof.finished_at.iloc[after[ok]].to_numpy(),
            "theta_before": t1[ok], "se_before": s1[ok], "level_before": prof.level[before[ok], k],
            "theta_after": t2[ok], "se_after": s2[ok], "level_after": prof.level[after[ok], k],
            "delta": delta, "se_delta": se, "rci": rci,
            "change": np.array(["declined", "none", "improved"])[change + 1]})
        if adjusted:
            rec["delta_adjusted"] = t_lik[after[ok], k] - t_lik[before[ok], k]
            rec["se_delta_adjusted"] = np.hypot(s_lik[after[ok], k], s_lik[before[ok], k])
        recs.append(rec)
    changes = pd.concat(recs, ignore_index=True)
    changes.insert(1, "role", changes["learner_id"].map(meta["role"]))
    changes.insert(2, "unit", changes["learner_id"].map(meta["unit"]))
    changes = changes.sort_values(["learner_id", "area"], kind="stable").reset_index(drop=True)
    groups = _impact_groups(changes, z, min_size, adjusted)
    contents = _impact_contents(changes, events, _catalogue_areas(catalogue), z, min_size, adjusted)
    return TrainingImpact(changes, groups, contents, confidence, min_size)


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    n = len(x)
    return float(x.mean()) if n else np.nan, float(x.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan


def _impact_groups(changes: pd.DataFrame, z: float, min_size: int, adjusted: bool) -> pd.DataFrame:
    # groups are defined by the learners with a retest (one row per learner and area)
    learners = changes.drop_duplicates("learner_id")[["learner_id", "role", "unit"]].reset_index(drop=True)
    _, hidden = _group_sizes(_groups(learners), min_size)
    area = changes["area"].to_numpy()
    delta = changes["delta"].to_numpy()
    adj = changes["delta_adjusted"].to_numpy() if adjusted else None
    rows = []
    for grouping in GROUPINGS:
        lab = (np.full(len(changes), ORGANISATION, dtype=object) if grouping == "organisation"
               else changes[grouping].to_numpy(dtype=object))
        for g in pd.unique(lab):
            for a in pd.unique(area):
                m = (lab == g) & (area == a)
                ch = changes["change"].to_numpy()[m]
                mean, se = _mean_se(delta[m])
                row = [grouping, g, a, int(m.sum()), mean, se, mean - z * se, mean + z * se,
                       float((ch == "improved").mean()), float((ch == "declined").mean()),
                       float(changes["se_delta"].to_numpy()[m].mean())]
                if adjusted:
                    mean, se = _mean_se(adj[m])
                    row += [mean, se, mean - z * se, mean + z * se]
                rows.append(row)
    cols = ["mean_delta", "se_mean_delta", "ci_low", "ci_high", "share_improved", "share_declined",
            "mean_se_delta"]
    if adjusted:
        cols += ["mean_delta_adjusted", "se_mean_delta_adjusted", "ci_low_adjusted", "ci_high_adjusted"]
    frame = pd.DataFrame(rows, columns=["grouping", "group", "area", "n", *cols])
    return suppress_partition(frame, ["grouping", "area"], "n", cols, min_size, hidden)


def _impact_contents(changes: pd.DataFrame, events, content_areas, z: float, min_size: int,
                     adjusted: bool) -> pd.DataFrame:
    cols = ["mean_delta_completed", "mean_delta_not_completed", "difference", "se_difference", "ci_low",
            "ci_high"]
    if adjusted:
        cols += ["difference_adjusted", "se_difference_adjusted", "ci_low_adjusted", "ci_high_adjusted"]
    header = ["content_id", "area", "n_completed", "n_not_completed", *cols, "suppressed"]
    if events is None or changes.empty:
        return pd.DataFrame(columns=header)
    done = completions_frame(events)
    windows = changes.drop_duplicates("learner_id").set_index("learner_id")[["before_at", "after_at"]]
    done = done[done["learner_id"].isin(windows.index)]
    w = windows.loc[done["learner_id"]]
    between = (done["completed_at"].to_numpy() > w["before_at"].to_numpy()) & \
              (done["completed_at"].to_numpy() <= w["after_at"].to_numpy())
    done = done[between]
    lids, area = changes["learner_id"].to_numpy(), changes["area"].to_numpy()
    delta = changes["delta"].to_numpy()
    adj = changes["delta_adjusted"].to_numpy() if adjusted else None
    rows = []
    for cid, who in done.groupby("content_id", sort=True)["learner_id"]:
        took = np.isin(lids, who.to_numpy())
        areas = pd.unique(area)
        if content_areas is not None and content_areas.get(cid):
            areas = [a for a in areas if a in content_areas[cid]]
        for a in areas:
            m1, m0 = (area == a) & took, (area == a) & ~took
            hide = bool(suppression_mask([m1.sum(), m0.sum()], min_size).any())
            vals = _difference(delta, m1, m0, z)
            if adjusted:
                vals += _difference(adj, m1, m0, z)[2:]
            if hide:
                vals = [np.nan] * len(vals)
            n1, n0 = (pd.NA, pd.NA) if hide else (int(m1.sum()), int(m0.sum()))
            rows.append([cid, a, n1, n0, *vals, hide])
    out = pd.DataFrame(rows, columns=header)
    return out.astype({"n_completed": "Int64", "n_not_completed": "Int64"})


def _difference(x: np.ndarray, m1: np.ndarray, m0: np.ndarray, z: float) -> list[float]:
    """mean(x[m1]), mean(x[m0]), their difference, its Welch SE and CI."""
    a, sa = _mean_se(x[m1])
    b, sb = _mean_se(x[m0])
    diff, se = a - b, float(np.hypot(sa, sb))
    return [a, b, diff, se, diff - z * se, diff + z * se]


def as_records(frame: pd.DataFrame) -> list[dict]:
    """JSON-ready rows: NaN/NaT -> None, numpy scalars -> Python, timestamps -> ISO 8601."""
    out = []
    for rec in frame.to_dict(orient="records"):
        clean = {}
        for k, v in rec.items():
            if isinstance(v, pd.Timestamp):
                v = None if pd.isna(v) else v.isoformat()
            elif v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
                v = None
            elif isinstance(v, np.generic):
                v = v.item()
            clean[k] = v
        out.append(clean)
    return out

