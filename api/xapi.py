"""xAPI (IEEE 9274.1.1 / xAPI 1.0.3) statements as learning events (issue 17): reading, checking, mapping.

A statement says *actor verb object [result]*. digipath keeps what the recommender learns from:
- the actor is the learner: ``account.name`` is the platform's learner id (as in ``/v1``); an ``mbox`` is
  kept only as its ``mbox_sha1sum`` (the learner id is ``mbox_sha1sum:<hex>``, the statement stored with
  the hash instead of the address), so an e-mail address is never stored;
- the verb IRI maps to a learning event (``VERB_EVENTS``, extended or overridden by the setting
  ``DIGIPATH_XAPI_VERBS``); an unknown verb is stored but not used; ``result.completion: true`` makes
  any used verb a completion; ``rated`` takes its value from ``result.score`` (scaled 0..1, or raw within
  min..max) on the recommender's 1..5 scale;
- the activity id is the content id, after stripping ``DIGIPATH_XAPI_ACTIVITY_PREFIX`` when it starts so
  (e.g. ``https://lms.example/content/`` + ``c-0012``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adaptive.cat.explain import SCORED_BY
from adaptive.errors import ValidationError

ADL = "http://adlnet.gov/expapi/verbs/"
VERB_EVENTS: dict[str, str] = {
    ADL + "experienced": "viewed",
    ADL + "launched": "viewed",
    ADL + "initialized": "viewed",
    ADL + "attempted": "viewed",
    ADL + "registered": "enrolled",
    ADL + "completed": "completed",
    ADL + "passed": "completed",
    ADL + "failed": "viewed",  # took part, did not master it: engagement, not a completion
    ADL + "scored": "viewed",
    ADL + "mastered": "completed",
    "http://id.tincanapi.com/verb/rated": "rated",
    ADL + "rated": "rated",
}
EVENTS = ("viewed", "enrolled", "completed", "rated")
VERSION_RE = re.compile(r"^(1\.0(\.\d+)?|2\.0(\.\d+)?)$")
_IRI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
_LEARNER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")
_CONTENT_RE = re.compile(r"^\S{1,128}$")  # a catalogue id or the activity IRI itself


class StatementError(ValidationError):
    """A statement that is not valid xAPI, or that digipath cannot read (400, naming the field)."""

    type = "invalid-statement"
    status = 400


def _fail(index: int | None, field: str, reason: str) -> StatementError:
    where = "statement" if index is None else f"statement[{index}]"
    return StatementError(reason, where=where, field=field or None)


@dataclass
class Statement:
    id: str
    learner_id: str
    verb: str
    activity_id: str | None
    content_id: str | None
    event: str | None  # None: the verb is not used by the recommender
    value: float | None
    timestamp: datetime
    stored: dict  # the statement as kept (mbox replaced by its sha1, id filled in)

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.stored, sort_keys=True).encode()).hexdigest()


def check_version(header: str | None) -> str:
    if header is None or not VERSION_RE.match(header.strip()):
        raise StatementError(
            "the X-Experience-API-Version header must name the xAPI version (1.0.3, 1.0.x or 2.0.0)",
            where="headers", field="X-Experience-API-Version",
        )
    return header.strip()


def _learner(actor: Any, index: int | None, stored: dict) -> str:
    if not isinstance(actor, dict):
        raise _fail(index, "actor", "required, an Agent object")
    if actor.get("objectType", "Agent") != "Agent":
        raise _fail(index, "actor.objectType", "digipath takes statements about one learner (an Agent)")
    ifis = [k for k in ("mbox", "mbox_sha1sum", "openid", "account") if k in actor]
    if len(ifis) != 1:
        raise _fail(index, "actor", "exactly one of mbox, mbox_sha1sum, openid, account is required")
    kind = ifis[0]
    if kind == "account":
        account = actor["account"]
        if not isinstance(account, dict) or not isinstance(account.get("name"), str) \
                or not isinstance(account.get("homePage"), str):
            raise _fail(index, "actor.account", "needs homePage (IRL) and name")
        name = account["name"]
        if not (1 <= len(name) <= 128 and _LEARNER_RE.match(name)):
            raise _fail(index, "actor.account.name", "1-128 letters, digits or . _ : @ - (the learner id)")
        return name
    if kind == "mbox":
        mbox = actor["mbox"]
        if not isinstance(mbox, str) or not re.fullmatch(r"mailto:[^@\s]+@[^@\s]+", mbox):
            raise _fail(index, "actor.mbox", "must be mailto:<address>")
        sha1 = hashlib.sha1(mbox.encode()).hexdigest()  # noqa: S324 - xAPI's own mbox_sha1sum
        agent = {k: v for k, v in actor.items() if k not in ("mbox", "name")}
        stored["actor"] = {**agent, "mbox_sha1sum": sha1}  # data minimisation: no address kept
        return f"mbox_sha1sum:{sha1}"
    if kind == "mbox_sha1sum":
        value = actor["mbox_sha1sum"]
        if not isinstance(value, str) or not re.fullmatch(r"[0-9a-fA-F]{40}", value):
            raise _fail(index, "actor.mbox_sha1sum", "40 hexadecimal digits")
        stored["actor"] = {k: v for k, v in actor.items() if k != "name"}
        return f"mbox_sha1sum:{value.lower()}"
    raise _fail(index, "actor.openid", "digipath identifies learners by account or mbox")


def _timestamp(value: Any, index: int | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise _fail(index, "timestamp", f"{value!r} is not an ISO 8601 date-time") from None
    try:
        return when.astimezone(UTC) if when.tzinfo is not None else when.replace(tzinfo=UTC)
    except OverflowError:
        raise _fail(index, "timestamp", f"{value!r} is out of range") from None


def _rating(result: dict, index: int | None) -> float | None:
    score = result.get("score")
    if score is None:
        return None
    raw, low, high = score.get("raw"), score.get("min"), score.get("max")
    if raw is not None and low is not None and high is not None and high > low:
        return 1.0 + 4.0 * (float(raw) - low) / (high - low)
    scaled = score.get("scaled")
    if scaled is not None:
        return 1.0 + 4.0 * max(0.0, float(scaled))
    return None


def _result(result: Any, index: int | None) -> dict:
    if result is None:
        return {}
    if not isinstance(result, dict):
        raise _fail(index, "result", "must be an object")
    for flag in ("completion", "success"):
        if flag in result and not isinstance(result[flag], bool):
            raise _fail(index, f"result.{flag}", "must be true or false")
    score = result.get("score")
    if score is not None:
        if not isinstance(score, dict):
            raise _fail(index, "result.score", "must be an object")
        for name in ("scaled", "raw", "min", "max"):
            v = score.get(name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or v != v):
                raise _fail(index, f"result.score.{name}", "must be a number")
        if score.get("scaled") is not None and not -1 <= score["scaled"] <= 1:
            raise _fail(index, "result.score.scaled", "must lie in [-1, 1]")
        low, high, raw = score.get("min"), score.get("max"), score.get("raw")
        if low is not None and high is not None and low > high:
            raise _fail(index, "result.score", "min is above max")
        if raw is not None and ((low is not None and raw < low) or (high is not None and raw > high)):
            raise _fail(index, "result.score.raw", "must lie within min..max")
    return result


def read_statement(
    data: Any, index: int | None = None, *, statement_id: str | None = None,
    verbs: dict[str, str] | None = None, activity_prefix: str | None = None,
) -> Statement:
    """Check one statement and map it to a learning event (``StatementError`` names the field)."""
    if not isinstance(data, dict):
        raise _fail(index, "", "a statement is a JSON object")
    stored = copy.deepcopy(data)
    sid = data.get("id")
    if sid is not None:
        try:
            sid = str(uuid.UUID(str(sid)))
        except ValueError:
            raise _fail(index, "id", f"{sid!r} is not a UUID") from None
        if statement_id is not None and sid != statement_id:
            raise _fail(index, "id", "differs from the statementId parameter")
    sid = sid or statement_id or str(uuid.uuid4())
    stored["id"] = sid
    learner = _learner(data.get("actor"), index, stored)
    verb = data.get("verb")
    if not isinstance(verb, dict) or not isinstance(verb.get("id"), str) or not _IRI_RE.match(verb["id"]):
        raise _fail(index, "verb.id", "required, an IRI")
    obj = data.get("object")
    if not isinstance(obj, dict):
        raise _fail(index, "object", "required, an object")
    activity = None
    if obj.get("objectType", "Activity") == "Activity":
        if not isinstance(obj.get("id"), str) or not _IRI_RE.match(obj["id"]):
            raise _fail(index, "object.id", "an Activity needs an IRI id")
        activity = obj["id"]
    result = _result(data.get("result"), index)
    when = _timestamp(data.get("timestamp"), index)
    mapping = {**VERB_EVENTS, **(verbs or {})}
    # digipath's own diagnostic statements coming back are results, not learning content
    event = mapping.get(verb["id"]) if activity not in (None, DIAGNOSTIC_ACTIVITY) else None
    content = None
    if activity is not None:
        content = activity
        for prefix in (activity_prefix, CONTENT_IRI):  # CONTENT_IRI: digipath's own statements coming back
            if prefix and activity.startswith(prefix):
                content = activity[len(prefix):]
                break
        if len(content) > 128 or not _CONTENT_RE.match(content):
            event = None  # not a content id of the catalogue: kept as a statement, not as an event
    value = None
    if event is not None and result.get("completion") is True and event != "rated":
        event = "completed"
    if event == "rated":
        value = _rating(result, index)
        if value is None:
            raise _fail(index, "result.score", "a rating needs score.scaled (0..1) or raw with min and max")
    return Statement(sid, learner, verb["id"], activity, content, event, value, when, stored)


def read_statements(body: Any, *, statement_id: str | None = None, verbs: dict[str, str] | None = None,
                    activity_prefix: str | None = None) -> list[Statement]:
    """One statement or an array of them, all checked before anything is stored."""
    if isinstance(body, list):
        if statement_id is not None:
            raise StatementError("PUT takes one statement", where="request body")
        if not 1 <= len(body) <= 1000:
            raise StatementError("send 1 to 1000 statements", where="request body")
        out = [read_statement(s, i, verbs=verbs, activity_prefix=activity_prefix) for i, s in enumerate(body)]
    else:
        out = [read_statement(body, None, statement_id=statement_id, verbs=verbs,
                              activity_prefix=activity_prefix)]
    seen: dict[str, str] = {}
    for s in out:
        if seen.setdefault(s.id, s.fingerprint()) != s.fingerprint():
            raise StatementError(f"statement id {s.id} twice with different content", where="request body",
                                 field="id")
    return list({s.id: s for s in out}.values())


def check_verb_mapping(verbs: dict[str, str] | None) -> dict[str, str]:
    bad = {k: v for k, v in (verbs or {}).items() if v not in EVENTS or not _IRI_RE.match(k)}
    if bad:
        raise ValueError(f"DIGIPATH_XAPI_VERBS: {bad} (verb IRI -> one of {', '.join(EVENTS)})")
    return dict(verbs or {})


# -- out: learning events as statements ------------------------------------------------------------
EVENT_VERBS = {
    "viewed": (ADL + "experienced", "experienced"),
    "enrolled": (ADL + "registered", "registered"),
    "completed": (ADL + "completed", "completed"),
    "rated": ("http://id.tincanapi.com/verb/rated", "rated"),
}
CONTENT_IRI = "urn:digipath:content:"  # content ids that are not IRIs become activity ids under this
HOME_PAGE = "https://digipath.example/organisations/"


def event_statement(org_slug: str, learner: str, content_id: str, event: str, value: float | None,
                    timestamp: datetime, event_id: str, activity_prefix: str | None = None) -> dict:
    """A learning event as an xAPI statement, the inverse of ``read_statement``: posted back (with the
    same ``activity_prefix``) it gives the same event. Events that came in as statements keep their id."""
    sid = event_id[5:] if event_id.startswith("xapi:") else str(uuid.uuid5(uuid.NAMESPACE_URL,
                                                                           f"{HOME_PAGE}{org_slug}#{event_id}"))
    actor = _actor(org_slug, learner)
    verb, word = EVENT_VERBS[event]
    activity = content_id if _IRI_RE.match(content_id) else (activity_prefix or CONTENT_IRI) + content_id
    out: dict[str, Any] = {
        "id": sid, "actor": actor, "verb": {"id": verb, "display": {"en-US": word}},
        "object": {"objectType": "Activity", "id": activity},
        "timestamp": timestamp.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }
    if event == "rated" and value is not None:
        out["result"] = {"score": {"raw": value, "min": 1.0, "max": 5.0,
                                   "scaled": round(min(1.0, max(0.0, (value - 1.0) / 4.0)), 6)}}
    elif event == "completed":
        out["result"] = {"completion": True}
    return out


def _actor(org_slug: str, learner: str) -> dict:
    if learner.startswith("mbox_sha1sum:"):
        return {"objectType": "Agent", "mbox_sha1sum": learner.removeprefix("mbox_sha1sum:")}
    return {"objectType": "Agent", "account": {"homePage": HOME_PAGE + org_slug, "name": learner}}


DIAGNOSTIC_ACTIVITY = "https://digipath.example/xapi/activities/diagnostic"
PROFILE_EXTENSION = "https://digipath.example/xapi/extensions/competence-profile"
# who scored the diagnostic's responses: per scorer a count, and per response the item and its scorer
SCORED_BY_EXTENSION = "https://digipath.example/xapi/extensions/scored-by"


def diagnostic_statement(org_slug: str, learner: str, session_id: str, finished_at: datetime,
                         bank_version: str, profile: dict, responses: list[dict] | None = None) -> dict:
    """A finished diagnostic as a statement: *learner completed the diagnostic*, with per area theta, SE and
    level (the bank's level scheme) in a result extension; ``context.registration`` is the session id.
    ``responses`` (``adaptive.cat.explain.explain_responses``): who scored each response, in a second
    result extension (no option, no score: nothing of the answer key)."""
    areas = {a: {"theta": r["theta"], "se": r["se"], "level": r["level"]}
             for a, r in (profile.get("areas") or {}).items()}
    extensions: dict[str, Any] = {PROFILE_EXTENSION: {"bank_version": bank_version, "areas": areas}}
    if responses is not None:
        extensions[SCORED_BY_EXTENSION] = {
            **{who: sum(r["scored_by"] == who for r in responses) for who in SCORED_BY},
            "responses": [{k: r[k] for k in ("sequence", "item_id", "scored_by")} for r in responses]}
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{HOME_PAGE}{org_slug}#diagnostic:{session_id}")),
        "actor": _actor(org_slug, learner),
        "verb": {"id": ADL + "completed", "display": {"en-US": "completed"}},
        "object": {"objectType": "Activity", "id": DIAGNOSTIC_ACTIVITY, "definition": {
            "type": "http://adlnet.gov/expapi/activities/assessment",
            "name": {"en-US": "digipath adaptive competence diagnostic"}}},
        "result": {"completion": True, "extensions": extensions},
        "context": {"registration": session_id},
        "timestamp": finished_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }
