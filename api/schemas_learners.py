"""Bodies of learner records (role, unit, language, objectives) and of role profiles (issue 18)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import Language, RoleId, Strict, UnitId

CompetenceId = Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[0-9A-Za-z][0-9A-Za-z.:_-]*$")]
FrameworkId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9.-]*$")]
# a level number of the framework's scheme, or one of its codes ("B1", "Intermediate")
LevelIn = (Annotated[int, Field(ge=1, le=100, strict=True)]
           | Annotated[str, Field(min_length=1, max_length=32)])


class ObjectiveIn(Strict):
    competence: CompetenceId = Field(description="competence id in the framework (e.g. '1.3')")
    target_level: LevelIn = Field(description="level to reach: a number of the framework's level scheme or "
                                  "one of its codes")
    deadline: date | None = Field(None, description="by when (optional)")
    framework: FrameworkId | None = Field(None, description="framework id (default: digcomp-2.2, the "
                                          "catalogue's); the level is in its level scheme")


class LearnerIn(Strict):
    """A learner record. PUT: the whole record (fields left out are cleared, objectives replaced);
    PATCH: only the fields sent change (``objectives``, when sent, replaces the list)."""

    role: RoleId | None = Field(None, description="role profile id (must have a current profile)")
    unit: UnitId | None = Field(None, description="organisational unit (department)")
    language: Language | None = Field(None, description="preferred language of learning content")
    objectives: list[ObjectiveIn] | None = Field(None, max_length=100, description="individual objectives, "
                                                 "at most one per competence")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{
            "role": "caseworker", "unit": "social-affairs", "language": "lt",
            "objectives": [{"competence": "5.3", "target_level": 5, "deadline": "2027-06-30"}],
        }]},
    )


class ObjectiveOut(BaseModel):
    competence: str
    framework: str
    target_level: int
    deadline: date | None = None
    set_by: str = Field(description="the API key that set it")
    set_at: datetime


class LearnerOut(BaseModel):
    learner_id: str
    role: str | None = None
    role_profile: dict[str, Any] | None = Field(None, description="the role's current profile: id, version")
    unit: str | None = None
    language: str | None = None
    objectives: list[ObjectiveOut] = []
    created_at: datetime


class RoleIn(Strict):
    title: str = Field("", max_length=200)
    framework: FrameworkId | None = Field(None, description="framework id (default digcomp-2.2); the levels "
                                          "are in its level scheme")
    required_levels: dict[CompetenceId, LevelIn] = Field(
        min_length=1, max_length=500, description="competence id -> required level (number or code)")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"title": "Case officer", "framework": "digcomp-2.2",
                                         "required_levels": {"1.1": 4, "2.1": 3, "5.3": 4}}]},
    )


class RoleOut(BaseModel):
    role_id: str
    version: int
    title: str
    framework: str
    required_levels: dict[str, int]
    retired: bool = False
    created_by: str = Field(description="the API key (or cli:<user>) that made this version")
    created_at: datetime


class RoleVersions(BaseModel):
    role_id: str
    versions: list[RoleOut]
