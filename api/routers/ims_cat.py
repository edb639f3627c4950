"""The 1EdTech Computer Adaptive Testing (CAT) Service v1.0 under ``/ims/cat/v1p0`` (issue 17).

Another door into the same diagnostics: a section is an item pool (a registered item-bank version) with
CAT settings; a session started here IS a diagnostic row, started and scored by ``DiagnosticService``
(the same CAT, store, restart and concurrency safety), so it shows in ``/v1/diagnostics/{id}``, the
response export, insights and the learner's data rights. Errors use the spec's ``imsx_StatusInfoDType``.

Who scores an item is the section's ``scoring`` setting (in ``sectionConfiguration``):
- ``"platform"`` (the default, because TAO as shipped sends only its own ``SCORE`` outcome per item): the
  platform's ``SCORE`` is the item's score, checked against the item's model (0/1, or a GRM category);
  the response log keeps the score with no option (``responses.answer`` NULL);
- ``"server"``: the candidate's response (``responseVariables`` ``RESPONSE``: the chosen option's index)
  is scored here with the bank's key and a platform's ``SCORE`` is ignored, as on ``/v1/diagnostics``
  (which always scores on the server).

What departs from the letter of the spec, and why:
- a stage is one item; results are read cumulatively (TAO posts all results so far after every item), an
  item already scored is skipped, and an item never presented is refused before anything is stored;
- outcome variables (theta, SE, level per area) come only with the end of the section: running estimates
  would tell the candidate which answers were right (issue 13);
- the end of the section is ``nextItems: {itemIdentifiers: [], stageLength: 0}`` and no ``sessionState``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import uuid
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import select, update

from adaptive.cat import CatConfig, CatSession
from adaptive.errors import DigipathError
from api import audit
from api.auth import KeyVerifier, Principal, get_key_verifier, require
from api.deps import DbSession, Diagnostics, MetricsDep, Provider, SettingsDep
from api.diagnostics import public_profile
from api.persistence.tables import CatSection, CatSectionSession, Learner, ResponseRecord, utcnow
from api.problems import ERROR_RENDERERS, ProblemError
from api.schemas_ims_cat import (
    CreateSectionResponseBody,
    CreateSessionResponseBody,
    GetSectionResponseBody,
    ItemResult,
    Results,
    Section,
    SessionIn,
    StatusInfo,
    SubmitResultsResponseBody,
)

PREFIX = "/ims/cat/v1p0"
router = APIRouter(prefix=PREFIX, tags=["ims-cat"])
Caller = Annotated[Principal, Depends(require("diagnostics"))]
SectionId = Annotated[str, Path(min_length=1, max_length=36)]
SessionId = Annotated[str, Path(min_length=1, max_length=36)]
_STATUS = {"model": StatusInfo}
_ERRORS = {400: _STATUS, 401: _STATUS, 403: _STATUS, 404: _STATUS, 500: _STATUS}

# the section configuration's own keys; everything under "cat" is an ``adaptive.cat.CatConfig`` field
CONFIG_KEYS = ("bank_version", "language", "areas", "scoring", "cat")
SCORING = ("platform", "server")  # who scores an item: the delivery platform (its SCORE), or digipath
DEFAULT_SCORING = "platform"  # what TAO as shipped needs: it sends its own SCORE and no option index
# sections stored before the setting existed were scored on the server (the only way then)
STORED_SCORING_DEFAULT = "server"
SOURCE_ID = "https://digipath.example/diagnostics"  # the sourceID naming digipath's session identifiers
_MINOR = {400: "invaliddata", 401: "unauthorisedrequest", 403: "forbidden", 404: "unknownobject",
          422: "invaliddata", 500: "internal_server_error", 503: "server_busy"}


def status_info(status: int, slug: str, detail: str | None, headers: dict[str, str] | None,
                extra: dict | None = None) -> JSONResponse:
    """An error in the spec's ``imsx_StatusInfoDType`` (bad data is a 400 there, not a 422)."""
    status = 400 if status == 422 else status
    body = {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": detail or slug,
        "imsx_codeMinor": {"imsx_codeMinorField": [
            {"imsx_codeMinorFieldName": slug, "imsx_codeMinorFieldValue": _MINOR.get(status, "invaliddata")}
        ]},
    }
    return JSONResponse(body, status_code=status, headers=headers)


