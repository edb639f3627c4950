"""Strict request validation (problem+json, never a 500), body size limit, idempotent learning events."""

from __future__ import annotations

import csv
import io

import pytest


def _slug(r) -> str:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return r.json()["type"].rsplit("/", 1)[1]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"learner_id": "u1", "extra": 1}, "extra"),
        ({"learner_id": ""}, "learner_id"),
        ({"learner_id": "x" * 200}, "learner_id"),
        ({"learner_id": "u 1"}, "learner_id"),
        ({"learner_id": "u1", "areas": []}, "areas"),
        ({"learner_id": "u1", "language": "english!"}, "language"),
        ({"learner_id": 5}, "learner_id"),
        ({}, "learner_id"),
    ],
)
def test_bad_start_bodies_are_422_naming_the_field(api, body, field):
    r = api.client.post("/v1/diagnostics", json=body, headers=api.a)
    assert r.status_code == 422 and _slug(r) == "validation"
    assert any(field in e["loc"] for e in r.json()["errors"])


def test_semantic_errors_name_the_field(api):
    r = api.client.post("/v1/diagnostics", json={"learner_id": "u1", "areas": ["9"]}, headers=api.a)
    assert r.status_code == 422 and _slug(r) == "validation" and r.json()["field"] == "areas"
    r = api.client.post("/v1/diagnostics", json={"learner_id": "u1", "language": "fr"}, headers=api.a)
    assert r.status_code == 422 and r.json()["field"] == "language" and "fr" in r.json()["detail"]


def test_malformed_json_oversized_bodies_and_unknown_routes(api):
    r = api.client.post(
        "/v1/diagnostics", content=b"{not json", headers={**api.a, "content-type": "application/json"}
    )
    assert r.status_code == 422 and _slug(r) == "validation"
    big = {"learner_id": "u1", "role": "r" * (api.settings.max_body_bytes + 10)}
    r = api.client.post("/v1/diagnostics", json=big, headers=api.a)
    assert r.status_code == 413 and _slug(r) == "payload-too-large"

    # chunked upload without Content-Length is limited too
    def chunks():
        for _ in range(100):
            yield b"x" * 4096

    r = api.client.post(
        "/v1/learning-events", content=chunks(), headers={**api.a, "content-type": "application/json"}
    )
    assert r.status_code == 413
    r = api.client.get("/v1/nothing-here", headers=api.a)
    assert r.status_code == 404 and _slug(r) == "not-found"
    r = api.client.delete("/v1/diagnostics", headers=api.a)
    assert r.status_code == 405 and _slug(r) == "method-not-allowed"


def test_answer_body_validation(api):
    sid = api.client.post("/v1/diagnostics", json={"learner_id": "u1"}, headers=api.a).json()["session_id"]
    url = f"/v1/diagnostics/{sid}/responses"
    for body in (
        {"item_id": "x", "answer": -1, "sequence": 1},
        {"item_id": "x", "answer": 1.5, "sequence": 1},
        {"item_id": "x", "answer": 0, "sequence": 0},
        {"item_id": "x", "answer": 0},
        {"item_id": "x", "answer": 0, "sequence": 1, "key": 0},
        {"item_id": "x", "answer": True, "sequence": 1},
    ):
        r = api.client.post(url, json=body, headers=api.a)
        assert r.status_code == 422, body
    r = api.client.get("/v1/diagnostics/" + "z" * 100, headers=api.a)
    assert r.status_code == 422


def _event(i: int, learner: str = "u1", **kw) -> dict:
    return {
        "event_id": f"ev-{i}",
        "learner_id": learner,
        "content_id": f"c-{i % 3}",
        "event": "completed",
        "value": 1.0,
        "timestamp": "2026-01-15T10:00:00Z",
        **kw,
    }


def test_learning_events_are_idempotent_by_event_id(api):
    batch = {"events": [_event(i, learner=f"u{i % 2}") for i in range(5)]}
    r = api.client.post("/v1/learning-events", json=batch, headers=api.a)
    assert r.status_code == 200 and r.json() == {"accepted": 5, "duplicates": 0}
    r = api.client.post("/v1/learning-events", json=batch, headers=api.a)
    assert r.json() == {"accepted": 0, "duplicates": 5}
    mixed = {"events": [_event(4), _event(5), _event(5)]}  # one stored, one new, one repeated in the batch
    assert api.client.post("/v1/learning-events", json=mixed, headers=api.a).json() == {
        "accepted": 1,
        "duplicates": 2,
    }
    rows = list(csv.DictReader(io.StringIO(api.client.get("/v1/admin/events/export", headers=api.a).text)))
    assert sorted(r["event_id"] for r in rows) == [f"ev-{i}" for i in range(6)]
    assert {r["learner_id"] for r in rows} == {"org-a:u0", "org-a:u1"}


@pytest.mark.parametrize(
    "bad",
    [
        {"event": "liked"},
        {"timestamp": "yesterday"},
        {"value": "NaN"},
        {"value": float("1e300")},
        {"content_id": ""},
    ],
)
def test_bad_events_are_rejected_whole(api, bad):
    batch = {"events": [_event(1), _event(2, **bad)]}
    r = api.client.post("/v1/learning-events", json=batch, headers=api.a)
    assert r.status_code == 422 and _slug(r) == "validation"
    assert r.json()["errors"][0]["loc"][:3] == ["body", "events", "1"]
    assert api.client.get("/v1/admin/events/export", headers=api.a).text.count("\n") == 1  # header only
