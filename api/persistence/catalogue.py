"""An organisation's learning catalogue: stored records, their history, and the bundle view served with it.

Decision (issue 18): each academy's catalogue is its own (``org_id`` on every row). An organisation that
has never written one is served the recommender bundle's catalogue as it is; once it has one, that is
what it is served: the bundle's content it does not list is not recommended to its learners, and its
content the bundle has never seen is ranked from its tags (``recommender.rankers.cold_start``). The demo
organisation's catalogue is seeded from the demo bundle's (``digipath serve`` after ``bootstrap``).

Every change set (one API call, one import) advances the organisation's catalogue version once and keeps
each changed record as a new version with who changed it; nothing is deleted (retired content stays).
Serving processes cache the merged view per organisation and rebuild it when the served bundle changes or
the version token in ``catalogue_versions`` moves: one primary-key read per request, no retraining.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from api.persistence.tables import CatalogueItem, CatalogueItemVersion, CatalogueVersion, utcnow

log = logging.getLogger("digipath.api")


@dataclass
class ChangeSet:
    """What one change set did (ids per kind) and the catalogue version it made (None: nothing changed)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    unchanged: int = 0
    catalogue_version: int | None = None

    @property
    def changed(self) -> int:
        return len(self.created) + len(self.updated) + len(self.retired) + len(self.restored)

    def to_dict(self) -> dict[str, Any]:
        return {"created": len(self.created), "updated": len(self.updated), "retired": len(self.retired),
                "restored": len(self.restored), "unchanged": self.unchanged,
                "catalogue_version": self.catalogue_version}


def catalogue_version(db: Session, org_id: int) -> int:
    """The organisation's catalogue version (0: it has none of its own)."""
    return int(db.scalar(select(CatalogueVersion.version).where(CatalogueVersion.org_id == org_id)) or 0)


def find_item(db: Session, org_id: int, content_id: str) -> CatalogueItem | None:
    return db.scalar(select(CatalogueItem).where(CatalogueItem.org_id == org_id,
                                                 CatalogueItem.content_id == content_id))


def list_items(db: Session, org_id: int, status: str | None, offset: int, limit: int
               ) -> tuple[int, list[CatalogueItem]]:
    where = [CatalogueItem.org_id == org_id]
    if status is not None:
        where.append(CatalogueItem.status == status)
    total = db.scalar(select(func.count()).select_from(CatalogueItem).where(*where)) or 0
    rows = db.scalars(select(CatalogueItem).where(*where).order_by(CatalogueItem.id)
                      .offset(offset).limit(limit))
    return int(total), list(rows)


def item_history(db: Session, org_id: int, content_id: str) -> list[CatalogueItemVersion]:
    return list(db.scalars(
        select(CatalogueItemVersion)
        .where(CatalogueItemVersion.org_id == org_id, CatalogueItemVersion.content_id == content_id)
        .order_by(CatalogueItemVersion.version)
    ))


def live_records(db: Session, org_id: int) -> list[dict]:
    """Every record of the organisation's catalogue (retired ones too), in the order they were added."""
    return list(db.scalars(select(CatalogueItem.record).where(CatalogueItem.org_id == org_id)
                           .order_by(CatalogueItem.id)))


def _action(before: CatalogueItem | None, record: dict) -> str:
    if before is None:
        return "created"
    if before.status != record["status"]:
        return "retired" if record["status"] == "retired" else "restored"
    return "updated"


def apply_changes(db: Session, org_id: int, records: list[dict], actor: str) -> ChangeSet:
    """Create or update validated records (``recommender.live_catalogue.validate_content``) as one change
    set in ``db``'s transaction (the caller commits, with its audit entry). An unchanged record is left as
    it is; a changed one becomes a new version. The catalogue version advances once if anything changed."""
    out = ChangeSet()
    existing = {row.content_id: row for row in db.scalars(
        select(CatalogueItem).where(CatalogueItem.org_id == org_id,
                                    CatalogueItem.content_id.in_([r["content_id"] for r in records]))
    )} if len(records) <= 500 else {row.content_id: row for row in db.scalars(
        select(CatalogueItem).where(CatalogueItem.org_id == org_id))}
    changes: list[tuple[str, dict, CatalogueItem | None]] = []
    for record in records:
        before = existing.get(record["content_id"])
        if before is not None and before.record == record:
            out.unchanged += 1
            continue
        changes.append((_action(before, record), record, before))
    if not changes:
        return out
    version = _advance(db, org_id)
    now = utcnow()
    for action, record, before in changes:
        getattr(out, action).append(record["content_id"])
        if before is None:
            before = CatalogueItem(org_id=org_id, content_id=record["content_id"], version=0)
            db.add(before)
        before.version += 1
        before.status = record["status"]
        before.record = record
        before.updated_at = now
        before.updated_by = actor[:64]
        db.add(CatalogueItemVersion(org_id=org_id, content_id=record["content_id"], version=before.version,
                                    action=action, record=record, changed_at=now, changed_by=actor[:64],
                                    catalogue_version=version))
    db.flush()
    out.catalogue_version = version
    return out


def _advance(db: Session, org_id: int) -> int:
    """Advance the organisation's catalogue version (a new cache token with it); returns the new version."""
    token = str(uuid.uuid4())
    moved = db.execute(update(CatalogueVersion).where(CatalogueVersion.org_id == org_id)
                       .values(version=CatalogueVersion.version + 1, token=token, changed_at=utcnow()))
    if moved.rowcount == 0:
        db.add(CatalogueVersion(org_id=org_id, version=1, token=token, changed_at=utcnow()))
        db.flush()
    return catalogue_version(db, org_id)


# --------------------------------------------------------------------------------------------- serving
class ServedCatalogues:
    """The bundle each organisation is served: the bundle itself without a catalogue of its own, else the
    bundle merged with it (``RecommenderBundle.with_catalogue``), cached by the catalogue's version token."""

    def __init__(self, size: int = 64):
        self.size = size
        # one view per organisation (a new bundle replaces it), so a reloaded model's old bundle is let go
        self._views: OrderedDict[int, tuple[Any, str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def bundle_for(self, db: Session, org_id: int, bundle: Any) -> Any:
        token = db.scalar(select(CatalogueVersion.token).where(CatalogueVersion.org_id == org_id))
        if token is None:
            return bundle
        key = org_id
        with self._lock:
            got = self._views.get(key)
            if got is not None and got[0] is bundle and got[1] == token:
                self._views.move_to_end(key)
                return got[2]
        view = self.build(bundle, live_records(db, org_id))  # read after the token: never older than it
        with self._lock:
            self._views[key] = (bundle, token, view)
            self._views.move_to_end(key)
            while len(self._views) > self.size:
                self._views.popitem(last=False)
        return view

    @staticmethod
    def build(bundle: Any, records: list[dict]) -> Any:
        from recommender.live_catalogue import merge_catalogue

        return bundle.with_catalogue(merge_catalogue(bundle.catalogue, records))


SERVED = ServedCatalogues()


def served_bundle(db: Session, org_id: int, bundle: Any) -> Any:
    """The recommender bundle as the organisation is served it (its own catalogue merged in)."""
    return SERVED.bundle_for(db, org_id, bundle)
