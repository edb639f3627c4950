"""Learner records (role, unit, preferred language, objectives), recommendations for a learner (events
+ latest diagnostic), a learner's pathway, and content per role.

Who may write a learner record: the platform backend of the organisation (a key with the
``recommendations`` or ``diagnostics`` scope; ``admin`` holds both) for any learner of it; a
``supervisor`` key only for learners of the units it names, and never moving one out of them. Every
write is audit-logged (``learner.create``, ``learner.update``) with the names of the fields changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adaptive.errors import UnknownIdError, ValidationError
from adaptive.insights.profiles import profile_levels
from api.audit import record
from api.auth import Principal, require
from api.deps import DbSession, Recommender
from api.jsonable import jsonable
from api.persistence import roles as role_store
from api.persistence.catalogue import served_bundle
from api.persistence.learners import find_learner, get_learner, latest_finished_session
from api.persistence.tables import Learner, LearnerObjective, LearningEvent
from api.privacy import learner_target
from api.problems import PROBLEM_MEDIA_TYPE, ProblemError
from api.schemas import Language, Pathway, Recommendations, RoleId
from api.schemas_learners import LearnerIn, LearnerOut

router = APIRouter(tags=["recommendations"])

LearnerId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")]
RoleIdPath = Annotated[RoleId, Path(description="role profile id")]
K = Annotated[int, Query(ge=1, le=100, description="how many items")]
Format = Annotated[
    str | None, Query(max_length=32, pattern=r"^[a-z-]+$", description="content format filter")
]
_PROBLEM = {"content": {PROBLEM_MEDIA_TYPE: {}}}
_ERRORS = {
    401: {**_PROBLEM, "description": "missing or bad API key"},
    403: {**_PROBLEM, "description": "key lacks the scope"},
    404: {**_PROBLEM, "description": "unknown learner or role"},
    422: {**_PROBLEM, "description": "invalid request (names the field: role, competence or level)"},
}
WRITE_SCOPES = ("recommendations", "diagnostics")  # the platform backend, for any learner of its organisation


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


# ------------------------------------------------------------------------------------ learner records
def _supervised_units(db: Session, principal: Principal) -> list[str]:
    from api.insights.service import supervised_units

    return supervised_units(db, principal.key_id) if principal.has("supervisor") else []


def _check_access(db: Session, principal: Principal, units: list[str | None], verb: str) -> None:
    """The platform backend may touch any learner of its organisation; a supervisor key only learners
    whose unit (every one of ``units``: current and new) is one it supervises; anyone else: 403."""
    if any(principal.has(s) for s in WRITE_SCOPES):
        return
    supervised = _supervised_units(db, principal)
    if not supervised:
        raise ProblemError(403, "forbidden", f"to {verb} a learner record this API key needs the "
                           "'recommendations' or 'diagnostics' scope, or 'supervisor' with units")
    outside = [u for u in units if u not in supervised]
    if outside:
        raise ProblemError(403, "forbidden", f"this API key does not supervise unit {outside[0]!r}"
                           if outside[0] is not None else "this key supervises units; the learner has none")


def _learner_out(db: Session, learner: Learner) -> dict:
    profile = role_store.current_profile(db, learner.org_id, learner.role) if learner.role else None
    return {
        "learner_id": learner.external_id,
        "role": learner.role,
        "role_profile": {"role_id": profile.role_id, "version": profile.version} if profile else None,
        "unit": learner.unit,
        "language": learner.language,
        "objectives": [
            {"competence": o.competence, "framework": o.framework_id, "target_level": o.target_level,
             "deadline": o.deadline, "set_by": o.set_by, "set_at": o.set_at}
            for o in role_store.objectives(db, learner)
        ],
        "created_at": learner.created_at,
    }


def _validated_objectives(body: LearnerIn) -> list[tuple[str, str, int, Any]]:
    """(framework, competence, level number, deadline) per objective; 422 naming the bad one."""
    out, seen = [], set()
    for i, o in enumerate(body.objectives or []):
        fw = role_store.framework(o.framework)
        where = "target_level" if o.competence in fw.competence_ids else "competence"
        level = role_store.level_number(fw, o.competence, o.target_level, f"objectives[{i}].{where}")
        if o.competence in seen:
            raise ValidationError(f"two objectives for competence {o.competence!r}",
                                  field=f"objectives[{i}].competence")
        seen.add(o.competence)
        out.append((fw.id, o.competence, level, o.deadline))
    return out


def _write(db: Session, principal: Principal, learner_id: str, body: LearnerIn, fields: set[str],
           create: bool) -> tuple[Learner, bool, list[str]]:
    """Apply ``fields`` of ``body`` to the learner (created when ``create`` and new); returns the learner,
    whether it was created, and the names of the fields that changed. The caller commits."""
    learner = find_learner(db, principal.org_id, learner_id)
    if learner is None and not create:
        raise ProblemError(404, "not-found", f"unknown learner {learner_id!r}")
    new_unit = body.unit if "unit" in fields else (learner.unit if learner else None)
    _check_access(db, principal, ([learner.unit] if learner else []) + [new_unit], "write")
    if "role" in fields and body.role is not None:
        role_store.known_role(db, principal.org_id, body.role)
    wanted = _validated_objectives(body) if "objectives" in fields else None
    created = learner is None
    if created:
        learner = Learner(org_id=principal.org_id, external_id=learner_id)
        db.add(learner)
    changed = [f for f in ("role", "unit", "language")
               if f in fields and (created or getattr(learner, f) != getattr(body, f))]
    for f in changed:
        setattr(learner, f, getattr(body, f))
    db.flush()
    if wanted is not None:
        have = {(o.framework_id, o.competence, o.target_level, o.deadline): o
                for o in role_store.objectives(db, learner)}
        keep = [have[w] for w in wanted if w in have]
        if len(keep) != len(have) or len(keep) != len(wanted):
            changed.append("objectives")
            db.execute(delete(LearnerObjective).where(
                LearnerObjective.learner_id == learner.id,
                LearnerObjective.id.not_in([o.id for o in keep])))
            for w in wanted:
                if w not in have:  # an unchanged objective keeps who set it and when
                    db.add(LearnerObjective(learner_id=learner.id, framework_id=w[0], competence=w[1],
                                            target_level=w[2], deadline=w[3], set_by=principal.key_id))
    return learner, created, changed


def _commit_write(db: Session, principal: Principal, learner_id: str, body: LearnerIn, fields: set[str],
                  create: bool, response: Response) -> dict:
    try:
        learner, created, changed = _write(db, principal, learner_id, body, fields, create)
        if created or changed:
            action = "learner.create" if created else "learner.update"
            record(db, principal, action, learner_target(learner_id), fields=sorted(changed))
        db.commit()
    except IntegrityError:  # the same learner written twice at once: the other write won
        db.rollback()
        raise ProblemError(409, "conflict", f"learner {learner_id!r} changed concurrently; retry") from None
    response.status_code = 201 if created else 200
    return _learner_out(db, learner)


@router.get("/v1/learners/{learner_id}", response_model=LearnerOut, responses=_ERRORS,
            summary="A learner record: role (and its current profile version), unit, language, objectives")
def read_learner(learner_id: LearnerId, db: DbSession, principal: Principal = Depends(require(None))) -> dict:
    learner = get_learner(db, principal.org_id, learner_id)
    if not any(principal.has(s) for s in WRITE_SCOPES):
        _check_access(db, principal, [learner.unit], "read")
        record(db, principal, "learner.read", learner_target(learner_id))  # a person read it: logged
        db.commit()
    return _learner_out(db, learner)


@router.put("/v1/learners/{learner_id}", response_model=LearnerOut, status_code=200,
            responses={**_ERRORS, 201: {"description": "created"},
                       409: {**_PROBLEM, "description": "conflict"}},
            summary="Create or replace a learner record (fields left out are cleared)")
def put_learner(learner_id: LearnerId, body: LearnerIn, db: DbSession, response: Response,
                principal: Principal = Depends(require(None))) -> dict:
    body = body.model_copy(update={"objectives": body.objectives or []})
    return _commit_write(db, principal, learner_id, body, {"role", "unit", "language", "objectives"}, True,
                         response)


@router.patch("/v1/learners/{learner_id}", response_model=LearnerOut, responses={**_ERRORS, 409: {
              **_PROBLEM, "description": "conflict"}},
              summary="Change some fields of a learner record (objectives, when sent, replace the list)")
def patch_learner(learner_id: LearnerId, body: LearnerIn, db: DbSession, response: Response,
                  principal: Principal = Depends(require(None))) -> dict:
    return _commit_write(db, principal, learner_id, body, set(body.model_fields_set), False, response)


# ------------------------------------------------------------------------------------ recommendations
def required_levels(db: Session, principal: Principal, learner: Learner, role: str | None, explicit: bool,
                    bundle: Any, read: role_store.OrganisationTargets | None = None,
                    ) -> tuple[role_store.Targets | None, list[str]]:
    """The learner's required levels (current role profile + objectives); 404 for an asked role without a
    profile. None (with a note) when neither a role profile nor an objective says anything. ``read``: the
    organisation's profiles and objectives already read (a report over all its learners), else read here."""
    if read is None:
        profile = role_store.current_profile(db, principal.org_id, role) if role else None
    else:
        profile = read.profiles.get(role) if role else None
    if explicit and profile is None:
        raise UnknownIdError("role", role, f"unknown role {role!r}: no role profile in this organisation")
    framework_id = role_store.recommender_framework_id(bundle)
    targets = role_store.learner_targets(db, learner, role, framework_id, profile,
                                         None if read is None else read.objectives.get(learner.id, []))
    if not targets.levels:  # nothing applies (no role profile, no objectives): the stated default target
        return None, [*targets.notes, f"no role requirements and no objectives apply: every competence is "
                      f"aimed at level {bundle.gap.default_target}"]
    return targets, targets.notes


