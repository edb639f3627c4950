"""The audit log: one call records who read or changed personal data or a result, and when.

Routes call :func:`record` inside their own transaction, so an entry is stored exactly when what it
describes happened (a read that fails records nothing; a change and its entry commit together).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from api.auth import Principal
from api.persistence.tables import AuditEntry, utcnow


def record(
    db: Session,
    actor: Principal | str,
    action: str,
    target: str | None = None,
    *,
    org_id: int | None = None,
    **detail: Any,
) -> AuditEntry:
    """Add an audit entry to ``db``'s transaction (the caller commits).

    ``actor`` is the calling principal (its key id and organisation are recorded) or a string for
    command-line actions (``cli:<user>``); ``org_id`` overrides the organisation whose data was touched.
    ``detail`` names what was read or changed (filters, reason), never the personal data itself.
    """
    if isinstance(actor, Principal):
        key_id, org = actor.key_id, actor.org_id
    else:
        key_id, org = str(actor), None
    entry = AuditEntry(
        at=utcnow(),
        org_id=org_id if org_id is not None else org,
        key_id=key_id,
        action=action,
        target=target,
        detail=detail or None,
    )
    db.add(entry)
    return entry
