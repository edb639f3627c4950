"""xAPI statements in (issue 17): accepted or refused as the xAPI specification says, mapped to learning
events that the recommender's training export carries, idempotent by statement id."""

from __future__ import annotations

import copy
import csv
import io
from datetime import UTC, datetime

from api.persistence.tables import LearningEvent, XapiStatement
from api.xapi import PROFILE_EXTENSION

V = {"X-Experience-API-Version": "1.0.3"}
URL = "/xapi/statements"

# After the example statements of the xAPI specification (adlnet/xAPI-Spec, xAPI-Data.md, Appendix A:
# "Example Statements"; Apache License 2.0), abridged: the simple statement (a verb digipath does not use)
# and the "attempted" statement with a completed, successful result.
SIMPLE = {
    "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
    "timestamp": "2015-11-18T12:17:00+00:00",
    "actor": {"objectType": "Agent", "name": "Project Tin Can API", "mbox": "mailto:user@example.com"},
    "verb": {"id": "http://example.com/xapi/verbs#sent-a-statement", "display": {"en-US": "sent"}},
    "object": {"id": "http://example.com/xapi/activity/simplestatement", "objectType": "Activity",
               "definition": {"name": {"en-US": "simple statement"}}},
}
ATTEMPTED = {
    "id": "7ccd3322-e1a5-411a-a67d-6a735c76f119",
    "timestamp": "2015-12-18T12:17:00+00:00",
    "actor": {"objectType": "Agent", "name": "Example Learner", "mbox": "mailto:example.learner@adlnet.gov"},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted", "display": {"en-US": "attempted"}},
    "object": {"id": "http://example.adlnet.gov/xapi/example/simpleCBT", "objectType": "Activity"},
    "result": {"score": {"scaled": 0.95}, "success": True, "completion": True, "duration": "PT1234S"},
}


def account(name: str) -> dict:
    return {"objectType": "Agent", "account": {"homePage": "https://lms.example", "name": name}}


def statement(sid: str, learner: str, verb: str, activity: str, **extra) -> dict:  # noqa: ANN003
    return {"id": sid, "actor": account(learner), "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
            "object": {"id": activity}, "timestamp": "2026-11-30T10:00:00Z", **extra}


def counts(api) -> tuple[int, int]:  # noqa: ANN001
    with api.app.state.services.sessionmaker() as db:
        return db.query(XapiStatement).count(), db.query(LearningEvent).count()


def test_the_specification_examples_are_taken_and_replays_change_nothing(api):
    r = api.client.post(URL, json=[SIMPLE, ATTEMPTED], headers={**api.a, **V})
    assert r.status_code == 200, r.text
    assert r.json() == [SIMPLE["id"], ATTEMPTED["id"]]
    assert r.headers["X-Experience-API-Version"].startswith("1.0")
    assert counts(api) == (2, 1)  # the unknown verb is stored, not used
    with api.app.state.services.sessionmaker() as db:
        rows = {x.statement_id: x for x in db.query(XapiStatement)}
        assert rows[SIMPLE["id"]].event is None and rows[ATTEMPTED["id"]].event == "completed"
        assert all("mailto:" not in str(x.statement) for x in rows.values())  # only the mbox's sha1 is kept
        event = db.query(LearningEvent).one()
        assert event.content_id == ATTEMPTED["object"]["id"] and event.event_id == f"xapi:{ATTEMPTED['id']}"
    # replays: the batch again, one of them alone, by PUT: nothing changes
    assert api.client.post(URL, json=[SIMPLE, ATTEMPTED], headers={**api.a, **V}).status_code == 200
    assert api.client.post(URL, json=ATTEMPTED, headers={**api.a, **V}).status_code == 200
    r = api.client.put(URL, params={"statementId": ATTEMPTED["id"]}, json=ATTEMPTED, headers={**api.a, **V})
    assert r.status_code == 204, r.text
    assert counts(api) == (2, 1)
    # the same id with other content is a conflict (xAPI: 409), and stores nothing
    other = copy.deepcopy(ATTEMPTED)
    other["result"]["score"]["scaled"] = 0.1
    assert api.client.post(URL, json=other, headers={**api.a, **V}).status_code == 409
    assert counts(api) == (2, 1)
    # another organisation has its own statements
    assert api.client.post(URL, json=ATTEMPTED, headers={**api.b, **V}).status_code == 200
    assert counts(api) == (3, 2)


