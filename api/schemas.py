"""Request and response bodies (pydantic v2). Requests forbid unknown fields; every id is length-bounded."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.persistence.tables import ROLE_ID_LENGTH

ExternalId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")]
Language = Annotated[str, Field(min_length=2, max_length=8, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,4})?$")]
AreaId = Annotated[str, Field(min_length=1, max_length=8, pattern=r"^[0-9A-Za-z.]+$")]
ItemId = Annotated[str, Field(min_length=1, max_length=64)]
ROLE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"
# every request that names a role (diagnostics, learners, roles, pathways, plans): bounded as it is stored
RoleId = Annotated[str, Field(min_length=1, max_length=ROLE_ID_LENGTH, pattern=ROLE_ID_PATTERN)]
UNIT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@ -]*$"
UnitId = Annotated[str, Field(min_length=1, max_length=64, pattern=UNIT_PATTERN)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- diagnostics -------------------------------------------------------------------------------
class DiagnosticCreate(Strict):
    learner_id: ExternalId = Field(
        description="the platform's id of the learner (unique within your organisation)"
    )
    role: RoleId | None = Field(None, description="role profile id, used for later recommendations (one of "
                                "the organisation's role profiles, where it has any)")
    unit: UnitId | None = Field(None, description="organisational unit (department), for insights per unit")
    areas: list[AreaId] | None = Field(
        None, min_length=1, max_length=10, description="DigComp area ids to assess; all areas if omitted"
    )
    language: Language = Field("en", description="language of the item content")
    practice: bool = Field(
        False,
        description="practice mode: replies carry running estimates (which reveal whether each answer was "
        "right); only where the organisation allows practice mode, else 403",
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {  # ids of the bootstrapped demo (`make serve`), so "Try it out" works against it
                    "learner_id": "L000042",
                    "role": "caseworker",
                    "unit": "social-affairs",
                    "areas": ["1", "2"],
                    "language": "en",
                }
            ]
        },
    )


class ItemOut(BaseModel):
    """An item as shown to the learner: content in the session language, never the scoring key."""

    id: str
    sequence: int = Field(description="send this back with the answer (1 = first item)")
    area: str
    competence: str
    language: str
    response_type: str = Field(description="single-choice (one option is right) or rating-scale (graded)")
    stem: str
    options: list[str]
    media: list[str] = []


class AreaResult(BaseModel):
    theta: float
    se: float
    level: int | None = Field(description="most likely level 1..L of the bank's framework level scheme")
    level_probabilities: list[float] | None = Field(description="P(level = 1..L)")
    n_items: int | None = None
    level_code: str | None = Field(None, description="the level's code in the scheme, e.g. 'Intermediate'")
    mapped_levels: list[dict[str, Any]] | None = Field(
        None, description="the level in other schemes and frameworks (probabilities where many-to-one)")


class CompetenceProfileOut(BaseModel):
    areas: dict[str, AreaResult]
    competences: dict[str, dict[str, Any]] = {}
    framework: dict[str, Any] | None = Field(
        None, description="framework id, name, version and the level scheme the levels are reported in")


class DiagnosticStep(BaseModel):
    """Reply to starting a diagnostic or answering: the next item, or the finished result."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "session_id": "6f1c2d9e-8a4b-4c11-9a55-0b7f3e2d1c00",
                    "status": "in_progress",
                    "answered": 3,
                    "item": {
                        "id": "DC-1.2-014",
                        "sequence": 4,
                        "area": "1",
                        "competence": "1.2",
                        "language": "en",
                        "response_type": "single-choice",
                        "stem": "Which source is the most reliable for ...?",
                        "options": ["A ...", "B ...", "C ...", "D ..."],
                        "media": [],
                    },
                    "progress": {
                        "answered": 3,
                        "max_items": 30,
                        "min_items_left": 7,
                        "max_items_left": 27,
                        "finished": False,
                        "areas": {"1": {"n_items": 2}, "2": {"n_items": 1}},
                    },
                    "result": None,
                    "bank_version": "1",
                }
            ]
        }
    )

    session_id: str
    status: Literal["in_progress", "finished"]
    answered: int = Field(description="answers applied so far")
    item: ItemOut | None = None
    progress: dict[str, Any] = Field(
        {},
        description="answered, max_items, min_items_left, max_items_left, finished, areas {id: {n_items}} "
        "(pilot items included); running theta/se per area only in practice mode",
    )
    result: CompetenceProfileOut | None = None
    bank_version: str


class AnswerIn(Strict):
    item_id: ItemId
    answer: int = Field(ge=0, le=100, strict=True, description="index of the chosen option (0-based)")
    sequence: int = Field(
        ge=1, le=10_000, strict=True, description="the `sequence` of the item being answered"
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"item_id": "DC-1.2-014", "answer": 2, "sequence": 4}]},
    )


class DiagnosticStatus(BaseModel):
    session_id: str
    learner_id: str
    status: Literal["in_progress", "finished"]
    answered: int
    language: str
    areas: list[str]
    role: str | None = None
    practice: bool = False
    bank_version: str
    item: ItemOut | None = None
    progress: dict[str, Any] = {}
    created_at: datetime
    updated_at: datetime


