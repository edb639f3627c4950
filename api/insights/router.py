"""``/v1/insights/...``: competence gaps, pathway progress and training impact of the caller's organisation.

Aggregate tables need the ``insights`` scope (or ``admin``); groups below the minimum size are suppressed,
with complementary suppression (``adaptive.insights.suppression``). Per-learner tables (``pathways?table=
learners``, ``impact?table=changes``) need the ``supervisor`` scope and hold only the learners of the units
the key names. Every figure comes from the caller's organisation only (queries filter by ``org_id``), and
every read is audit-logged (``insights.read``). JSON tables are paginated like the other list endpoints;
``?format=csv`` returns the whole table as CSV.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from adaptive.insights.gaps import gap_overview
from adaptive.insights.impact import OBSERVATIONAL_CAVEAT, PLAN_CAVEAT, training_impact
from adaptive.insights.plots import IMAGE_FORMATS, gap_heatmap
from adaptive.insights.suppression import DEFAULT_MIN_GROUP_SIZE
from adaptive.insights.tables import as_records
from api.audit import record
from api.auth import Principal, require
from api.deps import DbSession, ServicesDep
from api.insights.service import load_organisation, recommended_pathways, stored_plans, supervised_units
from api.problems import PROBLEM_MEDIA_TYPE, ProblemError
from recommender.progress import pathway_progress

if TYPE_CHECKING:
    from api.app import Services

router = APIRouter(prefix="/v1/insights", tags=["insights"])

_PROBLEM = {"content": {PROBLEM_MEDIA_TYPE: {}}}
_ERRORS = {
    401: {**_PROBLEM, "description": "missing or bad API key"},
    403: {**_PROBLEM, "description": "key lacks the insights scope (per-learner tables: supervisor scope "
                                     "and the unit)"},
    422: {**_PROBLEM, "description": "invalid request"},
}
_CSV = {"content": {"text/csv": {}}, "description": "the table (``format=csv``)"}
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=1000)]
OutFormat = Annotated[Literal["json", "csv"], Query(description="json (paginated) or csv (whole table)")]
MinGroup = Annotated[int | None, Query(ge=1, le=10_000, description="suppress groups smaller than this "
                                                                    "(cannot go below the service's floor)")]
Grouping = Annotated[Literal["organisation", "role", "unit"] | None, Query(description="only this grouping")]


class InsightsTable(BaseModel):
    report: str
    table: str
    min_group_size: int
    total: int
    offset: int
    limit: int
    items: list[dict[str, Any]]
    notes: list[str] = Field(default_factory=list)


def _min_group_size(services: Services, asked: int | None) -> int:
    settings = services.settings
    floor = int(getattr(settings, "insights_min_group_size", DEFAULT_MIN_GROUP_SIZE))
    if asked is None:
        return floor
    if asked < floor:
        raise ProblemError(422, "validation", f"min_group_size must be >= {floor} (the service's floor)",
                           errors=[{"loc": ["query", "min_group_size"], "msg": f"must be >= {floor}",
                                    "type": "greater_than_equal"}])
    return asked


def _table(report: str, table: str, frame: pd.DataFrame, fmt: str, offset: int, limit: int,
           min_size: int, notes: list[str] | None = None, grouping: str | None = None) -> Any:
    if grouping is not None and "grouping" in frame.columns:
        frame = frame[frame["grouping"] == grouping]
    frame = frame.reset_index(drop=True)
    if fmt == "csv":
        return Response(frame.to_csv(index=False), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{report}-{table}.csv"'})
    return {"report": report, "table": table, "min_group_size": min_size, "total": int(len(frame)),
            "offset": offset, "limit": limit, "items": as_records(frame.iloc[offset:offset + limit]),
            "notes": notes or []}


PER_LEARNER = {"pathways": "learners", "impact": "changes"}


def _allowed_units(db: Session, principal: Principal, report: str, table: str) -> list[str] | None:
    """None for an aggregate table (``insights`` scope); for a per-learner table the units the caller
    supervises (``supervisor`` scope and units on the key), else 403."""
    if PER_LEARNER.get(report) != table:
        if not principal.has("insights"):
            raise ProblemError(403, "forbidden", "this API key lacks the 'insights' scope")
        return None
    units = supervised_units(db, principal.key_id) if principal.has("supervisor") else []
    if not units:
        raise ProblemError(403, "forbidden", f"{report}?table={table} has one row per learner: it needs the "
                           "'supervisor' scope on a key that names the units supervised")
    return units


def _only_units(frame: pd.DataFrame, units: list[str] | None, asked: str | None = None) -> pd.DataFrame:
    if units is None:
        return frame
    if asked is not None and asked not in units:
        raise ProblemError(403, "forbidden", f"this API key does not supervise unit {asked!r}")
    return frame[frame["unit"].isin([asked] if asked is not None else units)]


def _audit(db: Session, principal: Principal, report: str, table: str, **detail: Any) -> None:
    """The read goes into the audit log (committed before the table is served)."""
    record(db, principal, "insights.read", f"insights:{report}/{table}",
           **{k: v for k, v in detail.items() if v is not None})
    db.commit()


def _roles(services: Services):  # noqa: ANN202
    bundle, _ = services.provider.recommender()
    return bundle


def _overview(services: Services, db: Session, principal: Principal, min_size: int):  # noqa: ANN202
    from api.persistence.roles import recommender_framework_id, requirements_by_role

    data = load_organisation(db, principal.org_id, events=False)
    # the organisation's role profiles as they are now (issue 18), not those the recommender was trained with
    roles = requirements_by_role(db, principal.org_id, recommender_framework_id(_roles(services)))
    return gap_overview(data.learners, data.diagnostics, roles, min_group_size=min_size)


@router.get("/gaps", response_model=InsightsTable, responses={**_ERRORS, 200: _CSV},
            summary="Competence gaps per role and unit (levels, share below the role's requirement)")
def gaps(
    services: ServicesDep,
    db: DbSession,
    table: Annotated[Literal["competences", "levels", "largest_gaps", "groups"], Query()] = "competences",
    grouping: Grouping = None,
    format: OutFormat = "json",
    min_group_size: MinGroup = None,
    offset: Offset = 0,
    limit: Limit = 200,
    principal: Principal = Depends(require("insights")),
) -> Any:
    min_size = _min_group_size(services, min_group_size)
    ov = _overview(services, db, principal, min_size)
    notes = [f"{ov.n_learners} learners with a finished diagnostic count; {ov.n_without_diagnostic} without "
             f"one do not; groups under {min_size} are suppressed (with complementary suppression)"]
    if ov.unknown_roles:
        notes.append(f"roles without a role profile (no requirements): {', '.join(ov.unknown_roles[:20])}")
    _audit(db, principal, "gaps", table, grouping=grouping, format=format, min_group_size=min_size)
    return _table("gaps", table, getattr(ov, table), format, offset, limit, min_size, notes, grouping)


@router.get("/gaps/heatmap",
            responses={**_ERRORS, 200: {"content": {t: {} for t in IMAGE_FORMATS.values()},
                                        "description": "the heatmap"},
                       409: {**_PROBLEM, "description": "no group large enough to show yet"}},
            summary="Heatmap of the gaps, group x competence (PNG or SVG)", response_class=Response)
def gaps_heatmap(
    services: ServicesDep,
    db: DbSession,
    grouping: Annotated[Literal["role", "unit"], Query()] = "role",
    value: Annotated[Literal["share_below", "expected_share_below", "mean_gap"], Query()] = "share_below",
    format: Annotated[Literal["png", "svg"], Query()] = "png",
    min_group_size: MinGroup = None,
    principal: Principal = Depends(require("insights")),
) -> Response:
    min_size = _min_group_size(services, min_group_size)
    ov = _overview(services, db, principal, min_size)
    if not (~ov.competences["suppressed"] & (ov.competences["grouping"] == grouping)).any():
        raise ProblemError(409, "not-enough-data", f"no {grouping} group has {min_size} or more learners "
                           "with a finished diagnostic and a role requirement yet")
    image = gap_heatmap(ov.competences, grouping, value, format=format)
    _audit(db, principal, "gaps", "heatmap", grouping=grouping, value=value, format=format,
           min_group_size=min_size)
    return Response(image, media_type=IMAGE_FORMATS[format])


@router.get("/pathways", response_model=InsightsTable, responses={**_ERRORS, 200: _CSV},
            summary="Pathway progress: share of the recommended pathway completed, per learner and per unit")
def pathways(
    services: ServicesDep,
    db: DbSession,
    table: Annotated[Literal["units", "learners"], Query()] = "units",
    grouping: Grouping = None,
    unit: Annotated[str | None, Query(max_length=64, description="only learners of this unit")] = None,
    format: OutFormat = "json",
    min_group_size: MinGroup = None,
    offset: Offset = 0,
    limit: Limit = 200,
    principal: Principal = Depends(require(None)),
) -> Any:
    from api.persistence.catalogue import served_bundle
    from api.persistence.learners import organisation_learners
    from api.persistence.roles import organisation_targets
    from api.routers.learners import model_learner_key, required_levels

    units = _allowed_units(db, principal, "pathways", table)
    min_size = _min_group_size(services, min_group_size)
    data = load_organisation(db, principal.org_id)
    bundle = served_bundle(db, principal.org_id, _roles(services))  # the organisation's live catalogue
    # learners, role profiles and objectives read once for all learners, not in queries per learner
    learners, read = organisation_learners(db, principal.org_id), organisation_targets(db, principal.org_id)

    def targets_for(lid: str):  # noqa: ANN202 - as /pathway: current role profile and objectives
        learner = learners.get(lid)
        targets = required_levels(db, principal, learner, learner.role, False, bundle, read)[0] \
            if learner else None
        return None if targets is None else targets.levels

    paths, since = recommended_pathways(data, bundle, lambda lid: model_learner_key(principal, lid),
                                        targets_for)
    stored = stored_plans(db, principal.org_id)
    plans = {p["learner_id"]: p["steps"] for p in stored}
    # a stored plan is the pathway (issue 18): completions of its steps from its acceptance on count (as on
    # GET .../plan), hidden steps do not
    paths.update(plans)
    since.update({p["learner_id"]: p["accepted_at"] for p in stored})
    res = pathway_progress(data.learners, paths, data.events, since=since, min_group_size=min_size)
    frame = res.learners
    if table == "learners":
        kind = {lid: "plan" if lid in plans else "recommended" for lid in since}
        frame = _only_units(frame.assign(pathway=frame["learner_id"].map(kind)), units, unit)
    else:
        frame = res.units
    notes = [f"pathway = the learner's accepted plan ({len(plans)} learners; completions from its acceptance "
             "on count, hidden steps left out, overdue = open past its deadline), else the one recommended "
             "from the latest diagnostic (completions after it count)"]
    if table == "learners":
        notes.append("per-learner rows are individual data, for the supervisor of the units: "
                     + ", ".join(units or []))
    _audit(db, principal, "pathways", table, grouping=grouping, unit=unit, units=units, format=format,
           min_group_size=min_size)
    return _table("pathways", table, frame, format, offset, limit, min_size, notes, grouping)


@router.get("/impact", response_model=InsightsTable, responses={**_ERRORS, 200: _CSV},
            summary="Training impact: change between two diagnostics per area, per group, per content, and "
                    "of learners who followed their plan against those who did not (table=plans)")
def impact(
    services: ServicesDep,
    db: DbSession,
    table: Annotated[Literal["groups", "contents", "changes", "plans"], Query()] = "groups",
    grouping: Grouping = None,
    pairing: Annotated[Literal["first-last", "last-two"], Query()] = "first-last",
    format: OutFormat = "json",
    min_group_size: MinGroup = None,
    offset: Offset = 0,
    limit: Limit = 200,
    principal: Principal = Depends(require(None)),
) -> Any:
    units = _allowed_units(db, principal, "impact", table)
    min_size = _min_group_size(services, min_group_size)
    data = load_organisation(db, principal.org_id)
    bundle = _roles(services)
    res = training_impact(data.learners, data.diagnostics, data.events, catalogue=bundle.catalogue.items,
                          pairing=pairing, prior=_cat_prior(services), min_group_size=min_size,
                          plans=stored_plans(db, principal.org_id))
    notes = [OBSERVATIONAL_CAVEAT, "reliable change: |delta| / sqrt(se1^2 + se2^2) > 1.96 (95%); *_adjusted "
             "columns take the diagnostic's prior out of the estimates (shrinkage would understate change)"]
    if table == "plans":
        notes = [PLAN_CAVEAT, f"followed = completed at least {res.followed_share:.0%} of the plan's "
                 "(visible) steps between the later of its acceptance and the first diagnostic, and the "
                 "second; a plan accepted after the second counts as none; rows with a group under the "
                 "minimum size are suppressed", *notes[1:]]
    frame = _only_units(res.changes, units) if table == "changes" else getattr(res, table)
    _audit(db, principal, "impact", table, grouping=grouping, pairing=pairing, units=units, format=format,
           min_group_size=min_size)
    return _table("impact", table, frame, format, offset, limit, min_size, notes, grouping)


def _cat_prior(services: Services) -> tuple[np.ndarray, np.ndarray] | None:
    """The CAT's prior over the framework's areas (champion bank, the service's CAT settings)."""
    from adaptive.cat import CatConfig
    from adaptive.cat.start import prior
    from adaptive.framework import load_framework

    try:
        bank, _ = services.provider.champion_bank()
        config = CatConfig.from_dict(dict(services.diagnostics.cat_overrides))
        areas = list(load_framework().area_ids)
        if list(bank.area_ids) != areas:
            return None
        return prior(bank, areas, None, config.prior_sd, config.independent_areas,
                     config.prior_correlation_shrinkage)
    except Exception:  # noqa: BLE001 - no prior: the adjusted columns are simply left out
        return None
