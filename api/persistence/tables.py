"""The service's tables (SQLAlchemy 2 declarative). Alembic migrations in ``api/migrations`` create them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Role ids (role profiles, learners, diagnostics, plans): the API's ``api.schemas.RoleId`` takes this bound
# from here, so a role the edge accepts always fits the column.
ROLE_ID_LENGTH = 64


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every back end (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: ANN001
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value, dialect):  # noqa: ANN001
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # Practice mode allowed: a diagnostic started with ``practice: true`` shows running estimates after
    # each answer (which reveals whether it was right). Off by default: test integrity (issue 13).
    practice_mode: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    # what an academy's operator groups organisations by in cross-organisation aggregates
    org_type: Mapped[str | None] = mapped_column(String(64))  # e.g. ministry, municipality, museum
    sector: Mapped[str | None] = mapped_column(String(64))  # e.g. culture, health, state administration
    units: Mapped[list | None] = mapped_column(JSON)  # the organisation's units (departments), names


class ApiKey(Base):
    """An API key: the public ``key_id`` prefix is looked up, the secret part is stored only as sha256."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), nullable=False, index=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    scopes: Mapped[str] = mapped_column(String(200), nullable=False)  # space-separated
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # indexed: every process polls count/max of it to drop revoked keys from its cache (api.auth)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # at most a minute behind
    replaces: Mapped[str | None] = mapped_column(String(32))  # the key_id this one rotated out
    # organisational units a ``supervisor`` key may see learner by learner (None: none)
    units: Mapped[list | None] = mapped_column(JSON)


class Learner(Base):
    __tablename__ = "learners"
    __table_args__ = (
        UniqueConstraint("org_id", "external_id", name="uq_learners_org_external"),
        Index("ix_learners_org_unit", "org_id", "unit"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), nullable=False)
    external_id: Mapped[str] = mapped_column(String(128), nullable=False)
    role: Mapped[str | None] = mapped_column(String(ROLE_ID_LENGTH))
    unit: Mapped[str | None] = mapped_column(String(64))  # organisational unit (department), for insights
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    language: Mapped[str | None] = mapped_column(String(8))  # preferred language of content (issue 18)


