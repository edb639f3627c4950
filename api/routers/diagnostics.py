"""Adaptive diagnostics: start, answer (scored on the server), status, result."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from adaptive.errors import DigipathError
from api.auth import Principal, require
from api.deps import get_db
from api.limits import replay_body
from api.problems import PROBLEM_MEDIA_TYPE, ProblemError, digipath_error_extras, problem_response
from api.schemas import AnswerIn, DiagnosticCreate, DiagnosticResult, DiagnosticStatus, DiagnosticStep

router = APIRouter(prefix="/v1/diagnostics", tags=["diagnostics"])

# Start and answer are ``async def`` running their short CPU-bound work (CAT step, a few SQL statements)
# inline on the event loop: one worker is one core anyway, and a thread-pool hop per request (plus GIL
# hand-offs between the loop and the workers) cost more CPU than the step itself. Concurrent answers to
# one session stay safe: the UPDATE ... WHERE version = :seen also guards other workers and processes.

SessionId = Annotated[str, Path(min_length=1, max_length=36, description="diagnostic session id")]
_PROBLEM = {"content": {PROBLEM_MEDIA_TYPE: {}}}
_ERRORS = {
    401: {**_PROBLEM, "description": "missing or bad API key"},
    403: {**_PROBLEM, "description": "key lacks the scope"},
    404: {**_PROBLEM, "description": "unknown session (or another organisation's)"},
    422: {**_PROBLEM, "description": "invalid request"},
}


@router.post(
    "",
    status_code=201,
    response_model=DiagnosticStep,
    responses=_ERRORS,
    summary="Start a diagnostic; returns the session id and the first item",
)
async def start_diagnostic(
    body: DiagnosticCreate,
    request: Request,
    db: Session = Depends(get_db),
    principal: Principal = Depends(require("diagnostics")),
) -> JSONResponse:
    services = request.app.state.services
    reply = services.diagnostics.start(
        db, principal, body.learner_id, body.role, body.areas, body.language, unit=body.unit
    )
    services.metrics.sessions_started.inc()
    if reply["status"] == "finished":
        services.metrics.sessions_finished.inc()
    return JSONResponse(reply, status_code=201)  # built from validated parts: skip re-validation


@router.get(
    "/{session_id}",
    response_model=DiagnosticStatus,
    responses=_ERRORS,
    summary="Status and progress of a diagnostic (with the pending item)",
)
def get_diagnostic(
    session_id: SessionId,
    request: Request,
    db: Session = Depends(get_db),
    principal: Principal = Depends(require("diagnostics")),
) -> dict:
    return request.app.state.services.diagnostics.status(db, principal, session_id)


@router.post(
    "/{session_id}/responses",
    response_model=DiagnosticStep,
    responses={**_ERRORS, 409: {**_PROBLEM, "description": "wrong or stale item, or a concurrent answer"}},
    summary="Answer the pending item; returns the next item or the finished result",
    description="An identical retry (same sequence, item and answer) returns the same reply and "
    "records nothing twice.",
)
async def answer_item(
    session_id: SessionId,
    body: AnswerIn,
    request: Request,
    db: Session = Depends(get_db),
    principal: Principal = Depends(require("diagnostics")),
) -> JSONResponse:
    services = request.app.state.services
    outcome = services.diagnostics.answer(db, principal, session_id, body.item_id, body.answer, body.sequence)
    if outcome.applied:
        services.metrics.answers.inc()
        if outcome.finished_now:
            services.metrics.sessions_finished.inc()
    if outcome.body is not None:  # the hot path: encoded once, no response-model re-validation
        return Response(outcome.body, media_type="application/json")
    return JSONResponse(outcome.reply)


@router.get(
    "/{session_id}/result",
    response_model=DiagnosticResult,
    responses={**_ERRORS, 409: {**_PROBLEM, "description": "diagnostic not finished yet"}},
    summary="Competence profile of a finished diagnostic and the bank version used",
)
def get_result(
    session_id: SessionId,
    request: Request,
    db: Session = Depends(get_db),
    principal: Principal = Depends(require("diagnostics")),
) -> dict:
    return request.app.state.services.diagnostics.result(db, principal, session_id)


class AnswerFastPath:
    """Pure-ASGI dispatch of the hottest request, ``POST /v1/diagnostics/{id}/responses``.

    An answer runs ~30 times per diagnostic; FastAPI's routing, dependency solving and exception
    middleware cost about as much CPU as the CAT step itself. This middleware serves the common case
    directly: a key already verified (``KeyVerifier.cached``) with the diagnostics scope, a JSON body
    that ``AnswerIn`` accepts. It calls the same ``DiagnosticService.answer`` and renders errors with the
    same problem+json functions. Anything else (unknown key, bad body, other routes) goes to the FastAPI
    route above unchanged, with the body replayed, so validation and auth errors keep their one source.
    """

    _PREFIX, _SUFFIX = "/v1/diagnostics/", "/responses"
    _TEMPLATE = "/v1/diagnostics/{session_id}/responses"

    def __init__(self, app: ASGIApp):
        self.app = app
        self._route = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        hot = path.endswith(self._SUFFIX) and path.startswith(self._PREFIX)
        if not hot or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        session_id = path[len(self._PREFIX) : -len(self._SUFFIX)]
        principal = None
        services = scope["app"].state.services
        content_type = b""
        if 1 <= len(session_id) <= 36 and "/" not in session_id:
            for name, value in scope["headers"]:
                if name == b"authorization":
                    scheme, _, token = value.decode("latin-1").partition(" ")
                    if scheme.lower() == "bearer" and token.strip():
                        principal = services.keys.cached(token.strip())
                elif name == b"content-type":
                    content_type = value
        if principal is None or not principal.has("diagnostics") or not content_type.startswith(_JSON):
            await self.app(scope, receive, send)  # FastAPI answers: verifies the key, or says what is wrong
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # client gone
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            answer = AnswerIn.model_validate_json(body)
        except PydanticValidationError:
            await self.app(scope, replay_body(body, receive), send)  # the standard 422 problem
            return
        scope["route"] = self._route or self._find_route(scope["app"])  # latency metric label
        try:
            with services.sessionmaker() as db:
                outcome = services.diagnostics.answer(
                    db, principal, session_id, answer.item_id, answer.answer, answer.sequence
                )
        except ProblemError as exc:
            response = problem_response(exc.status, exc.slug, exc.detail, title=exc.title,
                                        headers=exc.headers, instance=path, **exc.extra)
        except DigipathError as exc:
            status = int(getattr(exc, "status", 400) or 400)
            response = problem_response(status, exc.type, exc.detail, instance=path,
                                        **digipath_error_extras(exc))
        else:
            if outcome.applied:
                services.metrics.answers.inc()
                if outcome.finished_now:
                    services.metrics.sessions_finished.inc()
            response = Response(
                outcome.body if outcome.body is not None else JSONResponse(outcome.reply).body,
                media_type="application/json",
            )
        await response(scope, receive, send)

    def _find_route(self, app):  # noqa: ANN001, ANN202
        self._route = next(
            (r for r in answer_routes(app) if "POST" in getattr(r, "methods", ())),
            SimpleNamespace(path=self._TEMPLATE),  # only ``path`` is read (LatencyMiddleware)
        )
        return self._route


def answer_routes(app):  # noqa: ANN001, ANN201
    """The routes of ``app`` (included routers searched too) with the answer endpoint's path."""
    stack = list(getattr(app, "routes", ()))
    while stack:
        route = stack.pop()
        if getattr(route, "path", None) == AnswerFastPath._TEMPLATE:
            yield route
        stack.extend(getattr(route, "routes", ()) or ())


_JSON = b"application/json"
