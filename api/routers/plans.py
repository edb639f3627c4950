"""A learner's pathway as a plan that people accept and steer (issue 18).

- ``GET /v1/learners/{id}/plan/proposal``: the pathway proposed now (the recommender's pathway merged with
  what people decided on the current plan) and its difference from the current plan, with reasons;
- ``POST /v1/learners/{id}/plan``: accept it (the first plan, or an update), stored with the model version
  and diagnostic it came from;
- ``GET /v1/learners/{id}/plan``: the stored plan and the progress against it;
- ``POST /v1/learners/{id}/plan/adjustments``: a supervisor pins, hides, adds, moves steps, sets deadlines;
- ``GET /v1/learners/{id}/plan/history``: every revision, with what changed and who changed it.

Who: the learner's platform (``recommendations`` scope) reads, accepts and sees the history; a
``supervisor`` key does the same, and adjusts, only for learners of the units it names. To a supervisor,
a learner outside its units and an unknown learner get the same 404. Every change is audit-logged with
the learner as target (so erasure and the subject access export cover it); a supervisor's reads too.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adaptive.insights.profiles import profile_levels
from api import audit
from api.auth import Principal, require
from api.deps import DbSession, Recommender
from api.insights.service import supervised_units
from api.jsonable import jsonable
from api.persistence.catalogue import served_bundle
from api.persistence.learners import find_learner
from api.persistence.tables import ApiKey, Learner, LearningEvent, LearningPlan, PlanRevision, utcnow
from api.privacy import learner_target
from api.problems import PROBLEM_MEDIA_TYPE, ProblemError
from api.routers.learners import LearnerId, compute_pathway
from api.schemas import Language, RoleId
from api.schemas_plans import PlanAccept, PlanAdjust, PlanHistory, PlanOut, PlanProposal
from recommender.progress import adjust_plan, plan_difference, plan_status, propose_plan

router = APIRouter(tags=["plans"])

_PROBLEM = {"content": {PROBLEM_MEDIA_TYPE: {}}}
_ERRORS = {
    401: {**_PROBLEM, "description": "missing or bad API key"},
    403: {**_PROBLEM, "description": "key lacks the scope (recommendations, or supervisor with units)"},
    404: {**_PROBLEM, "description": "unknown learner (or not in the supervisor's units), or no plan yet"},
    409: {**_PROBLEM, "description": "the plan or the proposal changed since it was seen"},
    422: {**_PROBLEM, "description": "invalid request (a change names no step of the plan, ...)"},
}


def _unknown(learner_id: str) -> ProblemError:
    return ProblemError(404, "not-found", f"unknown learner {learner_id!r}")


def _access(db: Session, principal: Principal, learner_id: str, *,
            adjust: bool = False) -> tuple[Learner, str]:
    """The learner and the scope the caller acts under. The learner's platform (``recommendations``)
    reads and accepts plans of the organisation's learners; a supervisor, only of its units' learners
    (others look unknown); adjusting needs a supervisor."""
    learner = find_learner(db, principal.org_id, learner_id)
    if not adjust and principal.has("recommendations"):
        if learner is None:
            raise _unknown(learner_id)
        return learner, "recommendations"
    units = supervised_units(db, principal.key_id) if principal.has("supervisor") else []
    if not units:
        need = "a 'supervisor' key naming the learner's unit" if adjust else \
            "the 'recommendations' scope, or a 'supervisor' key naming the learner's unit"
        raise ProblemError(403, "forbidden", f"this needs {need}")
    if learner is None or learner.unit not in units:
        raise _unknown(learner_id)   # the same answer: existence outside the units is not revealed
    return learner, "supervisor"


def _author(db: Session, principal: Principal, scope: str) -> dict:
    name = db.scalar(select(ApiKey.name).where(ApiKey.key_id == principal.key_id))
    return {"key_id": principal.key_id, "name": name, "scope": scope}


def _plan(db: Session, learner: Learner) -> LearningPlan | None:
    return db.scalar(select(LearningPlan).where(LearningPlan.learner_id == learner.id))


def _no_plan(learner_id: str) -> ProblemError:
    return ProblemError(404, "not-found", f"learner {learner_id!r} has no plan yet: accept a proposal first "
                        "(POST .../plan)")


def _completions(db: Session, learner: Learner, plan: LearningPlan | None) -> dict[str, str]:
    """content id -> first completion (ISO) of what the learner completed; with a plan, only completions at
    or after its acceptance: what was done before the plan existed is no progress on it."""
    query = (select(LearningEvent.content_id, func.min(LearningEvent.timestamp))
             .where(LearningEvent.learner_id == learner.id, LearningEvent.event == "completed")
             .group_by(LearningEvent.content_id))
    if plan is not None:
        query = query.where(LearningEvent.timestamp >= plan.created_at)
    rows = db.execute(query).all()
    return {c: t.isoformat() for c, t in rows}


def _fingerprint(revision: int, version: str, session: str | None, role: str | None,
                 steps: list[dict]) -> str:
    key = [(s["content_id"], s["pinned"], s["hidden"], s.get("deadline"), s["origin"]) for s in steps]
    blob = json.dumps({"revision": revision, "model_version": version, "session": session, "role": role,
                       "steps": key}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _proposal(db: Session, principal: Principal, learner: Learner, plan: LearningPlan | None, recommender,  # noqa: ANN001
              role: str | None, language: str | None) -> dict:
    """What the evidence proposes now, merged with the current plan, and the difference with reasons."""
    _, version = recommender
    target = role or learner.role or (plan.role if plan else None)  # a changed role proposes an update
    lang = language or (plan.language if plan else None)
    computed = compute_pathway(db, principal, learner, recommender[0], target, role is not None, lang)
    bundle, profile, session_id, recommended = (computed.bundle, computed.profile, computed.session_id,
                                                computed.steps)
    completed = _completions(db, learner, plan)
    current = list(plan.steps) if plan else []
    servable = bundle.catalogue.ids[bundle.catalogue.mask(lang or learner.language, None)]
    steps = propose_plan(current, recommended, completed, available={str(c) for c in servable})
    comp_ids = bundle.catalogue.competence_ids
    levels = dict(zip(comp_ids, profile_levels(profile, comp_ids), strict=True)) if profile else None
    diff = plan_difference(current, steps, levels=levels, catalogue_ids=bundle.catalogue.ids)
    revision = plan.revision if plan else 0
    evidence, moved_on = None, plan is None
    if plan is not None:
        # the same steps on newer evidence are still an update: the plan then says what it stands on
        moved_on = (session_id != plan.based_on_session or str(version) != plan.model_version
                    or target != plan.role)
        since = plan.updated_at.isoformat()
        evidence = {"new_diagnostic": session_id is not None and session_id != plan.based_on_session,
                    "completed_since": [s["content_id"] for s in current
                                        if completed.get(s["content_id"], "") > since],
                    "model_changed": str(version) != plan.model_version}
    return {"learner_id": learner.external_id, "role": target, "language": lang, "current_revision": revision,
            "model_version": str(version), "based_on_session": session_id,
            "proposal": _fingerprint(revision, str(version), session_id, target, steps),
            "changed": moved_on or diff.changed, "evidence": evidence,
            "steps": plan_status(steps, completed)["steps"], "difference": diff, "_steps": steps}


def _last_revision(db: Session, plan: LearningPlan) -> PlanRevision:
    return db.scalar(select(PlanRevision).where(PlanRevision.plan_id == plan.id)
                     .order_by(PlanRevision.revision.desc()).limit(1))


def _revision_out(r: PlanRevision) -> dict:
    return {"revision": r.revision, "kind": r.kind, "at": r.created_at.isoformat(),
            "author": {"key_id": r.author_key_id, "name": r.author_name, "scope": r.author_scope},
            "model_version": r.model_version, "based_on_session": r.based_on_session, "note": r.note,
            "n_steps": sum(not s.get("hidden") for s in r.steps), "changes": r.changes}


def _plan_out(db: Session, learner: Learner, plan: LearningPlan) -> dict:
    status = plan_status(plan.steps, _completions(db, learner, plan))
    last = _revision_out(_last_revision(db, plan))
    return jsonable({
        "learner_id": learner.external_id, "role": plan.role, "revision": plan.revision,
        "model_version": plan.model_version, "based_on_session": plan.based_on_session,
        "accepted_at": plan.created_at.isoformat(), "updated_at": plan.updated_at.isoformat(), **status,
        "last_change": {k: last[k] for k in ("revision", "kind", "at", "author", "note")}})


def _audit_read(db: Session, principal: Principal, scope: str, learner: Learner, what: str) -> None:
    """A supervisor reading a learner's plan is a read of individual data: logged (the platform's own
    reads, like its pathway reads, are not)."""
    if scope == "supervisor":
        audit.record(db, principal, "plan.read", learner_target(learner.external_id), what=what)
        db.commit()


def _store(db: Session, plan: LearningPlan, seen: int, values: dict) -> None:
    """Write the next revision only if the plan is still at ``seen`` (else 409, nothing written)."""
    n = db.execute(update(LearningPlan).where(LearningPlan.id == plan.id, LearningPlan.revision == seen)
                   .values(revision=seen + 1, **values)).rowcount
    if n != 1:
        db.rollback()
        raise ProblemError(409, "plan-changed", "the plan changed meanwhile: read it again and retry")


@router.get("/v1/learners/{learner_id}/plan/proposal", response_model=PlanProposal, responses=_ERRORS,
            summary="The plan the evidence proposes now, and how it differs from the current plan (and why)")
def plan_proposal(
    learner_id: LearnerId,
    recommender: Recommender,
    db: DbSession,
    role: Annotated[RoleId | None, Query(description="target role (default: the plan's, else the "
                                                          "learner's)")] = None,
    language: Annotated[Language | None, Query()] = None,
    principal: Principal = Depends(require(None)),
) -> dict:
    learner, scope = _access(db, principal, learner_id)
    prop = _proposal(db, principal, learner, _plan(db, learner), recommender, role, language)
    _audit_read(db, principal, scope, learner, "proposal")
    prop.pop("_steps")
    prop.pop("language")
    return jsonable(prop)


@router.post("/v1/learners/{learner_id}/plan", response_model=PlanOut, status_code=201,
             responses={**_ERRORS, 200: {"model": PlanOut, "description": "the plan was updated (or already "
                                                                          "was what is proposed)"}},
             summary="Accept the proposed pathway as the learner's plan (first plan: 201; update: 200)")
def accept_plan(
    learner_id: LearnerId,
    body: PlanAccept,
    recommender: Recommender,
    db: DbSession,
    response: Response,
    principal: Principal = Depends(require(None)),
) -> dict:
    learner, scope = _access(db, principal, learner_id)
    plan = _plan(db, learner)
    seen = plan.revision if plan else 0
    if body.expected_revision is not None and body.expected_revision != seen:
        raise ProblemError(409, "plan-changed", f"the plan is at revision {seen}, not "
                           f"{body.expected_revision}: review the proposal again")
    prop = _proposal(db, principal, learner, plan, recommender, body.role, body.language)
    if body.proposal is not None and body.proposal != prop["proposal"]:
        raise ProblemError(409, "proposal-changed", "the proposal changed since it was reviewed (new "
                           "evidence, another model or an adjustment): review GET .../plan/proposal again")
    if plan is not None and not prop["changed"]:
        response.status_code = 200
        return _plan_out(db, learner, plan)
    now, steps = utcnow(), prop["_steps"]
    values = {"role": prop["role"], "language": prop["language"], "steps": steps,
              "model_version": prop["model_version"], "based_on_session": prop["based_on_session"],
              "updated_at": now}
    if plan is None:
        plan = LearningPlan(org_id=principal.org_id, learner_id=learner.id, revision=1, created_at=now,
                            **values)
        db.add(plan)
        try:
            db.flush()
        except IntegrityError:   # another request accepted the first plan at the same moment
            db.rollback()
            raise ProblemError(409, "plan-changed", "a plan was accepted meanwhile: review the proposal "
                               "again") from None
        kind = "accepted"
    else:
        _store(db, plan, seen, values)
        kind = "updated"
    diff = prop["difference"]
    db.add(PlanRevision(plan_id=plan.id, revision=seen + 1, kind=kind, steps=steps, changes=diff.to_dict(),
                        model_version=prop["model_version"], based_on_session=prop["based_on_session"],
                        note=body.note, created_at=now,
                        **_author_columns(_author(db, principal, scope))))
    audit.record(db, principal, f"plan.{'accept' if kind == 'accepted' else 'update'}",
                 learner_target(learner.external_id), revision=seen + 1, model_version=prop["model_version"],
                 added=len(diff.added), removed=len(diff.removed), reordered=len(diff.reordered))
    db.commit()
    db.refresh(plan)
    response.status_code = 201 if kind == "accepted" else 200
    return _plan_out(db, learner, plan)


def _author_columns(author: dict) -> dict:
    return {"author_key_id": author["key_id"], "author_name": author["name"], "author_scope": author["scope"]}


@router.get("/v1/learners/{learner_id}/plan", response_model=PlanOut, responses=_ERRORS,
            summary="The learner's stored plan and the progress against it")
def get_plan(learner_id: LearnerId, db: DbSession, principal: Principal = Depends(require(None))) -> dict:
    learner, scope = _access(db, principal, learner_id)
    plan = _plan(db, learner)
    if plan is None:
        raise _no_plan(learner_id)
    out = _plan_out(db, learner, plan)
    _audit_read(db, principal, scope, learner, "plan")
    return out


@router.post("/v1/learners/{learner_id}/plan/adjustments", response_model=PlanOut, responses=_ERRORS,
             summary="A supervisor pins, hides, adds or moves steps and sets deadlines (supervisor scope)")
def adjust(
    learner_id: LearnerId,
    body: PlanAdjust,
    recommender: Recommender,
    db: DbSession,
    principal: Principal = Depends(require(None)),
) -> dict:
    learner, scope = _access(db, principal, learner_id, adjust=True)
    plan = _plan(db, learner)
    if plan is None:
        raise _no_plan(learner_id)
    if body.expected_revision != plan.revision:
        raise ProblemError(409, "plan-changed", f"the plan is at revision {plan.revision}, not "
                           f"{body.expected_revision}: read it again")
    bundle = served_bundle(db, principal.org_id, recommender[0])  # the organisation's live catalogue
    author, now = _author(db, principal, scope), utcnow()
    steps, applied = adjust_plan(plan.steps, [c.model_dump(mode="json") for c in body.changes], author=author,
                                 at=now.isoformat(), catalogue=bundle.catalogue,
                                 competence_names=bundle.competence_names)
    seen = plan.revision
    _store(db, plan, seen, {"steps": steps, "updated_at": now})
    db.add(PlanRevision(plan_id=plan.id, revision=seen + 1, kind="adjusted", steps=steps,
                        changes={"adjustments": applied}, model_version=plan.model_version,
                        based_on_session=plan.based_on_session, note=body.reason, created_at=now,
                        **_author_columns(author)))
    audit.record(db, principal, "plan.adjust", learner_target(learner.external_id), revision=seen + 1,
                 operations=[a["op"] for a in applied])
    db.commit()
    db.refresh(plan)
    return _plan_out(db, learner, plan)


@router.get("/v1/learners/{learner_id}/plan/history", response_model=PlanHistory, responses=_ERRORS,
            summary="Every revision of the plan: what changed, why, and who changed it (newest first)")
def plan_history(
    learner_id: LearnerId,
    db: DbSession,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    principal: Principal = Depends(require(None)),
) -> dict[str, Any]:
    learner, scope = _access(db, principal, learner_id)
    plan = _plan(db, learner)
    if plan is None:
        raise _no_plan(learner_id)
    total = db.scalar(select(func.count()).select_from(PlanRevision).where(PlanRevision.plan_id == plan.id))
    rows = db.scalars(select(PlanRevision).where(PlanRevision.plan_id == plan.id)
                      .order_by(PlanRevision.revision.desc()).offset(offset).limit(limit)).all()
    out = jsonable({"learner_id": learner.external_id, "total": total,
                    "items": [_revision_out(r) for r in rows]})
    _audit_read(db, principal, scope, learner, "history")
    return out
