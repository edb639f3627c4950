"""Learner lookups, always filtered by organisation (another organisation's learner is simply not found)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.persistence.tables import DiagnosticSession, Learner
from api.problems import ProblemError


def find_learner(db: Session, org_id: int, external_id: str) -> Learner | None:
    return db.scalar(select(Learner).where(Learner.org_id == org_id, Learner.external_id == external_id))


def organisation_learners(db: Session, org_id: int) -> dict[str, Learner]:
    """Every learner of the organisation by external id, in one query (reports over all of them)."""
    return {x.external_id: x for x in db.scalars(select(Learner).where(Learner.org_id == org_id))}


def get_learner(db: Session, org_id: int, external_id: str) -> Learner:
    learner = find_learner(db, org_id, external_id)
    if learner is None:
        raise ProblemError(404, "not-found", f"unknown learner {external_id!r}")
    return learner


def ensure_learner(db: Session, org_id: int, external_id: str, role: str | None = None) -> Learner:
    """The learner, created (and committed) on first sight; safe against two requests creating it at once.

    Call it before other writes of the same unit of work: a lost creation race rolls ``db`` back.
    """
    learner = find_learner(db, org_id, external_id)
    if learner is None:
        try:
            learner = Learner(org_id=org_id, external_id=external_id, role=role)
            db.add(learner)
            db.commit()
        except IntegrityError:
            db.rollback()
            learner = find_learner(db, org_id, external_id)
            if learner is None:  # pragma: no cover - constraint violated for another reason
                raise
    return learner


def latest_finished_session(db: Session, learner: Learner) -> DiagnosticSession | None:
    return db.scalar(
        select(DiagnosticSession)
        .where(DiagnosticSession.learner_id == learner.id, DiagnosticSession.status == "finished")
        .order_by(DiagnosticSession.finished_at.desc(), DiagnosticSession.created_at.desc())
        .limit(1)
    )
