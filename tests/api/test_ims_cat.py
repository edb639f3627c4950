"""The 1EdTech CAT service v1.0 (issue 17): scripted delivery-platform clients walk whole adaptive
sections, validating every request and response body against the official OpenAPI document
(``tests/api/data/1edtech-cat-v1p0-openapi.json``, source and licence in ``tests/api/data/README.md``):
``Platform`` (spec-shaped, sends the candidate's responses for digipath to score) and ``UnmodifiedTao``
(sends exactly what TAO as shipped sends: its own SCORE per item, off-spec forms included)."""

from __future__ import annotations

import base64
import copy
import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import event

from api.persistence.tables import CatSection, CatSectionSession, DiagnosticSession, Learner, ResponseRecord
from tests.api.helpers import SimulatedTaker, run_diagnostic

SPEC = json.loads((Path(__file__).parent / "data" / "1edtech-cat-v1p0-openapi.json").read_text())
BASE = "/ims/cat/v1p0"
# The one documented departure: an ended section answers ``nextItems: {itemIdentifiers: []}`` (the spec's
# text; its schema says minItems 1). Only the final submitResults response is checked against this copy.
_RELAXED = copy.deepcopy(SPEC["components"])
_RELAXED["schemas"]["NextItemSetDType"]["properties"]["itemIdentifiers"]["minItems"] = 0


# What TAO as shipped sends off the schema, and nothing more (read from oat-sa/lib-test-cat 2.4.0,
# src/ims/v1p3: CatSection::requestSectionIdentifier, CatSession::getTestMap, ResultFormatter, SessionContext;
# GPL-2.0, described here, not copied): qtiMetadata base64 (a string, not the object), a context whose
# sourcedId is null, sessionStatus "FINAL", integer cardinality, upper-case baseType, numbers as values.
# Its requests are checked against the official schema with exactly these relaxed.
_TAO = copy.deepcopy(SPEC["components"])
_tao = _TAO["schemas"]
_tao["SectionDType"]["properties"]["qtiMetadata"] = {
    "anyOf": [_tao["SectionDType"]["properties"]["qtiMetadata"], {"type": "string"}]}
_tao["ContextDType"]["properties"]["sourcedId"]["type"] = ["string", "null"]
_tao["ItemResultDType"]["properties"]["sessionStatus"]["enum"].append("FINAL")
_tao["OutcomeVariableDType"]["properties"]["cardinality"] = {
    "anyOf": [_tao["OutcomeVariableDType"]["properties"]["cardinality"], {"type": "integer"}]}
_tao["ValueDType"]["properties"]["value"]["type"] = ["string", "number"]
_tao["ValueDType"]["properties"]["baseType"]["enum"] += [
    v.upper() for v in _tao["ValueDType"]["properties"]["baseType"]["enum"]]


def check(name: str, body, *, relaxed: bool = False, tao: bool = False) -> None:  # noqa: ANN001
    components = _TAO if tao else _RELAXED if relaxed else SPEC["components"]
    schema = {"$ref": f"#/components/schemas/{name}", "components": components}
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).validate(body)


def configuration(**config) -> str:  # noqa: ANN003
    return base64.b64encode(json.dumps(config).encode()).decode()