ERROR_RENDERERS[PREFIX] = status_info


def _bad(detail: str, slug: str = "invalid-data") -> ProblemError:
    return ProblemError(400, slug, detail)


def _unknown(kind: str, ident: str) -> ProblemError:
    return ProblemError(404, "unknown-object", f"unknown {kind} {ident!r}")


def decode_configuration(encoded: str) -> dict[str, Any]:
    """``sectionConfiguration``: base64 of a JSON object (plain JSON is taken too)."""
    text = encoded.strip()
    try:
        data = json.loads(base64.b64decode(text, validate=True)) if text else {}
    except (binascii.Error, ValueError):
        try:
            data = json.loads(text)
        except ValueError:
            raise _bad("sectionConfiguration must be base64 of a JSON object with keys "
                       f"{', '.join(CONFIG_KEYS)}", "invalid-section-configuration") from None
    if not isinstance(data, dict):
        raise _bad("sectionConfiguration must encode a JSON object", "invalid-section-configuration")
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        raise _bad(f"sectionConfiguration: unknown key(s) {unknown}; known: {', '.join(CONFIG_KEYS)}",
                   "invalid-section-configuration")
    return data


def _section_row(db, principal: Principal, section_id: str) -> CatSection:  # noqa: ANN001
    row = db.get(CatSection, section_id)
    if row is None or row.org_id != principal.org_id or row.ended_at is not None:
        raise _unknown("section", section_id)
    return row


def _session_link(db, section: CatSection, session_id: str) -> CatSectionSession:  # noqa: ANN001
    link = db.get(CatSectionSession, session_id)
    if link is None or link.section_id != section.id or link.ended_at is not None:
        raise _unknown("session", session_id)
    return link


def _pool(bank, areas: list[str]) -> list[str]:  # noqa: ANN001
    """The items the section's CAT may give: operational and pilot items of its areas."""
    return [it.id for it in bank.items if it.area in areas and it.status in ("active", "pilot")]


def session_state(session_id: str, answered: int) -> str:
    # opaque to the platform; the engine's state is in the database, this only names where the session is
    return base64.urlsafe_b64encode(f"{session_id}:{answered}".encode()).decode()


# -- OAuth 2 client credentials (the binding's security scheme) --------------------------------------
SCOPE_API = "https://purl.imsglobal.org/cat/v1p0/scope/api"


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="digipath"'} if status == 401 else None
    return JSONResponse({"error": error, "error_description": description}, status_code=status,
                        headers={**(headers or {}), "Cache-Control": "no-store"})


@router.post("/oauth2/token", summary="OAuth 2 client-credentials token: client id/secret = an API key",
             description="`client_id` is the key id (`dp_<key id>_<secret>`), `client_secret` its secret, "
             "in the form body or HTTP Basic. The access token is the API key itself (a bearer token).")