def _gaps(bundle: Any, targets: role_store.Targets | None, profile: dict | None) -> list[dict]:
    if targets is None:
        return []
    comp = bundle.catalogue.competence_ids
    levels = profile_levels(profile, comp)
    measured = {c: (None if levels[j] != levels[j] else float(levels[j])) for j, c in enumerate(comp)}
    return targets.gaps(measured, bundle.competence_names)


def _profile_ref(targets: role_store.Targets | None) -> dict | None:
    p = targets.role_profile if targets is not None else None
    return {"role_id": p.role_id, "version": p.version} if p is not None else None


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
    language: Annotated[Language | None, Query(description="default: the learner's preferred")] = None,
    format: Format = None,
    principal: Principal = Depends(require("recommendations")),
) -> dict:
    learner = get_learner(db, principal.org_id, learner_id)
    profile, session_id, events = _context(db, principal, learner)
    bundle, version = recommender
    bundle = served_bundle(db, principal.org_id, bundle)  # the organisation's own catalogue, if it has one
    targets, _ = required_levels(db, principal, learner, learner.role, False, bundle)
    recs = bundle.recommend(
        model_learner_key(principal, learner_id),
        k=k,
        profile=profile,
        role=learner.role,
        events=events,
        language=language or learner.language,
        format=format,
        targets=None if targets is None else targets.levels,
        target_words=None if targets is None else targets.words,
    )
    return {
        "learner_id": learner_id,
        "role": learner.role,
        "model_version": version,
        "based_on_session": session_id,
        "strategy": getattr(recs, "strategy", None) or None,
        "items": _items(recs),
        "role_profile": _profile_ref(targets),
        "gaps": _gaps(bundle, targets, profile),
    }


