"""``/v1/catalogue``: the learning catalogue an organisation maintains (list, read, create, update, retire,
history). Any key of the organisation reads it; changing it needs ``admin``. Every change is a new
version of the content record, audit-logged, and served to recommendations at once (no retraining):
see ``api.persistence.catalogue``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from api.audit import record
from api.auth import Principal, require
from api.deps import DbSession
from api.persistence.catalogue import (
    apply_changes,
    catalogue_version,
    find_item,
    item_history,
    list_items,
    live_records,
)
from api.persistence.tables import CatalogueItem
from api.problems import PROBLEM_MEDIA_TYPE, ProblemError
from recommender.live_catalogue import CONTENT_ID_PATTERN, content_frame, validate_content

router = APIRouter(prefix="/v1/catalogue", tags=["catalogue"])

_PROBLEM = {"content": {PROBLEM_MEDIA_TYPE: {}}}
_ERRORS = {
    401: {**_PROBLEM, "description": "missing or bad API key"},
    403: {**_PROBLEM, "description": "changing the catalogue needs the admin scope"},
    404: {**_PROBLEM, "description": "no such content in the organisation's catalogue"},
    409: {**_PROBLEM, "description": "the content exists already, or changed since the version you read"},
    422: {**_PROBLEM, "description": "invalid content record (the field is named)"},
}
ContentId = Annotated[str, Path(min_length=1, max_length=128, pattern=CONTENT_ID_PATTERN)]
Admin = Annotated[Principal, Depends(require("admin"))]
Reader = Annotated[Principal, Depends(require(None))]
LanguageCode = Annotated[str, Field(min_length=2, max_length=12, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]
Id = Annotated[str, Field(min_length=1, max_length=64)]


class ContentFields(BaseModel):
    """A content record as sent (checked against its framework by ``validate_content``)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)
    titles: dict[LanguageCode, Annotated[str, Field(max_length=500)]] = Field(
        default_factory=dict, max_length=50, description="translations of the title by language code")
    format: str = Field(max_length=32, description="course, video, article, webinar or exercise")
    languages: list[LanguageCode] = Field(min_length=1, max_length=20)
    framework: str | None = Field(None, max_length=64, description="framework id (default digcomp-2.2): "
                                  "the competences, outcomes and level are in its ids and level scheme")
    competences: list[Id] = Field(default_factory=list, max_length=50)
    outcomes: list[Id] = Field(default_factory=list, max_length=200,
                               description="learning outcome or statement ids of the framework")
    level: int | Annotated[str, Field(max_length=32)] | None = Field(
        None, description="targeted level: number or code in the framework's level scheme")
    duration_minutes: float | None = Field(None, ge=0, le=100_000)
    url: str | None = Field(None, max_length=2000)
    status: Literal["active", "retired"] = "active"


class ContentCreate(ContentFields):
    content_id: str = Field(min_length=1, max_length=128, pattern=CONTENT_ID_PATTERN)


class ContentUpdate(ContentFields):
    expected_version: int | None = Field(None, ge=1, description="refuse (409) if the content is no longer "
                                         "at this version (someone changed it since you read it)")


class ContentOut(ContentCreate):
    model_config = ConfigDict(extra="ignore")

    framework: str
    version: int
    updated_at: datetime
    updated_by: str


class CataloguePage(BaseModel):
    catalogue_version: int = Field(description="advances with every change set; 0: the organisation has "
                                   "no catalogue of its own (it is served the model's)")
    total: int
    offset: int
    limit: int
    items: list[ContentOut]


class ContentVersionOut(BaseModel):
    version: int
    action: str
    changed_at: datetime
    changed_by: str
    catalogue_version: int
    record: dict


class ContentHistory(BaseModel):
    content_id: str
    versions: list[ContentVersionOut]


def _out(row: CatalogueItem) -> dict:
    return {**row.record, "version": row.version, "updated_at": row.updated_at, "updated_by": row.updated_by}


def _get(db: DbSession, principal: Principal, content_id: str) -> CatalogueItem:
    row = find_item(db, principal.org_id, content_id)
    if row is None:
        raise ProblemError(404, "not-found", f"no content {content_id!r} in the catalogue")
    return row


