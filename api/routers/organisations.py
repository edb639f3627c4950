"""``/v1/operator/organisations``: the organisations an academy runs, with type, sector and units
(``operator`` scope only; an organisation's admin key cannot see or change them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from api.audit import record
from api.auth import Principal, require
from api.deps import DbSession
from api.persistence.tables import ApiKey, Organisation, utcnow
from api.problems import PROBLEM_MEDIA_TYPE, ProblemError
from api.schemas_admin import OrganisationCreate, OrganisationList, OrganisationOut, OrganisationUpdate, Slug

router = APIRouter(prefix="/v1/operator/organisations", tags=["operator"])
_PROBLEM = {"content": {PROBLEM_MEDIA_TYPE: {}}}
_ERRORS = {
    401: {**_PROBLEM, "description": "missing or bad API key"},
    403: {**_PROBLEM, "description": "operator scope needed"},
    404: {**_PROBLEM, "description": "no such organisation"},
}
Operator = Annotated[Principal, Depends(require("operator"))]


def _active_keys(db: Session) -> dict[int, int]:
    now = utcnow()
    rows = db.execute(
        select(ApiKey.org_id, func.count())
        .where(ApiKey.revoked_at.is_(None), or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now))
        .group_by(ApiKey.org_id)
    )
    return {org_id: n for org_id, n in rows}


def _out(org: Organisation, active: dict[int, int]) -> dict:
    return {"slug": org.slug, "name": org.name, "type": org.org_type, "sector": org.sector,
            "units": list(org.units or []), "created_at": org.created_at,
            "active_keys": active.get(org.id, 0)}


def _get(db: Session, slug: str) -> Organisation:
    org = db.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None:
        raise ProblemError(404, "not-found", f"no organisation {slug!r}")
    return org


@router.get("", response_model=OrganisationList, responses=_ERRORS, summary="All organisations")
def list_organisations(db: DbSession, principal: Operator) -> dict:
    active = _active_keys(db)
    orgs = db.scalars(select(Organisation).order_by(Organisation.slug))
    return {"items": [_out(o, active) for o in orgs]}


@router.get("/{slug}", response_model=OrganisationOut, responses=_ERRORS, summary="One organisation")
def get_organisation(slug: Slug, db: DbSession, principal: Operator) -> dict:
    return _out(_get(db, slug), _active_keys(db))


@router.post("", response_model=OrganisationOut, status_code=201,
             responses={**_ERRORS, 409: {**_PROBLEM, "description": "the slug is taken"}},
             summary="Create an organisation (then create its keys)")
def create_organisation(body: OrganisationCreate, db: DbSession, principal: Operator) -> dict:
    if db.scalar(select(Organisation.id).where(Organisation.slug == body.slug)) is not None:
        raise ProblemError(409, "conflict", f"organisation {body.slug!r} exists")
    org = Organisation(slug=body.slug, name=body.name, org_type=body.type, sector=body.sector,
                       units=_units(body.units))
    db.add(org)
    db.flush()
    record(db, principal, "organisation.create", f"organisation:{org.slug}", org_id=org.id,
           type=body.type, sector=body.sector)
    db.commit()
    return _out(org, {})


@router.patch("/{slug}", response_model=OrganisationOut, responses=_ERRORS,
              summary="Change name, type, sector or units (fields sent are changed; null clears)")
def update_organisation(slug: Slug, body: OrganisationUpdate, db: DbSession, principal: Operator) -> dict:
    org = _get(db, slug)
    sent = body.model_fields_set
    if "name" in sent:
        if body.name is None:
            raise ProblemError(422, "validation", "name cannot be cleared")
        org.name = body.name
    if "type" in sent:
        org.org_type = body.type
    if "sector" in sent:
        org.sector = body.sector
    if "units" in sent:
        org.units = _units(body.units)
    record(db, principal, "organisation.update", f"organisation:{org.slug}", org_id=org.id,
           fields=sorted(sent))
    db.commit()
    return _out(org, _active_keys(db))


def _units(units: list[str] | None) -> list[str] | None:
    return None if units is None else sorted(set(units))
