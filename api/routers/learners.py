"""Recommendations for a learner (events + latest diagnostic), a learner's pathway, and per role."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import Principal, require
from api.deps import DbSession, Recommender
from api.jsonable import jsonable
from api.persistence.catalogue import served_bundle
from api.persistence.learners import get_learner, latest_finished_session
from api.persistence.tables import Learner, LearningEvent
from api.problems import PROBLEM_MEDIA_TYPE
from api.schemas import ExternalId, Language, Pathway, Recommendations

router = APIRouter(tags=["recommendations"])

LearnerId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")]
RoleId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")]
K = Annotated[int, Query(ge=1, le=100, description="how many items")]
Format = Annotated[
    str | None, Query(max_length=32, pattern=r"^[a-z-]+$", description="content format filter")
]
_PROBLEM = {"content": {PROBLEM_MEDIA_TYPE: {}}}
_ERRORS = {
    401: {**_PROBLEM, "description": "missing or bad API key"},
    403: {**_PROBLEM, "description": "key lacks the scope"},
    404: {**_PROBLEM, "description": "unknown learner or role"},
    422: {**_PROBLEM, "description": "invalid request"},
}


def model_learner_key(principal: Principal, external_id: str) -> str:
    """The learner id the recommender sees: organisation-qualified so ids never collide across orgs."""
    return f"{principal.org_slug}:{external_id}"


def _context(db: Session, principal: Principal, learner: Learner) -> tuple[dict | None, str | None, list]:
    session = latest_finished_session(db, learner)
    events = db.execute(
        select(LearningEvent.content_id, LearningEvent.event, LearningEvent.value)
        .where(LearningEvent.learner_id == learner.id)
        .order_by(LearningEvent.timestamp)
    ).all()
    live = [(c, e, float(v) if v is not None else 1.0) for c, e, v in events]
    return (session.result if session else None), (session.id if session else None), live


def _items(recs: list[Any]) -> list[dict]:
    return [jsonable(r) for r in recs]


@router.get(
    "/v1/learners/{learner_id}/recommendations",
    response_model=Recommendations,
    responses=_ERRORS,
    summary="Ranked learning content for a learner, with scores and reasons",
)
def learner_recommendations(
    learner_id: LearnerId,
    recommender: Recommender,
    db: DbSession,
    k: K = 10,
    language: Annotated[Language | None, Query()] = None,
    format: Format = None,
    principal: Principal = Depends(require("recommendations")),
) -> dict:
    learner = get_learner(db, principal.org_id, learner_id)
    profile, session_id, events = _context(db, principal, learner)
    bundle, version = recommender
    bundle = served_bundle(db, principal.org_id, bundle)  # the organisation's own catalogue, if it has one
    recs = bundle.recommend(
        model_learner_key(principal, learner_id),
        k=k,
        profile=profile,
        role=learner.role,
        events=events,
        language=language,
        format=format,
    )
    return {
        "learner_id": learner_id,
        "role": learner.role,
        "model_version": version,
        "based_on_session": session_id,
        "strategy": getattr(recs, "strategy", None) or None,
        "items": _items(recs),
    }


@router.get(
    "/v1/learners/{learner_id}/pathway",
    response_model=Pathway,
    responses=_ERRORS,
    summary="An ordered learning pathway from the learner's profile towards their role",
)
def learner_pathway(
    learner_id: LearnerId,
    recommender: Recommender,
    db: DbSession,
    role: Annotated[ExternalId | None, Query(description="target role (default: learner's)")] = None,
    language: Annotated[Language | None, Query()] = None,
    principal: Principal = Depends(require("recommendations")),
) -> dict:
    learner = get_learner(db, principal.org_id, learner_id)
    profile, session_id, events = _context(db, principal, learner)
    bundle, version = recommender
    bundle = served_bundle(db, principal.org_id, bundle)
    target = role or learner.role
    steps = bundle.pathway(
        model_learner_key(principal, learner_id), profile, target, events=events, language=language
    )
    return {
        "learner_id": learner_id,
        "role": target,
        "model_version": version,
        "based_on_session": session_id,
        "steps": [jsonable(s) for s in steps],
    }


@router.get(
    "/v1/roles/{role_id}/recommendations",
    response_model=Recommendations,
    responses=_ERRORS,
    summary="Learning content for a role profile (no learner history)",
)
def role_recommendations(
    role_id: RoleId,
    recommender: Recommender,
    db: DbSession,
    k: K = 10,
    language: Annotated[Language | None, Query()] = None,
    format: Format = None,
    principal: Principal = Depends(require("recommendations")),
) -> dict:
    bundle, version = recommender
    bundle = served_bundle(db, principal.org_id, bundle)
    recs = bundle.recommend_for_role(role_id, k=k, language=language, format=format)
    return {
        "role": role_id,
        "model_version": version,
        "strategy": getattr(recs, "strategy", None) or None,
        "items": _items(recs),
    }
