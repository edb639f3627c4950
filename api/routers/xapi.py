"""xAPI statements in (issue 17): ``POST /xapi/statements`` (one or an array) and ``PUT ?statementId=``.

Statements become learning events (``api.xapi``) that the next recommender training reads through the
events export, alongside ``/v1/learning-events``. Idempotent by statement id: the same statement again
changes nothing; the same id with other content is a 409, as the xAPI specification requires. A batch is
checked whole before anything is stored (400 naming the statement and field).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Depends, Header, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adaptive.cat.explain import explain_responses
from api.audit import record
from api.auth import Principal, require
from api.deps import DbSession, MetricsDep, SettingsDep
from api.diagnostics import public_profile
from api.persistence.learners import ensure_learner
from api.persistence.tables import DiagnosticSession, Learner, LearningEvent, XapiStatement
from api.problems import ERROR_RENDERERS, PROBLEM_MEDIA_TYPE, ProblemError, problem_response
from api.xapi import (
    Statement,
    check_verb_mapping,
    check_version,
    diagnostic_statement,
    event_statement,
    read_statements,
)

router = APIRouter(prefix="/xapi", tags=["events"])
Caller = Annotated[Principal, Depends(require("events"))]
Admin = Annotated[Principal, Depends(require("admin"))]
VersionHeader = Annotated[str | None, Header(alias="X-Experience-API-Version")]
_PROBLEM = {"content": {PROBLEM_MEDIA_TYPE: {}}}
_ERRORS = {400: {**_PROBLEM, "description": "not a valid statement (names statement and field)"},
           401: _PROBLEM, 403: _PROBLEM, 409: {**_PROBLEM, "description": "statement id already used"}}
XAPI_VERSION = "1.0.3"


def _problem(status: int, slug: str, detail: str | None, headers: dict[str, str] | None, extra: dict):  # noqa: ANN202
    # xAPI answers a malformed request with 400, not FastAPI's 422
    return problem_response(400 if status == 422 else status, slug, detail, headers=headers, **extra)


ERROR_RENDERERS["/xapi/"] = _problem


def store(db: Session, principal: Principal, statements: list[Statement]) -> list[str]:
    """Store new statements and their learning events in one transaction; returns the new ids."""
    ids = [s.id for s in statements]
    for _attempt in range(3):
        known = dict(db.execute(select(XapiStatement.statement_id, XapiStatement.fingerprint).where(
            XapiStatement.org_id == principal.org_id, XapiStatement.statement_id.in_(ids))).all())
        clash = [s.id for s in statements if s.id in known and known[s.id] != s.fingerprint()]
        if clash:
            raise ProblemError(409, "statement-conflict",
                               f"statement id(s) {clash} already stored with other content")
        fresh = [s for s in statements if s.id not in known]
        learners = {lid: ensure_learner(db, principal.org_id, lid).id
                    for lid in dict.fromkeys(s.learner_id for s in fresh)}
        for s in fresh:
            db.add(XapiStatement(org_id=principal.org_id, learner_id=learners[s.learner_id],
                                 statement_id=s.id, verb=s.verb, activity_id=s.activity_id, event=s.event,
                                 fingerprint=s.fingerprint(), statement=s.stored, timestamp=s.timestamp))
            if s.event is not None:
                db.add(LearningEvent(org_id=principal.org_id, learner_id=learners[s.learner_id],
                                     event_id=f"xapi:{s.id}", content_id=s.content_id, event=s.event,
                                     value=s.value, timestamp=s.timestamp))
        try:
            db.commit()
            return [s.id for s in fresh]
        except IntegrityError:  # a concurrent request stored some of them: look again
            db.rollback()
    raise ProblemError(409, "concurrent-update", "statements were being stored concurrently; retry")


def _read(body: Any, version: str | None, settings, statement_id: str | None = None) -> list[Statement]:  # noqa: ANN001
    check_version(version)
    return read_statements(body, statement_id=statement_id, verbs=check_verb_mapping(settings.xapi_verbs),
                           activity_prefix=settings.xapi_activity_prefix)


@router.post("/statements", responses=_ERRORS, summary="Store xAPI statements (one or an array) as "
             "learning events; returns their ids")
def post_statements(body: Annotated[Any, Body()], db: DbSession, principal: Caller, settings: SettingsDep,
                    metrics: MetricsDep, version: VersionHeader = None) -> JSONResponse:
    statements = _read(body, version, settings)
    fresh = store(db, principal, statements)
    metrics.events.inc(sum(1 for s in statements if s.id in fresh and s.event is not None))
    return JSONResponse([s.id for s in statements], headers={"X-Experience-API-Version": XAPI_VERSION})


@router.put("/statements", status_code=204, responses=_ERRORS, summary="Store one xAPI statement by id")
def put_statement(body: Annotated[Any, Body()],
                  statementId: Annotated[str, Query(min_length=1, max_length=64)],  # noqa: N803 (the xAPI name)
                  db: DbSession, principal: Caller, settings: SettingsDep, metrics: MetricsDep,
                  version: VersionHeader = None) -> Response:
    statements = _read(body, version, settings, statement_id=_uuid(statementId))
    fresh = store(db, principal, statements)
    metrics.events.inc(sum(1 for s in statements if s.id in fresh and s.event is not None))
    return Response(status_code=204, headers={"X-Experience-API-Version": XAPI_VERSION})


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ProblemError(400, "invalid-statement", f"statementId {value!r} is not a UUID") from None


@router.get("/statements", responses=_ERRORS, summary="The learning events as xAPI statements (admin)",
            description="The events export (`/v1/admin/events/export`) in xAPI: a StatementResult "
            "`{statements, more}`, oldest first; `more` is the URL of the next page (empty at the end). "
            "Events that came in as statements keep their id; posted back they give the same events.")
def get_statements(db: DbSession, principal: Admin, settings: SettingsDep,
                   since: Annotated[datetime | None, Query(description="events stored after this")] = None,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                   after: Annotated[int, Query(ge=0, le=2**53, description="continuation (from `more`)")] = 0,
                   source: Annotated[Literal["events", "diagnostics"], Query(
                       description="learning events, or finished diagnostics (theta, SE, level per area)",
                   )] = "events",
                   ) -> JSONResponse:
    if source == "diagnostics":
        return _diagnostic_statements(db, principal, since, limit, after)
    query = (select(LearningEvent.id, Learner.external_id, LearningEvent.content_id, LearningEvent.event,
                    LearningEvent.value, LearningEvent.timestamp, LearningEvent.event_id)
             .join(Learner, Learner.id == LearningEvent.learner_id)
             .where(LearningEvent.org_id == principal.org_id, LearningEvent.id > after)
             .order_by(LearningEvent.id).limit(limit + 1))
    if since is not None:
        query = query.where(LearningEvent.received_at > since)
    rows = db.execute(query).all()
    prefix = settings.xapi_activity_prefix
    statements = [event_statement(principal.org_slug, r.external_id, r.content_id, r.event, r.value,
                                  r.timestamp, r.event_id, prefix) for r in rows[:limit]]
    more = ""
    if len(rows) > limit:
        params = {"limit": limit, "after": rows[limit - 1].id}
        if since is not None:
            params["since"] = since.isoformat()
        more = f"/xapi/statements?{urlencode(params)}"
    record(db, principal, "events.export", None, format="xapi", after=after)
    db.commit()
    return JSONResponse({"statements": statements, "more": more},
                        headers={"X-Experience-API-Version": XAPI_VERSION})


def _diagnostic_statements(db: Session, principal: Principal, since: datetime | None, limit: int,
                           after: int) -> JSONResponse:
    """Finished diagnostics, oldest first; ``after`` counts the diagnostics already returned."""
    query = (select(DiagnosticSession.id, Learner.external_id, DiagnosticSession.finished_at,
                    DiagnosticSession.bank_version, DiagnosticSession.result, DiagnosticSession.state)
             .join(Learner, Learner.id == DiagnosticSession.learner_id)
             .where(DiagnosticSession.org_id == principal.org_id, DiagnosticSession.status == "finished")
             .order_by(DiagnosticSession.finished_at, DiagnosticSession.id).offset(after).limit(limit + 1))
    if since is not None:
        query = query.where(DiagnosticSession.finished_at > since)
    rows = db.execute(query).all()
    # who scored each response, from the session's own log (a finished session's state holds all of it)
    statements = [diagnostic_statement(principal.org_slug, r.external_id, r.id, r.finished_at, r.bank_version,
                                       public_profile(r.result),
                                       explain_responses(json.loads(r.state).get("log") or []))
                  for r in rows[:limit]]
    more = ""
    if len(rows) > limit:
        params = {"source": "diagnostics", "limit": limit, "after": after + limit}
        if since is not None:
            params["since"] = since.isoformat()
        more = f"/xapi/statements?{urlencode(params)}"
    record(db, principal, "results.export", None, format="xapi", after=after)
    db.commit()
    return JSONResponse({"statements": statements, "more": more},
                        headers={"X-Experience-API-Version": XAPI_VERSION})