async def token(request: Request, keys: KeyVerifier = Depends(get_key_verifier)) -> JSONResponse:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return _oauth_error(400, "invalid_request", "send application/x-www-form-urlencoded")
    raw = await request.body()
    form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "only grant_type=client_credentials")
    client_id, secret = form.get("client_id"), form.get("client_secret")
    basic = request.headers.get("authorization", "")
    if basic.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(basic[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return _oauth_error(401, "invalid_client", "malformed Basic credentials")
    if not client_id or not secret:
        return _oauth_error(401, "invalid_client", "client_id and client_secret are required")
    access = f"dp_{client_id}_{secret}"
    try:
        principal = await run_in_threadpool(keys.verify, access)
    except ProblemError as exc:
        if exc.status != 401:
            raise
        return _oauth_error(401, "invalid_client", "unknown client or wrong secret")
    if not principal.has("diagnostics"):
        return _oauth_error(400, "invalid_scope", "the key lacks the diagnostics scope the CAT service needs")
    return JSONResponse({"access_token": access, "token_type": "bearer", "expires_in": 3600,
                         "scope": SCOPE_API}, headers={"Cache-Control": "no-store"})


# -- sections ---------------------------------------------------------------------------------------
@router.post("/sections", status_code=201, response_model=CreateSectionResponseBody, responses=_ERRORS,
             summary="createSection: an item pool (item-bank version) and CAT settings")
def create_section(body: Section, db: DbSession, principal: Caller, provider: Provider) -> dict:
    config = decode_configuration(body.sectionConfiguration)
    try:
        if config.get("bank_version") is None:
            bank, version = provider.champion_bank()
        else:
            version = str(config["bank_version"])
            if not re.fullmatch(r"\d{1,9}", version):
                raise _bad(f"sectionConfiguration bank_version {version!r}: a registered version number",
                           "unknown-item-bank")
            bank = provider.bank(version)
    except DigipathError as exc:
        raise _bad(f"sectionConfiguration bank_version: {exc.detail}", "unknown-item-bank") from None
    language = config.get("language") or bank.languages[0]
    if language not in bank.languages:
        raise _bad(f"sectionConfiguration language {language!r} not offered "
                   f"(available: {', '.join(bank.languages)})")
    areas = config.get("areas") or list(bank.area_ids)
    if not isinstance(areas, list) or any(a not in bank.area_ids for a in areas):
        raise _bad(f"sectionConfiguration areas {areas!r}: a list of the bank's areas "
                   f"({', '.join(bank.area_ids)})")
    scoring = config.get("scoring", DEFAULT_SCORING)
    if scoring not in SCORING:
        raise _bad(f"sectionConfiguration scoring {scoring!r}: one of {', '.join(SCORING)} (platform: the "
                   "platform's SCORE per item is taken; server: the RESPONSE option is scored here)",
                   "invalid-section-configuration")
    cat = config.get("cat") or {}
    if not isinstance(cat, dict) or "areas" in cat:
        raise _bad("sectionConfiguration cat: an object of CAT settings (areas go in 'areas')")
    try:  # a configuration the CAT cannot run is refused here, not at a candidate's first item
        CatSession(bank, CatConfig.from_dict({**cat, "areas": areas}), 0).next_item()
    except DigipathError as exc:
        raise _bad(f"sectionConfiguration cat: {exc.detail}", "invalid-section-configuration") from None
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
        raise _bad(f"sectionConfiguration cat: a setting has the wrong type ({exc})",
                   "invalid-section-configuration") from None
    stored = {"bank_version": version, "language": language, "areas": areas, "scoring": scoring, "cat": cat}
    section = body.model_dump(exclude_none=True)
    digest = hashlib.sha256(json.dumps(section, sort_keys=True).encode()).hexdigest()
    same = db.scalar(select(CatSection.id).where(
        CatSection.org_id == principal.org_id, CatSection.request_sha256 == digest,
        CatSection.ended_at.is_(None)).limit(1))
    if same is not None:  # TAO posts the same section again at publishing and reuses the id
        return {"sectionIdentifier": same}
    row = CatSection(id=str(uuid.uuid4()), org_id=principal.org_id, bank_version=version,
                     configuration=stored, section=section, request_sha256=digest)
    db.add(row)
    audit.record(db, principal, "cat.section.create", f"cat-section:{row.id}", bank_version=version,
                 scoring=scoring)
    db.commit()
    return {"sectionIdentifier": row.id}


@router.get("/sections/{sectionIdentifier}", response_model=GetSectionResponseBody, responses=_ERRORS,
            summary="getSection: the item pool and the section as created")
def get_section(sectionIdentifier: SectionId, db: DbSession, principal: Caller, provider: Provider) -> dict:
    row = _section_row(db, principal, sectionIdentifier)
    bank = provider.bank(row.bank_version)
    section = dict(row.section)
    if not isinstance(section.get("qtiMetadata"), dict):  # TAO's string form is not the schema's object
        section.pop("qtiMetadata", None)
    return {"items": {"itemIdentifiers": _pool(bank, row.configuration["areas"])}, "section": section}


@router.delete("/sections/{sectionIdentifier}", status_code=204, responses=_ERRORS,
               summary="endSection: ends the section and its open sessions")
def end_section(sectionIdentifier: SectionId, db: DbSession, principal: Caller) -> Response:
    row = _section_row(db, principal, sectionIdentifier)
    now = utcnow()
    row.ended_at = now
    db.execute(update(CatSectionSession).where(
        CatSectionSession.section_id == row.id, CatSectionSession.ended_at.is_(None)).values(ended_at=now))
    audit.record(db, principal, "cat.section.end", f"cat-section:{row.id}")
    db.commit()
    return Response(status_code=204)


# -- sessions ---------------------------------------------------------------------------------------
_LEARNER_KEYS = ("learnerId", "learner_id", "candidateIdentifier")
_LEARNER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")  # as api.schemas.ExternalId


@router.post("/sections/{sectionIdentifier}/sessions", status_code=201,
             response_model=CreateSessionResponseBody, response_model_exclude_none=True, responses=_ERRORS,
             summary="createSession: a diagnostic for one candidate; the first stage and the session state")
def create_session(sectionIdentifier: SectionId, body: SessionIn, db: DbSession, principal: Caller,
                   diagnostics: Diagnostics, metrics: MetricsDep) -> dict:
    section = _section_row(db, principal, sectionIdentifier)
    prior = {p.key: p.value for p in body.priorData}
    start_theta = None
    if prior.get("initialEstimatedAbility") not in (None, ""):
        try:
            theta = float(prior["initialEstimatedAbility"])
        except (TypeError, ValueError):
            raise _bad(f"priorData initialEstimatedAbility {prior['initialEstimatedAbility']!r} "
                       "is not a number") from None
        if not -6.0 <= theta <= 6.0:
            raise _bad(f"priorData initialEstimatedAbility {theta} is outside [-6, 6]")
        start_theta = {a: theta for a in section.configuration["areas"]}
    learner = next((str(prior[k]) for k in _LEARNER_KEYS if prior.get(k) not in (None, "")), None)
    if learner is not None and not _LEARNER_RE.match(learner):
        raise _bad(f"priorData learner id {learner!r}: 1-128 letters, digits or . _ : @ -")
    if learner is None:
        # TAO sends no candidate id: the diagnostic gets a pseudonym, which only the platform can link. It
        # is new, so it is added to this transaction (``start`` finds it pending and does not commit it
        # apart): a failed creation leaves no learner either.
        learner = f"cat-{uuid.uuid4().hex}"
        db.add(Learner(org_id=principal.org_id, external_id=learner))
    config = section.configuration
    # the diagnostic and its link to the section in one transaction: a failure leaves neither
    reply = diagnostics.start(db, principal, learner, None, config["areas"], config["language"],
                              bank_version=section.bank_version, cat_settings=config.get("cat"),
                              start_theta=start_theta, linked_rows=lambda sid: [
                                  CatSectionSession(session_id=sid, section_id=section.id)])
    metrics.sessions_started.inc()
    item = reply.get("item")
    out: dict[str, Any] = {"sessionIdentifier": reply["session_id"],
                           "nextItems": {"itemIdentifiers": [item["id"]] if item else [],
                                         "stageLength": 1 if item else 0}}
    if item:
        out["sessionState"] = session_state(reply["session_id"], 0)
    return out


@router.delete("/sections/{sectionIdentifier}/sessions/{sessionIdentifier}", status_code=204,
               responses=_ERRORS, summary="endSession")
def end_session(sectionIdentifier: SectionId, sessionIdentifier: SessionId, db: DbSession,
                principal: Caller) -> Response:
    section = _section_row(db, principal, sectionIdentifier)
    link = _session_link(db, section, sessionIdentifier)
    link.ended_at = utcnow()
    db.commit()
    return Response(status_code=204)


def candidate_answer(result: ItemResult) -> int:
    """The option the candidate chose (its index, as digipath's items number them) from ``RESPONSE``."""
    variables = [v for v in result.responseVariables if v.candidateResponse is not None]
    variable = next((v for v in variables if v.identifier == "RESPONSE"), variables[0] if variables else None)
    if variable is None or not variable.candidateResponse.value:
        raise _bad(f"item {result.identifier!r}: no candidate response (responseVariables RESPONSE); this "
                   "section is scored on the server (sectionConfiguration scoring: server) and does not take "
                   "a platform's SCORE", "missing-candidate-response")
    first = variable.candidateResponse.value[0]
    value = getattr(first, "value", first)
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"\d{1,3}", text):
        raise _bad(f"item {result.identifier!r}: candidate response {value!r} is not an option index")
    return int(text)


def platform_score(result: ItemResult) -> Any:
    """The platform's score of an item: its ``SCORE`` outcome variable (TAO filters its variables to
    ``score`` case-insensitively), one value, as sent; checked against the item's model when applied."""
    variable = next((v for v in result.outcomeVariables if v.identifier.lower() == "score"), None)
    if variable is None or variable.value in (None, [], ""):
        raise _bad(f"item {result.identifier!r}: no SCORE outcome variable; this section takes the "
                   "platform's scoring (sectionConfiguration scoring: platform); a platform that sends "
                   "the candidate's RESPONSE instead needs a section with scoring: server", "missing-score")
    values = variable.value if isinstance(variable.value, list) else [variable.value]
    if len(values) != 1:
        raise _bad(f"item {result.identifier!r}: SCORE has {len(values)} values; one is needed")
    return getattr(values[0], "value", values[0])


@router.post("/sections/{sectionIdentifier}/sessions/{sessionIdentifier}/results", status_code=201,
             response_model=SubmitResultsResponseBody, response_model_exclude_none=True, responses=_ERRORS,
             summary="submitResults: score the stage; the next stage, or the end with the assessment result")
def submit_results(sectionIdentifier: SectionId, sessionIdentifier: SessionId, body: Results, db: DbSession,
                   principal: Caller, diagnostics: Diagnostics, metrics: MetricsDep,
                   settings: SettingsDep) -> dict:
    section = _section_row(db, principal, sectionIdentifier)
    link = _session_link(db, section, sessionIdentifier)
    row = diagnostics.get_row(db, principal, sessionIdentifier)
    if row.status != "finished" and utcnow() - row.created_at > timedelta(hours=settings.cat_session_hours):
        link.ended_at = utcnow()  # TAO never ends a session: an abandoned one expires
        db.commit()
        raise _unknown("session", sessionIdentifier)
    answered = set(db.scalars(select(ResponseRecord.item_id).where(ResponseRecord.session_id == row.id)))
    new: dict[str, ItemResult] = {}
    for result in body.assessmentResult.itemResult:
        if result.identifier not in answered:  # cumulative results: what is scored already is skipped
            new[result.identifier] = result
    stray = [i for i in new if i != row.pending_item or row.status == "finished"]
    if stray:
        raise _bad(f"item(s) {stray} were not presented in this session (pending: {row.pending_item!r})",
                   "item-not-presented")
    if row.pending_item in new and row.status != "finished":
        result = new[row.pending_item]
        if section.configuration.get("scoring", STORED_SCORING_DEFAULT) == "platform":
            answer, score = None, platform_score(result)
        else:
            answer, score = candidate_answer(result), None
        try:
            outcome = diagnostics.answer(db, principal, row.id, row.pending_item, answer, row.sequence + 1,
                                         score=score)
        except ProblemError as exc:
            if exc.status != 409:
                raise
        else:
            if outcome.finished_now:
                metrics.sessions_finished.inc()
    # Answer with the session as it now stands: this post applied the answer, or a concurrent post of the
    # same results did (even between the two reads above: the items scored are read after the row, so they
    # are never older than it). End the transaction first, so that the read is not held to its start
    # (SQLite keeps a transaction's snapshot; an idempotent replay commits nothing).
    db.rollback()
    db.refresh(row)
    if row.status == "finished":
        return {"nextItems": {"itemIdentifiers": [], "stageLength": 0},
                "assessmentResult": assessment_result(row)}
    return {"nextItems": {"itemIdentifiers": [row.pending_item], "stageLength": 1},
            "sessionState": session_state(row.id, row.sequence)}


def _outcome(identifier: str, base_type: str, value: Any) -> dict[str, Any]:
    return {"identifier": identifier, "cardinality": "single", "baseType": base_type,
            "value": [{"value": str(value), "baseType": base_type}]}


def assessment_result(row) -> dict[str, Any]:  # noqa: ANN001
    """The finished diagnostic as a QTI assessment result: per area THETA_<area>, SE_<area>, LEVEL_<area>."""
    profile = public_profile(row.result)
    outcomes = []
    for area, r in profile["areas"].items():
        outcomes += [_outcome(f"THETA_{area}", "float", round(float(r["theta"]), 4)),
                     _outcome(f"SE_{area}", "float", round(float(r["se"]), 4)),
                     _outcome(f"LEVEL_{area}", "integer", int(r["level"]))]
    return {
        "context": {"sessionIdentifiers": [{"sourceID": SOURCE_ID, "identifier": row.id}]},
        "testResult": {"identifier": "digipath", "datestamp": (row.finished_at or utcnow()).isoformat(),
                       "outcomeVariables": outcomes},
    }
