"""API keys, scopes and organisation isolation (another organisation's data is 404, never 403)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from api.persistence.tables import ApiKey
from tests.api.helpers import run_diagnostic


def _problem(r, status: int, slug: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"] == f"https://digipath.example/problems/{slug}" and body["status"] == status
    return body


def test_every_endpoint_but_health_needs_a_key(api):
    for path in (
        "/v1/framework",
        "/v1/models",
        "/v1/catalog",
        "/v1/roles",
        "/v1/diagnostics/x",
        "/v1/learners/u1/recommendations",
        "/v1/admin/responses/export",
    ):
        r = api.client.get(path)
        _problem(r, 401, "unauthorized")
        assert r.headers["www-authenticate"].startswith("Bearer")
    for path in ("/healthz", "/metrics"):
        assert api.client.get(path).status_code == 200


def test_bad_keys_are_401(api):
    for header in (
        "Bearer nonsense",
        "Basic dXNlcjpwYXNz",
        "Bearer dp_0123456789ab_" + "x" * 43,
        api.a["Authorization"][:-2] + "zz",
    ):
        _problem(api.client.get("/v1/framework", headers={"Authorization": header}), 401, "unauthorized")


def test_keys_are_stored_hashed(api):
    token = api.a["Authorization"].split()[1]
    key_id, secret = token.split("_")[1], token.split("_", 2)[2]
    with api.app.state.services.sessionmaker() as db:
        row = db.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
    assert row is not None and secret not in row.secret_sha256 and len(row.secret_sha256) == 64


def test_revoked_key_is_refused(api):
    headers = api.key("org-a", "diagnostics")
    assert api.client.get("/v1/framework", headers=headers).status_code == 200
    key_id = headers["Authorization"].split("_")[1]
    with api.app.state.services.sessionmaker() as db:
        db.execute(update(ApiKey).where(ApiKey.key_id == key_id).values(revoked_at=datetime.now(UTC)))
        db.commit()
    _problem(api.client.get("/v1/framework", headers=headers), 401, "unauthorized")


def test_scopes(api):
    events_only = api.key("org-a", "events")
    _problem(
        api.client.post("/v1/diagnostics", json={"learner_id": "u1"}, headers=events_only), 403, "forbidden"
    )
    _problem(api.client.get("/v1/admin/responses/export", headers=api.a_diag), 403, "forbidden")
    _problem(
        api.client.post("/v1/learning-events", json={"events": []}, headers=api.a_diag), 403, "forbidden"
    )
    assert (
        api.client.post("/v1/diagnostics", json={"learner_id": "u1"}, headers=api.a_diag).status_code == 201
    )


def test_organisations_never_see_each_other(api, bank_v1):
    sid, replies, _ = run_diagnostic(api.client, api.a, bank_v1, 0.0, areas=["3"], learner="shared-id")
    item = replies[0]["item"]
    for method, path, body in (
        ("get", f"/v1/diagnostics/{sid}", None),
        ("get", f"/v1/diagnostics/{sid}/result", None),
        ("post", f"/v1/diagnostics/{sid}/responses", {"item_id": item["id"], "answer": 0, "sequence": 1}),
    ):
        r = getattr(api.client, method)(path, headers=api.b, **({"json": body} if body else {}))
        _problem(r, 404, "not-found")
    # the learner exists in org-a only
    _problem(api.client.get("/v1/learners/shared-id/recommendations", headers=api.b), 404, "not-found")
    _problem(api.client.get("/v1/learners/shared-id/pathway", headers=api.b), 404, "not-found")
    # events and responses exports are per organisation
    ev = {
        "event_id": "e1",
        "learner_id": "shared-id",
        "content_id": "c1",
        "event": "viewed",
        "timestamp": "2026-01-01T00:00:00Z",
    }
    assert (
        api.client.post("/v1/learning-events", json={"events": [ev]}, headers=api.a).json()["accepted"] == 1
    )
    # the same event id in another organisation is a different event
    assert (
        api.client.post("/v1/learning-events", json={"events": [ev]}, headers=api.b).json()["accepted"] == 1
    )
    b_export = api.client.get("/v1/admin/responses/export", headers=api.b).text.strip().splitlines()
    assert b_export == ["person_id,item_id,response,session_id,administered_at,answer"]
    a_export = api.client.get("/v1/admin/responses/export", headers=api.a).text.strip().splitlines()
    assert len(a_export) == len(replies)  # header + one row per answer
    b_events = api.client.get("/v1/admin/events/export", headers=api.b).text.strip().splitlines()
    assert len(b_events) == 2 and b_events[1].startswith("org-b:shared-id,")
