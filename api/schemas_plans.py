"""Bodies of the plan endpoints (issue 18): a learner's accepted pathway, its updates and adjustments."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.schemas import ExternalId, Language, RoleId, Strict


class PlanAccept(Strict):
    """Accept the pathway proposed now (the first plan, or an update of the current one)."""

    proposal: str | None = Field(
        None, pattern=r"^[0-9a-f]{64}$",
        description="the `proposal` fingerprint of `GET .../plan/proposal` that was reviewed: the plan is "
        "stored only if that is still what is proposed (else 409, e.g. after a model promotion)")
    expected_revision: int | None = Field(
        None, ge=0, le=1_000_000, description="the plan revision that was seen (0: no plan yet); 409 if it "
        "changed meanwhile")
    role: RoleId | None = Field(None, description="target role (default: the plan's, else the learner's)")
    language: Language | None = Field(None, description="content language (default: the plan's)")
    note: str | None = Field(None, max_length=1000, description="why it is accepted (kept in the history)")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"proposal": "9f2c" + "0" * 60, "expected_revision": 1, "note": "after the retest in March"}]})


class PlanChange(Strict):
    op: Literal["pin", "unpin", "hide", "unhide", "add", "move", "deadline"] = Field(
        description="pin: keep the step through updates; hide: keep it out of the learner's plan and of "
        "progress; add: a catalogue content the recommender did not choose; move: to `position`; "
        "deadline: set (or clear, with null) the step's deadline. Moved and added steps are pinned.")
    content_id: ExternalId
    position: int | None = Field(None, ge=1, le=10_000,
                                 description="1-based, counting hidden steps (add, move)")
    deadline: datetime | None = Field(None, description="ISO 8601; without a time zone: UTC (add, deadline)")

    @field_validator("deadline")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        if v is None:
            return None
        return (v.replace(tzinfo=UTC) if v.tzinfo is None else v).astimezone(UTC)


class PlanAdjust(Strict):
    """A supervisor's adjustments, applied together to the revision that was seen."""

    expected_revision: int = Field(ge=1, le=1_000_000, description="the revision the adjustments apply to")
    changes: list[PlanChange] = Field(min_length=1, max_length=100)
    reason: str | None = Field(None, max_length=1000, description="why (shown to the learner's platform)")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "expected_revision": 1, "reason": "the records-management course is mandatory this quarter",
        "changes": [{"op": "add", "content_id": "C00042", "position": 1, "deadline": "2027-03-31"},
                    {"op": "hide", "content_id": "C00007"}]}]})


class Author(BaseModel):
    key_id: str
    name: str | None = None
    scope: str


class PlanStepOut(BaseModel):
    content_id: str
    competence: str | None = None
    competence_name: str | None = None
    level: int | None = None
    title: str | None = None
    reason: str | None = Field(None, description="why the recommender (or a person) put it there")
    score: float | None = None
    origin: str = Field(description="recommended | added (by a supervisor)")
    pinned: bool
    hidden: bool
    deadline: str | None = None
    changed_by: Author | None = Field(None, description="who changed this step last (pin, hide, move, ...)")
    changed_at: str | None = None
    status: str | None = Field(None, description="open | completed | hidden")
    completed_at: str | None = None


class LastChange(BaseModel):
    revision: int
    kind: str
    at: str
    author: Author
    note: str | None = None


class PlanOut(BaseModel):
    learner_id: str
    role: str | None = None
    revision: int
    model_version: str = Field(description="the recommender version the accepted pathway came from")
    based_on_session: str | None = Field(None, description="the diagnostic it was computed from")
    accepted_at: str
    updated_at: str
    n_steps: int = Field(description="visible steps (hidden ones do not count)")
    n_completed: int
    share_completed: float | None = None
    next_content_id: str | None = None
    steps: list[PlanStepOut]
    last_change: LastChange


class PlanDifferenceOut(BaseModel):
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    reordered: list[dict[str, Any]]
    unchanged: int
    summary: list[str] = Field(description="one readable line per change")


class Evidence(BaseModel):
    new_diagnostic: bool = Field(description="a diagnostic finished after the one the plan came from")
    completed_since: list[str] = Field(description="plan steps completed since the plan last changed")
    model_changed: bool = Field(description="the served recommender is not the one the plan came from")


class PlanProposal(BaseModel):
    learner_id: str
    role: str | None = None
    current_revision: int = Field(description="0: no plan yet")
    model_version: str
    based_on_session: str | None = None
    proposal: str = Field(description="fingerprint to send with POST .../plan to accept exactly this")
    changed: bool = Field(description="accepting would change the plan: its steps, or what it stands on (the "
                          "diagnostic, the model version, the role)")
    evidence: Evidence | None = None
    steps: list[PlanStepOut]
    difference: PlanDifferenceOut


class PlanRevisionOut(BaseModel):
    revision: int
    kind: str = Field(description="accepted | updated | adjusted")
    at: str
    author: Author
    model_version: str
    based_on_session: str | None = None
    note: str | None = None
    n_steps: int
    changes: dict[str, Any] = Field(description="difference (accepted, updated) or adjustments applied")


class PlanHistory(BaseModel):
    learner_id: str
    total: int
    items: list[PlanRevisionOut]