def test_verbs_map_to_the_events_the_recommender_trains_on(api):
    services = api.app.state.services
    services.settings = services.settings.model_copy(update={
        "xapi_activity_prefix": "https://lms.example/content/",
        "xapi_verbs": {"https://w3id.org/xapi/video/verbs/played": "viewed"}})
    c = "https://lms.example/content/"
    batch = [
        statement("00000000-0000-4000-8000-000000000001", "emp-1", "experienced", c + "c-0001"),
        statement("00000000-0000-4000-8000-000000000002", "emp-1", "registered", c + "c-0002"),
        statement("00000000-0000-4000-8000-000000000003", "emp-1", "completed", c + "c-0002"),
        statement("00000000-0000-4000-8000-000000000004", "emp-1", "passed", c + "c-0003"),
        statement("00000000-0000-4000-8000-000000000005", "emp-2", "failed", c + "c-0003"),
        statement("00000000-0000-4000-8000-000000000006", "emp-2", "scored", c + "c-0004",
                  result={"score": {"scaled": 0.4}, "completion": True}),
        {**statement("00000000-0000-4000-8000-000000000007", "emp-2", "rated", c + "c-0001",
                     result={"score": {"raw": 4, "min": 1, "max": 5}}),
         "verb": {"id": "http://id.tincanapi.com/verb/rated"}},
        {**statement("00000000-0000-4000-8000-000000000008", "emp-2", "x", c + "c-0005"),
         "verb": {"id": "https://w3id.org/xapi/video/verbs/played"}},
        {**statement("00000000-0000-4000-8000-000000000009", "emp-2", "x", c + "c-0006"),
         "verb": {"id": "https://example.org/verbs/doodled"}},
    ]
    r = api.client.post(URL, json=batch, headers={**api.a, **V})
    assert r.status_code == 200, r.text
    export = api.client.get("/v1/admin/events/export", headers=api.a)
    assert export.status_code == 200, export.text
    rows = {row["event_id"]: row for row in csv.DictReader(io.StringIO(export.text))}
    got = {k.removeprefix("xapi:00000000-0000-4000-8000-00000000000"): (r["learner_id"], r["content_id"],
                                                                          r["event"], r["value"])
           for k, r in rows.items()}
    assert got == {
        "1": ("org-a:emp-1", "c-0001", "viewed", ""),
        "2": ("org-a:emp-1", "c-0002", "enrolled", ""),
        "3": ("org-a:emp-1", "c-0002", "completed", ""),
        "4": ("org-a:emp-1", "c-0003", "completed", ""),
        "5": ("org-a:emp-2", "c-0003", "viewed", ""),
        "6": ("org-a:emp-2", "c-0004", "completed", ""),  # result.completion makes it a completion
        "7": ("org-a:emp-2", "c-0001", "rated", "4.0"),    # raw 4 on 1..5 -> 4 on the recommender's 1..5
        "8": ("org-a:emp-2", "c-0005", "viewed", ""),      # a verb mapped by the setting
    }                                                      # 9: an unknown verb, stored, not an event
    assert counts(api) == (9, 8)


