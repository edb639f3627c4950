"""The 1EdTech CAT service v1.0 (issue 17): a scripted delivery-platform client walks whole adaptive
sections, validating every request and response body against the official OpenAPI document
(``tests/api/data/1edtech-cat-v1p0-openapi.json``, source and licence in ``tests/api/data/README.md``)."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from api.persistence.tables import CatSection, DiagnosticSession, ResponseRecord
from tests.api.helpers import SimulatedTaker

SPEC = json.loads((Path(__file__).parent / "data" / "1edtech-cat-v1p0-openapi.json").read_text())
BASE = "/ims/cat/v1p0"
# The one documented departure: an ended section answers ``nextItems: {itemIdentifiers: []}`` (the spec's
# text; its schema says minItems 1). Only the final submitResults response is checked against this copy.
_RELAXED = copy.deepcopy(SPEC["components"])
_RELAXED["schemas"]["NextItemSetDType"]["properties"]["itemIdentifiers"]["minItems"] = 0


def check(name: str, body, *, relaxed: bool = False) -> None:  # noqa: ANN001
    components = _RELAXED if relaxed else SPEC["components"]
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


def item_result(item_id: str, answer: int, index: int) -> dict:
    return {
        "identifier": item_id,
        "sequenceIndex": index,
        "datestamp": datetime.now(UTC).isoformat(),
        "sessionStatus": "final",
        "responseVariables": [{"identifier": "RESPONSE", "cardinality": "single", "baseType": "identifier",
                               "candidateResponse": {"value": [{"value": str(answer)}]}}],
        # what TAO adds (its own score); the engine scores the response itself
        "outcomeVariables": [{"identifier": "SCORE", "cardinality": "single", "baseType": "float",
                              "value": [{"value": "0"}]}],
    }


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
    section = {"sectionConfiguration": configuration(bank_version="1", language="en", areas=["1", "2"]),
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


def test_tao_departures_are_read_as_tao_sends_them(api, bank_v1):
    """Same section posted again (qtiMetadata as a string) -> same id; off-spec values are accepted."""
    body = {"sectionConfiguration": configuration(areas=["3"], cat={"max_items": 4, "min_items": 4}),
            "qtiMetadata": base64.b64encode(b"{}").decode()}
    first = api.client.post(f"{BASE}/sections", json=body, headers=api.a_diag)
    again = api.client.post(f"{BASE}/sections", json=body, headers=api.a_diag)
    assert first.status_code == again.status_code == 201
    section_id = first.json()["sectionIdentifier"]
    assert again.json()["sectionIdentifier"] == section_id
    got = api.client.get(f"{BASE}/sections/{section_id}", headers=api.a_diag)
    check("GetSectionResponseBodyDType", got.json())

    r = api.client.post(f"{BASE}/sections/{section_id}/sessions",
                        json={"priorData": [{"key": "initialEstimatedAbility", "value": "0.0"}]},
                        headers=api.a_diag)
    assert r.status_code == 201, r.text
    session_id, items = r.json()["sessionIdentifier"], r.json()["nextItems"]["itemIdentifiers"]
    taker, results = SimulatedTaker(bank_v1, 0.0, 3), []
    while items:
        # TAO: upper-case enums, integer cardinality, numbers for values
        results.append({"identifier": items[0], "datestamp": datetime.now(UTC).isoformat(),
                        "sessionStatus": "FINAL",
                        "responseVariables": [{
                            "identifier": "RESPONSE", "cardinality": 0, "baseType": "IDENTIFIER",
                            "candidateResponse": {"value": [taker.answer({"id": items[0]})]}}],
                        "outcomeVariables": [{"identifier": "SCORE", "cardinality": 0, "baseType": "FLOAT",
                                              "value": 1.0}]})
        r = api.client.post(f"{BASE}/sections/{section_id}/sessions/{session_id}/results",
                            json={"assessmentResult": {"itemResult": results}}, headers=api.a_diag)
        assert r.status_code == 201, r.text
        items = r.json()["nextItems"]["itemIdentifiers"]
    assert len(results) == 4
    assert [x["identifier"] for x in r.json()["assessmentResult"]["testResult"]["outcomeVariables"]] == [
        "THETA_3", "SE_3", "LEVEL_3"]


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
                   configuration(bank_version="99"), configuration(language="xx"), configuration(foo=1)):
        platform.error(api.client.post(f"{BASE}/sections", json={"sectionConfiguration": config},
                                       headers=api.a_diag), 400, "invaliddata")
    platform.error(api.client.post(f"{BASE}/sections", json={}, headers=api.a_diag), 400, "invaliddata")
    platform.error(api.client.post(f"{BASE}/sections", content=b"{not json", headers={
        **api.a_diag, "content-type": "application/json"}), 400, "invaliddata")
    with api.app.state.services.sessionmaker() as db:
        assert db.query(CatSection).count() == 0

    section_id = platform.post("/sections", {"sectionConfiguration": configuration(areas=["1"])},
                               "SectionDType", "CreateSectionResponseBodyDType")["sectionIdentifier"]
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
        # the platform's SCORE only
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
            results.append(item_result(items[0], taker.answer({"id": items[0]}), len(results)))
            body = {"assessmentResult": {"itemResult": list(results)}}
            post = partial(api.client.post, url, json=body, headers=api.a_diag)
            replies = list(pool.map(lambda _, post=post: post(), range(2)))
            assert [r.status_code for r in replies] == [201, 201], [r.text for r in replies]
            assert replies[0].json()["nextItems"] == replies[1].json()["nextItems"]
            items = replies[0].json()["nextItems"]["itemIdentifiers"]
    with api.app.state.services.sessionmaker() as db:
        logged = [r.item_id for r in db.query(ResponseRecord).filter_by(session_id=sid)]
    assert sorted(logged) == sorted(r["identifier"] for r in results)