class LearnerObjective(Base):
    """A learner's own objective: the level to reach in one competence, in the level scheme of the
    framework named, optionally by a date. With the role's requirement it defines the learner's gaps."""

    __tablename__ = "learner_objectives"
    __table_args__ = (UniqueConstraint("learner_id", "competence", name="uq_learner_objectives_competence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id"), nullable=False)
    framework_id: Mapped[str] = mapped_column(String(64), nullable=False)
    competence: Mapped[str] = mapped_column(String(16), nullable=False)
    target_level: Mapped[int] = mapped_column(Integer, nullable=False)
    deadline: Mapped[date | None] = mapped_column(Date)
    set_by: Mapped[str] = mapped_column(String(64), nullable=False)  # the API key that set it
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class RoleProfile(Base):
    """One version of an organisation's role profile: the level required per competence in the level
    scheme of the framework named. Every change adds a version (the newest is current); ``retired``
    marks a version that removes the role. Data the service reads on each request, not model state."""

    __tablename__ = "role_profiles"
    __table_args__ = (UniqueConstraint("org_id", "role_id", "version", name="uq_role_profiles_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), nullable=False)
    role_id: Mapped[str] = mapped_column(String(ROLE_ID_LENGTH), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)  # 1, 2, ... per organisation and role
    title: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    framework_id: Mapped[str] = mapped_column(String(64), nullable=False)
    required: Mapped[dict] = mapped_column(JSON, nullable=False)  # competence id -> level number
    retired: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)  # API key id or cli:<user>
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class DiagnosticSession(Base):
    """A CAT session. ``version`` is the optimistic-concurrency counter: every applied answer bumps it."""

    __tablename__ = "diagnostic_sessions"
    __table_args__ = (Index("ix_sessions_learner_status", "learner_id", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), nullable=False, index=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id"), nullable=False)
    bank_version: Mapped[str] = mapped_column(String(32), nullable=False)
    language: Mapped[str] = mapped_column(String(8), nullable=False)
    role: Mapped[str | None] = mapped_column(String(ROLE_ID_LENGTH))
    areas: Mapped[list] = mapped_column(JSON, nullable=False)
    seed: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # in_progress | finished
    sequence: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # answers applied so far
    pending_item: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(Text, nullable=False)  # CatSession.to_json()
    result: Mapped[dict | None] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # replies carry running estimates (practice mode, only where the organisation allows it)
    practice: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())


class ResponseRecord(Base):
    """Append-only response log (calibration input); ``reply`` is kept for idempotent retries."""

    __tablename__ = "responses"
    __table_args__ = (
        UniqueConstraint("session_id", "sequence", name="uq_responses_session_sequence"),
        # erasure and purge find a learner's responses (and "nothing left") without scanning the log
        Index("ix_responses_learner", "learner_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), nullable=False, index=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("diagnostic_sessions.id"), nullable=False)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id"), nullable=False)
    sequence: Mapped[int] = mapped_column(Integer, nullable=False)  # 1-based position in the test
    item_id: Mapped[str] = mapped_column(String(64), nullable=False)
    # the option index the learner chose; None when the delivery platform scored the item and sent only
    # its score (a CAT-service section that trusts the platform's scoring, api/routers/ims_cat.py)
    answer: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response: Mapped[int] = mapped_column(Integer, nullable=False)  # the score: server's key, or platform's
    bank_version: Mapped[str] = mapped_column(String(32), nullable=False)
    administered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    reply: Mapped[dict] = mapped_column(JSON, nullable=False)


class ResultReview(Base):
    """Human oversight of a finished diagnostic's result, append-only (issue 13).

    ``kind``: ``annotation`` (a note by an ``oversight`` key, optionally on one area), ``override`` (an
    ``oversight`` key sets an area's level; ``original_level`` keeps the scored level, the stored result
    is never changed) or ``contest`` (the learner's platform flags the result as contested).
    """

    __tablename__ = "result_reviews"
    __table_args__ = (Index("ix_result_reviews_session", "session_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), nullable=False)
    session_id: Mapped[str] = mapped_column(ForeignKey("diagnostic_sessions.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # annotation | override | contest
    area: Mapped[str | None] = mapped_column(String(8))
    original_level: Mapped[int | None] = mapped_column(Integer)  # the scored level (override)
    level: Mapped[int | None] = mapped_column(Integer)  # the level set by the reviewer (override)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    key_id: Mapped[str] = mapped_column(String(64), nullable=False)  # the API key that acted
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class AnonymousResponse(Base):
    """The response log of erased (or retention-purged) learners, kept for calibration only.

    Irreversibly anonymised: no learner, session or sequence; ``person_id`` is a random id drawn at
    erasure for each diagnostic (no mapping kept), so the responses of one sitting stay grouped; the time
    is coarsened to the month.
    """

    __tablename__ = "anonymous_responses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), nullable=False, index=True)
    person_id: Mapped[str] = mapped_column(String(40), nullable=False)
    item_id: Mapped[str] = mapped_column(String(64), nullable=False)
    response: Mapped[int] = mapped_column(Integer, nullable=False)
    bank_version: Mapped[str] = mapped_column(String(32), nullable=False)
    administered_month: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)  # 1st of the month


class LearningEvent(Base):
    __tablename__ = "learning_events"
    __table_args__ = (
        UniqueConstraint("org_id", "event_id", name="uq_events_org_event"),
        Index("ix_events_learner", "learner_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), nullable=False)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id"), nullable=False)
    event_id: Mapped[str] = mapped_column(String(128), nullable=False)
    content_id: Mapped[str] = mapped_column(String(128), nullable=False)
    event: Mapped[str] = mapped_column(String(16), nullable=False)
    value: Mapped[float | None] = mapped_column(Float)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class AuditEntry(Base):
    """Who read or changed personal data or a result through a human-facing scope, and when.

    Append-only; ``org_id`` is the organisation whose data was touched (None for service-wide actions),
    ``key_id`` the API key (or ``cli:<user>``) that acted. ``detail`` holds what identifies the read or
    change (learner id, table, filters, reason), never the personal data itself.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_org_at", "org_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    org_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: the log outlives what it names
    key_id: Mapped[str] = mapped_column(String(64), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)  # e.g. insights.read, learner.erase
    target: Mapped[str | None] = mapped_column(String(200))  # e.g. learner:<external id>, session:<id>
    detail: Mapped[dict | None] = mapped_column(JSON)


class ServiceSignal(Base):
    """A counter per service-wide change every process must follow (``models``: serve the champions
    anew). Each process reads them with its revocation check (``api.signals``, ``api.auth.KeyVerifier``),
    so a change reaches every worker and host sharing the database within about a second."""

    __tablename__ = "service_signals"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class CatSection(Base):
    """An adaptive section of the 1EdTech CAT service (``/ims/cat/v1p0``): an item pool (a registered
    item-bank version) and CAT settings. Its sessions are diagnostics (``cat_section_sessions``)."""

    __tablename__ = "cat_sections"
    __table_args__ = (Index("ix_cat_sections_org_request", "org_id", "request_sha256"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), nullable=False)
    bank_version: Mapped[str] = mapped_column(String(32), nullable=False)
    configuration: Mapped[dict] = mapped_column(JSON, nullable=False)  # decoded sectionConfiguration
    section: Mapped[dict] = mapped_column(JSON, nullable=False)  # the SectionDType as sent
    # TAO posts the same section at import and at publishing: an identical request gets the same section
    request_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CatSectionSession(Base):
    """Which diagnostic a CAT-service session is, in which section; ``ended_at`` once ended (DELETE)."""

    __tablename__ = "cat_section_sessions"

    session_id: Mapped[str] = mapped_column(ForeignKey("diagnostic_sessions.id"), primary_key=True)
    section_id: Mapped[str] = mapped_column(ForeignKey("cat_sections.id"), nullable=False, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class XapiStatement(Base):
    """An xAPI statement received (``POST /xapi/statements``), as stored (an mbox only as its sha1);
    ``event`` is the learning event it became (``learning_events.event_id`` = ``xapi:<statement id>``),
    None when its verb is not used by the recommender."""

    __tablename__ = "xapi_statements"
    __table_args__ = (
        UniqueConstraint("org_id", "statement_id", name="uq_xapi_statements_org_statement"),
        Index("ix_xapi_statements_learner", "learner_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), nullable=False)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id"), nullable=False)
    statement_id: Mapped[str] = mapped_column(String(36), nullable=False)
    verb: Mapped[str] = mapped_column(Text, nullable=False)
    activity_id: Mapped[str | None] = mapped_column(Text)
    event: Mapped[str | None] = mapped_column(String(16))
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)  # same id, other content: 409
    statement: Mapped[dict] = mapped_column(JSON, nullable=False)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class CatalogueItem(Base):
    """An organisation's learning content as it stands now (``api.persistence.catalogue``); each change is
    a new ``version`` with its record kept in ``catalogue_item_versions``. Retired content stays (status)."""

    __tablename__ = "catalogue_items"
    __table_args__ = (UniqueConstraint("org_id", "content_id", name="uq_catalogue_items_org_content"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), nullable=False)
    content_id: Mapped[str] = mapped_column(String(128), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # active | retired
    record: Mapped[dict] = mapped_column(JSON, nullable=False)  # recommender.live_catalogue.validate_content
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_by: Mapped[str] = mapped_column(String(64), nullable=False)  # key id or cli:<user>


class CatalogueItemVersion(Base):
    """Every version of every content record (the catalogue's history: who changed what, when)."""

    __tablename__ = "catalogue_item_versions"
    __table_args__ = (
        UniqueConstraint("org_id", "content_id", "version", name="uq_catalogue_item_versions"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), nullable=False)
    content_id: Mapped[str] = mapped_column(String(128), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    action: Mapped[str] = mapped_column(String(16), nullable=False)  # created | updated | retired | restored
    record: Mapped[dict] = mapped_column(JSON, nullable=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    changed_by: Mapped[str] = mapped_column(String(64), nullable=False)
    catalogue_version: Mapped[int] = mapped_column(Integer, nullable=False)  # the change set it was part of


class CatalogueVersion(Base):
    """Where an organisation's catalogue stands: ``version`` advances once per change set (an import is
    one); ``token`` is new with each, so serving processes cache the merged catalogue by it."""

    __tablename__ = "catalogue_versions"

    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    token: Mapped[str] = mapped_column(String(36), nullable=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class LearningPlan(Base):
    """A learner's accepted pathway (issue 18): the steps as they stand now, and where they came from.

    One plan per learner; every change (acceptance of a proposal, a supervisor's adjustment) makes a new
    ``revision`` and appends its snapshot to ``plan_revisions``. ``revision`` is also the optimistic-
    concurrency counter: a change applies only to the revision its author saw. ``steps`` holds the
    step dicts of ``recommender.progress`` (content id, competence, level, reason, pinned, hidden,
    deadline, origin, who changed it last).
    """

    __tablename__ = "learning_plans"
    __table_args__ = (
        UniqueConstraint("learner_id", name="uq_learning_plans_learner"),
        Index("ix_learning_plans_org", "org_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), nullable=False)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id"), nullable=False)
    role: Mapped[str | None] = mapped_column(String(ROLE_ID_LENGTH))  # target role of the accepted pathway
    language: Mapped[str | None] = mapped_column(String(8))
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    steps: Mapped[list] = mapped_column(JSON, nullable=False)
    model_version: Mapped[str] = mapped_column(String(32), nullable=False)  # recommender it came from
    # the diagnostic it was computed from (no foreign key: a purged session leaves the plan readable)
    based_on_session: Mapped[str | None] = mapped_column(String(36))
    # first accepted (progress and the 'followed the plan' comparison start here)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class PlanRevision(Base):
    """Append-only history of a plan: each revision's steps, what changed (and why) and who changed it.

    ``kind``: ``accepted`` (first acceptance), ``updated`` (an updated proposal accepted) or ``adjusted``
    (a supervisor's pin/hide/add/move/deadline). ``author_*``: the API key that acted (id, name at the
    time) and the scope it acted under.
    """

    __tablename__ = "plan_revisions"
    __table_args__ = (UniqueConstraint("plan_id", "revision", name="uq_plan_revisions_plan_revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("learning_plans.id"), nullable=False)
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # accepted | updated | adjusted
    steps: Mapped[list] = mapped_column(JSON, nullable=False)
    changes: Mapped[dict] = mapped_column(JSON, nullable=False)  # difference / adjustments applied
    model_version: Mapped[str] = mapped_column(String(32), nullable=False)
    based_on_session: Mapped[str | None] = mapped_column(String(36))
    author_key_id: Mapped[str] = mapped_column(String(64), nullable=False)
    author_name: Mapped[str | None] = mapped_column(String(200))
    author_scope: Mapped[str] = mapped_column(String(32), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)  # the author's reason, as given
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