class DiagnosticResult(BaseModel):
    session_id: str
    learner_id: str
    bank_version: str
    framework_version: str | None = None
    finished_at: datetime | None = None
    profile: CompetenceProfileOut
    explanation: dict[str, Any] = Field(
        {},
        description="areas measured, items per area, precision (SE and a plain-words reading), what the "
        "level means in the framework's descriptors, the scoring method, who scored each response ('server' "
        "with the item bank's key, or 'platform': the delivery platform's score)",
    )
    levels: dict[str, dict[str, Any]] = Field(
        {}, description="per area: level after oversight overrides, the scored level, the override id"
    )
    contested: bool = False
    contest_open: bool = Field(False, description="contested with no oversight review since the last contest")
    reviews: list[ReviewOut] = []


# --- oversight ---------------------------------------------------------------------------------
Reason = Annotated[str, Field(min_length=1, max_length=2000)]


class ReviewIn(Strict):
    kind: Literal["annotation", "override"]
    reason: Reason = Field(description="why (kept with the review and in the audit log)")
    area: AreaId | None = Field(None, description="the area concerned (required for an override)")
    level: int | None = Field(None, ge=1, le=100, strict=True, description="override: the new level")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"kind": "override", "area": "1", "level": 4, "reason": "portfolio evidence of level 4"}
            ]
        },
    )


class ContestIn(Strict):
    reason: Reason = Field(description="why the learner contests the result")
    area: AreaId | None = Field(None, description="the area contested (the whole result if omitted)")


class ReviewOut(BaseModel):
    id: int
    kind: Literal["annotation", "override", "contest"]
    area: str | None = None
    original_level: int | None = Field(None, description="override: the scored level it replaces")
    level: int | None = None
    reason: str
    key_id: str = Field(description="the API key that acted")
    created_at: datetime


class OrganisationSettings(BaseModel):
    slug: str
    practice_mode: bool = Field(description="diagnostics may be started in practice mode")


class OrganisationSettingsIn(Strict):
    practice_mode: bool


# --- recommendations ---------------------------------------------------------------------------
class Gap(BaseModel):
    """A competence below its required level, and where the required level came from."""

    competence: str
    competence_name: str = ""
    level: int | None = Field(None, description="the learner's measured level (null: not measured)")
    required_level: int
    gap: int | None = None
    from_: str = Field(alias="from", description="role, objective, or 'role and objective' (equal levels)")
    role_profile: dict[str, Any] | None = Field(None, description="role id and the profile version")
    objective: dict[str, Any] | None = Field(None, description="the learner's objective: target, deadline")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class RecommendationOut(BaseModel):
    content_id: str
    score: float
    reason: str | None = None
    title: str | None = None
    competences: list[str] = []
    level: int | None = None


class Recommendations(BaseModel):
    learner_id: str | None = None
    role: str | None = None
    model_version: str
    based_on_session: str | None = None
    strategy: str | None = Field(None, description="personal, gap, role-popularity or popularity")
    items: list[RecommendationOut]
    role_profile: dict[str, Any] | None = Field(None, description="the role profile used: id and version")
    gaps: list[Gap] = Field([], description="as in the pathway: what the gap ranking closes")


class Pathway(BaseModel):
    learner_id: str
    role: str | None = None
    model_version: str
    based_on_session: str | None = None
    steps: list[dict[str, Any]]
    role_profile: dict[str, Any] | None = Field(None, description="the role profile used: id and version")
    gaps: list[Gap] = Field(
        [], description="competences below the required level (max of the role's requirement and the "
        "learner's objective), each with 'from': role, objective or 'role and objective'")
    notes: list[str] = []


# --- learning events ---------------------------------------------------------------------------
class LearningEventIn(Strict):
    event_id: ExternalId
    learner_id: ExternalId
    content_id: ExternalId
    event: Literal["viewed", "enrolled", "completed", "rated"]
    value: float | None = Field(None, ge=-1e6, le=1e6, allow_inf_nan=False)
    timestamp: datetime


class LearningEventBatch(Strict):
    events: list[LearningEventIn] = Field(min_length=1, max_length=1000)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {
                            "event_id": "ev-1",
                            "learner_id": "L000042",
                            "content_id": "C00012",
                            "event": "completed",
                            "value": 1.0,
                            "timestamp": "2026-01-15T10:00:00Z",
                        }
                    ]
                }
            ]
        },
    )


class LearningEventsAccepted(BaseModel):
    accepted: int = Field(description="events stored by this request")
    duplicates: int = Field(description="events whose event_id was already stored (ignored)")


# --- reference data and models -----------------------------------------------------------------
class Page(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[dict[str, Any]]


class ModelVersion(BaseModel):
    name: str
    version: str
    aliases: list[str] = []
    served: bool = False


class ExposureControlOut(BaseModel):
    """How diagnostics on the served item bank control item exposure."""

    method: str | None = Field(description="the exposure control diagnostics use: "
                               "conditional-sympson-hetter, randomesque (also the fallback for a bank "
                               "without a stored control), sympson-hetter, or null (none)")
    stored: bool = Field(description="the served bank version carries a calibrated exposure control")
    target: float | None = Field(None, description="the stored control's target maximum exposure rate")
    calibrated_for_settings: bool | None = Field(
        None, description="the stored control was calibrated for the service's CAT settings")
    warning: str | None = Field(None, description="why the exposure target may not hold, if it may not")


class ModelsOut(BaseModel):
    served: dict[str, str | None]
    models: list[ModelVersion]
    item_bank_exposure: ExposureControlOut | None = Field(
        None, description="exposure control of the served item bank (null: no bank served)")


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


class Problem(BaseModel):
    """RFC 9457 problem details; ``type`` is stable, extra members name the offending field or id."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["https://digipath.example/problems/wrong-item"])
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


DiagnosticResult.model_rebuild()  # ``reviews`` refers to ReviewOut, defined below it
