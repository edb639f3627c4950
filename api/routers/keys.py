"""``/v1/admin/keys``: list, create, revoke and rotate API keys (organisation admins and operators).

An organisation's ``admin`` key manages the keys of its own organisation only (another organisation's
keys answer 404) and can neither create nor touch a key holding ``operator``. An ``operator`` key manages
every organisation's keys. Each change is audit-logged in its own transaction.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from api.auth import Principal, require
from api.deps import DbSession
from api.keys import find_key, issue_key, list_keys, revoke_key, rotate_key
from api.persistence.tables import ApiKey, Organisation
from api.problems import PROBLEM_MEDIA_TYPE, ProblemError
from api.schemas_admin import KeyCreate, KeyCreated, KeyId, KeyList, KeyOut, KeyRevoke, KeyRotate, Slug

router = APIRouter(prefix="/v1/admin/keys", tags=["keys"])
_PROBLEM = {"content": {PROBLEM_MEDIA_TYPE: {}}}
_ERRORS = {
    401: {**_PROBLEM, "description": "missing or bad API key"},
    403: {**_PROBLEM, "description": "admin or operator scope needed (operator keys: operators only)"},
    404: {**_PROBLEM, "description": "no such key or organisation (or not yours)"},
}


async def key_manager(principal: Principal = Depends(require(None))) -> Principal:
    """An organisation admin or an operator."""
    if not (principal.is_operator or principal.has("admin")):
        raise ProblemError(403, "forbidden", "this API key lacks the 'admin' or 'operator' scope")
    return principal


Manager = Annotated[Principal, Depends(key_manager)]


def _org(db, principal: Principal, slug: str | None) -> Organisation:  # noqa: ANN001
    """The organisation ``slug`` names (default: the caller's), if the caller may manage it."""
    if slug is None or slug == principal.org_slug:
        return db.get(Organisation, principal.org_id)
    org = db.scalar(select(Organisation).where(Organisation.slug == slug)) if principal.is_operator else None
    if org is None:  # an admin asking for another organisation learns nothing about it
        raise ProblemError(404, "not-found", f"no organisation {slug!r}")
    return org


def _key(db, principal: Principal, key_id: str) -> tuple[ApiKey, str]:  # noqa: ANN001
    found = find_key(db, key_id)
    if found is None or (not principal.is_operator and found[0].org_id != principal.org_id):
        raise ProblemError(404, "not-found", f"no key {key_id!r}")
    if "operator" in found[0].scopes.split() and not principal.is_operator:
        raise ProblemError(403, "forbidden", "only an operator key may change an operator key")
    return found


@router.get("", response_model=KeyList, responses=_ERRORS, summary="API keys (never their secrets)")
def list_api_keys(
    db: DbSession,
    principal: Manager,
    org: Annotated[Slug | None, Query(description="operators: one organisation (default: all)")] = None,
    active: Annotated[bool, Query(description="only keys that are neither revoked nor expired")] = False,
) -> dict:
    org_id = None if principal.is_operator and org is None else _org(db, principal, org).id
    return {"items": list_keys(db, org_id, include_inactive=not active)}


@router.post("", response_model=KeyCreated, status_code=201, responses=_ERRORS,
             summary="Create an API key (the token is shown only in this reply)")
def create_api_key(body: KeyCreate, db: DbSession, principal: Manager) -> dict:
    if "operator" in body.scopes and not principal.is_operator:
        raise ProblemError(403, "forbidden", "only an operator key may create an operator key")
    org = _org(db, principal, body.org)
    try:
        info, token = issue_key(db, principal, org, list(body.scopes), body.name, expires_at=body.expires_at,
                                units=body.units)
    except ValueError as exc:
        raise ProblemError(422, "validation", str(exc)) from None
    db.commit()
    return {**info, "token": token}


@router.post("/{key_id}/revoke", response_model=KeyOut, responses=_ERRORS,
             summary="Revoke a key: every worker refuses it within DIGIPATH_KEY_CHECK_SECONDS (0.5 s)")
def revoke_api_key(key_id: KeyId, db: DbSession, principal: Manager, body: KeyRevoke | None = None) -> dict:
    key, slug = _key(db, principal, key_id)
    info = revoke_key(db, principal, key, slug, reason=body.reason if body else None)
    db.commit()
    return info


@router.post("/{key_id}/rotate", response_model=KeyCreated, status_code=201,
             responses={**_ERRORS, 409: {**_PROBLEM, "description": "the key is revoked"}},
             summary="Replace a key by a new one with the same scopes; the old one is revoked")
def rotate_api_key(key_id: KeyId, db: DbSession, principal: Manager, body: KeyRotate | None = None) -> dict:
    key, slug = _key(db, principal, key_id)
    if key.revoked_at is not None:
        raise ProblemError(409, "key-revoked", f"key {key_id} is revoked; create a new key instead")
    try:
        info, token = rotate_key(db, principal, key, slug, expires_at=body.expires_at if body else None)
    except ValueError as exc:
        raise ProblemError(422, "validation", str(exc)) from None
    db.commit()
    return {**info, "token": token}
