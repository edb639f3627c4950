"""Data-subject rights and the audit log: erase a learner, export what is held about them, read the log.

All three need the ``admin`` scope of the learner's organisation (the platform acting on a data-subject
request, or its data protection officer); every call is itself audit-logged in the same transaction.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from api.audit import record
from api.auth import Principal, require
from api.deps import DbSession, Diagnostics, Provider, ServicesDep
from api.persistence.learners import get_learner
from api.persistence.tables import AuditEntry
from api.privacy import erase_learner, learner_export, learner_target
from api.problems import PROBLEM_MEDIA_TYPE, ProblemError
from api.routers.admin import _csv_export
from api.routers.learners import LearnerId, model_learner_key

router = APIRouter(tags=["privacy"])
Admin = Annotated[Principal, Depends(require("admin"))]
_PROBLEM = {"content": {PROBLEM_MEDIA_TYPE: {}}}
_ERRORS = {
    401: {**_PROBLEM, "description": "missing or bad API key"},
    403: {**_PROBLEM, "description": "admin scope needed"},
    404: {**_PROBLEM, "description": "unknown learner (or already erased)"},
    422: {**_PROBLEM, "description": "invalid request"},
}
AUDIT_COLUMNS = ("at", "key_id", "action", "target", "detail")


class RecommenderHold(BaseModel):
    model_version: str
    holds_learner: bool = Field(description="the served recommender was trained with the learner's events; "
                                "it keeps them (as model factors) until the next retraining")


class Erasure(BaseModel):
    erasure_id: str = Field(description="receipt: earlier audit entries about the learner now carry it")
    erased_at: str
    deleted: dict[str, int] = Field(description="rows deleted per table")
    anonymised_responses: int = Field(description="response-log rows kept for calibration, anonymised")
    anonymous_persons: int
    audit_entries_renamed: int
    recommender: RecommenderHold | None = Field(None, description="None: no recommender is served")


class AuditPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[dict[str, Any]]


@router.delete("/v1/learners/{learner_id}", response_model=Erasure, responses=_ERRORS,
               summary="Erase a learner (GDPR Art. 17): sessions, responses, events, results",
               description="Everything that hangs off the learner is deleted; the response log is kept for "
               "calibration only, irreversibly anonymised (random person id, no session, month only). "
               "A running diagnostic of the learner stops (its next answer gets 404).")
def erase(learner_id: LearnerId, db: DbSession, diagnostics: Diagnostics, provider: Provider,
          principal: Admin) -> dict:
    learner = get_learner(db, principal.org_id, learner_id)
    receipt, sessions = erase_learner(db, principal, learner)
    receipt["recommender"] = recommender_hold(provider, principal, learner_id)
    db.commit()
    for session_id in sessions:   # this worker's live copy goes too (others' are stale by version)
        diagnostics.cache.take(session_id, -1)
    return receipt


@router.get("/v1/learners/{learner_id}/export", responses=_ERRORS,
            summary="Everything held about a learner (GDPR Art. 15), as JSON",
            description="Every row of every table that belongs to the learner, the audit entries about "
            "them, and the fields withheld with the reason (scores digipath derived from its answer key "
            "would reveal item keys; a score the delivery platform gave is exported).")
def export(learner_id: LearnerId, db: DbSession, provider: Provider, principal: Admin) -> dict:
    learner = get_learner(db, principal.org_id, learner_id)
    body = learner_export(db, learner)
    body["recommender"] = recommender_hold(provider, principal, learner_id)
    record(db, principal, "learner.export", learner_target(learner_id))
    db.commit()
    return body


def recommender_hold(provider, principal: Principal, learner_id: str) -> dict | None:  # noqa: ANN001
    """Whether the served recommender model was trained with the learner's events (derived data that a
    database erasure cannot reach: it goes at the next retraining, whose input no longer has them)."""
    try:
        bundle, version = provider.recommender()
        row = bundle.interactions.row(model_learner_key(principal, learner_id))
    except Exception:  # noqa: BLE001 - no recommender served (or one without id maps): nothing to say
        return None
    return {"model_version": str(version), "holds_learner": bool(row >= 0)}


def _utc(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:   # e.g. 0001-01-01T00:00+05:00: before year 1 in UTC
        raise ProblemError(422, "validation", f"{name} is out of range in UTC") from None


@router.get("/v1/admin/audit", response_model=AuditPage,
            responses={**_ERRORS, 200: {"content": {"text/csv": {}}, "description": "the audit log"}},
            summary="The audit log of the caller's organisation (who read or changed personal data, when)")
def audit_log(
    services: ServicesDep,
    db: DbSession,
    principal: Admin,
    since: Annotated[datetime | None, Query(description="from this time on (ISO 8601; UTC if no offset)")]
    = None,
    until: Annotated[datetime | None, Query(description="before this time")] = None,
    action: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9._-]+$")] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Any:
    since, until = _utc(since, "since"), _utc(until, "until")
    if since is not None and until is not None and since >= until:
        raise ProblemError(422, "validation", "since must be before until")
    conds = [AuditEntry.org_id == principal.org_id]
    if since is not None:
        conds.append(AuditEntry.at >= since)
    if until is not None:
        conds.append(AuditEntry.at < until)
    if action is not None:
        conds.append(AuditEntry.action == action)
    # this read is logged too, in a later export (not in this one, so CSV and JSON agree)
    entry = record(db, principal, "audit.export", None, since=since and since.isoformat(),
                   until=until and until.isoformat(), action_filter=action, format=format)
    db.flush()
    conds.append(AuditEntry.id < entry.id)
    statement = select(AuditEntry.at, AuditEntry.key_id, AuditEntry.action, AuditEntry.target,
                       AuditEntry.detail).where(*conds).order_by(AuditEntry.id)
    total = db.scalar(select(func.count()).select_from(AuditEntry).where(*conds))
    db.commit()
    if format == "csv":
        def row(at, key_id, act, target, detail) -> tuple:
            return at.isoformat(), key_id, act, target or "", "" if detail is None else json.dumps(detail)

        return _csv_export(services, statement, row, AUDIT_COLUMNS, "audit.csv")
    rows = db.execute(statement.offset(offset).limit(limit)).all()
    items = [{"at": r.at.isoformat(), "key_id": r.key_id, "action": r.action, "target": r.target,
              "detail": r.detail} for r in rows]
    return {"total": int(total or 0), "offset": offset, "limit": limit, "items": items}