class Platform:
    """A TAO-like delivery platform speaking nothing but the CAT service (and checking both directions)."""

    def __init__(self, api, headers: dict):  # noqa: ANN001
        self.client = api.client
        self.headers = headers

    def post(self, path: str, body: dict, request_schema: str, response_schema: str, *, relaxed=False):  # noqa: ANN001
        check(request_schema, body)
        r = self.client.post(BASE + path, json=body, headers=self.headers)
        assert r.status_code == 201, r.text
        check(response_schema, r.json(), relaxed=relaxed)
        return r.json()

    def error(self, r, status: int, minor: str) -> dict:  # noqa: ANN001
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("application/json")
        check("imsx_StatusInfoDType", r.json())
        assert r.json()["imsx_codeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == minor
        return r.json()


def item_result(item_id: str, answer: int, index: int, score: object = "0") -> dict:
    """An item result with the candidate's RESPONSE (option index) and a platform SCORE (``score``)."""
    return {
        "identifier": item_id,
        "sequenceIndex": index,
        "datestamp": datetime.now(UTC).isoformat(),
        "sessionStatus": "final",
        "responseVariables": [{"identifier": "RESPONSE", "cardinality": "single", "baseType": "identifier",
                               "candidateResponse": {"value": [{"value": str(answer)}]}}],
        "outcomeVariables": [{"identifier": "SCORE", "cardinality": "single", "baseType": "float",
                              "value": [{"value": str(score)}]}],
    }


class TaoFailure(AssertionError):
    """TAO takes any non-2xx answer (or an empty body) for a connectivity failure of the engine."""


class UnmodifiedTao:
    """A delivery platform sending exactly what TAO as shipped sends (see ``_TAO`` and the spec notes):

    - the section is posted at import and again at publishing (same content), with qtiMetadata,
      qtiUsagedata and sectionConfiguration base64-encoded, and the returned id is reused;
    - a session is created with ``{"priorData": [{"key": "initialEstimatedAbility", "value": "0.0"}]}``;
    - TAO scores each item itself and, after every item, posts the results of all items so far, each
      filtered to its SCORE outcome variable (no response variables), with the last ``sessionState``;
      it posts only while that state is not null (an absent key reads as null in PHP);
    - it never calls the DELETE endpoints, and keeps the ``testResult`` outcome variables it is sent.

    Every request is checked against the official schema with TAO's departures only (and shown to need
    them), every response against the official schema. ``http`` is a TestClient or an httpx client."""

    METADATA = base64.b64encode(b"<qtiMetadata><toolName>TAO</toolName></qtiMetadata>").decode()

    def __init__(self, http, headers: dict, base: str = BASE):  # noqa: ANN001
        self.http, self.headers, self.base = http, headers, base
        self.requests: list[dict] = []

    def call(self, path: str, body: dict, request_schema: str, response_schema: str, *, ending=False) -> dict:
        check(request_schema, body, tao=True)
        self.requests.append(body)
        r = self.http.post(self.base + path, json=body, headers=self.headers)
        if not 200 <= r.status_code < 300 or not r.content:
            raise TaoFailure(f"{path}: {r.status_code} {r.text}")
        check(response_schema, r.json(), relaxed=ending)
        return r.json()

    def publish(self, settings: dict) -> str:
        body = {"qtiMetadata": self.METADATA, "qtiUsagedata": base64.b64encode(b"").decode(),
                "sectionConfiguration": base64.b64encode(json.dumps(settings).encode()).decode()}
        first = self.call("/sections", body, "SectionDType", "CreateSectionResponseBodyDType")
        again = self.call("/sections", body, "SectionDType", "CreateSectionResponseBodyDType")  # publishing
        assert again == first
        return first["sectionIdentifier"]

    @staticmethod
    def result(item_id: str, score: float) -> dict:
        return {"identifier": item_id,
                "datestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),  # PHP DateTime::ISO8601
                "sessionStatus": "FINAL",
                "outcomeVariables": [{"identifier": "SCORE", "cardinality": 0,
                                      "value": [{"baseType": "FLOAT", "value": float(score)}]}]}

    def run(self, section_id: str, score_item, between=None,  # noqa: ANN001
            prior: tuple[dict, ...] = ()) -> tuple[str, list[dict], dict]:
        """One candidate through the section; ``score_item(item_id)`` is TAO's own response processing,
        ``between(n)`` runs after the n-th post, ``prior``: more priorData (a learnerId, which TAO could
        be set up to send). Returns the session id, the item results and the test result's outcome
        variables by identifier."""
        path = f"/sections/{section_id}/sessions"
        created = self.call(path, {"priorData": [{"key": "initialEstimatedAbility", "value": "0.0"}, *prior]},
                            "SessionDType", "CreateSessionResponseBodyDType")
        session_id, state = created["sessionIdentifier"], created.get("sessionState")
        items, results, test_result = created["nextItems"]["itemIdentifiers"], [], {}
        while items and state is not None:
            assert all(items[0] != r["identifier"] for r in results), "an item given twice"
            results.append(self.result(items[0], score_item(items[0])))
            body = {"assessmentResult": {"context": {"sourcedId": None, "sessionIdentifiers": []},
                                         "itemResult": results}, "sessionState": state}
            data = self.call(f"{path}/{session_id}/results", body, "ResultsDType",
                             "SubmitResultsResponseBodyDType", ending=True)
            if data["nextItems"]["itemIdentifiers"]:
                check("SubmitResultsResponseBodyDType", data)  # strictly, while the section runs
            items, state = data["nextItems"]["itemIdentifiers"], data.get("sessionState")
            if "assessmentResult" in data:
                test_result = {v["identifier"]: v for v in data["assessmentResult"]["testResult"][
                    "outcomeVariables"]}
            if between is not None:
                between(len(results))
        assert not items and state is None, "the section should end with no items and no state"
        return session_id, results, test_result


def walk(platform: Platform, bank, section_id: str, theta: float, seed: int) -> tuple[str, dict, list]:  # noqa: ANN001
    """One candidate through a whole section: cumulative results after every item, as TAO posts them."""
    taker = SimulatedTaker(bank, theta, seed)
    created = platform.post(f"/sections/{section_id}/sessions",
                            {"priorData": [{"key": "initialEstimatedAbility", "value": "0.0"}]},
                            "SessionDType", "CreateSessionResponseBodyDType")
    session_id, state = created["sessionIdentifier"], created["sessionState"]
    items, results, given = created["nextItems"]["itemIdentifiers"], [], []
    assert created["nextItems"]["stageLength"] == 1 and len(items) == 1
    while True:
        item = items[0]
        assert item not in given, "an item given twice"
        given.append(item)
        results.append(item_result(item, taker.answer({"id": item}), len(results)))
        body = {"assessmentResult": {"itemResult": results}, "sessionState": state}
        final = None
        check("ResultsDType", body)
        r = platform.client.post(f"{BASE}/sections/{section_id}/sessions/{session_id}/results", json=body,
                                 headers=platform.headers)
        assert r.status_code == 201, r.text
        final = r.json()
        if final["nextItems"]["itemIdentifiers"]:
            check("SubmitResultsResponseBodyDType", final)
            assert "assessmentResult" not in final  # no running estimate while the section runs
            items, state = final["nextItems"]["itemIdentifiers"], final["sessionState"]
            continue
        check("SubmitResultsResponseBodyDType", final, relaxed=True)
        assert final["nextItems"]["stageLength"] == 0 and "sessionState" not in final
        return session_id, final, results


def test_a_platform_runs_whole_sections(api, bank_v1):
    platform = Platform(api, api.a_diag)
    # this platform sends the candidate's responses and has digipath score them
    section = {"sectionConfiguration": configuration(bank_version="1", language="en", areas=["1", "2"],
                                                     scoring="server"),
               "qtiMetadata": {"toolName": "scripted platform", "scoringMode": ["responseprocessing"]}}
    section_id = platform.post("/sections", section, "SectionDType", "CreateSectionResponseBodyDType")[
        "sectionIdentifier"]
    r = api.client.get(f"{BASE}/sections/{section_id}", headers=api.a_diag)
    assert r.status_code == 200, r.text
    check("GetSectionResponseBodyDType", r.json())
    pool = r.json()["items"]["itemIdentifiers"]
    assert pool and all(bank_v1.item(i).area in ("1", "2") for i in pool)
    assert r.json()["section"] == section

    finished = {}
    for seed, theta in enumerate((-1.0, 1.5)):
        session_id, final, results = walk(platform, bank_v1, section_id, theta, seed)
        assert {r["identifier"] for r in results} <= set(pool)
        outcomes = {v["identifier"]: v for v in final["assessmentResult"]["testResult"]["outcomeVariables"]}
        assert set(outcomes) == {f"{k}_{a}" for k in ("THETA", "SE", "LEVEL") for a in ("1", "2")}
        assert all(v["baseType"] for v in outcomes.values())
        ids = final["assessmentResult"]["context"]["sessionIdentifiers"]
        assert ids[0]["identifier"] == session_id
        finished[session_id] = (outcomes, results)

        # the same record as a /v1 diagnostic, scored by the same code
        r = api.client.get(f"/v1/diagnostics/{session_id}/result", headers=api.a_diag)
        assert r.status_code == 200, r.text
        for area, res in r.json()["profile"]["areas"].items():
            theta = float(outcomes[f"THETA_{area}"]["value"][0]["value"])
            assert theta == pytest.approx(res["theta"], abs=1e-4)
            assert int(outcomes[f"LEVEL_{area}"]["value"][0]["value"]) == res["level"]
        status = api.client.get(f"/v1/diagnostics/{session_id}", headers=api.a_diag).json()
        assert status["status"] == "finished" and status["answered"] == len(results)

        # a repeated final post changes nothing and answers the same
        r = api.client.post(f"{BASE}/sections/{section_id}/sessions/{session_id}/results",
                            json={"assessmentResult": {"itemResult": results}}, headers=api.a_diag)
        assert r.status_code == 201 and r.json() == final
    (low_out, _), (high_out, _) = finished.values()
    assert float(high_out["THETA_1"]["value"][0]["value"]) > float(low_out["THETA_1"]["value"][0]["value"])

    # in the response export, one row per item result, chosen options as sent
    export = api.client.get("/v1/admin/responses/export", headers=api.a).text
    for session_id, (_, results) in finished.items():
        rows = [line.split(",") for line in export.splitlines() if session_id in line]
        assert sorted(r[1] for r in rows) == sorted(x["identifier"] for x in results)

    # end a session, then the section; what is ended is unknown afterwards
    session_id = next(iter(finished))
    assert api.client.delete(f"{BASE}/sections/{section_id}/sessions/{session_id}",
                             headers=api.a_diag).status_code == 204
    platform.error(api.client.post(f"{BASE}/sections/{section_id}/sessions/{session_id}/results",
                                   json={"assessmentResult": {"itemResult": []}}, headers=api.a_diag),
                   404, "unknownobject")
    assert api.client.delete(f"{BASE}/sections/{section_id}", headers=api.a_diag).status_code == 204
    platform.error(api.client.get(f"{BASE}/sections/{section_id}", headers=api.a_diag), 404, "unknownobject")


def _tao_scorer(bank, taker: SimulatedTaker, scores: dict):  # noqa: ANN001, ANN202
    """TAO's own response processing: it delivers the item, so it has the key and sends only the score."""
    def score_item(item_id: str) -> int:
        scores[item_id] = bank.score(item_id, taker.answer({"id": item_id}))
        return scores[item_id]
    return score_item


def test_an_unmodified_tao_runs_whole_sections(api, bank_v1):
    """TAO as shipped: its SCORE per item only, cumulative, off-spec forms; the section trusts the
    platform's scoring by default. The sessions are /v1 diagnostics and every downstream reader (result,
    response export, learner export and erasure, xAPI out) takes their score-only responses."""
    tao = UnmodifiedTao(api.client, api.a_diag)
    section_id = tao.publish({"bank_version": "1", "language": "en", "areas": ["1", "2"]})
    services = api.app.state.services
    runs = {}
    for seed, theta in enumerate((-1.5, 1.5)):
        scores: dict[str, int] = {}
        # a cache miss mid-section (another worker, a restart): the session is rebuilt from score-only rows
        session_id, results, outcomes = tao.run(
            section_id, _tao_scorer(bank_v1, SimulatedTaker(bank_v1, theta, seed), scores),
            between=lambda n: n == 3 and services.diagnostics.cache.clear())
        runs[session_id] = (results, outcomes, scores)
        assert set(outcomes) == {f"{k}_{a}" for k in ("THETA", "SE", "LEVEL") for a in ("1", "2")}
        assert all(v["baseType"] == v["value"][0]["baseType"] for v in outcomes.values())
        r = api.client.get(f"/v1/diagnostics/{session_id}/result", headers=api.a_diag)
        assert r.status_code == 200, r.text
        for area, res in r.json()["profile"]["areas"].items():
            theta = float(outcomes[f"THETA_{area}"]["value"][0]["value"])
            assert theta == pytest.approx(res["theta"], abs=1e-4)
            assert int(outcomes[f"LEVEL_{area}"]["value"][0]["value"]) == res["level"]
        with services.sessionmaker() as db:
            logged = db.query(ResponseRecord).filter_by(session_id=session_id).order_by(
                ResponseRecord.sequence)
            assert [(x.item_id, x.answer, x.response) for x in logged] == [
                (x["identifier"], None, scores[x["identifier"]]) for x in results]
    # TAO's requests do need the departures relaxed in ``_TAO``: against the official schema they fail
    for body, name in [(tao.requests[0], "SectionDType"), (tao.requests[-1], "ResultsDType")]:
        with pytest.raises(jsonschema.ValidationError):
            check(name, body)
    (_, low_out, _), (_, high_out, _) = runs.values()
    theta_sum = [sum(float(o[f"THETA_{a}"]["value"][0]["value"]) for a in ("1", "2"))
                 for o in (low_out, high_out)]
    assert theta_sum[1] > theta_sum[0] + 1.0  # true thetas 3 apart: the platform's scores carry the signal

    # the response export (calibration input) has the platform's scores
    rows = list(csv.DictReader(io.StringIO(api.client.get("/v1/admin/responses/export", headers=api.a).text)))
    for session_id, (_, _, scores) in runs.items():
        assert sorted((r["item_id"], int(r["response"])) for r in rows if r["session_id"] == session_id) == \
            sorted(scores.items())
    # xAPI out: each finished diagnostic as a statement with its profile
    r = api.client.get("/xapi/statements", params={"source": "diagnostics"}, headers=api.a)
    assert r.status_code == 200, r.text
    by_session = {s["context"]["registration"]: s for s in r.json()["statements"]}
    for session_id, (_, outcomes, _) in runs.items():
        areas = by_session[session_id]["result"]["extensions"][
            "https://digipath.example/xapi/extensions/competence-profile"]["areas"]
        assert areas["1"]["theta"] == pytest.approx(float(outcomes["THETA_1"]["value"][0]["value"]), abs=1e-4)
    # the learner's data rights: the export shows the responses with no option; erasure anonymises them
    session_id, (results, _, scores) = next(iter(runs.items()))
    learner = api.client.get(f"/v1/diagnostics/{session_id}", headers=api.a_diag).json()["learner_id"]
    r = api.client.get(f"/v1/learners/{learner}/export", headers=api.a)
    assert r.status_code == 200, r.text
    held = r.json()["tables"]["responses"]
    # no option, and the platform's score: it came from the platform, not from digipath's answer key
    assert [(x["item_id"], x["answer"], x["response"]) for x in held] == [
        (x["identifier"], None, scores[x["identifier"]]) for x in results]
    r = api.client.delete(f"/v1/learners/{learner}", headers=api.a)
    assert r.status_code == 200 and r.json()["anonymised_responses"] == len(results), r.text
    rows = list(csv.DictReader(io.StringIO(api.client.get("/v1/admin/responses/export", headers=api.a).text)))
    assert not any(r["session_id"] == session_id for r in rows)
    anonymous = [(r["item_id"], int(r["response"])) for r in rows if r["person_id"].startswith("anon-")]
    assert sorted(anonymous) == sorted(scores.items())


def test_who_scored_each_response_is_said_and_the_answer_key_stays_in(api, bank_v1):
    """One learner, a section the platform scores and a /v1 diagnostic scored with the key: the result's
    explanation and the xAPI statement say per response who scored it; the learner's export gives the
    platform's scores and withholds the scores digipath derived from its key (nor does anything else give
    an option or a score per item)."""
    from api.xapi import SCORED_BY_EXTENSION, read_statement

    tao = UnmodifiedTao(api.client, api.a_diag)
    section_id = tao.publish({"bank_version": "1", "language": "en", "areas": ["1"]})
    scores: dict[str, int] = {}
    scorer = _tao_scorer(bank_v1, SimulatedTaker(bank_v1, 0.5, 3), scores)
    by_platform, results, _ = tao.run(section_id, scorer, prior=({"key": "learnerId", "value": "emp-7"},))
    by_server, _, _ = run_diagnostic(api.client, api.a_diag, bank_v1, 0.5, learner="emp-7", areas=["1"])
    with api.app.state.services.sessionmaker() as db:
        server_items = [x.item_id for x in db.query(ResponseRecord).filter_by(session_id=by_server)
                        .order_by(ResponseRecord.sequence)]
    expected = {by_platform: [(x["identifier"], "platform") for x in results],
                by_server: [(item, "server") for item in server_items]}
    assert len(expected[by_platform]) >= 2 and len(expected[by_server]) >= 2
    for sid, said in expected.items():
        r = api.client.get(f"/v1/diagnostics/{sid}/result", headers=api.a_diag)
        assert r.status_code == 200, r.text
        explained = r.json()["explanation"]
        assert [(x["item_id"], x["scored_by"]) for x in explained["responses"]] == said
        assert [x["sequence"] for x in explained["responses"]] == list(range(1, len(said) + 1))
        assert all(set(x) == {"sequence", "item_id", "area", "scored_by"} for x in explained["responses"])
        who = said[0][1]
        assert explained["scoring"]["scored_by"] == {"server": 0, "platform": 0, who: len(said)}
        assert set(explained["scoring"]["scored_by_meaning"]) == {"server", "platform"}
    # xAPI out: a result extension (an IRI key) says who scored each response; the statements stay valid
    r = api.client.get("/xapi/statements", params={"source": "diagnostics"}, headers=api.a)
    assert r.status_code == 200, r.text
    statements = {s["context"]["registration"]: s for s in r.json()["statements"]}
    assert set(statements) == set(expected)
    for sid, said in expected.items():
        read_statement(statements[sid])
        ext = statements[sid]["result"]["extensions"][SCORED_BY_EXTENSION]
        assert [(x["item_id"], x["scored_by"]) for x in ext["responses"]] == said
        assert all(set(x) == {"sequence", "item_id", "scored_by"} for x in ext["responses"])
        counts = {k: ext[k] for k in ("server", "platform")}
        assert counts == {"server": 0, "platform": 0, said[0][1]: len(said)}
    r = api.client.post("/xapi/statements", json=list(statements.values()), headers={
        **api.a, "X-Experience-API-Version": "1.0.3"})
    assert r.status_code == 200, r.text
    # the learner's export: the platform's scores given, the scores from digipath's key withheld
    body = api.client.get("/v1/learners/emp-7/export", headers=api.a).json()
    held = body["tables"]["responses"]
    assert [(x["item_id"], x["response"]) for x in held if x["session_id"] == by_platform] == [
        (x["identifier"], scores[x["identifier"]]) for x in results]
    server_rows = [x for x in held if x["session_id"] == by_server]
    assert [x["item_id"] for x in server_rows] == server_items
    assert all("response" not in x and "reply" not in x and x["answer"] is not None for x in server_rows)
    assert "responses.response" in body["withheld"]
    assert all("state" not in s for s in body["tables"]["diagnostic_sessions"])


def _single_item_section(bank, polytomous: bool) -> tuple[dict, str]:  # noqa: ANN001
    """Settings whose first (and only) item is a GRM item, or a dichotomous one: the others excluded."""
    area = next(it.area for it in bank.items if it.status == "active" and it.is_polytomous)
    keep = [it.id for it in bank.items if it.area == area and it.status == "active"
            and it.is_polytomous == polytomous]
    exclude = [it.id for it in bank.items if it.area == area and it.id not in keep]
    return {"bank_version": "1", "areas": [area], "cat": {
        "exclude_items": exclude, "min_items": 1, "max_items": 1, "min_items_per_area": 1,
        "max_items_per_area": 1, "n_pilot": 0}}, area


@pytest.mark.parametrize("polytomous", [False, True], ids=["dichotomous", "grm"])
def test_platform_scores_are_checked_against_the_item_model(api, bank_v1, polytomous):
    """A score the item's model does not have is refused (imsx status info, 400) and stores nothing;
    dichotomous items take 0/1, GRM items their categories."""
    tao = UnmodifiedTao(api.client, api.a_diag)
    settings, _ = _single_item_section(bank_v1, polytomous)
    section_id = tao.publish(settings)
    created = tao.call(f"/sections/{section_id}/sessions", {}, "SessionDType",
                       "CreateSessionResponseBodyDType")
    session_id, item = created["sessionIdentifier"], created["nextItems"]["itemIdentifiers"][0]
    top = bank_v1.item(item).max_score
    assert bank_v1.item(item).is_polytomous == polytomous and (top >= 2) == polytomous
    url = f"{BASE}/sections/{section_id}/sessions/{session_id}/results"

    def body(*variables: dict) -> dict:
        result = {**UnmodifiedTao.result(item, 0), "outcomeVariables": list(variables)}
        return {"assessmentResult": {"itemResult": [result]}, "sessionState": created["sessionState"]}

    def score(*values) -> dict:  # noqa: ANN002
        return {"identifier": "SCORE", "cardinality": 0, "value": [{"baseType": "FLOAT", "value": v}
                                                                   for v in values]}
    bad = [score(top + 1), score(-1), score(0.5), score("abc"), score(True), score(None), score(0, 1),
           score(), {"identifier": "OTHER", "cardinality": 0, "value": [{"value": 1}]}]
    for b in bad:
        platform_error = Platform(api, api.a_diag).error
        platform_error(api.client.post(url, json=body(b), headers=api.a_diag), 400, "invaliddata")
    r = api.client.post(url, json={**body(score(top + 1)), "assessmentResult": {"itemResult": [
        {**item_result(item, 0, 1), "outcomeVariables": []}]}}, headers=api.a_diag)  # RESPONSE, no SCORE
    assert "no SCORE" in Platform(api, api.a_diag).error(r, 400, "invaliddata")["imsx_description"]
    with api.app.state.services.sessionmaker() as db:
        assert db.query(ResponseRecord).filter_by(session_id=session_id).count() == 0
        assert db.get(DiagnosticSession, session_id).sequence == 0
    # the top category, in TAO's float form and as a string: accepted, stored without an option
    ok = api.client.post(url, json=body({**score(float(top)), "identifier": "score"}), headers=api.a_diag)
    assert ok.status_code == 201, ok.text
    check("SubmitResultsResponseBodyDType", ok.json(), relaxed=True)
    assert ok.json()["nextItems"]["itemIdentifiers"] == []  # max_items 1: the section is over
    with api.app.state.services.sessionmaker() as db:
        (row,) = db.query(ResponseRecord).filter_by(session_id=session_id).all()
        assert (row.item_id, row.answer, row.response) == (item, None, top)


def test_a_section_may_keep_scoring_on_the_server(api, bank_v1):
    """``scoring: server``: the platform's SCORE is not taken, the RESPONSE option is scored with the key
    (TAO's score-only results are refused); an unknown setting is refused at creation; /v1 diagnostics
    always score on the server (an answer without an option, or with a score, is refused)."""
    platform = Platform(api, api.a_diag)
    platform.error(api.client.post(f"{BASE}/sections", json={"sectionConfiguration": configuration(
        scoring="teacher")}, headers=api.a_diag), 400, "invaliddata")
    section = {"sectionConfiguration": configuration(areas=["3"], scoring="server")}
    section_id = platform.post("/sections", section, "SectionDType", "CreateSectionResponseBodyDType")[
        "sectionIdentifier"]
    created = platform.post(f"/sections/{section_id}/sessions", {}, "SessionDType",
                            "CreateSessionResponseBodyDType")
    session_id, item = created["sessionIdentifier"], created["nextItems"]["itemIdentifiers"][0]
    url = f"{BASE}/sections/{section_id}/sessions/{session_id}/results"
    r = api.client.post(url, json={"assessmentResult": {"itemResult": [UnmodifiedTao.result(item, 1)]}},
                        headers=api.a_diag)
    assert "RESPONSE" in platform.error(r, 400, "invaliddata")["imsx_description"]
    wrong = next(k for k in range(bank_v1.item(item).n_options) if bank_v1.score(item, k) == 0)
    # the platform claims full marks; the option chosen scores 0 with the key, and 0 is what is stored
    r = api.client.post(url, json={"assessmentResult": {"itemResult": [
        item_result(item, wrong, 1, score=bank_v1.item(item).max_score)]}}, headers=api.a_diag)
    assert r.status_code == 201, r.text
    with api.app.state.services.sessionmaker() as db:
        (row,) = db.query(ResponseRecord).filter_by(session_id=session_id).all()
        assert (row.answer, row.response) == (wrong, 0)

    start = api.client.post("/v1/diagnostics", json={"learner_id": "emp-1", "language": "en"},
                            headers=api.a_diag)
    assert start.status_code == 201, start.text
    step = start.json()
    for answer in ({"score": 1}, {"answer": None}, {"answer": 0, "score": 1}):
        r = api.client.post(f"/v1/diagnostics/{step['session_id']}/responses", json={
            "item_id": step["item"]["id"], "sequence": 1, **answer}, headers=api.a_diag)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")


def test_a_session_is_created_in_one_transaction(api):
    """The diagnostic, its pseudonymous learner and its link to the section are written together: a
    failure injected at the link (as a crash between two commits would be) leaves none of them."""
    platform = Platform(api, api.a_diag)
    section_id = platform.post("/sections", {"sectionConfiguration": configuration(areas=["2"])},
                               "SectionDType", "CreateSectionResponseBodyDType")["sectionIdentifier"]
    maker = api.app.state.services.sessionmaker

    def fail_at_the_link(session, _context, _instances) -> None:  # noqa: ANN001
        if any(isinstance(o, CatSectionSession) for o in session.new):
            raise RuntimeError("injected failure while writing the session's link")

    def counts() -> tuple[int, int, int]:
        with maker() as db:
            return (db.query(DiagnosticSession).count(), db.query(CatSectionSession).count(),
                    db.query(Learner).filter(Learner.external_id.like("cat-%")).count())

    before = counts()
    event.listen(maker, "before_flush", fail_at_the_link)
    try:
        r = api.client.post(f"{BASE}/sections/{section_id}/sessions", json={}, headers=api.a_diag)
    finally:
        event.remove(maker, "before_flush", fail_at_the_link)
    platform.error(r, 500, "internal_server_error")
    assert counts() == before
    created = platform.post(f"/sections/{section_id}/sessions", {}, "SessionDType",
                            "CreateSessionResponseBodyDType")
    assert counts() == (before[0] + 1, before[1] + 1, before[2] + 1)
    r = api.client.get(f"/v1/diagnostics/{created['sessionIdentifier']}", headers=api.a_diag)
    assert r.status_code == 200, r.text


def test_bad_requests_get_status_info_and_store_nothing(api, bank_v1):
    platform = Platform(api, api.a_diag)
    # authentication and scope
    platform.error(api.client.post(f"{BASE}/sections", json={"sectionConfiguration": ""}), 401,
                   "unauthorisedrequest")
    platform.error(api.client.post(f"{BASE}/sections", json={"sectionConfiguration": ""},
                                   headers=api.key("org-a", "events")), 403, "forbidden")
    # bad section configurations
    for config in ("not base64 {", configuration(areas=["9"]), configuration(cat={"max_itemz": 3}),
                   configuration(cat={"max_items": "abc"}), configuration(cat={"exclude_items": 5}),
                   configuration(bank_version="latest"),
                   configuration(bank_version="99"), configuration(language="xx"), configuration(foo=1),
                   configuration(scoring=["platform"])):
        platform.error(api.client.post(f"{BASE}/sections", json={"sectionConfiguration": config},
                                       headers=api.a_diag), 400, "invaliddata")
    platform.error(api.client.post(f"{BASE}/sections", json={}, headers=api.a_diag), 400, "invaliddata")
    platform.error(api.client.post(f"{BASE}/sections", content=b"{not json", headers={
        **api.a_diag, "content-type": "application/json"}), 400, "invaliddata")
    with api.app.state.services.sessionmaker() as db:
        assert db.query(CatSection).count() == 0

    server_scored = {"sectionConfiguration": configuration(areas=["1"], scoring="server")}
    section_id = platform.post("/sections", server_scored, "SectionDType", "CreateSectionResponseBodyDType")[
        "sectionIdentifier"]
    platform.error(api.client.get(f"{BASE}/sections/nope", headers=api.a_diag), 404, "unknownobject")
    # another organisation's section does not exist for it
    platform.error(api.client.get(f"{BASE}/sections/{section_id}", headers=api.b), 404, "unknownobject")
    platform.error(api.client.post(f"{BASE}/sections/{section_id}/sessions", json={}, headers=api.b), 404,
                   "unknownobject")
    platform.error(api.client.post(f"{BASE}/sections/{section_id}/sessions", json={"priorData": [
        {"key": "initialEstimatedAbility", "value": "high"}]}, headers=api.a_diag), 400, "invaliddata")

    created = platform.post(f"/sections/{section_id}/sessions", {}, "SessionDType",
                            "CreateSessionResponseBodyDType")
    session_id, pending = created["sessionIdentifier"], created["nextItems"]["itemIdentifiers"][0]
    url = f"{BASE}/sections/{section_id}/sessions/{session_id}/results"
    other = next(i.id for i in bank_v1.items if i.id != pending)
    bad_bodies = [
        {"assessmentResult": {"itemResult": [item_result(other, 0, 0)]}},  # never presented
        # the platform's SCORE only, to a section scored on the server
        {"assessmentResult": {"itemResult": [{**item_result(pending, 0, 0), "responseVariables": []}]}},
        {"assessmentResult": {"itemResult": [item_result(pending, 99, 0)]}},  # no such option
        {"assessmentResult": {"itemResult": [item_result(pending, -1, 0)]}},
        {"sessionState": "x"},
    ]
    for body in bad_bodies:
        platform.error(api.client.post(url, json=body, headers=api.a_diag), 400, "invaliddata")
    platform.error(api.client.post(url, json=bad_bodies[0], headers=api.b), 404, "unknownobject")
    with api.app.state.services.sessionmaker() as db:
        assert db.query(ResponseRecord).filter_by(session_id=session_id).count() == 0
        assert db.get(DiagnosticSession, session_id).sequence == 0
    # nothing stored, and the session goes on
    r = api.client.post(url, json={"assessmentResult": {"itemResult": [item_result(pending, 0, 0)]}},
                        headers=api.a_diag)
    assert r.status_code == 201, r.text
    check("SubmitResultsResponseBodyDType", r.json())


def test_oauth2_client_credentials_give_a_bearer_token(api):
    """The binding's security: client id/secret of an API key -> a bearer token the service accepts."""
    key = api.a_diag["Authorization"].removeprefix("Bearer ")
    key_id, secret = key[3:15], key[16:]
    form = {"content-type": "application/x-www-form-urlencoded"}
    url = f"{BASE}/oauth2/token"
    grant = f"grant_type=client_credentials&client_id={key_id}&client_secret={secret}"
    r = api.client.post(url, content=grant, headers=form)
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "bearer"
    bearer = {"Authorization": f"Bearer {r.json()['access_token']}"}
    created = api.client.post(f"{BASE}/sections", json={"sectionConfiguration": configuration()},
                              headers=bearer)
    assert created.status_code == 201, created.text
    basic = base64.b64encode(f"{key_id}:{secret}".encode()).decode()
    r = api.client.post(url, content="grant_type=client_credentials",
                        headers={**form, "Authorization": f"Basic {basic}"})
    assert r.status_code == 200 and r.json()["access_token"] == key
    for body, status, error in [
        (f"grant_type=client_credentials&client_id={key_id}&client_secret=wrong-secret-0123456789", 401,
         "invalid_client"),
        (f"grant_type=password&client_id={key_id}&client_secret={secret}", 400, "unsupported_grant_type"),
        ("grant_type=client_credentials", 401, "invalid_client"),
    ]:
        r = api.client.post(url, content=body, headers=form)
        assert (r.status_code, r.json()["error"]) == (status, error), r.text
    events = api.key("org-a", "events")["Authorization"].removeprefix("Bearer ")
    r = api.client.post(url, content=f"grant_type=client_credentials&client_id={events[3:15]}&client_secret="
                        f"{events[16:]}", headers=form)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_scope")


def test_an_abandoned_session_expires(api):
    """TAO never ends sessions: after DIGIPATH_CAT_SESSION_HOURS a session takes no more results."""
    platform = Platform(api, api.a_diag)
    section_id = platform.post("/sections", {"sectionConfiguration": configuration(areas=["2"])},
                               "SectionDType", "CreateSectionResponseBodyDType")["sectionIdentifier"]
    created = platform.post(f"/sections/{section_id}/sessions", {}, "SessionDType",
                            "CreateSessionResponseBodyDType")
    url = f"{BASE}/sections/{section_id}/sessions/{created['sessionIdentifier']}/results"
    body = {"assessmentResult": {"itemResult": []}}
    assert api.client.post(url, json=body, headers=api.a_diag).status_code == 201  # nothing new: same stage
    services = api.app.state.services
    services.settings = services.settings.model_copy(update={"cat_session_hours": 1e-6})
    platform.error(api.client.post(url, json=body, headers=api.a_diag), 404, "unknownobject")
    services.settings = services.settings.model_copy(update={"cat_session_hours": 24.0})
    platform.error(api.client.post(url, json=body, headers=api.a_diag), 404, "unknownobject")  # stays ended


def test_a_platform_may_name_the_learner(api):
    """Without a learner id the diagnostic belongs to a pseudonym; with ``learnerId`` it is the learner's."""
    platform = Platform(api, api.a_diag)
    section_id = platform.post("/sections", {"sectionConfiguration": configuration(areas=["4"])},
                               "SectionDType", "CreateSectionResponseBodyDType")["sectionIdentifier"]
    prior = {"priorData": [{"key": "learnerId", "value": "emp-9"}]}
    named = platform.post(f"/sections/{section_id}/sessions", prior, "SessionDType",
                          "CreateSessionResponseBodyDType")["sessionIdentifier"]
    anonymous = platform.post(f"/sections/{section_id}/sessions", {}, "SessionDType",
                              "CreateSessionResponseBodyDType")["sessionIdentifier"]
    learner = {sid: api.client.get(f"/v1/diagnostics/{sid}", headers=api.a_diag).json()["learner_id"]
               for sid in (named, anonymous)}
    assert learner[named] == "emp-9" and learner[anonymous].startswith("cat-")
    platform.error(api.client.post(f"{BASE}/sections/{section_id}/sessions", json={"priorData": [
        {"key": "learnerId", "value": ".hidden"}]}, headers=api.a_diag), 400, "invaliddata")


def test_the_same_results_posted_twice_at_once_are_scored_once(api, bank_v1):
    """A platform retrying (or two of its nodes) posts the same results concurrently: both get the same
    next stage, each item is scored once, the section goes on."""
    from concurrent.futures import ThreadPoolExecutor
    from functools import partial

    platform = Platform(api, api.a_diag)
    section_id = platform.post("/sections", {"sectionConfiguration": configuration(areas=["5"])},
                               "SectionDType", "CreateSectionResponseBodyDType")["sectionIdentifier"]
    created = platform.post(f"/sections/{section_id}/sessions", {}, "SessionDType",
                            "CreateSessionResponseBodyDType")
    sid, items = created["sessionIdentifier"], created["nextItems"]["itemIdentifiers"]
    url = f"{BASE}/sections/{section_id}/sessions/{sid}/results"
    taker, results = SimulatedTaker(bank_v1, 0.0, 9), []
    with ThreadPoolExecutor(2) as pool:
        while items:
            answer = taker.answer({"id": items[0]})  # the section takes the platform's score
            results.append(item_result(items[0], answer, len(results), bank_v1.score(items[0], answer)))
            body = {"assessmentResult": {"itemResult": list(results)}}
            post = partial(api.client.post, url, json=body, headers=api.a_diag)
            replies = list(pool.map(lambda _, post=post: post(), range(2)))
            assert [r.status_code for r in replies] == [201, 201], [r.text for r in replies]
            assert replies[0].json()["nextItems"] == replies[1].json()["nextItems"]
            items = replies[0].json()["nextItems"]["itemIdentifiers"]
    with api.app.state.services.sessionmaker() as db:
        logged = [r.item_id for r in db.query(ResponseRecord).filter_by(session_id=sid)]
    assert sorted(logged) == sorted(r["identifier"] for r in results)
