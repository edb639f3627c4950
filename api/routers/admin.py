"""Served models, champion reload, and the response log export (calibration input format)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from sqlalchemy import Integer, String, cast, literal, null, select, union_all

from adaptive.errors import ModelNotFoundError
from api.audit import record
from api.auth import Principal, require
from api.deps import DbSession, Diagnostics, Provider, ServicesDep
from api.persistence.tables import AnonymousResponse, Learner, LearningEvent, ResponseRecord
from api.problems import PROBLEM_MEDIA_TYPE
from api.schemas import ModelsOut
from api.schemas_admin import PromoteIn
from api.signals import MODELS, bump

if TYPE_CHECKING:
    from api.app import Services

router = APIRouter(tags=["models"])
_PROBLEM = {"content": {PROBLEM_MEDIA_TYPE: {}}}
Admin = Annotated[Principal, Depends(require("admin"))]
Operator = Annotated[Principal, Depends(require("operator"))]  # models serve every organisation

# response: the server's score (what calibration reads); answer: the option the learner chose (0-based),
# so that ``digipath calibrate --key`` can score the log again (e.g. after a miskey is found); blank in
# anonymised rows
EXPORT_COLUMNS = ("person_id", "item_id", "response", "session_id", "administered_at", "answer")
EVENT_COLUMNS = ("learner_id", "content_id", "event", "value", "timestamp", "event_id")


@router.get("/v1/models", response_model=ModelsOut,
            summary="Served model names, versions and aliases, and the served item bank's exposure control")
def list_models(provider: Provider, diagnostics: Diagnostics,
                principal: Principal = Depends(require(None))) -> dict:
    served = provider.served_versions()
    try:
        rows = provider.list_models()
    except Exception:  # registry down: still report what is served
        rows = [{"name": n, "version": v, "aliases": []} for n, v in served.items() if v is not None]
    for row in rows:
        row["served"] = served.get(row["name"]) == str(row["version"])
    try:
        bank, _ = provider.champion_bank()
    except ModelNotFoundError:  # models not loaded yet
        exposure = None
    else:
        exposure = diagnostics.exposure_control(bank)
    return {"served": served, "models": rows, "item_bank_exposure": exposure}


@router.post(
    "/v1/admin/models/reload",
    response_model=ModelsOut,
    responses={
        403: {**_PROBLEM, "description": "operator scope needed (the models serve every organisation)"},
        503: {**_PROBLEM, "description": "registry unavailable; previous models still served"},
    },
    summary="Serve the current champion versions without a restart (operators)",
    description="Requests in flight finish on the objects they hold; running diagnostics keep the "
    "item bank version they started with. The answering worker reloads at once; every other worker and "
    "host sharing the database follows within about a second (in the background).",
)
def reload_models(db: DbSession, services: ServicesDep, principal: Operator) -> dict:
    before = services.provider.served_versions()
    served = services.load_models()
    _signal_models(db, services)
    record(db, principal, "models.reload", None, before=before, served=served)
    db.commit()
    return list_models(services.provider, services.diagnostics, principal)


def _signal_models(db: DbSession, services: Services) -> None:
    generation = bump(db, MODELS)
    if services.model_signal is not None:
        services.model_signal.acknowledge(generation)


@router.post(
    "/v1/operator/models/{name}/promote",
    response_model=ModelsOut,
    responses={
        403: {**_PROBLEM, "description": "operator scope needed"},
        404: {**_PROBLEM, "description": "no such model version"},
        503: {**_PROBLEM, "description": "registry unavailable"},
    },
    summary="Make a registered version the champion and serve it (operators)",
    description="The registry checks that the version loads and carries its metrics; this worker serves "
    "it at once, every other worker and host sharing the database within about a second.",
)
def promote_model(
    name: Literal["digcomp-item-bank", "learning-recommender"], body: PromoteIn, db: DbSession,
    services: ServicesDep, principal: Operator,
) -> dict:
    previous = services.provider.promote(name, str(body.version))
    # the alias has moved: record it even if serving it here fails next (then a 503, reload later)
    record(db, principal, "models.promote", f"model:{name}", version=body.version, previous=previous)
    _signal_models(db, services)
    db.commit()
    services.load_models()
    return list_models(services.provider, services.diagnostics, principal)


def _csv_stream(header: tuple[str, ...], rows: Iterator[tuple]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for n, row in enumerate(rows, 1):
        writer.writerow(row)
        if n % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _iso(value: datetime) -> str:
    return value.isoformat()


def _csv_export(
    services: Services, statement, row, columns: tuple[str, ...], filename: str
) -> StreamingResponse:
    """Stream ``statement``'s rows (mapped by ``row``) as a CSV attachment, 2,000 rows per fetch.

    The stream opens its own session: the request's session closes when the route returns, before
    Starlette iterates the (sync) generator in its thread pool."""
    maker = services.sessionmaker

    def rows() -> Iterator[tuple]:
        with maker() as db:
            for record in db.execute(statement.execution_options(yield_per=2000)):
                yield row(*record)

    return StreamingResponse(
        _csv_stream(columns, rows()),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/v1/admin/responses/export",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "long-format response log"},
        403: {**_PROBLEM, "description": "admin scope needed"},
    },
    summary="The response log as CSV (person_id,item_id,response,session_id,administered_at,answer)",
    description="Pilot items included, so live data can be calibrated (`digipath calibrate`). "
    "`response` is the server's score; `answer` the option chosen (0-based), which "
    "`digipath calibrate --key template` scores again. A retest's repeated item appears once per session; "
    "calibration keeps the first attempt. "
    "Only the calling organisation's responses. Rows of erased learners follow, anonymised: a random "
    "`person_id` per erased person (`anon-...`), no `session_id`, `administered_at` cut to the month, "
    "no `answer`.",
)
def export_responses(services: ServicesDep, db: DbSession, principal: Admin) -> StreamingResponse:
    live = (
        select(
            literal(0).label("part"),
            ResponseRecord.id.label("rid"),
            Learner.external_id.label("person"),
            ResponseRecord.item_id,
            ResponseRecord.response,
            ResponseRecord.session_id,
            ResponseRecord.administered_at,
            ResponseRecord.answer,
        )
        .join(Learner, Learner.id == ResponseRecord.learner_id)
        .where(ResponseRecord.org_id == principal.org_id)
    )
    # anonymous rows by their random person id, not by storage order (which groups one erasure's rows)
    anonymous = select(
        literal(1),
        literal(0),
        AnonymousResponse.person_id,
        AnonymousResponse.item_id,
        AnonymousResponse.response,
        cast(null(), String(36)),
        AnonymousResponse.administered_month,
        cast(null(), Integer),
    ).where(AnonymousResponse.org_id == principal.org_id)
    log = union_all(live, anonymous).subquery()
    statement = select(log).order_by(log.c.part, log.c.rid, log.c.person, log.c.item_id)

    def row(_part, _rid, person, item, response, session, at, answer) -> tuple:
        return person, item, response, session or "", _iso(at), "" if answer is None else answer

    record(db, principal, "responses.export", None)
    db.commit()

    return _csv_export(services, statement, row, EXPORT_COLUMNS, "responses.csv")


@router.get(
    "/v1/admin/events/export",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "learning events"},
        403: {**_PROBLEM, "description": "admin scope needed"},
    },
    summary="Learning events as CSV (the recommender's training input)",
)
def export_events(services: ServicesDep, db: DbSession, principal: Admin) -> StreamingResponse:
    statement = (
        select(
            Learner.external_id,
            LearningEvent.content_id,
            LearningEvent.event,
            LearningEvent.value,
            LearningEvent.timestamp,
            LearningEvent.event_id,
        )
        .join(Learner, Learner.id == LearningEvent.learner_id)
        .where(LearningEvent.org_id == principal.org_id)
        .order_by(LearningEvent.id)
    )

    def row(learner, content, event, value, ts, event_id) -> tuple:
        value = "" if value is None else value
        return f"{principal.org_slug}:{learner}", content, event, value, _iso(ts), event_id

    record(db, principal, "events.export", None)
    db.commit()

    return _csv_export(services, statement, row, EVENT_COLUMNS, "learning_events.csv")
