"""Learning events from platforms (idempotent by event id within an organisation)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.auth import Principal, require
from api.deps import DbSession, MetricsDep
from api.persistence.learners import ensure_learner
from api.persistence.tables import LearningEvent
from api.problems import PROBLEM_MEDIA_TYPE, ProblemError
from api.schemas import LearningEventBatch, LearningEventsAccepted

router = APIRouter(tags=["events"])
_PROBLEM = {"content": {PROBLEM_MEDIA_TYPE: {}}}


def _existing(db: Session, org_id: int, event_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(event_ids), 500):  # bounded IN lists
        chunk = event_ids[start : start + 500]
        found.update(
            db.scalars(
                select(LearningEvent.event_id).where(
                    LearningEvent.org_id == org_id, LearningEvent.event_id.in_(chunk)
                )
            )
        )
    return found


@router.post(
    "/v1/learning-events",
    response_model=LearningEventsAccepted,
    responses={
        401: {**_PROBLEM, "description": "missing or bad API key"},
        403: {**_PROBLEM, "description": "key lacks the scope"},
        422: {**_PROBLEM, "description": "invalid event"},
    },
    summary="Record a batch of learning events (a repeated event_id is ignored)",
)
def post_events(
    body: LearningEventBatch,
    db: DbSession,
    metrics: MetricsDep,
    principal: Principal = Depends(require("events")),
) -> LearningEventsAccepted:
    batch = list({e.event_id: e for e in reversed(body.events)}.values())[::-1]  # first of duplicates wins
    learners = {
        lid: ensure_learner(db, principal.org_id, lid).id
        for lid in dict.fromkeys(e.learner_id for e in batch)
    }
    for _attempt in range(3):
        known = _existing(db, principal.org_id, [e.event_id for e in batch])
        fresh = [e for e in batch if e.event_id not in known]
        db.add_all(
            LearningEvent(
                org_id=principal.org_id,
                learner_id=learners[e.learner_id],
                event_id=e.event_id,
                content_id=e.content_id,
                event=e.event,
                value=e.value,
                timestamp=e.timestamp,
            )
            for e in fresh
        )
        try:
            db.commit()
            break
        except IntegrityError:  # a concurrent batch stored some of the same event ids: recount and retry
            db.rollback()
    else:  # pragma: no cover - three lost races in a row
        raise ProblemError(409, "concurrent-update", "events were being stored concurrently; retry the batch")
    metrics.events.inc(len(fresh))
    return LearningEventsAccepted(accepted=len(fresh), duplicates=len(body.events) - len(fresh))