def _save(db: DbSession, principal: Principal, rec: dict, action: str) -> CatalogueItem:
    try:
        changes = apply_changes(db, principal.org_id, [rec], principal.key_id)
        record(db, principal, action, f"content:{rec['content_id']}",
               catalogue_version=changes.catalogue_version, changed=changes.changed)
        db.commit()
    except IntegrityError:  # another request created or changed it at the same moment
        db.rollback()
        raise ProblemError(409, "conflict", f"content {rec['content_id']!r} changed concurrently; read and "
                           "retry") from None
    return _get(db, principal, rec["content_id"])


@router.get("", response_model=CataloguePage, responses=_ERRORS, summary="The organisation's catalogue")
def list_catalogue(
    db: DbSession,
    principal: Reader,
    status: Annotated[Literal["active", "retired", "all"], Query()] = "all",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict:
    total, rows = list_items(db, principal.org_id, None if status == "all" else status, offset, limit)
    return {"catalogue_version": catalogue_version(db, principal.org_id), "total": total, "offset": offset,
            "limit": limit, "items": [_out(r) for r in rows]}


@router.get("/export", response_class=Response, responses={
    200: {"content": {"text/csv": {}}, "description": "the catalogue file"}, **_ERRORS},
    summary="The catalogue as the file `digipath catalogue import` and `recommender train --catalogue` read")
def export_catalogue(
    db: DbSession,
    principal: Reader,
    status: Annotated[Literal["active", "retired", "all"], Query()] = "all",
) -> Response:
    records = [r for r in live_records(db, principal.org_id) if status == "all" or r["status"] == status]
    return Response(content_frame(records).to_csv(index=False), media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="catalogue.csv"'})


@router.post("", status_code=201, response_model=ContentOut, responses=_ERRORS, summary="Add content")
def create_content(body: ContentCreate, db: DbSession, principal: Admin) -> dict:
    rec = validate_content(body.model_dump())
    if find_item(db, principal.org_id, rec["content_id"]) is not None:
        raise ProblemError(409, "conflict", f"content {rec['content_id']!r} exists; change it with PUT")
    return _out(_save(db, principal, rec, "catalogue.create"))


@router.get("/{content_id}", response_model=ContentOut, responses=_ERRORS, summary="One content record")
def get_content(content_id: ContentId, db: DbSession, principal: Reader) -> dict:
    return _out(_get(db, principal, content_id))


@router.put("/{content_id}", response_model=ContentOut, responses=_ERRORS,
            summary="Change content (a new version; unchanged content stays at its version)")
def update_content(content_id: ContentId, body: ContentUpdate, db: DbSession, principal: Admin) -> dict:
    row = _get(db, principal, content_id)
    fields = body.model_dump(exclude={"expected_version"})
    rec = validate_content({"content_id": content_id, **fields})
    if body.expected_version is not None and body.expected_version != row.version:
        raise ProblemError(409, "conflict", f"content {content_id!r} is at version {row.version}, not "
                           f"{body.expected_version}")
    return _out(_save(db, principal, rec, "catalogue.update"))


@router.delete("/{content_id}", response_model=ContentOut, responses=_ERRORS,
               summary="Retire content: kept with its history, never recommended again (PUT status active "
                       "brings it back)")
def retire_content(content_id: ContentId, db: DbSession, principal: Admin) -> dict:
    row = _get(db, principal, content_id)
    return _out(_save(db, principal, {**row.record, "status": "retired"}, "catalogue.retire"))


@router.get("/{content_id}/history", response_model=ContentHistory, responses=_ERRORS,
            summary="Every version of a content record: what changed, when, by which key")
def content_history(content_id: ContentId, db: DbSession, principal: Reader) -> dict:
    _get(db, principal, content_id)
    versions = item_history(db, principal.org_id, content_id)
    return {"content_id": content_id, "versions": [
        {"version": v.version, "action": v.action, "changed_at": v.changed_at, "changed_by": v.changed_by,
         "catalogue_version": v.catalogue_version, "record": v.record} for v in versions]}
