"""The diagnostic workflow: start a CAT session, apply one answer, read status and result.

Psychometrics stay in ``adaptive.cat``; this module only persists. Each answer is one short write
transaction: ``UPDATE ... WHERE version = :seen`` (optimistic concurrency, so of two concurrent answers
exactly one is applied) plus one append to the response log, whose row also keeps the reply so that an
identical retry gets the same reply and records nothing twice. Deserialised sessions are cached per
(session id, version) so the hot path skips ``from_json``; the cache is only an accelerator.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adaptive.cat import CatConfig, CatSession, CompetenceProfile
from adaptive.cat.explain import explain_profile
from adaptive.cat.session import check_score
from adaptive.errors import InvalidAnswerError, ValidationError
from adaptive.framework import framework_for_bank
from api.auth import Principal
from api.insights.retest import exclude_items, items_seen_last_time
from api.jsonable import jsonable
from api.persistence import roles as role_store
from api.persistence.learners import ensure_learner
from api.persistence.tables import DiagnosticSession, Learner, Organisation, ResponseRecord, utcnow
from api.problems import ProblemError
from api.reviews import review_summary


@dataclass
class StepOutcome:
    reply: dict[str, Any]
    applied: bool  # False for an idempotent replay
    finished_now: bool = False


class SeedSource:
    """Seeds of new CAT sessions: drawn from the OS by default, or a reproducible stream from ``seed``
    (``DIGIPATH_CAT_SEED``: tests, audits and demonstrations that must replay the same diagnostics)."""

    def __init__(self, seed: int | None = None):
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)
        self._lock = threading.Lock()

    def __call__(self) -> int:
        if self._rng is None:
            return secrets.randbelow(2**31 - 1)
        with self._lock:  # sessions start on several threads: one draw at a time keeps the stream fixed
            return int(self._rng.integers(0, 2**31 - 1))


class SessionCache:
    """LRU of live ``CatSession`` objects keyed by session id, tagged with the row version they match."""

    def __init__(self, capacity: int = 5000):
        self.capacity = capacity
        self._data: OrderedDict[str, tuple[int, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, session_id: str, version: int) -> Any | None:
        # Taking (not peeking) means two threads never mutate one object; the loser deserialises its own.
        with self._lock:
            hit = self._data.pop(session_id, None)
        return hit[1] if hit is not None and hit[0] == version else None

    def put(self, session_id: str, version: int, cat: Any) -> None:
        with self._lock:
            self._data[session_id] = (version, cat)
            self._data.move_to_end(session_id)
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class DiagnosticService:
    def __init__(self, provider, cache: SessionCache | None = None, cat_overrides: dict | None = None,  # noqa: ANN001
                 seeds: SeedSource | None = None):
        self.provider = provider
        self.cache = cache or SessionCache()
        self.seeds = seeds or SeedSource()
        self.cat_overrides = dict(cat_overrides or {})
        self._public_items: dict[tuple[str, str, str], dict[str, Any]] = {}

    def exposure_control(self, bank) -> dict[str, Any]:  # noqa: ANN001
        """How the diagnostics this service starts on ``bank`` control item exposure: the method used, the
        stored control's target and whether it was calibrated for the service's CAT settings, and a warning
        when the service falls back (no stored control) or the stored control was made for other settings."""
        from adaptive.cat.exposure import exposure_method
        from adaptive.cat.simulation import exposure_config_matches

        config = CatConfig.from_dict(self.cat_overrides)
        method = exposure_method(config, bank)
        stored = bank.exposure_control
        matches = exposure_config_matches(stored, config) if stored else None
        warning = None
        if method != config.exposure:
            warning = (f"the item bank has no stored exposure control: diagnostics fall back to randomesque "
                       f"(k={config.randomesque_k}), which does not hold an exposure target; calibrate one "
                       f"with `digipath calibrate exposure --version <bank version>`")
        elif method == "conditional-sympson-hetter" and config.exposure_parameters is None and not matches:
            warning = ("the item bank's stored exposure control was calibrated for other CAT settings than "
                       "the service's: its target may not hold; recalibrate it with `digipath calibrate "
                       "exposure --version <bank version>`")
        return {"method": method, "stored": bool(stored),
                "target": stored.get("target") if stored else None,
                "calibrated_for_settings": matches, "warning": warning}

    # -- helpers ------------------------------------------------------------------------------
    def _item(self, bank, item_id: str | None, language: str, sequence: int,  # noqa: ANN001
              bank_version: str | None = None) -> dict[str, Any] | None:
        if item_id is None:
            return None
        if bank_version is None:
            item = bank.public_item(item_id, language)
        else:  # a bank version never changes: its public items are rendered once per language
            key = (bank_version, item_id, language)
            item = self._public_items.get(key)
            if item is None:
                item = self._public_items[key] = jsonable(bank.public_item(item_id, language))
        return {**item, "sequence": sequence}

    def _reply(self, row: DiagnosticSession, bank, cat) -> dict[str, Any]:  # noqa: ANN001
        finished = row.status == "finished"
        return jsonable(
            {
                "session_id": row.id,
                "status": row.status,
                "answered": row.sequence,
                "item": None
                if finished
                else self._item(bank, row.pending_item, row.language, row.sequence + 1, row.bank_version),
                "progress": cat.progress(estimates=bool(row.practice)) if cat is not None else {},
                "result": row.result if finished else None,
                "bank_version": row.bank_version,
            }
        )

    @staticmethod
    def get_row(db: Session, principal: Principal, session_id: str) -> DiagnosticSession:
        row = db.get(DiagnosticSession, session_id) if len(session_id) <= 36 else None
        if row is None or row.org_id != principal.org_id:  # another organisation's session: not found
            raise ProblemError(404, "not-found", f"unknown diagnostic session {session_id!r}")
        return row

    def _load_cat(self, db: Session, row, bank):  # noqa: ANN001
        cat = self.cache.take(row.id, row.version)
        if cat is None:
            cat = self._restore(db, row, bank)
        return cat

    @staticmethod
    def _restore(db: Session, row, bank) -> CatSession:  # noqa: ANN001
        """Rebuild the live session: ``state`` holds the CAT set-up (and, once finished, the whole log);
        answers beyond its log come from the response log, which the answer path appends to."""
        conn = db.connection()
        state = getattr(row, "state", None)
        if state is None:
            state = conn.execute(_STATE_SELECT, {"sid": row.id}).scalar_one()
        data = json.loads(state)
        log = list(data.get("log") or [])
        if len(log) > row.sequence:
            # A concurrent answer finished the session after ``row`` was read and stored the whole log:
            # rebuild the session as ``row`` saw it, so this answer loses the version check and replays.
            data["log"] = log[: row.sequence]
            state = json.dumps(data)
        elif len(log) < row.sequence:  # rows up to the version read, so a concurrent append is not seen
            rest = conn.execute(_LOG_SELECT, {"sid": row.id, "after": len(log), "upto": row.sequence})
            # a platform-scored answer has no option (answer None): its score replays it
            log.extend({"item_id": r.item_id, "answer": r.answer, "score": r.response} for r in rest)
            data["log"] = log
            state = json.dumps(data)
        return CatSession.from_json(bank, state)

    # -- start ----------------------------------------------------------------------------------
    def start(
        self,
        db: Session,
        principal: Principal,
        learner_id: str,
        role: str | None,
        areas: list[str] | None,
        language: str,
        unit: str | None = None,
        practice: bool = False,
        *,
        bank_version: str | None = None,
        cat_settings: dict | None = None,
        start_theta: dict[str, float] | None = None,
        linked_rows: Callable[[str], Iterable[object]] | None = None,
    ) -> dict[str, Any]:
        """``bank_version``/``cat_settings``/``start_theta``: a CAT-service section's item pool, its CAT
        settings (over the service's) and a prior ability (``api/routers/ims_cat.py``); None: as usual.
        ``linked_rows(session_id)``: the caller's rows about the new session (a CAT-service session's
        link to its section), written in the same transaction: a failure leaves neither."""
        if practice and not db.get(Organisation, principal.org_id).practice_mode:
            raise ProblemError(
                403,
                "practice-mode-not-allowed",
                "practice mode (running estimates after each answer) is off for your organisation; "
                "an admin can allow it with PATCH /v1/organisation/settings",
            )
        if bank_version is None:
            bank, bank_version = self.provider.champion_bank()
        else:
            bank = self.provider.bank(bank_version)
        if language not in bank.languages:
            raise ValidationError(
                f"language {language!r} not offered (available: {', '.join(bank.languages)})",
                where="request body",
                field="language",
            )
        if areas is not None:
            areas = list(dict.fromkeys(areas))
            unknown = [a for a in areas if a not in bank.area_ids]
            if unknown:
                raise ValidationError(
                    f"unknown area id(s) {unknown} (bank areas: {', '.join(bank.area_ids)})",
                    where="request body",
                    field="areas",
                )
        if role is not None and role_store.has_profiles(db, principal.org_id):
            # the role is written on the learner, as PUT /v1/learners does: where the organisation keeps
            # role profiles, it must be one of them (without any, a role is recorded as given)
            role_store.known_role(db, principal.org_id, role)
        learner = ensure_learner(db, principal.org_id, learner_id)
        if role is not None:
            learner.role = role
        if unit is not None:
            learner.unit = unit
        # a retest avoids the items of the learner's last diagnostic where the bank allows (issue 8)
        overrides = exclude_items({**self.cat_overrides, **(cat_settings or {}), "areas": areas},
                                  items_seen_last_time(db, learner))
        config = CatConfig.from_dict(overrides)
        seed = self.seeds()
        cat = CatSession(bank, config, seed, start_theta=start_theta)
        first = cat.next_item()
        now = utcnow()
        row = DiagnosticSession(
            id=str(uuid.uuid4()),
            org_id=principal.org_id,
            learner_id=learner.id,
            bank_version=bank_version,
            language=language,
            role=role,
            areas=list(areas or bank.area_ids),
            seed=seed,
            status="in_progress" if first is not None else "finished",
            sequence=0,
            pending_item=first,
            state=cat.to_json(),
            result=None,
            version=1,
            created_at=now,
            updated_at=now,
            practice=bool(practice),
        )
        if first is None:  # degenerate configuration: nothing to ask
            row.result = jsonable(cat.result().to_dict())
            row.finished_at = now
        db.add(row)
        if linked_rows is not None:
            db.flush()  # the session row first: the linked rows refer to it (no relationship orders them)
            db.add_all(linked_rows(row.id))
        db.commit()
        self.cache.put(row.id, row.version, cat)
        return self._reply(row, bank, cat)

    # -- answer ---------------------------------------------------------------------------------
    # One transaction of three Core statements through the request's Session: SELECT the session row,
    # UPDATE ... WHERE version = :seen (optimistic concurrency), INSERT into the response log. SQLAlchemy
    # caches their compiled form, so an answer costs the driver calls plus the CAT step.
    def answer(
        self, db: Session, principal: Principal, session_id: str, item_id: str, answer: int | None,
        sequence: int, *, score: int | float | str | None = None,
    ) -> StepOutcome:
        """Apply the answer at ``sequence``: the option chosen (``answer``, scored with the bank's key), or
        with ``answer`` None the ``score`` the delivery platform gave (a CAT-service section that trusts
        the platform's scoring; ``/v1`` always sends an option)."""
        conn = db.connection()  # Core statements on the session's connection: no ORM bookkeeping needed
        found = conn.execute(_HOT_SELECT, {"sid": session_id}).first() if len(session_id) <= 36 else None
        if found is None or found.org_id != principal.org_id:  # another organisation's session: not found
            raise ProblemError(404, "not-found", f"unknown diagnostic session {session_id!r}")
        row = found
        if sequence <= row.sequence:
            return StepOutcome(self._replay(db, row, item_id, answer, score, sequence), applied=False)
        if row.status == "finished":
            raise ProblemError(
                409, "session-finished", f"diagnostic {session_id} is finished", session_id=session_id
            )
        if sequence != row.sequence + 1:
            raise ProblemError(
                409,
                "stale-sequence",
                f"sequence {sequence} is ahead of the session: the item to answer has "
                f"sequence {row.sequence + 1}",
                expected_sequence=row.sequence + 1,
            )
        if item_id != row.pending_item:
            raise ProblemError(
                409,
                "wrong-item",
                f"item {item_id!r} is not the item presented at sequence {sequence}",
                expected_sequence=row.sequence + 1,
            )
        bank = self.provider.bank(row.bank_version)
        # InvalidAnswerError (422) before anything changes
        if answer is None:
            response = check_score(bank, item_id, score)
            cat = self._load_cat(db, row, bank)
            cat.answer(item_id, score=response)
        else:
            response = bank.score(item_id, answer)
            cat = self._load_cat(db, row, bank)
            cat.answer(item_id, answer)
        next_item = cat.next_item()
        now = utcnow()
        seen_version = row.version
        # In progress, the session row changes by a few scalars: the CAT log is the response log, appended
        # below. The whole state (with its log) is written once, when the session finishes.
        values: dict[str, Any] = {
            "sequence": row.sequence + 1,
            "pending_item": next_item,
            "version": seen_version + 1,
            "updated_at": now,
        }
        if next_item is None:
            values.update(
                state=cat.to_json(),
                status="finished",
                result=jsonable(cat.result().to_dict()),
                finished_at=now,
            )
        reply = {
            "session_id": row.id,
            "status": values.get("status", "in_progress"),
            "answered": values["sequence"],
            "item": None
            if next_item is None
            else self._item(bank, next_item, row.language, values["sequence"] + 1, row.bank_version),
            # plain numbers from the engine; running estimates only in practice mode (they reveal whether
            # the answer was right)
            "progress": cat.progress(estimates=bool(row.practice)),
            "result": values.get("result"),
            "bank_version": row.bank_version,
        }
        try:
            statement = _FINISH if next_item is None else _STEP
            if conn.execute(statement, {**values, "b_id": row.id, "b_seen": seen_version}).rowcount != 1:
                raise _Conflict
            conn.execute(
                _RESPONSE_INSERT,
                {
                    "org_id": row.org_id,
                    "session_id": row.id,
                    "learner_id": row.learner_id,
                    "sequence": sequence,
                    "item_id": item_id,
                    "answer": answer,
                    "response": response,
                    "bank_version": row.bank_version,
                    "administered_at": now,
                    "reply": reply,
                },
            )
            db.commit()
        except (_Conflict, IntegrityError):
            db.rollback()
            # Another request won the race; if it was this very answer, hand back its reply.
            fresh = db.execute(_HOT_SELECT, {"sid": session_id}).first()
            if fresh is not None and sequence <= fresh.sequence:
                return StepOutcome(self._replay(db, fresh, item_id, answer, score, sequence),
                                   applied=False)
            raise ProblemError(
                409,
                "concurrent-update",
                "another answer to this diagnostic was applied at the same time; fetch the session and retry",
                session_id=session_id,
            ) from None
        if next_item is not None:  # a finished session is read from its stored result, never replayed
            self.cache.put(row.id, seen_version + 1, cat)
        return StepOutcome(reply, applied=True, finished_now=next_item is None)

    def _replay(self, db: Session, row, item_id: str, answer: int | None, score, sequence: int) -> dict:  # noqa: ANN001
        record = db.scalar(
            select(ResponseRecord).where(
                ResponseRecord.session_id == row.id, ResponseRecord.sequence == sequence
            )
        )
        same = record is not None and record.item_id == item_id and record.answer == answer
        if same and answer is None:  # platform-scored: the same score again
            try:
                same = record.response == check_score(self.provider.bank(row.bank_version), item_id, score)
            except InvalidAnswerError:
                same = False
        if same:
            return record.reply
        raise ProblemError(
            409,
            "already-answered",
            f"sequence {sequence} was already answered"
            + (" with a different item or answer" if record is not None else ""),
            expected_sequence=row.sequence + 1 if row.status != "finished" else None,
        )

    # -- reads ----------------------------------------------------------------------------------
    def status(self, db: Session, principal: Principal, session_id: str) -> dict[str, Any]:
        row = self.get_row(db, principal, session_id)
        bank = self.provider.bank(row.bank_version)
        if row.status == "finished":  # summarised from the stored state: no replay of the session log
            progress = finished_progress(row)
        else:
            cat = self._load_cat(db, row, bank)
            self.cache.put(row.id, row.version, cat)
            progress = cat.progress(estimates=bool(row.practice))
        learner = db.get(Learner, row.learner_id)
        return jsonable(
            {
                "session_id": row.id,
                "learner_id": learner.external_id,
                "status": row.status,
                "answered": row.sequence,
                "language": row.language,
                "areas": row.areas,
                "role": row.role,
                "practice": bool(row.practice),
                "bank_version": row.bank_version,
                "item": None
                if row.status == "finished"
                else self._item(bank, row.pending_item, row.language, row.sequence + 1, row.bank_version),
                "progress": progress,
                "created_at": row.created_at,
                "updated_at": row.updated_at,
            }
        )

    def result(self, db: Session, principal: Principal, session_id: str) -> dict[str, Any]:
        row = self.get_row(db, principal, session_id)
        if row.status != "finished":
            raise ProblemError(
                409,
                "session-not-finished",
                f"diagnostic {session_id} is still in progress ({row.sequence} answers so far)",
            )
        learner = db.get(Learner, row.learner_id)
        bank = self.provider.bank(row.bank_version)
        profile = public_profile(row.result)
        return jsonable(
            {
                "session_id": row.id,
                "learner_id": learner.external_id,
                "bank_version": row.bank_version,
                "framework_version": bank.framework_version,
                "finished_at": row.finished_at,
                "profile": profile,
                "explanation": explain(row, bank, profile),
                **review_summary(db, row, profile),
            }
        )


class _Conflict(Exception):
    pass


def public_profile(result: dict | None) -> dict:
    """A stored result as clients see it: the profile's own shape (``CompetenceProfile.to_dict``), which
    also drops the raw per-competence scores that results stored before issue 13 carry."""
    return CompetenceProfile.from_dict(result).to_dict() if result else {"areas": {}, "competences": {}}


def finished_progress(row: DiagnosticSession) -> dict[str, Any]:
    """Progress of a finished session from its stored state (the full log): counts per area, pilot items
    included as while it ran; with the final estimates only in practice mode."""
    log = json.loads(row.state).get("log") or []
    counts = {a: 0 for a in row.areas}
    for entry in log:
        counts[entry.get("area")] = counts.get(entry.get("area"), 0) + 1
    areas: dict[str, dict[str, Any]] = {a: {"n_items": n} for a, n in counts.items()}
    if row.practice:
        for a, r in ((row.result or {}).get("areas") or {}).items():
            areas.setdefault(a, {"n_items": 0}).update(theta=r.get("theta"), se=r.get("se"), done=True)
    return {"answered": row.sequence, "max_items": row.sequence, "min_items_left": 0, "max_items_left": 0,
            "finished": True, "areas": areas}


def explain(row: DiagnosticSession, bank, profile: dict) -> dict[str, Any]:  # noqa: ANN001
    """The result's explanation (``adaptive.cat.explain``) in the framework the bank was built on."""
    state = json.loads(row.state)
    config = state.get("config") or {}
    framework = framework_for_bank(bank)  # None for a bank of a framework this service does not know
    return explain_profile(
        profile,
        dict(getattr(bank, "cut_scores", None) or {}),
        framework,
        prior_sd=float(config.get("prior_sd", 1.0)),
        independent_areas=bool(config.get("independent_areas", False)),
        prior_correlation_shrinkage=float(config.get("prior_correlation_shrinkage", 0.0)),
        log=state.get("log") or [],
    )


_SESSIONS = DiagnosticSession.__table__
_RESPONSES = ResponseRecord.__table__

# Answer-path statements built once: SQLAlchemy reuses their compiled form on every answer.
_HOT_SELECT = select(
    *(
        _SESSIONS.c[name]
        for name in ("id", "org_id", "learner_id", "bank_version", "language", "status", "sequence",
                     "pending_item", "version", "practice")
    )
).where(_SESSIONS.c.id == bindparam("sid"))
# Only on a cache miss (restart, another worker, eviction): the CAT set-up and the answers so far.
_STATE_SELECT = select(_SESSIONS.c.state).where(_SESSIONS.c.id == bindparam("sid"))
_LOG_SELECT = (
    select(_RESPONSES.c.item_id, _RESPONSES.c.answer, _RESPONSES.c.response)
    .where(
        _RESPONSES.c.session_id == bindparam("sid"),
        _RESPONSES.c.sequence > bindparam("after"),
        _RESPONSES.c.sequence <= bindparam("upto"),
    )
    .order_by(_RESPONSES.c.sequence)
)
_STEP_COLUMNS = ("sequence", "pending_item", "version", "updated_at")
_STEP = (
    update(_SESSIONS)
    .where(_SESSIONS.c.id == bindparam("b_id"), _SESSIONS.c.version == bindparam("b_seen"))
    .values({c: bindparam(c) for c in _STEP_COLUMNS})
)
_FINISH = (
    update(_SESSIONS)
    .where(_SESSIONS.c.id == bindparam("b_id"), _SESSIONS.c.version == bindparam("b_seen"))
    .values({c: bindparam(c) for c in (*_STEP_COLUMNS, "state", "status", "result", "finished_at")})
)
_RESPONSE_INSERT = insert(_RESPONSES).values({c: bindparam(c) for c in _RESPONSES.c.keys() if c != "id"})
