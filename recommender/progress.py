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
    last_completed_at, n_overdue`` (``share_completed`` NaN for an empty pathway: nothing to do;
    ``n_overdue``: open steps whose deadline has passed).
    ``units``: per group, learners with a non-empty pathway, mean/median share completed, share who started
    and share who finished their pathway, steps and overdue steps (suppressed below the minimum group size).
    """

    learners: pd.DataFrame
    units: pd.DataFrame
    min_group_size: int
    table_names = ("learners", "units")


def _pathway_frame(pathways) -> pd.DataFrame:
    """``learner_id, content_id, step, deadline``; hidden steps (a plan's ``hidden``) are left out."""
    if isinstance(pathways, pd.DataFrame):
        frame = pathways.copy()
        for col in ("learner_id", "content_id"):
            if col not in frame.columns:
                raise ValidationError("missing column", where="pathways", field=col)
        if "step" not in frame.columns:
            frame["step"] = frame.groupby("learner_id").cumcount() + 1
        if "hidden" in frame.columns:
            frame = frame[~frame["hidden"].fillna(False).astype(bool)]
        if "deadline" not in frame.columns:
            frame["deadline"] = None
    else:
        rows = []
        for lid, steps in pathways.items():
            for s, step in enumerate(steps):
                if isinstance(step, Mapping):
                    if step.get("hidden"):
                        continue
                    rows.append((str(lid), step.get("content_id"), s + 1, step.get("deadline")))
                else:
                    rows.append((str(lid), step, s + 1, None))
        frame = pd.DataFrame(rows, columns=["learner_id", "content_id", "step", "deadline"])
    frame = frame.reset_index(drop=True)
    frame["deadline"] = timestamps(frame["deadline"].astype(object), "pathways", "deadline")
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
                     min_group_size: int = DEFAULT_MIN_GROUP_SIZE, now=None) -> PathwayProgress:  # noqa: ANN001
    """Progress along recommended pathways or stored plans.

    ``pathways``: ``{learner_id: [content_id | PathwayStep dict | plan step dict, ...]}`` or a frame
    ``learner_id, content_id[, step][, hidden][, deadline]``; learners not in it have no pathway; a plan's
    hidden steps do not count. ``since``: optional ``{learner_id: time}`` the pathway was recommended;
    completions before it do not count. ``now`` (default: the current time): what "overdue" is judged by.
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
    now = pd.Timestamp.now(tz="UTC") if now is None else timestamps([now], "now", "now").iloc[0]
    steps["overdue"] = ~steps["completed"] & steps["deadline"].notna() & (steps["deadline"] < now)
    per = steps.groupby("learner_id", sort=False).agg(n_steps=("content_id", "size"),
                                                       n_completed=("completed", "sum"),
                                                       last_completed_at=("completed_at", "max"),
                                                       n_overdue=("overdue", "sum"))
    nxt = steps[~steps["completed"]].groupby("learner_id", sort=False)["content_id"].first()
    out = people.join(per, on="learner_id")
    out["n_steps"] = out["n_steps"].fillna(0).astype(int)
    out["n_completed"] = out["n_completed"].fillna(0).astype(int)
    out["n_overdue"] = out["n_overdue"].fillna(0).astype(int)
    out["share_completed"] = np.where(out["n_steps"] > 0, out["n_completed"] / out["n_steps"].clip(lower=1),
                                      np.nan)
    out["next_content_id"] = out["learner_id"].map(nxt)
    out = out[["learner_id", "role", "unit", "n_steps", "n_completed", "share_completed", "next_content_id",
               "last_completed_at", "n_overdue"]]

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
            late_g = active["n_overdue"].to_numpy()[m]
            rows.append((grouping, g, len(s), float(s.mean()), float(np.median(s)), float((s > 0).mean()),
                         float((s >= 1).mean()), int(steps_g.sum()), int(done_g.sum()), int(late_g.sum())))
    cols = ["mean_share_completed", "median_share_completed", "share_started", "share_finished",
            "steps", "steps_completed", "steps_overdue"]
    units = pd.DataFrame(rows, columns=["grouping", "group", "n", *cols])
    units = suppress_partition(units, ["grouping"], "n", cols, min_size, members=members)
    return PathwayProgress(out.reset_index(drop=True), units, min_size)



# ============================================================================ plans (issue 18)
# A plan is a pathway someone accepted: a list of step dicts (``plan_step``). Updates and adjustments are
# pure functions of the steps, so the service, a notebook and the tests compute them the same way.
STEP_FIELDS = ("content_id", "competence", "competence_name", "level", "title", "reason", "score", "origin",
               "pinned", "hidden", "deadline", "changed_by", "changed_at")
ADJUSTMENTS = ("pin", "unpin", "hide", "unhide", "add", "move", "deadline")


def plan_step(step, *, origin: str = "recommended") -> dict:
    """A plan step from a ``PathwayStep`` (or its dict): what was recommended, and why, plus the fields
    people steer (pinned, hidden, deadline, who changed it last)."""
    d = step.to_dict() if hasattr(step, "to_dict") else dict(step)
    out = {k: d.get(k) for k in STEP_FIELDS}
    out["content_id"] = str(out["content_id"])
    out["level"] = None if out["level"] is None else int(out["level"])
    out["score"] = None if out["score"] is None else float(out["score"])
    out["origin"] = d.get("origin") or origin
    out["pinned"] = bool(d.get("pinned", False))
    out["hidden"] = bool(d.get("hidden", False))
    return out


def content_step(catalogue, content_id: str, competence_names: Mapping[str, str] | None = None) -> dict:
    """A plan step for a content someone adds by hand (``UnknownIdError`` if the catalogue lacks it): its
    first competence and its level, from the catalogue."""
    i = catalogue.position(content_id)
    comps = catalogue.competences[i]
    comp = comps[0] if comps else None
    return plan_step({"content_id": content_id, "competence": comp,
                      "competence_name": (competence_names or {}).get(comp, "") if comp else "",
                      "level": int(catalogue.level[i]), "title": str(catalogue.titles[i]),
                      "reason": "added by hand", "score": None}, origin="added")


def _held(step: Mapping, completed: set[str]) -> bool:
    """Steps an update must not drop or move: people decided on them, or they are done."""
    return bool(step.get("pinned") or step.get("hidden") or step.get("origin") == "added"
                or step["content_id"] in completed)


def propose_plan(current: list[Mapping], recommended: list, completed=(), available=None) -> list[dict]:
    """The updated plan new evidence proposes: the freshly recommended steps, merged with what people
    decided on the current plan.

    Steps that are pinned, hidden, added by hand or already completed stay, at their position (a hidden
    step stays hidden: the recommendation does not bring it back); the other positions are filled with
    the recommended steps in their order. A recommended content already in the plan keeps its deadline.
    Where the fresh pathway asks for the same competence and level as an open step of the plan, the plan's
    content stays (if ``available``, the content ids that may still be served, holds it): a plan should not
    swap one equivalent content for another because collaborative-filtering scores moved a little.
    """
    completed = {str(c) for c in completed}
    current = [plan_step(s) for s in current]
    held = [(i, s) for i, s in enumerate(current) if _held(s, completed)]
    held_ids = {s["content_id"] for _, s in held}
    before = {s["content_id"]: s for s in current}
    recommended_ids = {plan_step(s)["content_id"] for s in recommended}
    open_by_slot: dict[tuple, list[dict]] = {}
    for s in current:  # open steps whose content the fresh pathway dropped, by (competence, level)
        if (s["content_id"] not in held_ids and s["content_id"] not in recommended_ids
                and (available is None or s["content_id"] in available)):
            open_by_slot.setdefault((s["competence"], s["level"]), []).append(s)
    fresh, seen = [], set(held_ids)
    for step in recommended:
        s = plan_step(step)
        if s["content_id"] in seen:
            continue
        kept = open_by_slot.get((s["competence"], s["level"]))
        if kept:
            s = kept.pop(0)
        seen.add(s["content_id"])
        old = before.get(s["content_id"])
        if old is not None and old.get("deadline"):
            s.update({k: old[k] for k in ("deadline", "changed_by", "changed_at")})
        fresh.append(s)
    n = len(held) + len(fresh)
    slots: list[dict | None] = [None] * n
    taken = 0
    for k, (i, s) in enumerate(held):  # in plan order: at its index, after the previous, leaving room
        j = max(min(i, n - (len(held) - k)), taken)
        slots[j] = s
        taken = j + 1
    it = iter(fresh)
    return [s if s is not None else next(it) for s in slots]


@dataclass
class PlanDifference:
    """What an updated plan changes, step by step, and why (readable lines in ``summary``).

    ``added``/``removed``: ``{content_id, position, competence, level, title, why}``; ``reordered``:
    ``{content_id, from_position, to_position, why}`` for the steps both plans share whose order among
    the shared steps changed; positions count the visible steps from 1.
    """

    added: list[dict]
    removed: list[dict]
    reordered: list[dict]
    unchanged: int

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.reordered)

    @property
    def summary(self) -> list[str]:
        lines = [f"+ {a['content_id']} ({a['competence']} level {a['level']}) at step {a['position']}: "
                 f"{a['why']}" for a in self.added]
        lines += [f"- {r['content_id']} ({r['competence']} level {r['level']}), was step {r['position']}: "
                  f"{r['why']}" for r in self.removed]
        lines += [f"~ {m['content_id']}: step {m['from_position']} -> {m['to_position']}: {m['why']}"
                  for m in self.reordered]
        return lines or ["no change"]

    def to_dict(self) -> dict:
        return {"added": self.added, "removed": self.removed, "reordered": self.reordered,
                "unchanged": self.unchanged, "summary": self.summary}


def _level_text(v) -> str:  # noqa: ANN001
    return "unknown" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{float(v):g}"


def plan_difference(current: list[Mapping], proposed: list[Mapping], *,
                    levels: Mapping[str, float] | None = None,
                    catalogue_ids=None) -> PlanDifference:  # noqa: ANN001
    """The difference between the visible steps of two plans, with a reason for each change.

    ``levels``: the learner's level per competence on the new evidence (e.g. the latest diagnostic), to
    say why a step went (the level reached) or came (a gap); ``catalogue_ids``: the content the served
    recommender knows (a step whose content left the catalogue says so).
    """
    cur = [plan_step(s) for s in current if not s.get("hidden")]
    new = [plan_step(s) for s in proposed if not s.get("hidden")]
    pos_cur = {s["content_id"]: i + 1 for i, s in enumerate(cur)}
    pos_new = {s["content_id"]: i + 1 for i, s in enumerate(new)}
    known = None if catalogue_ids is None else {str(c) for c in catalogue_ids}
    levels = dict(levels or {})
    gone = [s for s in cur if s["content_id"] not in pos_new]
    came = [s for s in new if s["content_id"] not in pos_cur]
    gone_at = {(s["competence"], s["level"]): s for s in gone}
    came_at = {(s["competence"], s["level"]): s for s in came}
    comps_before = {s["competence"] for s in cur}

    removed = []
    for s in gone:
        lv = levels.get(s["competence"])
        twin = came_at.get((s["competence"], s["level"]))
        if lv is not None and not np.isnan(lv) and s["level"] is not None and lv >= s["level"]:
            why = (f"the learner's level in {s['competence']} is now {_level_text(lv)}: a level-{s['level']} "
                   "step is no longer needed")
        elif known is not None and s["content_id"] not in known:
            why = "the content is no longer in the catalogue"
        elif twin is not None:
            why = f"replaced by {twin['content_id']} for {s['competence']} level {s['level']}"
        else:
            why = "no longer recommended for the learner's current gaps"
        removed.append({"content_id": s["content_id"], "position": pos_cur[s["content_id"]],
                        "competence": s["competence"], "level": s["level"], "title": s["title"], "why": why})
    added, explained = [], set(comps_before)   # a new gap is named once, at its first step
    for s in came:
        twin = gone_at.get((s["competence"], s["level"]))
        lv = levels.get(s["competence"])
        if s["origin"] == "added":
            why = "added by hand"
        elif twin is not None:
            why = f"replaces {twin['content_id']} for {s['competence']} level {s['level']}"
        elif s["competence"] not in explained:
            why = (f"new gap: {s['competence']} is at level {_level_text(lv)}, the target needs level "
                   f"{s['level']} or more")
        else:
            why = f"another step towards {s['competence']} level {s['level']}"
        explained.add(s["competence"])
        added.append({"content_id": s["content_id"], "position": pos_new[s["content_id"]],
                      "competence": s["competence"], "level": s["level"], "title": s["title"], "why": why})

    # among the steps both plans keep, the fewest that moved: those outside a longest common subsequence
    shared_cur = [s["content_id"] for s in cur if s["content_id"] in pos_new]
    shared_new = [s["content_id"] for s in new if s["content_id"] in pos_cur]
    stayed = _longest_common_subsequence(shared_cur, shared_new)
    rank_cur = {c: i for i, c in enumerate(shared_cur)}
    comp_rank_cur = _competence_order(cur)
    comp_rank_new = _competence_order(new)
    by_id = {s["content_id"]: s for s in new}
    reordered = []
    for i, c in enumerate(shared_new):
        if c in stayed:
            continue
        comp = by_id[c]["competence"]
        up = i < rank_cur[c]
        if comp_rank_cur.get(comp) != comp_rank_new.get(comp):
            why = (f"the gap in {comp} now comes {'earlier' if up else 'later'} among the learner's gaps "
                   "(largest first)")
        else:
            why = f"moved {'up' if up else 'down'} as other steps came or went"
        reordered.append({"content_id": c, "from_position": pos_cur[c], "to_position": pos_new[c],
                          "why": why})
    return PlanDifference(added, removed, reordered, len(shared_new) - len(reordered))


def _longest_common_subsequence(a: list[str], b: list[str]) -> set[str]:
    """The items of one longest common subsequence of two orderings of the same ids (dynamic programming;
    plans are tens of steps)."""
    n, m = len(a), len(b)
    table = np.zeros((n + 1, m + 1), dtype=np.int32)
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            table[i, j] = table[i + 1, j + 1] + 1 if a[i] == b[j] else max(table[i + 1, j], table[i, j + 1])
    out, i, j = set(), 0, 0
    while i < n and j < m:
        if a[i] == b[j]:
            out.add(a[i])
            i, j = i + 1, j + 1
        elif table[i + 1, j] >= table[i, j + 1]:
            i += 1
        else:
            j += 1
    return out


def _competence_order(steps: list[Mapping]) -> dict[str, int]:
    order: dict[str, int] = {}
    for s in steps:
        if s.get("origin") != "added":
            order.setdefault(s["competence"], len(order))
    return order


def adjust_plan(steps: list[Mapping], changes: list[Mapping], *, author: Mapping, at: str,  # noqa: ANN001
                catalogue=None, competence_names: Mapping[str, str] | None = None,
                ) -> tuple[list[dict], list[dict]]:
    """Apply people's adjustments to a plan: returns the new steps and what each change did.

    ``changes``: ``{op, content_id[, position][, deadline]}`` with ``op`` one of ``pin, unpin, hide,
    unhide, add, move, deadline``; ``position`` counts all steps (hidden ones too) from 1. A moved or
    added step is pinned (an update keeps it where it was put). ``author`` (who, e.g. ``{key_id, name,
    scope}``) and ``at`` (ISO time) are written on each step changed. ``ValidationError`` names the
    change (``changes[i]``) and field; nothing is applied then.
    """
    out = [plan_step(s) for s in steps]
    applied = []
    for i, ch in enumerate(changes):
        where = f"changes[{i}]"
        op, cid = ch.get("op"), str(ch.get("content_id") or "")
        if op not in ADJUSTMENTS:
            raise ValidationError(f"unknown operation {op!r}; one of {', '.join(ADJUSTMENTS)}", where=where,
                                  field="op")
        index = {s["content_id"]: k for k, s in enumerate(out)}
        if op == "add":
            if cid in index:
                raise ValidationError(f"{cid!r} is already in the plan", where=where, field="content_id")
            if catalogue is None:
                raise ValidationError("no catalogue to add content from", where=where, field="content_id")
            try:
                step = content_step(catalogue, cid, competence_names)
            except KeyError:
                raise ValidationError(f"unknown content {cid!r}", where=where, field="content_id") from None
            step["pinned"] = True
            step["deadline"] = ch.get("deadline")
            pos = _position(ch.get("position"), len(out) + 1, where)
            out.insert(pos - 1, step)
            k, record = pos - 1, {"op": op, "content_id": cid, "position": pos}
        else:
            if cid not in index:
                raise ValidationError(f"{cid!r} is not a step of the plan", where=where, field="content_id")
            k = index[cid]
            record = {"op": op, "content_id": cid}
            if op in ("pin", "unpin"):
                out[k]["pinned"] = op == "pin"
            elif op in ("hide", "unhide"):
                out[k]["hidden"] = op == "hide"
            elif op == "move":
                pos = _position(ch.get("position"), len(out), where)
                step = out.pop(k)
                step["pinned"] = True
                out.insert(pos - 1, step)
                record.update(from_position=k + 1, to_position=pos)
                k = pos - 1
            elif op == "deadline":
                record.update(previous=out[k].get("deadline"), deadline=ch.get("deadline"))
                out[k]["deadline"] = ch.get("deadline")
        if op == "add" and ch.get("deadline"):
            record["deadline"] = ch.get("deadline")
        out[k]["changed_by"] = dict(author)
        out[k]["changed_at"] = at
        applied.append(record)
    return out, applied


def _position(value, n: int, where: str) -> int:  # noqa: ANN001
    if value is None:
        return n
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= n:
        raise ValidationError(f"position must be a whole number in 1..{n}", where=where, field="position")
    return value


def plan_status(steps: list[Mapping], completed: Mapping[str, object]) -> dict:
    """Progress against a stored plan: per visible step done or not (``completed``: content id -> when),
    counts and the next step. Hidden steps are listed but do not count."""
    rows, n, done, nxt = [], 0, 0, None
    for s in steps:
        s = plan_step(s)
        at = completed.get(s["content_id"])
        status = "hidden" if s["hidden"] else ("completed" if at is not None else "open")
        if not s["hidden"]:
            n += 1
            done += at is not None
            if at is None and nxt is None:
                nxt = s["content_id"]
        rows.append({**s, "status": status, "completed_at": at})
    return {"steps": rows, "n_steps": n, "n_completed": done,
            "share_completed": done / n if n else None, "next_content_id": nxt}
