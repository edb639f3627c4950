"""Human oversight of results (issue 13): annotations and level overrides by ``oversight`` keys, contests
by the learner's platform. Append-only rows in ``result_reviews``; the scored result is never changed, so
the original level always stays visible beside the reviewed one. Each change is audit-logged in the same
transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api import audit
from api.auth import Principal
from api.persistence.tables import DiagnosticSession, Learner, ResultReview, utcnow
from api.problems import ProblemError


def review_out(r: ResultReview) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "area": r.area,
        "original_level": r.original_level,
        "level": r.level,
        "reason": r.reason,
        "key_id": r.key_id,
        "created_at": r.created_at,
    }


def reviews_of(db: Session, row: DiagnosticSession) -> list[ResultReview]:
    return list(
        db.scalars(
            select(ResultReview)
            .where(ResultReview.session_id == row.id, ResultReview.org_id == row.org_id)
            .order_by(ResultReview.id)
        )
    )


def review_summary(db: Session, row: DiagnosticSession, profile: dict) -> dict[str, Any]:
    """What a result shows of its reviews: every review, the level per area after overrides (with the
    scored one), and whether it is contested with no oversight review since the last contest."""
    reviews = reviews_of(db, row)
    levels = {
        a: {"level": r.get("level"), "scored_level": r.get("level"), "override_id": None}
        for a, r in profile.get("areas", {}).items()
    }
    last_contest = last_oversight = 0
    for r in reviews:
        if r.kind == "override" and r.area in levels:  # the latest override of an area counts
            levels[r.area].update(level=r.level, override_id=r.id)
        if r.kind == "contest":
            last_contest = r.id
        else:
            last_oversight = r.id
    return {
        "levels": levels,
        "contested": last_contest > 0,
        "contest_open": last_contest > last_oversight,
        "reviews": [review_out(r) for r in reviews],
    }


def _finished(row: DiagnosticSession) -> None:
    if row.status != "finished":
        raise ProblemError(
            409,
            "session-not-finished",
            f"diagnostic {row.id} is still in progress: only a result can be reviewed or contested",
        )


def _area_level(row: DiagnosticSession, area: str | None) -> int | None:
    """The scored level of ``area`` (422 naming the field when the result has no such area)."""
    if area is None:
        return None
    areas = (row.result or {}).get("areas") or {}
    if area not in areas:
        raise ProblemError(
            422,
            "validation",
            f"area {area!r} is not in this result (areas measured: {', '.join(areas)})",
            field="area",
        )
    return areas[area].get("level")


def add_review(
    db: Session,
    principal: Principal,
    row: DiagnosticSession,
    kind: str,
    reason: str,
    area: str | None,
    level: int | None,
    n_levels: int | None,
) -> dict[str, Any]:
    """Store an oversight review (``annotation`` or ``override``) and its audit entry; commit."""
    _finished(row)
    scored = _area_level(row, area)
    if kind == "override":
        if area is None or level is None:
            raise ProblemError(422, "validation", "an override names the area and the new level",
                               field="area" if area is None else "level")
        if scored is None or n_levels is None:
            raise ProblemError(422, "validation", f"area {area!r} has no level to override", field="area")
        if not 1 <= level <= n_levels:
            raise ProblemError(422, "validation", f"level must be 1..{n_levels}, got {level}", field="level")
    elif level is not None:
        raise ProblemError(422, "validation", "only an override sets a level", field="level")
    review = _store(db, principal, row, kind, reason, area, scored if kind == "override" else None, level)
    return review


def add_contest(
    db: Session, principal: Principal, row: DiagnosticSession, reason: str, area: str | None
) -> dict[str, Any]:
    """The learner's platform flags the result (or one area of it) as contested; commit."""
    _finished(row)
    _area_level(row, area)
    return _store(db, principal, row, "contest", reason, area, None, None)


def _store(db, principal, row, kind, reason, area, original_level, level) -> dict[str, Any]:  # noqa: ANN001
    review = ResultReview(
        org_id=row.org_id,
        session_id=row.id,
        kind=kind,
        area=area,
        original_level=original_level,
        level=level,
        reason=reason,
        key_id=principal.key_id,
        created_at=utcnow(),
    )
    db.add(review)
    db.flush()
    audit.record(
        db,
        principal,
        f"result.{kind}",
        f"session:{row.id}",
        review_id=review.id,
        area=area,
        original_level=original_level,
        level=level,
    )  # the reason stays in the review row only: free text about a person, erased with the learner
    out = review_out(review)
    db.commit()
    return out


def contested_results(db: Session, principal: Principal, open_only: bool, offset: int, limit: int) -> dict:
    """The organisation's contested results, newest contest first: the oversight work queue. A contest is
    open until an oversight review of that result follows it."""
    contested = select(ResultReview.session_id).where(
        ResultReview.org_id == principal.org_id, ResultReview.kind == "contest"
    )
    rows = db.execute(
        select(ResultReview, Learner.external_id)
        .join(DiagnosticSession, DiagnosticSession.id == ResultReview.session_id)
        .join(Learner, Learner.id == DiagnosticSession.learner_id)
        .where(ResultReview.org_id == principal.org_id, ResultReview.session_id.in_(contested))
        .order_by(ResultReview.id)
    ).all()
    by_session: dict[str, dict[str, Any]] = {}
    for review, learner in rows:
        entry = by_session.setdefault(
            review.session_id,
            {"session_id": review.session_id, "learner_id": learner, "last_contest": None, "_oversight": 0},
        )
        if review.kind == "contest":
            entry["last_contest"] = review_out(review)
        else:
            entry["_oversight"] = review.id
    items = []
    for entry in by_session.values():
        entry["open"] = entry["last_contest"]["id"] > entry.pop("_oversight")
        if entry["open"] or not open_only:
            items.append(entry)
    items.sort(key=lambda e: e["last_contest"]["id"], reverse=True)
    return {"total": len(items), "offset": offset, "limit": limit, "items": items[offset : offset + limit]}
