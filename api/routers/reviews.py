"""Oversight of results: reviews (annotate, override a level) by ``oversight`` keys, contests by the
learner's platform (``diagnostics`` keys), and the list of both. Another organisation's session: 404."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from api import audit, reviews
from api.auth import Principal, require
from api.deps import DbSession, Diagnostics, Provider
from api.problems import PROBLEM_MEDIA_TYPE, ProblemError
from api.routers.diagnostics import SESSION_ERRORS, SessionId
from api.schemas import ContestIn, ReviewIn, ReviewOut

router = APIRouter(tags=["oversight"])

_PROBLEM = {"content": {PROBLEM_MEDIA_TYPE: {}}}
_ERRORS = {
    **SESSION_ERRORS,
    409: {**_PROBLEM, "description": "diagnostic not finished yet"},
    422: {**_PROBLEM, "description": "invalid request (an area not in the result, a level out of range)"},
}


@router.post(
    "/v1/diagnostics/{session_id}/reviews",
    status_code=201,
    response_model=ReviewOut,
    responses=_ERRORS,
    summary="Annotate a result or override an area's level, with a reason (oversight scope)",
    description="The scored result is kept: an override stores the scored level as `original_level`. "
    "Audit-logged.",
)
def add_review(
    session_id: SessionId,
    body: ReviewIn,
    db: DbSession,
    principal: Annotated[Principal, Depends(require("oversight"))],
    diagnostics: Diagnostics,
    provider: Provider,
) -> dict:
    row = diagnostics.get_row(db, principal, session_id)
    cuts = (getattr(provider.bank(row.bank_version), "cut_scores", None) or {}).get(body.area or "")
    n_levels = len(cuts) + 1 if cuts else None
    return reviews.add_review(db, principal, row, body.kind, body.reason, body.area, body.level, n_levels)


@router.post(
    "/v1/diagnostics/{session_id}/contest",
    status_code=201,
    response_model=ReviewOut,
    responses=_ERRORS,
    summary="Flag a result as contested by the learner, with a reason (diagnostics scope)",
    description="Shown in the result (`contested`, `contest_open`, `reviews`) for human review. "
    "Audit-logged.",
)
def contest(
    session_id: SessionId,
    body: ContestIn,
    db: DbSession,
    principal: Annotated[Principal, Depends(require("diagnostics"))],
    diagnostics: Diagnostics,
) -> dict:
    row = diagnostics.get_row(db, principal, session_id)
    return reviews.add_contest(db, principal, row, body.reason, body.area)


@router.get(
    "/v1/diagnostics/{session_id}/reviews",
    response_model=list[ReviewOut],
    responses=_ERRORS,
    summary="Reviews and contests of a result, oldest first (diagnostics or oversight scope)",
)
def list_reviews(
    session_id: SessionId,
    db: DbSession,
    principal: Annotated[Principal, Depends(require(None))],
    diagnostics: Diagnostics,
) -> list[dict]:
    if not (principal.has("diagnostics") or principal.has("oversight")):
        raise ProblemError(403, "forbidden", "this API key lacks the 'diagnostics' or 'oversight' scope")
    row = diagnostics.get_row(db, principal, session_id)
    return [reviews.review_out(r) for r in reviews.reviews_of(db, row)]


@router.get(
    "/v1/oversight/contests",
    responses={k: v for k, v in _ERRORS.items() if k in (401, 403, 422)},
    summary="Contested results of the caller's organisation, newest first (oversight scope)",
    description="`status=open` (default): only contests no oversight review has followed yet; `all`: every "
    "contested result. Audit-logged.",
)
def list_contests(
    db: DbSession,
    principal: Annotated[Principal, Depends(require("oversight"))],
    status: Literal["open", "all"] = "open",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict:
    page = reviews.contested_results(db, principal, status == "open", offset, limit)
    audit.record(db, principal, "result.contests.read", None, status=status, offset=offset, limit=limit)
    db.commit()
    return page
