"""The calling organisation's own settings (admin scope): whether practice mode may be used."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api import audit
from api.auth import Principal, require
from api.deps import DbSession
from api.persistence.tables import Organisation
from api.problems import PROBLEM_MEDIA_TYPE
from api.schemas import OrganisationSettings, OrganisationSettingsIn

router = APIRouter(prefix="/v1/organisation", tags=["organisation"])

Admin = Annotated[Principal, Depends(require("admin"))]
_ERRORS = {
    401: {"content": {PROBLEM_MEDIA_TYPE: {}}, "description": "missing or bad API key"},
    403: {"content": {PROBLEM_MEDIA_TYPE: {}}, "description": "key lacks the admin scope"},
    422: {"content": {PROBLEM_MEDIA_TYPE: {}}, "description": "invalid request"},
}


def _out(org: Organisation) -> dict:
    return {"slug": org.slug, "practice_mode": bool(org.practice_mode)}


@router.get("/settings", response_model=OrganisationSettings, responses=_ERRORS,
            summary="Settings of the caller's organisation")
def get_settings(db: DbSession, principal: Admin) -> dict:
    return _out(db.get(Organisation, principal.org_id))


@router.patch(
    "/settings",
    response_model=OrganisationSettings,
    responses=_ERRORS,
    summary="Allow or forbid practice mode (running estimates during a diagnostic)",
    description="Off by default: with running estimates a test taker can tell whether each answer was "
    "right, so the item bank's keys could be harvested. Turn on only for practice, never for assessments "
    "whose results matter. Audit-logged.",
)
def patch_settings(body: OrganisationSettingsIn, db: DbSession, principal: Admin) -> dict:
    org = db.get(Organisation, principal.org_id)
    before = bool(org.practice_mode)
    org.practice_mode = body.practice_mode
    audit.record(db, principal, "organisation.settings", f"organisation:{org.slug}",
                 practice_mode=[before, body.practice_mode])
    db.commit()
    return _out(org)
