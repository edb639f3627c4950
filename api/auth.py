"""API keys: creation (hashed at rest), bearer verification, scopes, organisations.

A key reads ``dp_<key_id>_<secret>``: ``key_id`` is stored in clear and used for the lookup, the secret
only as sha256. sha256 (not a slow KDF) is enough because the secret is 256 random bits, not a password.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from api.deps import ServicesDep
from api.persistence.tables import ApiKey, Organisation, utcnow
from api.problems import ProblemError

SCOPES = (
    "diagnostics", "recommendations", "events", "insights", "supervisor", "oversight", "admin", "operator"
)
# ``operator`` is the academy's service-wide tier (organisations, their keys, the models, cross-organisation
# aggregates). ``admin`` holds every scope of its own organisation but never ``operator``; ``operator``
# holds no organisation scope: an operator key reads no learner's data unless it names those scopes too.
# ``supervisor``: per-learner insights rows, only of the units the key names (``api_keys.units``).
SERVICE_WIDE = frozenset({"operator"})
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
        return scope in self.scopes or ("admin" in self.scopes and scope not in SERVICE_WIDE)

    @property
    def is_operator(self) -> bool:
        return "operator" in self.scopes


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
    db: Session, org_slug: str, scopes: list[str], name: str | None = None, *, expires_at=None,  # noqa: ANN001
    units: list[str] | None = None,
) -> str:
    """Create an API key for ``org_slug`` (the organisation is created if new); returns the token once.

    ``expires_at``: an aware datetime after which the key is refused (None: until revoked).
    ``units``: the organisational units a ``supervisor`` key sees learner by learner (required with it).
    """
    scopes = validate_scopes(scopes)
    units = validate_units(scopes, units)
    org = get_or_create_org(db, org_slug)
    _, token = add_key(db, org, scopes, name, expires_at=expires_at, units=units)
    db.commit()
    return token


def add_key(  # noqa: ANN001
    db: Session, org: Organisation, scopes: list[str], name: str | None = None, *, expires_at=None,
    replaces: str | None = None, units: list[str] | None = None,
) -> tuple[ApiKey, str]:
    """Add a new key to ``db``'s transaction (the caller commits); returns the row and the token."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        key_id=key_id, org_id=org.id, secret_sha256=_sha256(secret), scopes=" ".join(validate_scopes(scopes)),
        name=name, expires_at=expires_at, replaces=replaces, units=validate_units(scopes, units),
    )
    db.add(key)
    return key, f"dp_{key_id}_{secret}"


log = logging.getLogger("digipath.api")
_REVOCATIONS = select(func.count(ApiKey.revoked_at), func.max(ApiKey.revoked_at))