@router.get(
    "/v1/learners/{learner_id}/pathway",
    response_model=Pathway,
    responses=_ERRORS,
    summary="An ordered learning pathway from the learner's profile towards their role and objectives",
)
def learner_pathway(
    learner_id: LearnerId,
    recommender: Recommender,
    db: DbSession,
    role: Annotated[RoleId | None, Query(description="target role (default: learner's)")] = None,
    language: Annotated[Language | None, Query(description="default: the learner's preferred")] = None,
    principal: Principal = Depends(require("recommendations")),
) -> dict:
    learner = get_learner(db, principal.org_id, learner_id)
    _, version = recommender
    p = compute_pathway(db, principal, learner, recommender[0], role or learner.role, role is not None,
                        language)
    return {
        "learner_id": learner_id,
        "role": p.role,
        "model_version": version,
        "based_on_session": p.session_id,
        "steps": [jsonable(s) for s in p.steps],
        "role_profile": _profile_ref(p.targets),
        "gaps": _gaps(p.bundle, p.targets, p.profile),
        "notes": p.notes,
    }


@dataclass(frozen=True)
class ComputedPathway:
    """A learner's recommended pathway and what it was computed from (the served view of the bundle)."""

    bundle: Any
    role: str | None
    targets: role_store.Targets | None
    notes: list[str]
    profile: dict | None
    session_id: str | None
    steps: list


def compute_pathway(db: Session, principal: Principal, learner: Learner, bundle: Any, role: str | None,
                    explicit_role: bool, language: str | None) -> ComputedPathway:
    """The one pathway computation (``/pathway`` and plan proposals): the organisation's live catalogue,
    its current role profile and the learner's objectives, the latest diagnostic and live events."""
    profile, session_id, events = _context(db, principal, learner)
    bundle = served_bundle(db, principal.org_id, bundle)
    targets, notes = required_levels(db, principal, learner, role, explicit_role, bundle)
    steps = bundle.pathway(
        model_learner_key(principal, learner.external_id), profile, role, events=events,
        language=language or learner.language,
        targets=None if targets is None else targets.levels,
        target_words=None if targets is None else targets.words,
    )
    return ComputedPathway(bundle, role, targets, notes, profile, session_id, steps)


@router.get(
    "/v1/roles/{role_id}/recommendations",
    response_model=Recommendations,
    responses=_ERRORS,
    summary="Learning content for a role profile's current version (no learner history)",
)
def role_recommendations(
    role_id: RoleIdPath,
    recommender: Recommender,
    db: DbSession,
    k: K = 10,
    language: Annotated[Language | None, Query()] = None,
    format: Format = None,
    principal: Principal = Depends(require("recommendations")),
) -> dict:
    profile = role_store.get_profile(db, principal.org_id, role_id)
    bundle, version = recommender
    bundle = served_bundle(db, principal.org_id, bundle)
    fw = role_store.recommender_framework_id(bundle)
    if profile.framework_id != fw:
        raise ProblemError(409, "conflict", f"role profile {role_id!r} is in {profile.framework_id}; the "
                           f"recommender's catalogue is in {fw}")
    recs = bundle.recommend_for_role(role_id, k=k, language=language, format=format,
                                     targets=dict(profile.required))
    return {
        "role": role_id,
        "model_version": version,
        "strategy": getattr(recs, "strategy", None) or None,
        "items": _items(recs),
        "role_profile": {"role_id": profile.role_id, "version": profile.version},
    }
