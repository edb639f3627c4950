"""``/v1/operator/insights/gaps``: competence gaps across the academy's organisations, grouped by sector,
organisation type or organisation (``operator`` scope).

The same library function and suppression rules as an organisation's own gap overview
(``adaptive.insights.gaps.gap_overview`` with ``adaptive.insights.suppression``): the academy's learners
are pooled (ids qualified by organisation) and the sector / type / organisation takes the place of the unit
partition, so a group under the minimum size is suppressed, with complementary suppression, in every table.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from adaptive.insights.gaps import gap_overview
from adaptive.insights.tables import NONE_LABEL
from api.audit import record
from api.auth import Principal, require
from api.deps import DbSession, ServicesDep
from api.insights.router import InsightsTable, _min_group_size, _roles, _table
from api.insights.service import load_organisation
from api.persistence.tables import Organisation
from api.problems import PROBLEM_MEDIA_TYPE

router = APIRouter(prefix="/v1/operator/insights", tags=["operator"])
_PROBLEM = {"content": {PROBLEM_MEDIA_TYPE: {}}}
_ERRORS = {
    401: {**_PROBLEM, "description": "missing or bad API key"},
    403: {**_PROBLEM, "description": "operator scope needed"},
    422: {**_PROBLEM, "description": "invalid request"},
}
By = Literal["sector", "type", "organisation"]
# gap_overview's partitions are organisation (the whole pool) / role / unit: here the pool is the academy
# and the unit partition holds the sector, type or organisation.
_GROUPING = {"organisation": "all", "role": "role"}


def _label(org: Organisation, by: By) -> str | None:
    return {"sector": org.sector, "type": org.org_type, "organisation": org.slug}[by]


def _pooled(db, by: By) -> tuple[pd.DataFrame, list[dict], int]:  # noqa: ANN001
    learners, diagnostics = [], []
    orgs = db.scalars(select(Organisation).order_by(Organisation.id)).all()
    for org in orgs:
        data = load_organisation(db, org.id, events=False)
        prefix = f"{org.slug}:"
        people = data.learners.assign(unit=_label(org, by))
        people["learner_id"] = prefix + people["learner_id"].astype(str)
        learners.append(people)
        diagnostics += [{**d, "learner_id": prefix + str(d["learner_id"])} for d in data.diagnostics]
    frame = pd.concat(learners, ignore_index=True) if learners else pd.DataFrame(
        columns=["learner_id", "role", "unit"])
    return frame, diagnostics, len(orgs)


@router.get("/gaps", response_model=InsightsTable, responses={**_ERRORS, 200: {
    "content": {"text/csv": {}}, "description": "the table (``format=csv``)"}},
    summary="Competence gaps across organisations by sector, organisation type or organisation")
def academy_gaps(
    services: ServicesDep,
    db: DbSession,
    by: Annotated[By, Query(description="the partition that takes the unit's place")] = "sector",
    table: Annotated[Literal["competences", "levels", "largest_gaps", "groups"], Query()] = "competences",
    grouping: Annotated[Literal["all", "role", "sector", "type", "organisation"] | None,
                        Query(description="only this grouping")] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    min_group_size: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    principal: Principal = Depends(require("operator")),
) -> Any:
    min_size = _min_group_size(services, min_group_size)
    learners, diagnostics, n_orgs = _pooled(db, by)
    ov = gap_overview(learners, diagnostics, _roles(services).roles, min_group_size=min_size)
    frame = getattr(ov, table).copy()
    frame["grouping"] = frame["grouping"].map(lambda g: _GROUPING.get(g, by))
    notes = [f"{n_orgs} organisations; {ov.n_learners} learners with a finished diagnostic count; groups "
             f"under {min_size} are suppressed (with complementary suppression); {NONE_LABEL}: no {by} "
             "recorded"]
    record(db, principal, "insights.academy.read", f"gaps:{table}", by=by, grouping=grouping,
           min_group_size=min_size)
    db.commit()
    return _table(f"academy-gaps-by-{by}", table, frame, format, offset, limit, min_size, notes, grouping)
