"""Training impact: change between two diagnostics of the same learner (reliable change index,
prior-free adjusted change), per group and per content completed in between."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from adaptive.change import critical_value, reliable_change, remove_prior
from adaptive.errors import ValidationError
from adaptive.framework import Framework, load_framework
from adaptive.insights.profiles import as_profile_set
from adaptive.insights.suppression import (
    DEFAULT_MIN_GROUP_SIZE,
    check_min_size,
    overlap_mask,
    suppress_partition,
    suppression_mask,
)
from adaptive.insights.tables import (
    GROUPINGS,
    ORGANISATION,
    TableReport,
    completions_frame,
    group_labels,
    group_sizes,
    learners_frame,
    timestamps,
)

OBSERVATIONAL_CAVEAT = (
    "Observational comparison: learners chose (or were assigned) their training, so differences between "
    "those who completed a content and those who did not may reflect who took it, not what it did."
)
PLAN_CAVEAT = (
    "Observational comparison: learners who followed their plan differ from those who did not in more than "
    "the plan (motivation, time, their supervisor's support, how far they had to go), so the difference is "
    "an association, not the effect of following a plan."
)
FOLLOWED_SHARE = 0.5



# ============================================================================ training impact
@dataclass
class TrainingImpact(TableReport):
    """Change between two diagnostics of the same learner, per area.

    ``changes`` (per learner and area): ``delta = theta_after - theta_before``, ``se_delta =
    sqrt(se_before^2 + se_after^2)``, the reliable change index ``rci = delta / se_delta`` and
    ``change`` = improved / declined / none by ``|rci| > z`` (z = 1.96 at 95%).
    ``groups``: per organisation/role/unit and area, mean change with its standard error (between-learner
    SD / sqrt n) and confidence interval, shares reliably improved / declined.
    ``contents``: per content and area, mean change of the learners who completed it between their two
    diagnostics against those who did not (difference, Welch SE, CI). Observational: see ``caveat``.
    ``plans`` (with stored plans given): per area, mean change of the learners who followed their plan
    between their two diagnostics (completed at least ``followed_share`` of its visible steps) against
    those with a plan who did not, and the mean of those without a plan then. Observational too: see
    ``plan_caveat``.

    With the diagnostic's ``prior`` known, ``*_adjusted`` columns give the same figures on prior-free
    (likelihood) thetas (:func:`adaptive.change.remove_prior`): posterior means shrink a gain toward
    zero, so the plain ``delta`` understates training effects; the adjusted ones do not (but are noisier).
    """

    changes: pd.DataFrame
    groups: pd.DataFrame
    contents: pd.DataFrame
    confidence: float
    min_group_size: int
    caveat: str = OBSERVATIONAL_CAVEAT
    plans: pd.DataFrame | None = None
    followed_share: float = FOLLOWED_SHARE
    plan_caveat: str = PLAN_CAVEAT
    table_names = ("changes", "groups", "contents", "plans")

    def __post_init__(self) -> None:
        if self.plans is None:
            self.plans = _impact_plans(pd.DataFrame(), None, None, 1.96, 1, False, self.followed_share)


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
                    min_group_size: int = DEFAULT_MIN_GROUP_SIZE, plans=None,
                    followed_share: float = FOLLOWED_SHARE) -> TrainingImpact:
    """Compare two finished diagnostics per learner (``pairing``: ``first-last`` or ``last-two``).

    ``diagnostics``: records with ``learner_id, profile, finished_at`` (several per learner; learners with
    one are skipped). ``events``: learning events, for the per-content comparison (completions strictly
    after the first diagnostic and up to the second). ``catalogue``: optional, restricts each content's
    comparison to the areas it develops. ``prior``: optional ``(mean (D,), cov (D, D))`` over the
    framework's areas that the diagnostics used (``adaptive.cat.start.prior``), for the adjusted columns.
    ``plans``: stored plans, records ``learner_id, accepted_at, steps`` (content ids or step dicts; hidden
    steps do not count), for the ``plans`` table: a learner followed their plan when, between the later of
    the plan's acceptance and the first diagnostic and the second diagnostic, they completed at least
    ``followed_share`` of its steps; a plan accepted after the second diagnostic (or without steps) counts
    as no plan for that change.
    """
    if not 0 < followed_share <= 1:
        raise ValidationError(f"must be in (0, 1], got {followed_share!r}", field="followed_share")
    min_size = check_min_size(min_group_size)
    z = critical_value(confidence)
    if pairing not in ("first-last", "last-two"):
        raise ValidationError(f"must be 'first-last' or 'last-two', got {pairing!r}", field="pairing")
    fw = framework or load_framework()
    people = learners_frame(learners)
    prof = as_profile_set(diagnostics, fw)
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
    plan_table = _impact_plans(changes, events, plans, z, min_size, adjusted, followed_share)
    return TrainingImpact(changes, groups, contents, confidence, min_size, plans=plan_table,
                          followed_share=followed_share)


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    n = len(x)
    return float(x.mean()) if n else np.nan, float(x.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan


def _impact_groups(changes: pd.DataFrame, z: float, min_size: int, adjusted: bool) -> pd.DataFrame:
    # groups are defined by the learners with a retest (one row per learner and area)
    learners = changes.drop_duplicates("learner_id")[["learner_id", "role", "unit"]].reset_index(drop=True)
    _, hidden = group_sizes(group_labels(learners), min_size)
    area = changes["area"].to_numpy()
    delta = changes["delta"].to_numpy()
    adj = changes["delta_adjusted"].to_numpy() if adjusted else None
    rows, members = [], []
    for grouping in GROUPINGS:
        lab = (np.full(len(changes), ORGANISATION, dtype=object) if grouping == "organisation"
               else changes[grouping].to_numpy(dtype=object))
        for g in pd.unique(lab):
            for a in pd.unique(area):
                m = (lab == g) & (area == a)
                members.append(m)
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
    return suppress_partition(frame, ["grouping", "area"], "n", cols, min_size, hidden, members=members)


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
    rows, members = [], []
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
            members.append(m1)
    out = pd.DataFrame(rows, columns=header)
    if len(out):   # two contents whose completers differ by a few people would give those few away
        for _, pos in pd.Series(np.arange(len(out))).groupby(out["area"].to_numpy()):
            pos = pos.to_numpy()
            shown_before = out["suppressed"].to_numpy()[pos]
            mask = overlap_mask(np.vstack([members[i] for i in pos]), min_size, shown_before)
            out.loc[pos[mask], "suppressed"] = True
        hide = out["suppressed"].to_numpy()
        out.loc[hide, cols] = np.nan
        out.loc[hide, ["n_completed", "n_not_completed"]] = pd.NA
    return out.astype({"n_completed": "Int64", "n_not_completed": "Int64"})


def _difference(x: np.ndarray, m1: np.ndarray, m0: np.ndarray, z: float) -> list[float]:
    """mean(x[m1]), mean(x[m0]), their difference, its Welch SE and CI."""
    a, sa = _mean_se(x[m1])
    b, sb = _mean_se(x[m0])
    diff, se = a - b, float(np.hypot(sa, sb))
    return [a, b, diff, se, diff - z * se, diff + z * se]



def plan_adherence(changes: pd.DataFrame, events, plans,  # noqa: ANN001
                   followed_share: float = FOLLOWED_SHARE) -> pd.DataFrame:
    """Per learner with a retest: ``learner_id, plan_steps, plan_completed, followed`` (``followed`` None:
    no plan accepted before the second diagnostic, or one without visible steps)."""
    if changes.empty:
        return pd.DataFrame({"learner_id": pd.Series(dtype=object), "plan_steps": pd.Series(dtype=int),
                             "plan_completed": pd.Series(dtype=int), "followed": pd.Series(dtype=object)})
    windows = changes.drop_duplicates("learner_id").set_index("learner_id")[["before_at", "after_at"]]
    out = pd.DataFrame({"learner_id": windows.index.astype(str), "plan_steps": 0, "plan_completed": 0,
                        "followed": pd.Series([None] * len(windows), dtype=object)})
    if plans is None:
        return out
    records = plans.to_dict(orient="records") if isinstance(plans, pd.DataFrame) else list(plans)
    done = completions_frame(events if events is not None else [])
    done = dict(zip(zip(done["learner_id"], done["content_id"], strict=True), done["completed_at"],
                    strict=True))
    pos = {lid: i for i, lid in enumerate(out["learner_id"])}
    for i, rec in enumerate(records):
        lid = str(rec.get("learner_id"))
        if lid not in pos:
            continue
        accepted = timestamps([rec.get("accepted_at")], "plans", "accepted_at").iloc[0]
        if pd.isna(accepted):
            raise ValidationError("needed to tell whether the plan came before the retest", where="plans",
                                  row=i + 1, field="accepted_at")
        before, after = windows.loc[lid, "before_at"], windows.loc[lid, "after_at"]
        steps = [s.get("content_id") if isinstance(s, Mapping) else s for s in rec.get("steps") or []
                 if not (isinstance(s, Mapping) and s.get("hidden"))]
        steps = list(dict.fromkeys(str(c) for c in steps))
        if accepted > after or not steps:
            continue
        start = max(accepted, before)
        n_done = sum(1 for c in steps if (at := done.get((lid, c))) is not None and start < at <= after)
        k = pos[lid]
        out.loc[k, ["plan_steps", "plan_completed"]] = [len(steps), n_done]
        out.at[k, "followed"] = bool(n_done >= followed_share * len(steps))
    return out


def _impact_plans(changes: pd.DataFrame, events, plans, z: float, min_size: int, adjusted: bool,
                  followed_share: float) -> pd.DataFrame:
    cols = ["mean_delta_followed", "mean_delta_not_followed", "mean_delta_without_plan", "difference",
            "se_difference", "ci_low", "ci_high"]
    if adjusted:
        cols += ["difference_adjusted", "se_difference_adjusted", "ci_low_adjusted", "ci_high_adjusted"]
    counts = ["n_followed", "n_not_followed", "n_without_plan"]
    header = ["area", *counts, *cols, "suppressed"]
    if plans is None or changes.empty:
        return pd.DataFrame(columns=header)
    who = plan_adherence(changes, events, plans, followed_share).set_index("learner_id")["followed"]
    followed = changes["learner_id"].map(who).to_numpy(dtype=object)
    yes = np.array([f is True for f in followed])
    no = np.array([f is False for f in followed])
    area = changes["area"].to_numpy()
    delta = changes["delta"].to_numpy()
    adj = changes["delta_adjusted"].to_numpy() if adjusted else None
    rows = []
    for a in pd.unique(area):
        m1, m0 = (area == a) & yes, (area == a) & no
        m2 = (area == a) & ~yes & ~no
        n = [int(m1.sum()), int(m0.sum()), int(m2.sum())]
        # any group of 1..min_size-1 people hides the row: with the organisation's total (groups table)
        # the other two would give its count and mean away
        hide = any(0 < k < min_size for k in n)
        vals = _difference(delta, m1, m0, z)
        vals = [*vals[:2], _mean_se(delta[m2])[0], *vals[2:]]
        if adjusted:
            vals += _difference(adj, m1, m0, z)[2:]
        if hide:
            vals, n = [np.nan] * len(vals), [pd.NA] * 3
        rows.append([a, *n, *vals, hide])
    return pd.DataFrame(rows, columns=header).astype({c: "Int64" for c in counts})
