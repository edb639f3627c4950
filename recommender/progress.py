"""Progress along recommended learning pathways, per learner and per organisation / unit / role
(small groups suppressed). Per-learner rows are individual data for the learner's supervisor."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from adaptive.errors import ValidationError
from adaptive.insights.suppression import DEFAULT_MIN_GROUP_SIZE, check_min_size, suppress_partition
from adaptive.insights.tables import TableReport, completions_frame, group_labels, learners_frame, timestamps


# ============================================================================ pathway progress
@dataclass
class PathwayProgress(TableReport):
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
        start = timestamps(pd.Series(since, dtype=object).reset_index(drop=True), "since", "since")
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
    labels = group_labels(active.reset_index(drop=True))
    rows, members = [], []
    for grouping in ("organisation", "unit", "role"):
        lab = labels[grouping]
        for g in pd.unique(lab):
            m = lab == g
            members.append(m)
            s = active["share_completed"].to_numpy()[m]
            steps_g, done_g = active["n_steps"].to_numpy()[m], active["n_completed"].to_numpy()[m]
            rows.append((grouping, g, len(s), float(s.mean()), float(np.median(s)), float((s > 0).mean()),
                         float((s >= 1).mean()), int(steps_g.sum()), int(done_g.sum())))
    cols = ["mean_share_completed", "median_share_completed", "share_started", "share_finished",
            "steps", "steps_completed"]
    units = pd.DataFrame(rows, columns=["grouping", "group", "n", *cols])
    units = suppress_partition(units, ["grouping"], "n", cols, min_size, members=members)
    return PathwayProgress(out.reset_index(drop=True), units, min_size)

