"""Data-subject rights and retention: erase a learner, export what is held about one, purge old data.

Which rows belong to a learner is read from the schema, not listed by hand: every table reachable from
``learners`` by a chain of foreign keys (sessions, their responses, events, and whatever table is added
later with such a key) is erased or exported with it. One exception: the response log
(``responses``) is calibration data, so its rows are moved to ``anonymous_responses``, irreversibly
stripped (:func:`_anonymise`), instead of being deleted outright.

The route or command that calls these functions owns the transaction (audit entry included) and commits.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from api.audit import record
from api.auth import Principal
from api.jsonable import jsonable
from api.persistence.tables import (
    AnonymousResponse,
    AuditEntry,
    Base,
    DiagnosticSession,
    Learner,
    LearningEvent,
    Organisation,
    ResponseRecord,
    utcnow,
)

# Columns a subject access export leaves out, and why (named in the export itself). They would hand the
# answer key of every item the learner saw to whoever holds the export (GDPR Art. 15(4), recital 63).
WITHHELD = {
    "responses": {
        "response": "the score of an answer digipath scored is derived from the item's answer key (exported "
                    "where the delivery platform scored the item: answer null)",
        "reply": "a copy of the service's reply to the learner's platform at each step",
    },
    "diagnostic_sessions": {
        "state": "the adaptive test's internal state, with the score of each answer",
        "seed": "the test's random seed: with the answers it would let one replay the item selection",
    },
}
# Withheld columns exported on the rows where they hold nothing of the answer key: a score the delivery
# platform gave (a response without an option, ``answer`` null) came from the platform, not from our key.
EXPORTED_WHERE: dict[str, dict[str, Callable[[Table], ColumnElement[bool]]]] = {
    "responses": {"response": lambda t: t.c.answer.is_(None)},
}
ANONYMISED_TABLE = "responses"


def owned_rows(roots: Mapping[str, ColumnElement[bool]]) -> dict[Table, ColumnElement[bool]]:
    """For every table reachable by foreign keys from the ``roots`` (table name -> where-clause), the
    where-clause selecting its rows that hang off the selected root rows (the roots included)."""
    owned: dict[Table, ColumnElement[bool]] = {Base.metadata.tables[n]: cond for n, cond in roots.items()}
    for table in Base.metadata.sorted_tables:          # parents before children: one pass reaches all
        if table in owned:
            continue
        conds = [fk.parent.in_(select(fk.column).where(owned[fk.column.table]))
                 for fk in table.foreign_keys if fk.column.table in owned and fk.column.table is not table]
        if conds:
            owned[table] = or_(*conds)
    return owned


@dataclass
class Removal:
    """What an erasure or purge removed (counts per table) and anonymised."""

    deleted: dict[str, int] = field(default_factory=dict)
    anonymised_responses: int = 0
    anonymous_persons: int = 0
    session_ids: list[str] = field(default_factory=list)

    def add(self, other: Removal) -> None:
        for k, v in other.deleted.items():
            self.deleted[k] = self.deleted.get(k, 0) + v
        self.anonymised_responses += other.anonymised_responses
        self.anonymous_persons += other.anonymous_persons
        self.session_ids += other.session_ids

    def to_dict(self) -> dict:
        return {"deleted": dict(sorted(self.deleted.items())),
                "anonymised_responses": self.anonymised_responses,
                "anonymous_persons": self.anonymous_persons}


def month_start(value: datetime) -> datetime:
    return value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _anonymise(db: Session, where: ColumnElement[bool]) -> tuple[int, int]:
    """Move the response-log rows selected by ``where`` to ``anonymous_responses``.

    Kept: organisation, item, scored response, bank version (what calibration reads). Dropped: learner,
    session, sequence, the chosen option, the reply. Each diagnostic's rows get one fresh random person
    id (drawn here, stored nowhere else): calibration still sees which responses one person gave in one
    sitting (one ability, as the IRT model assumes), while a learner's retests are not linked to each
    other (and an item met again in a retest is not a duplicate). The time is cut to the month.
    DELETE ... RETURNING first: a concurrent erasure or purge gets no row twice.
    """
    r = ResponseRecord
    rows = db.execute(
        delete(r).where(where).returning(r.session_id, r.org_id, r.item_id, r.response, r.bank_version,
                                         r.administered_at)
    ).all()
    if not rows:
        return 0, 0
    persons: dict[str, str] = {}
    for row in rows:
        persons.setdefault(row.session_id, f"anon-{secrets.token_hex(16)}")
    # shuffled, so the insertion order (ids) does not keep the response sequence either
    order = sorted(range(len(rows)), key=lambda _: secrets.randbits(32))
    db.execute(insert(AnonymousResponse), [
        {"org_id": rows[i].org_id, "person_id": persons[rows[i].session_id], "item_id": rows[i].item_id,
         "response": rows[i].response, "bank_version": rows[i].bank_version,
         "administered_month": month_start(rows[i].administered_at)} for i in order])
    return len(rows), len(persons)


def _remove(db: Session, owned: dict[Table, ColumnElement[bool]]) -> Removal:
    """Delete the owned rows, children first; the response log is anonymised instead."""
    out = Removal()
    sessions = Base.metadata.tables["diagnostic_sessions"]
    if sessions in owned:
        out.session_ids = list(db.scalars(select(sessions.c.id).where(owned[sessions])))
        # Bump the optimistic-concurrency counter first: it locks the rows (PostgreSQL), and an answer in
        # flight on one of them now conflicts instead of appending to a log that is being erased.
        db.execute(update(DiagnosticSession).where(owned[sessions])
                   .values(version=DiagnosticSession.version + 1))
    for table in reversed(Base.metadata.sorted_tables):
        if table not in owned:
            continue
        if table.name == ANONYMISED_TABLE:
            out.anonymised_responses, out.anonymous_persons = _anonymise(db, owned[table])
            continue
        n = db.execute(delete(table).where(owned[table])).rowcount
        if n:
            out.deleted[table.name] = n
    return out


def _erase_audit_names(db: Session, org_id: int, targets: list[str], new_target: str) -> int:
    """Earlier audit entries name the learner (or their sessions): they keep what happened, under the
    erasure receipt instead of the name."""
    if not targets:
        return 0
    return db.execute(update(AuditEntry).where(AuditEntry.org_id == org_id, AuditEntry.target.in_(targets))
                      .values(target=new_target)).rowcount


def learner_target(external_id: str) -> str:
    return f"learner:{external_id}"


def erase_learner(db: Session, actor: Principal | str, learner: Learner) -> tuple[dict, list[str]]:
    """Erase ``learner`` (GDPR Art. 17) in ``db``'s transaction; returns the receipt (no personal data)
    and the ids of the sessions erased (for in-memory caches to drop)."""
    receipt = secrets.token_hex(8)
    org_id, external = learner.org_id, learner.external_id
    owned = owned_rows({"learners": Base.metadata.tables["learners"].c.id == learner.id})
    db.expunge(learner)
    removal = _remove(db, owned)
    targets = [learner_target(external), *(f"session:{s}" for s in removal.session_ids)]
    renamed = _erase_audit_names(db, org_id, targets, f"erased:{receipt}")
    record(db, actor, "learner.erase", f"erased:{receipt}", org_id=org_id, audit_entries_renamed=renamed,
           **removal.to_dict())
    return {"erasure_id": receipt, "erased_at": utcnow().isoformat(), **removal.to_dict(),
            "audit_entries_renamed": renamed}, removal.session_ids


def _rows(db: Session, table: Table, where: ColumnElement[bool]) -> list[dict]:
    withheld = WITHHELD.get(table.name, {})
    exported = EXPORTED_WHERE.get(table.name, {})
    cols = [c for c in table.columns if c.name not in withheld]
    cols += [case((cond(table), table.c[name])).label(name) for name, cond in exported.items()]
    pk = list(table.primary_key.columns)
    out = []
    for row in db.execute(select(*cols).where(where).order_by(*pk)):
        values = dict(row._mapping)
        for name in exported:   # withheld on this row (the columns are not nullable: None means withheld)
            if values[name] is None:
                del values[name]
        out.append(jsonable(values))
    return out


def learner_export(db: Session, learner: Learner) -> dict:
    """Everything held about ``learner`` (GDPR Art. 15): every row of every table that hangs off them by
    foreign keys, the audit entries that name them, and what is withheld and why."""
    owned = owned_rows({"learners": Base.metadata.tables["learners"].c.id == learner.id})
    tables = {t.name: _rows(db, t, cond) for t, cond in owned.items()}
    sessions = [s["id"] for s in tables.get("diagnostic_sessions", [])]
    names = [learner_target(learner.external_id), *(f"session:{s}" for s in sessions)]
    audit = db.execute(
        select(AuditEntry.at, AuditEntry.key_id, AuditEntry.action, AuditEntry.target)
        .where(AuditEntry.org_id == learner.org_id, AuditEntry.target.in_(names)).order_by(AuditEntry.id)
    ).all()
    return {
        "learner_id": learner.external_id,
        "exported_at": utcnow().isoformat(),
        "tables": dict(sorted(tables.items())),
        "audit": [jsonable(dict(a._mapping)) for a in audit],
        "withheld": {f"{t}.{c}": why for t, cols in WITHHELD.items() for c, why in cols.items()},
    }


def purge(db: Session, retention_days: int, *, now: datetime | None = None) -> dict:
    """Remove personal data older than ``retention_days`` (in ``db``'s transaction); idempotent.

    - diagnostic sessions last changed before the cut-off, with everything that hangs off them (their
      responses are anonymised into the calibration log);
    - learning events and xAPI statements with a timestamp before the cut-off;
    - learning plans (with their history) last changed before the cut-off;
    - learners created before the cut-off with nothing left (no session, no event, nothing else).
    The audit log is not purged (it is the record of who read what); entries naming a removed learner or
    session are renamed to the purge receipt like on erasure, and each organisation with something
    removed gets a ``retention.purge`` entry (so its own audit export shows it).
    """
    if isinstance(retention_days, bool) or not isinstance(retention_days, int) or retention_days < 1:
        raise ValueError(f"retention must be a whole number of days >= 1, got {retention_days!r}")
    now = now or utcnow()
    cutoff = now - timedelta(days=retention_days)
    receipt = secrets.token_hex(8)
    total, renamed, organisations = Removal(), 0, 0
    for org_id in db.scalars(select(Organisation.id).order_by(Organisation.id)).all():
        removal, n = _purge_organisation(db, org_id, cutoff, receipt)
        if removal.deleted or removal.anonymised_responses:
            organisations += 1
            record(db, "cli:purge", "retention.purge", f"purge:{receipt}", org_id=org_id,
                   retention_days=retention_days, **removal.to_dict(), audit_entries_renamed=n)
        total.add(removal)
        renamed += n
    return {"cutoff": cutoff.isoformat(), **total.to_dict(), "audit_entries_renamed": renamed,
            "organisations": organisations}


def _purge_organisation(db: Session, org_id: int, cutoff: datetime, receipt: str) -> tuple[Removal, int]:
    total = Removal()
    last_change = func.coalesce(DiagnosticSession.finished_at, DiagnosticSession.updated_at)
    total.add(_remove(db, owned_rows({"diagnostic_sessions": (DiagnosticSession.org_id == org_id)
                                      & (last_change < cutoff)})))
    total.add(_remove(db, owned_rows({"learning_events": (LearningEvent.org_id == org_id)
                                      & (LearningEvent.timestamp < cutoff)})))
    statements = Base.metadata.tables["xapi_statements"]  # xAPI statements received (issue 17), like events
    total.add(_remove(db, owned_rows({"xapi_statements": (statements.c.org_id == org_id)
                                      & (statements.c.timestamp < cutoff)})))
    plans = Base.metadata.tables["learning_plans"]   # plans nobody changed within the retention (issue 18)
    total.add(_remove(db, owned_rows({"learning_plans": (plans.c.org_id == org_id)
                                      & (plans.c.updated_at < cutoff)})))
    learners = Base.metadata.tables["learners"]
    nothing_left = [not_(exists().where(fk.parent == learners.c.id))
                    for t in Base.metadata.sorted_tables for fk in t.foreign_keys
                    if fk.column.table is learners and t is not learners]
    idle = and_(learners.c.org_id == org_id, learners.c.created_at < cutoff, *nothing_left)
    gone = list(db.scalars(select(learners.c.external_id).where(idle)))
    total.add(_remove(db, owned_rows({"learners": idle})))
    targets = [*(learner_target(x) for x in gone), *(f"session:{s}" for s in total.session_ids)]
    return total, _erase_audit_names(db, org_id, targets, f"purge:{receipt}")