def test_invalid_statements_are_refused_with_a_reason_and_nothing_stored(api):
    good = statement("00000000-0000-4000-8000-0000000000aa", "emp-1", "completed", "https://lms.example/content/c-1")
    bad = {
        "actor": {**good, "actor": {"mbox": "mailto:a@example.org", "account": account("x")["account"]}},
        "actor.mbox": {**good, "actor": {"mbox": "a@example.org"}},
        "actor.objectType": {**good, "actor": {"objectType": "Group", "member": []}},
        "actor.account": {**good, "actor": {"account": {"name": "x"}}},
        "verb.id": {**good, "verb": {"display": {"en-US": "completed"}}},
        "object": {k: v for k, v in good.items() if k != "object"},
        "id": {**good, "id": "not-a-uuid"},
        "result.score.scaled": {**good, "result": {"score": {"scaled": 1.5}}},
        "result.completion": {**good, "result": {"completion": "yes"}},
        "timestamp": {**good, "timestamp": "yesterday"},
    }
    for field, body in bad.items():
        r = api.client.post(URL, json=[good, body], headers={**api.a, **V})
        assert r.status_code == 400, (field, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["field"] == field and r.json()["where"] == "statement[1]", (field, r.json())
    assert api.client.post(URL, json=good, headers=api.a).status_code == 400  # no version header
    old = {**api.a, "X-Experience-API-Version": "0.95"}
    assert api.client.post(URL, json=good, headers=old).status_code == 400
    assert api.client.post(URL, json=[], headers={**api.a, **V}).status_code == 400
    assert api.client.post(URL, content=b"{nope", headers={**api.a, **V, "content-type": "application/json"}
                           ).status_code == 400
    assert api.client.put(URL, json=good, headers={**api.a, **V}).status_code == 400  # no statementId
    r = api.client.put(URL, params={"statementId": "00000000-0000-4000-8000-0000000000bb"}, json=good,
                       headers={**api.a, **V})
    assert r.status_code == 400 and r.json()["field"] == "id"
    assert api.client.post(URL, json=good, headers={**api.a_diag, **V}).status_code == 403
    assert api.client.post(URL, json=good, headers=V).status_code == 401
    assert counts(api) == (0, 0)


def test_events_go_out_as_statements_that_come_back_as_the_same_events(api):
    """xAPI out: /v1 events and statements received, paged; posted to another organisation, the same
    events (content, kind, value) result."""
    when = "2026-11-30T10:00:00+00:00"
    r = api.client.post("/v1/learning-events", headers=api.a, json={"events": [
        {"event_id": "ev-1", "learner_id": "emp-1", "content_id": "c-0001", "event": "enrolled",
         "timestamp": when},
        {"event_id": "ev-2", "learner_id": "emp-1", "content_id": "c-0001", "event": "rated", "value": 4.5,
         "timestamp": when},
        {"event_id": "ev-3", "learner_id": "emp-2", "content_id": "c-0002", "event": "completed",
         "timestamp": when}]})
    assert r.status_code == 200, r.text
    assert api.client.post(URL, json=ATTEMPTED, headers={**api.a, **V}).status_code == 200
    statements, url = [], f"{URL}?limit=3"
    while url:
        page = api.client.get(url, headers=api.a)
        assert page.status_code == 200, page.text
        statements += page.json()["statements"]
        url = page.json()["more"]
    assert len(statements) == 4
    assert statements[3]["id"] == ATTEMPTED["id"]
    assert api.client.get(URL, headers=api.a_diag).status_code == 403
    assert api.client.get(URL, headers=api.b).json()["statements"] == []  # not another organisation's

    r = api.client.post(URL, json=statements, headers={**api.b, **V})
    assert r.status_code == 200, r.text

    def events(headers: dict) -> list[tuple]:
        text = api.client.get("/v1/admin/events/export", headers=headers).text
        return sorted((row["learner_id"].split(":", 1)[1], row["content_id"], row["event"], row["value"])
                      for row in csv.DictReader(io.StringIO(text)))

    assert events(api.b) == events(api.a)
    assert ("emp-1", "c-0001", "rated", "4.5") in events(api.b)


def test_finished_diagnostics_go_out_as_statements(api, bank_v1):
    from tests.api.helpers import run_diagnostic

    done = [run_diagnostic(api.client, api.a, bank_v1, 0.0, seed=i, learner=f"emp-{i}")[0] for i in range(3)]
    page = api.client.get(URL, params={"source": "diagnostics", "limit": 2}, headers=api.a)
    assert page.status_code == 200, page.text
    statements = page.json()["statements"]
    statements += api.client.get(page.json()["more"], headers=api.a).json()["statements"]
    assert len(statements) == 3
    by_session = {s["context"]["registration"]: s for s in statements}
    for sid in done:
        result = api.client.get(f"/v1/diagnostics/{sid}/result", headers=api.a).json()["profile"]["areas"]
        profile = by_session[sid]["result"]["extensions"][PROFILE_EXTENSION]
        assert {a: (r["theta"], r["level"]) for a, r in profile["areas"].items()} == {
            a: (r["theta"], r["level"]) for a, r in result.items()}
    assert api.client.get(URL, params={"source": "diagnostics"}, headers=api.b).json()["statements"] == []
    # posted back, a diagnostic statement is stored but is no learning event
    assert api.client.post(URL, json=statements[0], headers={**api.a, **V}).status_code == 200
    assert counts(api) == (1, 0)


def test_retention_purges_old_statements_like_events(api):
    from api.privacy import purge

    old = statement("00000000-0000-4000-8000-0000000000c1", "emp-old", "completed", "https://lms.example/c-1",
                    timestamp="2020-01-01T00:00:00Z")
    new = statement("00000000-0000-4000-8000-0000000000c2", "emp-new", "completed", "https://lms.example/c-1")
    new["timestamp"] = datetime.now(UTC).isoformat()
    assert api.client.post(URL, json=[old, new], headers={**api.a, **V}).status_code == 200
    with api.app.state.services.sessionmaker() as db:
        summary = purge(db, 30)
        db.commit()
        assert [x.statement_id for x in db.query(XapiStatement)] == [new["id"]]
    assert summary["deleted"]["xapi_statements"] == 1 and counts(api) == (1, 1)
