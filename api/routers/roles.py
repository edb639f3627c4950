"""``/v1/roles``: the role profiles an academy maintains for its organisation (issue 18).

A role profile is the level required per competence, in the level scheme of a framework. Every change
makes a new version (PUT with different content, DELETE retires the role); the service reads the
current version on each request, so pathways and rankings follow a change at once, without retraining
the recommender. Reading needs any key of the organisation; writing needs ``admin`` (the academy acting
for the organisation). Writes are audit-logged (``role.create``, ``role.update``, ``role.retire``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.exc import IntegrityError

from api.audit import record
from api.auth import Principal, require
from api.deps import DbSession
from api.persistence import roles as role_store
from api.persistence.tables import RoleProfile
from api.problems import ProblemError
from api.routers.learners import _ERRORS, _PROBLEM, RoleIdPath
from api.schemas import Page
from api.schemas_learners import RoleIn, RoleOut, RoleVersions

router = APIRouter(prefix="/v1/roles", tags=["roles"])
Reader = Annotated[Principal, Depends(require(None))]
Writer = Annotated[Principal, Depends(require("admin"))]
_WRITE_ERRORS = {**_ERRORS, 409: {**_PROBLEM, "description": "changed concurrently; retry"}}


def role_out(p: RoleProfile) -> dict:
    return {"role_id": p.role_id, "version": p.version, "title": p.title, "framework": p.framework_id,
            "required_levels": {c: int(v) for c, v in p.required.items()}, "retired": p.retired,
            "created_by": p.created_by, "created_at": p.created_at}


@router.get("", response_model=Page, summary="The organisation's role profiles (current versions)")
def list_roles(
    db: DbSession,
    principal: Reader,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict:
    rows = role_store.current_profiles(db, principal.org_id)
    return {"total": len(rows), "offset": offset, "limit": limit,
            "items": [RoleOut(**role_out(p)).model_dump(mode="json") for p in rows[offset: offset + limit]]}


@router.get("/{role_id}", response_model=RoleOut, responses=_ERRORS,
            summary="A role profile: the current version, or ?version=N")
def get_role(role_id: RoleIdPath, db: DbSession, principal: Reader,
             version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None) -> dict:
    return role_out(role_store.get_profile(db, principal.org_id, role_id, version))


@router.get("/{role_id}/versions", response_model=RoleVersions, responses=_ERRORS,
            summary="Every version of a role profile, oldest first, with who made it")
def role_versions(role_id: RoleIdPath, db: DbSession, principal: Reader) -> dict:
    rows = role_store.versions(db, principal.org_id, role_id)
    if not rows:
        role_store.get_profile(db, principal.org_id, role_id)  # the 404
    return {"role_id": role_id, "versions": [role_out(p) for p in rows]}


@contextmanager
def _one_writer(db: DbSession, role_id: str) -> Iterator[None]:
    """Two writers of a role at once make the same version number: the second one gets a 409."""
    try:
        yield
        db.commit()
    except IntegrityError:
        db.rollback()
        raise ProblemError(409, "conflict", f"role {role_id!r} changed concurrently; retry") from None


_PUT_RESPONSES = {**_WRITE_ERRORS, 201: {"description": "created"}}


@router.put("/{role_id}", response_model=RoleOut, responses=_PUT_RESPONSES,
            summary="Create a role profile or make a new version of it (same content: no new version)")
def put_role(role_id: RoleIdPath, body: RoleIn, db: DbSession, principal: Writer, response: Response) -> dict:
    fw = role_store.framework(body.framework)
    required = role_store.required_levels(fw, body.required_levels)
    with _one_writer(db, role_id):
        before = role_store.find_profile(db, principal.org_id, role_id)
        row, changed = role_store.save_profile(db, principal.org_id, role_id, body.title, fw.id, required,
                                               principal.key_id)
        created = before is None or before.retired
        if changed:
            record(db, principal, "role.create" if created else "role.update", f"role:{role_id}",
                   version=row.version, framework=fw.id)
        out = role_out(row)
    response.status_code = 201 if created else 200
    return out


@router.delete("/{role_id}", response_model=RoleOut, responses=_WRITE_ERRORS,
               summary="Retire a role (a new version marks it retired; its history stays)")
def retire_role(role_id: RoleIdPath, db: DbSession, principal: Writer) -> dict:
    with _one_writer(db, role_id):
        current = role_store.get_profile(db, principal.org_id, role_id)
        row, _ = role_store.save_profile(db, principal.org_id, role_id, current.title, current.framework_id,
                                         current.required, principal.key_id, retired=True)
        record(db, principal, "role.retire", f"role:{role_id}", version=row.version)
        out = role_out(row)
    return out
