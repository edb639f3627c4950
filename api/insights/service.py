"""Read one organisation's data from the service database into the plain inputs of ``analytics``.

Every query filters by ``org_id``: another organisation's learners, diagnostics and events never enter.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.persistence.tables import ApiKey, DiagnosticSession, Learner, LearningEvent, LearningPlan


@dataclass
class OrganisationData:
    learners: pd.DataFrame          # learner_id (external id), role, unit
    diagnostics: list[dict]         # learner_id, diagnostic_id, finished_at, profile (finished only)
    events: pd.DataFrame            # learner_id, content_id, event, value, timestamp


def load_organisation(db: Session, org_id: int, *, events: bool = True) -> OrganisationData:
    rows = db.execute(
        select(Learner.id, Learner.external_id, Learner.role, Learner.unit).where(Learner.org_id == org_id)
    ).all()
    external = {r.id: r.external_id for r in rows}
    learners = pd.DataFrame([(r.external_id, r.role, r.unit) for r in rows],
                            columns=["learner_id", "role", "unit"])
    sessions = db.execute(
        select(DiagnosticSession.id, DiagnosticSession.learner_id, DiagnosticSession.finished_at,
               DiagnosticSession.result)
        .where(DiagnosticSession.org_id == org_id, DiagnosticSession.status == "finished",
               DiagnosticSession.result.is_not(None))
        .order_by(DiagnosticSession.finished_at)
    ).all()
    diagnostics = [{"learner_id": external[s.learner_id], "diagnostic_id": s.id, "finished_at": s.finished_at,
                    "profile": s.result} for s in sessions if s.learner_id in external]
    frame = pd.DataFrame(columns=["learner_id", "content_id", "event", "value", "timestamp"])
    if events:
        ev = db.execute(
            select(LearningEvent.learner_id, LearningEvent.content_id, LearningEvent.event,
                   LearningEvent.value, LearningEvent.timestamp)
            .where(LearningEvent.org_id == org_id)
            .order_by(LearningEvent.timestamp)
        ).all()
        frame = pd.DataFrame([(external.get(e.learner_id), e.content_id, e.event, e.value, e.timestamp)
                              for e in ev], columns=frame.columns)
        frame = frame[frame["learner_id"].notna()]
    return OrganisationData(learners, diagnostics, frame)


def recommended_pathways(data: OrganisationData, bundle, learner_key,  # noqa: ANN001
                         targets_for=None) -> tuple[dict, dict]:  # noqa: ANN001
    """Each learner's pathway as recommended from their latest diagnostic, and when (its finish time).

    The pathway is rebuilt from the events *before* that diagnostic, so completing a step later does not
    remove it from the pathway (the learner's own pathway endpoint drops completed steps instead).
    ``targets_for(learner_id)``: the learner's live required levels (``{competence: level}``, their
    role's current profile and objectives) as ``/pathway`` uses them, or None for the bundle's."""
    latest: dict[str, dict] = {}
    for d in data.diagnostics:            # ordered by finish time: the last one wins
        latest[d["learner_id"]] = d
    role = dict(zip(data.learners["learner_id"], data.learners["role"], strict=True))
    ev = data.events
    ev = ev[ev["content_id"].isin(bundle.catalogue.index)]    # content the recommender does not know: ignored
    pathways, since = {}, {}
    for lid, d in latest.items():
        before = ev[(ev["learner_id"] == lid) & (ev["timestamp"] <= d["finished_at"])]
        live = [(c, e, 1.0 if pd.isna(v) else float(v))
                for c, e, v in zip(before["content_id"], before["event"], before["value"], strict=True)]
        targets = targets_for(lid) if targets_for is not None else None
        steps = bundle.pathway(learner_key(lid), d["profile"], role.get(lid), events=live or None,
                               targets=targets)
        pathways[lid] = [s.content_id for s in steps]
        since[lid] = d["finished_at"]
    return pathways, since


def stored_plans(db: Session, org_id: int) -> list[dict]:
    """The organisation's accepted plans as they stand: ``learner_id`` (external id), ``accepted_at``
    (first acceptance), ``updated_at``, ``steps`` (plan step dicts; hidden ones included, flagged)."""
    rows = db.execute(
        select(Learner.external_id, LearningPlan.created_at, LearningPlan.updated_at, LearningPlan.steps)
        .join(Learner, Learner.id == LearningPlan.learner_id)
        .where(LearningPlan.org_id == org_id, Learner.org_id == org_id)
    ).all()
    return [{"learner_id": r.external_id, "accepted_at": r.created_at, "updated_at": r.updated_at,
             "steps": list(r.steps)} for r in rows]


def supervised_units(db: Session, key_id: str) -> list[str]:
    """The units whose learners the key may see one by one (``api_keys.units``; read fresh each time, so
    a change of a supervisor's units applies at once)."""
    units = db.scalar(select(ApiKey.units).where(ApiKey.key_id == key_id))
    return [str(u) for u in units or []]