class KeyVerifier:
    """Checks bearer tokens against the database, caching good keys to keep the hot path DB-free.

    Revocation reaches every process and host sharing the database within ``check_seconds``: a cached key
    is trusted only while this process has looked, less than ``check_seconds`` ago, at the revocation
    fingerprint (count and latest ``revoked_at`` of the revoked keys, one indexed query); when it changed,
    the whole cache is dropped and each key is verified again. The same look writes the pending last-use
    times: a key's ``last_used_at`` is written at most once per ``touch_seconds`` per process. While the
    service runs, a daemon thread makes the look (``start_checking``); a request looks itself only when
    that thread fell behind.
    """

    def __init__(  # noqa: ANN001
        self,
        sessionmaker,
        cache_seconds: float = 30.0,
        check_seconds: float = 0.5,
        touch_seconds: float = 60.0,
    ):
        self._sessionmaker = sessionmaker
        self._cache_seconds = cache_seconds
        self._check_seconds = check_seconds
        self._touch_seconds = touch_seconds
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()
        self._check_lock = threading.Lock()
        self._checked_at = -float("inf")  # monotonic time of the last look at the fingerprint
        self._fingerprint: tuple | None = None
        self._generation = 0  # bumped when the cache is dropped: a lookup older than that is not cached
        self._touched: dict[str, float] = {}  # key_id -> monotonic time its last use was queued
        self._pending: dict[str, datetime] = {}  # key_id -> last use not yet written
        # called with the check's session: other service-wide changes ride on the same look (api.signals)
        self.watchers: list[Callable[[Session], None]] = []

    def cached(self, token: str) -> Principal | None:
        """The principal of a token verified recently, if revocations were checked recently (no I/O)."""
        now = time.monotonic()
        if now - self._checked_at >= self._check_seconds:
            return None
        hit = self._cache.get(token)
        if hit is None or hit[0] <= now:
            return None
        self._touch(hit[1].key_id, now)
        return hit[1]

    def verify(self, token: str) -> Principal:
        now = time.monotonic()
        if now - self._checked_at >= self._check_seconds:
            with self._check_lock:  # one look per process; concurrent requests wait for it (< 1 ms)
                if time.monotonic() - self._checked_at >= self._check_seconds:
                    try:
                        self.check_revocations()
                    except SQLAlchemyError:  # a key that may be revoked is not accepted blindly: 503
                        raise _keys_unavailable() from None
        hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            self._touch(hit[1].key_id, now)
            return hit[1]
        match = _KEY_RE.match(token)
        if match is None:
            raise _unauthorized("malformed API key")
        key_id, secret = match.groups()
        generation = self._generation
        try:
            with self._sessionmaker() as db:
                row = db.execute(
                    select(ApiKey, Organisation.slug)
                    .join(Organisation, Organisation.id == ApiKey.org_id)
                    .where(ApiKey.key_id == key_id)
                ).first()
        except SQLAlchemyError:
            raise _keys_unavailable() from None
        wall = utcnow()
        if (
            row is None
            or row[0].revoked_at is not None
            or not hmac.compare_digest(row[0].secret_sha256, _sha256(secret))
        ):
            raise _unauthorized("unknown or revoked API key")
        key, slug = row
        if key.expires_at is not None and key.expires_at <= wall:
            raise _unauthorized("expired API key")
        principal = Principal(
            org_id=key.org_id, org_slug=slug, key_id=key.key_id, scopes=frozenset(key.scopes.split())
        )
        until = now + self._cache_seconds
        if key.expires_at is not None:  # an expiring key leaves the cache when it expires
            until = min(until, now + (key.expires_at - wall).total_seconds())
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            if generation == self._generation:  # else a revocation was seen since this lookup began
                self._cache[token] = (until, principal)
        self._touch(key.key_id, now)
        if self._pending:  # a miss went to the database anyway: write the last use now, not a check later
            with self._sessionmaker() as db:
                self._write_last_uses(db)
        return principal

    def start_checking(self) -> RevocationChecker | None:
        """Look at the revocations from a daemon thread, twice per ``check_seconds``, so that no request pays
        for the look or queues behind it (``cached`` then always answers on the event loop). A request
        still looks itself when the thread fell behind (a slow database), so the bound holds regardless.
        None when every request must look (``check_seconds`` 0)."""
        if self._check_seconds <= 0:
            return None
        checker = RevocationChecker(self, self._check_seconds / 2)
        checker.start()
        return checker

    def check_revocations(self) -> None:
        """Look at the revocation fingerprint (dropping the cache if it changed); write pending last uses."""
        started = time.monotonic()  # the look is as old as its start: a revocation after it waits a look
        with self._sessionmaker() as db:
            fingerprint = tuple(db.execute(_REVOCATIONS).one())
            self._write_last_uses(db)
            for watcher in self.watchers:
                try:
                    watcher(db)
                except SQLAlchemyError as exc:  # a signal missed now is seen on the next look
                    db.rollback()
                    log.warning("service signal not read: %s", exc)
        with self._lock:
            if fingerprint != self._fingerprint:
                self._cache.clear()
                self._generation += 1
                self._fingerprint = fingerprint
            self._checked_at = max(self._checked_at, started)

    def _write_last_uses(self, db: Session) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            for key_id, at in pending.items():
                older = or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < at)
                db.execute(update(ApiKey).where(ApiKey.key_id == key_id, older).values(last_used_at=at))
            db.commit()
        except SQLAlchemyError:  # bookkeeping only (e.g. a busy SQLite file): never fails the request
            db.rollback()
            log.warning("could not record the last use of %d API key(s)", len(pending))

    def _touch(self, key_id: str, now: float) -> None:
        if now - self._touched.get(key_id, -float("inf")) >= self._touch_seconds:  # rare: once a minute
            with self._lock:  # _write_last_uses swaps the pending dict under the lock
                self._touched[key_id] = now
                self._pending[key_id] = utcnow()
                if len(self._touched) > 100_000:
                    self._touched.clear()

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()
            self._generation += 1


class RevocationChecker(threading.Thread):
    """``KeyVerifier.check_revocations`` every ``interval`` seconds until stopped (a daemon thread, like
    ``api.db.WalCheckpointer``); a failed look is logged and retried, requests then look themselves."""

    def __init__(self, verifier: KeyVerifier, interval: float):
        super().__init__(name="key-revocation-check", daemon=True)
        self.verifier = verifier
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while True:
            try:
                self.verifier.check_revocations()
            except Exception as exc:  # the database is away: requests fall back to their own look (503)
                log.warning("revocation check failed: %s: %s", type(exc).__name__, exc)
            if self.stopped.wait(self.interval):
                return

    def stop(self) -> None:
        self.stopped.set()


def _keys_unavailable() -> ProblemError:
    return ProblemError(503, "unavailable", "API keys cannot be checked: the database is unreachable")


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
    """FastAPI dependency: the caller's principal holding ``scope`` (admin: all of its organisation's
    scopes, not ``operator``; None: any key)."""

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


async def optional_principal(
    keys: KeyVerifier = Depends(get_key_verifier),
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
) -> Principal | None:
    """The caller's principal when a valid key is sent, else None (for endpoints open to anyone that
    show more to a key holder, such as ``/readyz``)."""
    if credentials is None:
        return None
    try:
        return await authenticate(keys, credentials)
    except ProblemError:
        return None
