"""API key lifecycle: list, create, revoke, rotate. One implementation for the CLI and the admin endpoints.

Each function works inside the caller's transaction and writes an audit entry (``api.audit.record``) beside
the change, so the change and its entry commit together. The secret of a new key exists only in the return
value of :func:`issue_key` / :func:`rotate_key` (shown once); the database keeps its sha256.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.audit import record
from api.auth import Principal, add_key, get_or_create_org, validate_scopes
from api.persistence.tables import ApiKey, Organisation, utcnow

_RELATIVE = re.compile(r"^(\d{1,5})([hdw])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_expiry(value: str | None, now: datetime | None = None) -> datetime | None:
    """``90d`` / ``12h`` / ``4w`` from now, or an ISO date (midnight UTC) or datetime."""
    if value is None or not value.strip():
        return None
    now = now or utcnow()
    text = value.strip()
    match = _RELATIVE.match(text)
    if match:
        when = now + int(match.group(1)) * _UNITS[match.group(2)]
    else:
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"expiry {value!r} is not like 90d/12h/4w nor an ISO date/datetime") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    check_expiry(when, now)
    return when


def check_expiry(when: datetime | None, now: datetime | None = None) -> None:
    if when is not None and when <= (now or utcnow()):
        raise ValueError(f"expiry {when.isoformat()} is not in the future")


def key_status(key: ApiKey, now: datetime | None = None) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


def key_record(key: ApiKey, org_slug: str) -> dict:
    """What may be shown about a key: never its hash."""
    return {
        "key_id": key.key_id,
        "org": org_slug,
        "scopes": key.scopes.split(),
        "units": key.units,
        "name": key.name,
        "status": key_status(key),
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
        "replaces": key.replaces,
    }


def list_keys(db: Session, org_id: int | None = None, *, include_inactive: bool = True) -> list[dict]:
    """Keys of one organisation (``org_id``) or of all, oldest first."""
    query = select(ApiKey, Organisation.slug).join(Organisation, Organisation.id == ApiKey.org_id)
    if org_id is not None:
        query = query.where(ApiKey.org_id == org_id)
    rows = [key_record(k, slug) for k, slug in db.execute(query.order_by(ApiKey.created_at, ApiKey.key_id))]
    return rows if include_inactive else [r for r in rows if r["status"] == "active"]


def find_key(db: Session, key_id: str) -> tuple[ApiKey, str] | None:
    row = db.execute(
        select(ApiKey, Organisation.slug)
        .join(Organisation, Organisation.id == ApiKey.org_id)
        .where(ApiKey.key_id == key_id)
    ).first()
    return None if row is None else (row[0], row[1])


def issue_key(  # noqa: ANN001
    db: Session, actor: Principal | str, org: Organisation | str, scopes: list[str], name: str | None = None,
    *, expires_at: datetime | None = None, units: list[str] | None = None,
) -> tuple[dict, str]:
    """A new key for ``org`` (a slug is created if new); returns its record and the token (shown once)."""
    scopes = validate_scopes(scopes)
    check_expiry(expires_at)
    if isinstance(org, str):
        org = get_or_create_org(db, org)
    key, token = add_key(db, org, scopes, name, expires_at=expires_at, units=units)
    db.flush()
    record(db, actor, "key.create", f"key:{key.key_id}", org_id=org.id, scopes=scopes,
           expires_at=expires_at.isoformat() if expires_at else None)
    return key_record(key, org.slug), token


def revoke_key(
    db: Session, actor: Principal | str, key: ApiKey, org_slug: str, reason: str | None = None
) -> dict:
    """Revoke ``key`` (again: no change). Every process refuses it within ``DIGIPATH_KEY_CHECK_SECONDS``."""
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        record(db, actor, "key.revoke", f"key:{key.key_id}", org_id=key.org_id, reason=reason)
        db.flush()
    return key_record(key, org_slug)


def rotate_key(
    db: Session, actor: Principal | str, key: ApiKey, org_slug: str, *, expires_at: datetime | None = None
) -> tuple[dict, str]:
    """A new key with the same organisation, scopes and name; the old one is revoked in the same
    transaction. Returns the new key's record and token (shown once)."""
    if key.revoked_at is not None:
        raise ValueError(f"key {key.key_id} is revoked; create a new key instead")
    check_expiry(expires_at)
    org = db.get(Organisation, key.org_id)
    new, token = add_key(db, org, key.scopes.split(), key.name, expires_at=expires_at, replaces=key.key_id,
                         units=key.units)
    key.revoked_at = utcnow()
    db.flush()
    record(db, actor, "key.rotate", f"key:{key.key_id}", org_id=key.org_id, new_key=new.key_id,
           expires_at=expires_at.isoformat() if expires_at else None)
    return key_record(new, org_slug), token
