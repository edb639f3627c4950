"""Adaptive diagnostics: start, answer (scored on the server), status, result."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from api import audit
from api.auth import Principal, require
from api.deps import DbSession, Diagnostics, MetricsDep
from api.problems import PROBLEM_MEDIA_TYPE, ProblemError
from api.schemas import AnswerIn, DiagnosticCreate, DiagnosticResult, DiagnosticStatus, DiagnosticStep

router = APIRouter(prefix="/v1/diagnostics", tags=["diagnostics"])

# Every route is a plain ``def``: FastAPI runs it (and the database session dependency) in its thread
# pool, so a slow commit or a lock wait never stalls the event loop. Concurrent answers to one session
# stay safe: the UPDATE ... WHERE version = :seen also guards other threads, workers and hosts.
Caller = Annotated[Principal, Depends(require("diagnostics"))]

SessionId = Annotated[str, Path(min_length=1, max_length=36, description="diagnostic session id")]
_PROBLEM = {"content": {PROBLEM_MEDIA_TYPE: {}}}
SESSION_ERRORS = {
    401: {**_PROBLEM, "description": "missing or bad API key"},
    403: {**_PROBLEM, "description": "key lacks the scope"},
    404: {**_PROBLEM, "description": "unknown session (or another organisation's)"},
    422: {**_PROBLEM, "description": "invalid request"},
}


@router.post(
    "",
    status_code=201,
    response_model=DiagnosticStep,
    responses=SESSION_ERRORS,
    summary="Start a diagnostic; returns the session id and the first item",
)
def start_diagnostic(
    body: DiagnosticCreate, db: DbSession, principal: Caller, diagnostics: Diagnostics, metrics: MetricsDep
) -> JSONResponse:
    reply = diagnostics.start(
        db, principal, body.learner_id, body.role, body.areas, body.language, unit=body.unit,
        practice=body.practice,
    )
    metrics.sessions_started.inc()
    if reply["status"] == "finished":
        metrics.sessions_finished.inc()
    # The reply is built from validated parts (the engine's plain numbers, rendered items): returning a
    # Response skips a second validation against ``DiagnosticStep``, which the schema tests check.
    return JSONResponse(reply, status_code=201)


@router.get(
    "/{session_id}",
    response_model=DiagnosticStatus,
    responses=SESSION_ERRORS,
    summary="Status and progress of a diagnostic (with the pending item)",
)
def get_diagnostic(session_id: SessionId, db: DbSession, principal: Caller, diagnostics: Diagnostics) -> dict:
    return diagnostics.status(db, principal, session_id)


@router.post(
    "/{session_id}/responses",
    response_model=DiagnosticStep,
    responses={
        **SESSION_ERRORS, 409: {**_PROBLEM, "description": "wrong or stale item, or a concurrent answer"}
    },
    summary="Answer the pending item; returns the next item or the finished result",
    description="An identical retry (same sequence, item and answer) returns the same reply and "
    "records nothing twice.",
)
def answer_item(
    session_id: SessionId,
    body: AnswerIn,
    db: DbSession,
    principal: Caller,
    diagnostics: Diagnostics,
    metrics: MetricsDep,
) -> JSONResponse:
    outcome = diagnostics.answer(db, principal, session_id, body.item_id, body.answer, body.sequence)
    if outcome.applied:
        metrics.answers.inc()
        if outcome.finished_now:
            metrics.sessions_finished.inc()
    return JSONResponse(outcome.reply)  # as in start_diagnostic: built from validated parts


@router.get(
    "/{session_id}/result",
    response_model=DiagnosticResult,
    responses={**SESSION_ERRORS, 409: {**_PROBLEM, "description": "diagnostic not finished yet"}},
    summary="Competence profile of a finished diagnostic, explained, with its reviews",
    description="Also readable with an `oversight` key (audit-logged). The explanation names the areas "
    "measured, items per area, precision, the level's meaning in the framework and the scoring method; "
    "`levels` gives each area's level after oversight overrides beside the scored one.",
)
def get_result(
    session_id: SessionId,
    db: DbSession,
    principal: Annotated[Principal, Depends(require(None))],
    diagnostics: Diagnostics,
) -> dict:
    # the learner's platform (diagnostics) and human reviewers (oversight) read results
    if not (principal.has("diagnostics") or principal.has("oversight")):
        raise ProblemError(403, "forbidden", "this API key lacks the 'diagnostics' or 'oversight' scope")
    result = diagnostics.result(db, principal, session_id)
    if "oversight" in principal.scopes:  # a person reading a result: audit-logged
        audit.record(db, principal, "result.read", f"session:{session_id}")
        db.commit()
    return result
