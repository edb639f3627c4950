"""API keys: creation (hashed at rest), bearer verification, scopes, organisations.

A key reads ``dp_<key_id>_<secret>``: ``key_id`` is stored in clear and used for the lookup, the secret
only as sha256. sha256 (not a slow KDF) is enough because the secret is 256 random bits, not a password.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass

from fastapi import Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import ServicesDep
from api.persistence.tables import ApiKey, Organisation
from api.problems import ProblemError

# supervisor: per-learner insights rows, only of the units the key names (``api_keys.units``)
SCOPES = ("diagnostics", "recommendations", "events", "insights", "supervisor", "admin")
_KEY_RE = re.compile(r"^dp_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the organisation every query is filtered by, and the key's scopes."""

    org_id: int
    org_slug: str
    key_id: str
    scopes: frozenset[str]

    def has(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def validate_scopes(scopes: list[str] | tuple[str, ...]) -> list[str]:
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ValueError(f"unknown scope(s) {unknown or scopes}; choose from {', '.join(SCOPES)}")
    return sorted(set(scopes))


def validate_units(scopes: list[str], units: list[str] | None) -> list[str] | None:
    """Unit names for a key: needed with the supervisor scope (and only there), same rule as a learner's."""
    from api.schemas import UNIT_PATTERN

    if isinstance(units, str):   # one unit given as a string: not a list of its characters
        units = [units]
    bad = [u for u in units or []
           if not isinstance(u, str) or not re.fullmatch(UNIT_PATTERN, u) or len(u) > 64]
    if bad:
        raise ValueError(f"unit name(s) {bad}: 1-64 letters, digits, '.', '_', ':', '@', '-' or spaces")
    units = sorted(set(units or []))
    if "supervisor" in scopes and not units:
        raise ValueError("a supervisor key needs the units it supervises (units=[...])")
    if units and "supervisor" not in scopes and "admin" not in scopes:
        raise ValueError("units apply to the supervisor scope only; add it or leave the units out")
    return units or None


def get_or_create_org(db: Session, slug: str, name: str | None = None) -> Organisation:
    if not _SLUG_RE.match(slug):
        raise ValueError(f"organisation slug {slug!r} must be lowercase letters, digits and '-' (max 64)")
    org = db.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None:
        org = Organisation(slug=slug, name=name or slug)
        db.add(org)
        db.flush()
    return org


def create_key(
    db: Session, org_slug: str, scopes: list[str], name: str | None = None, *, units: list[str] | None = None
) -> str:
    """Create an API key for ``org_slug`` (the organisation is created if new); returns the token once.

    ``units``: the organisational units a ``supervisor`` key sees learner by learner (required with it).
    """
    scopes = validate_scopes(scopes)
    units = validate_units(scopes, units)
    org = get_or_create_org(db, org_slug)
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    db.add(
        ApiKey(
            key_id=key_id, org_id=org.id, secret_sha256=_sha256(secret), scopes=" ".join(scopes), name=name,
            units=units,
        )
    )
    db.commit()
    return f"dp_{key_id}_{secret}"


class KeyVerifier:
    """Checks bearer tokens against the database, caching good keys briefly to keep the hot path DB-free."""

    def __init__(self, sessionmaker, cache_seconds: float = 30.0):  # noqa: ANN001
        self._sessionmaker = sessionmaker
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def cached(self, token: str) -> Principal | None:
        hit = self._cache.get(token)
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def verify(self, token: str) -> Principal:
        now = time.monotonic()
        hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            return hit[1]
        match = _KEY_RE.match(token)
        if match is None:
            raise _unauthorized("malformed API key")
        key_id, secret = match.groups()
        with self._sessionmaker() as db:
            row = db.execute(
                select(ApiKey, Organisation.slug)
                .join(Organisation, Organisation.id == ApiKey.org_id)
                .where(ApiKey.key_id == key_id)
            ).first()
        if (
            row is None
            or row[0].revoked_at is not None
            or not hmac.compare_digest(row[0].secret_sha256, _sha256(secret))
        ):
            raise _unauthorized("unknown or revoked API key")
        key, slug = row
        principal = Principal(
            org_id=key.org_id, org_slug=slug, key_id=key.key_id, scopes=frozenset(key.scopes.split())
        )
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[token] = (now + self._cache_seconds, principal)
        return principal

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, "unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="digipath"'})


# Declares the bearer scheme in OpenAPI (so /docs has "Authorize"); we produce the 401 ourselves.
bearer_scheme = HTTPBearer(auto_error=False, description="an API key from `digipath keys create`")


async def get_key_verifier(services: ServicesDep) -> KeyVerifier:
    return services.keys


async def authenticate(keys: KeyVerifier, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None or not credentials.credentials.strip():
        raise _unauthorized("missing or malformed Authorization: Bearer <API key> header")
    token = credentials.credentials.strip()
    # A cached key is checked on the event loop; only a miss (a DB query) goes to the thread pool.
    principal = keys.cached(token)
    return principal if principal is not None else await run_in_threadpool(keys.verify, token)


def require(scope: str | None):
    """FastAPI dependency: the caller's principal holding ``scope`` (admin: all; None: any key)."""

    async def dependency(
        keys: KeyVerifier = Depends(get_key_verifier),
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
    ) -> Principal:
        principal = await authenticate(keys, credentials)
        if scope is not None and not principal.has(scope):
            raise ProblemError(403, "forbidden", f"this API key lacks the {scope!r} scope")
        return principal

    dependency.__name__ = f"require_{scope or 'key'}"
    return dependency
