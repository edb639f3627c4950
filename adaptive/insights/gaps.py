"""Competence gaps of an organisation: levels per area and the share of learners below their role's
required level per competence, per organisation / role / unit, with small groups suppressed.

``roles``: a :class:`recommender.data.RoleProfiles` (anything with ``role_ids`` and
``required_levels(role)``) or ``{role_id: {competence_id: required_level}}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from adaptive.errors import ValidationError
from adaptive.framework import Framework, load_framework
from adaptive.insights.profiles import as_profile_set
from adaptive.insights.suppression import DEFAULT_MIN_GROUP_SIZE, check_min_size, suppress_partition
from adaptive.insights.tables import NONE_LABEL, TableReport, group_labels, group_sizes, learners_frame


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


# ============================================================================ gap overview
@dataclass
class GapOverview(TableReport):
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
    prof = as_profile_set(profiles, fw).latest()
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
    labels = group_labels(counted)
    groups, hidden = group_sizes(labels, min_size)

    level_rows, comp_rows, level_members, comp_members = [], [], [], []
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
                level_members.append(tested)
                level_rows.append((grouping, g, a, area_names.get(a, ""), int(tested.sum()),
                                   float(theta[tested, k].mean()) if tested.any() else np.nan,
                                   float(lv.mean()) if n_lv else np.nan, *shares))
            for j, c in enumerate(prof.competence_ids):
                mj = m & has_req[:, j]
                nj = int(mj.sum())
                if nj == 0:
                    continue
                comp_members.append(mj)
                comp_rows.append((grouping, g, c, c.split(".")[0], nj, float(required[mj, j].mean()),
                                  float(comp_level[mj, j].mean()), float(below[mj, j].mean()),
                                  float(np.nanmean(p_below[mj, j])), float(gap[mj, j].mean())))
    share_cols = [f"share_level_{i}" for i in range(1, n_levels + 1)]
    levels = pd.DataFrame(level_rows, columns=["grouping", "group", "area", "area_name", "n", "mean_theta",
                                               "mean_level", *share_cols])
    took = levels["n"].to_numpy() > 0                                # areas nobody in the group took
    levels = levels[took].reset_index(drop=True)
    level_members = [v for v, t in zip(level_members, took, strict=True) if t]
    levels = suppress_partition(levels, ["grouping", "area"], "n", ["mean_theta", "mean_level", *share_cols],
                                min_size, hidden, members=level_members)
    comp_cols = ["mean_required", "mean_level", "share_below", "expected_share_below", "mean_gap"]
    competences = pd.DataFrame(comp_rows,
                               columns=["grouping", "group", "competence", "area", "n", *comp_cols])
    competences = suppress_partition(competences, ["grouping", "competence"], "n", comp_cols, min_size,
                                     hidden, members=comp_members)
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

