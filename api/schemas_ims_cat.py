"""Request and response bodies of the 1EdTech Computer Adaptive Testing (CAT) Service v1.0, written by hand
from its official OpenAPI document (``tests/api/data/1edtech-cat-v1p0-openapi.json``; component names
kept, ``DType`` suffix dropped).

Responses follow the schema exactly (``tests/api/test_ims_cat.py`` validates them against it). Requests
are read as TAO sends them, which departs from the schema in places (``qtiMetadata`` as a string, numbers
for values, upper-case enums, integer cardinality): the engine needs only item identifiers and the
candidate's responses, so those fields are accepted loosely rather than refused.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_LOOSE = ConfigDict(extra="ignore")
_EXACT = ConfigDict(extra="forbid")


class KeyValuePair(BaseModel):
    model_config = _LOOSE
    key: str = Field(max_length=256)
    value: str | float | int | bool | None = None
    glossaryURI: str | None = None


class Section(BaseModel):
    """``SectionDType``: ``sectionConfiguration`` is base64 of digipath's JSON CAT configuration."""

    model_config = _LOOSE
    sectionConfiguration: str = Field(max_length=65536)
    qtiMetadata: dict[str, Any] | str | None = None  # TAO sends a (base64) string
    qtiUsagedata: str | None = None


class SessionIn(BaseModel):
    """``SessionDType``: TAO sends ``priorData: [{key: initialEstimatedAbility, value: "0.0"}]``."""

    model_config = _LOOSE
    personalNeedsAndPreferences: str | None = None
    demographics: str | None = None
    priorData: list[KeyValuePair] = Field(default_factory=list, max_length=100)


class Value(BaseModel):
    model_config = _LOOSE
    value: str | float | int | bool | None = None
    fieldIdentifier: str | None = None
    baseType: str | None = None


class CandidateResponse(BaseModel):
    model_config = _LOOSE
    value: list[Value | str | float | int | bool | None] = Field(default_factory=list, max_length=100)


class ResponseVariable(BaseModel):
    model_config = _LOOSE
    identifier: str = Field(max_length=256)
    cardinality: str | int | None = None
    baseType: str | None = None
    candidateResponse: CandidateResponse | None = None


class OutcomeVariableIn(BaseModel):
    model_config = _LOOSE
    identifier: str = Field(max_length=256)
    value: list[Value | str | float | int | bool | None] | str | float | int | None = None


class ItemResult(BaseModel):
    model_config = _LOOSE
    identifier: str = Field(min_length=1, max_length=256)
    sequenceIndex: int | None = None
    datestamp: str | None = None
    sessionStatus: str | None = None
    responseVariables: list[ResponseVariable] = Field(default_factory=list, max_length=100)
    outcomeVariables: list[OutcomeVariableIn] = Field(default_factory=list, max_length=100)


class AssessmentResultIn(BaseModel):
    model_config = _LOOSE
    itemResult: list[ItemResult] = Field(default_factory=list, max_length=1000)


class Results(BaseModel):
    """``ResultsDType``: the results of all items so far (TAO posts them cumulatively)."""

    model_config = _LOOSE
    assessmentResult: AssessmentResultIn
    sessionState: str | None = Field(default=None, max_length=1024)


# -- responses (exactly the official shapes) ------------------------------------------------------
class CreateSectionResponseBody(BaseModel):
    model_config = _EXACT
    sectionIdentifier: str


class ItemSet(BaseModel):
    model_config = _EXACT
    itemIdentifiers: list[str]


class NextItemSet(BaseModel):
    """``NextItemSetDType``; an empty list with ``stageLength`` 0 ends the section (the spec's own words;
    the schema's ``minItems: 1`` is the one constraint engines in the wild, and this one, do not keep)."""

    model_config = _EXACT
    itemIdentifiers: list[str]
    stageLength: int


class GetSectionResponseBody(BaseModel):
    model_config = _EXACT
    items: ItemSet
    section: dict[str, Any]


class CreateSessionResponseBody(BaseModel):
    model_config = _EXACT
    sessionIdentifier: str
    nextItems: NextItemSet
    sessionState: str | None = None


class SubmitResultsResponseBody(BaseModel):
    model_config = _EXACT
    nextItems: NextItemSet
    assessmentResult: dict[str, Any] | None = None
    sessionState: str | None = None


class StatusInfo(BaseModel):
    """``imsx_StatusInfoDType``: the error body of every CAT service endpoint."""

    model_config = _EXACT
    imsx_codeMajor: str
    imsx_severity: str
    imsx_description: str | None = None
    imsx_codeMinor: dict[str, Any] | None = None
