"""Request and response bodies of key management and the operator tier (pydantic v2; requests forbid
unknown fields, strings are length-bounded)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field

from api.schemas import Strict, UnitId

Slug = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
KeyId = Annotated[str, Field(min_length=12, max_length=12, pattern=r"^[0-9a-f]{12}$")]
# checked against api.auth.SCOPES when the key is made (422 naming the known scopes), so that a scope
# added there needs no change here
Scope = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z-]*$")]
Label = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._ -]*$")]


# --- keys --------------------------------------------------------------------------------------
class KeyCreate(Strict):
    scopes: list[Scope] = Field(min_length=1, max_length=10, description="scopes of the key")
    org: Slug | None = Field(None, description="operators: the organisation (must exist); admins: own only")
    name: str | None = Field(None, max_length=200, description="a label, e.g. the platform using the key")
    expires_at: AwareDatetime | None = Field(None, description="refused after this time (ISO 8601 with zone)")
    units: list[str] | None = Field(None, max_length=200,
                                    description="supervisor keys: the units it sees learner by learner")


class KeyRotate(Strict):
    expires_at: AwareDatetime | None = Field(None, description="expiry of the new key (None: until revoked)")


class KeyRevoke(Strict):
    reason: str | None = Field(None, max_length=200, description="kept in the audit log")


class KeyOut(BaseModel):
    key_id: str
    org: str
    scopes: list[str]
    units: list[str] | None = Field(None, description="supervisor keys: the units they see")
    name: str | None
    status: Literal["active", "revoked", "expired"]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="at most about a minute behind")
    revoked_at: datetime | None
    replaces: str | None = Field(description="the key this one rotated out")


class KeyCreated(KeyOut):
    token: str = Field(description="the API key; shown only in this reply (the service keeps a hash)")


class KeyList(BaseModel):
    items: list[KeyOut]


# --- organisations (operator tier) -------------------------------------------------------------
class OrganisationCreate(Strict):
    slug: Slug
    name: str = Field(min_length=1, max_length=200)
    type: Label | None = Field(None, description="organisation type, e.g. ministry, municipality, museum")
    sector: Label | None = Field(None, description="sector, e.g. culture, health, state-administration")
    units: list[UnitId] | None = Field(None, max_length=2000, description="its units (departments)")


class OrganisationUpdate(Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    type: Label | None = None
    sector: Label | None = None
    units: list[UnitId] | None = Field(None, max_length=2000)


class OrganisationOut(BaseModel):
    slug: str
    name: str
    type: str | None
    sector: str | None
    units: list[str]
    created_at: datetime
    active_keys: int


class OrganisationList(BaseModel):
    items: list[OrganisationOut]


class PromoteIn(Strict):
    version: int = Field(ge=1, description="registered model version to serve as champion")
