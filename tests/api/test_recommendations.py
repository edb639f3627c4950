"""Recommendations, pathway, role recommendations and reference data through the API (real bundle)."""

from __future__ import annotations

from tests.api.helpers import run_diagnostic


def test_new_learner_with_diagnostic_gets_gap_based_recommendations(api, bank_v1, world):
    run_diagnostic(api.client, api.a, bank_v1, -1.0, learner="newbie", seed=4)
    r = api.client.get("/v1/learners/newbie/recommendations?k=5", headers=api.a)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["based_on_session"] is not None and body["strategy"] == "gap"
    assert len(body["items"]) == 5
    assert all(it["content_id"] in set(world.catalogue.ids) and it["reason"] for it in body["items"])
    scores = [it["score"] for it in body["items"]]
    assert scores == sorted(scores, reverse=True)


def test_events_switch_to_personal_ranking_and_exclude_completed(api, world):
    done = str(world.catalogue.ids[0])
    events = [
        {
            "event_id": f"e{i}",
            "learner_id": "active",
            "content_id": str(world.catalogue.ids[i]),
            "event": "completed",
            "value": 1.0,
            "timestamp": "2026-02-01T09:00:00Z",
        }
        for i in range(3)
    ]
    assert api.client.post("/v1/learning-events", json={"events": events}, headers=api.a).status_code == 200
    body = api.client.get("/v1/learners/active/recommendations?k=10", headers=api.a).json()
    assert body["strategy"] == "personal" and body["based_on_session"] is None
    assert done not in {it["content_id"] for it in body["items"]}


def test_filters_and_limits(api, bank_v1, world):
    run_diagnostic(api.client, api.a, bank_v1, 0.0, learner="f1")
    lang = str(world.catalogue.language[0])
    body = api.client.get(f"/v1/learners/f1/recommendations?k=7&language={lang}", headers=api.a).json()
    allowed = {
        str(c) for c, lg in zip(world.catalogue.ids, world.catalogue.language, strict=True) if lg == lang
    }
    assert body["items"] and all(it["content_id"] in allowed for it in body["items"])
    for bad in ("k=0", "k=101", "k=abc", "language=12", "format=Video!"):
        r = api.client.get(f"/v1/learners/f1/recommendations?{bad}", headers=api.a)
        assert r.status_code == 422, bad
    r = api.client.get("/v1/learners/nobody/recommendations", headers=api.a)
    assert r.status_code == 404


def test_pathway_and_role_recommendations(api, bank_v1, world):
    role = world.roles.role_ids[0]
    r = api.client.post(
        "/v1/diagnostics", json={"learner_id": "p1", "role": role, "areas": ["1"]}, headers=api.a
    )
    assert r.status_code == 201
    run_diagnostic(api.client, api.a, bank_v1, -2.0, learner="p1")
    body = api.client.get("/v1/learners/p1/pathway", headers=api.a).json()
    assert body["role"] == role and body["steps"]
    orders = [s["order"] for s in body["steps"]]
    assert orders == list(range(1, len(orders) + 1))
    body = api.client.get(f"/v1/roles/{role}/recommendations?k=4", headers=api.a).json()
    assert len(body["items"]) == 4 and body["role"] == role
    r = api.client.get("/v1/roles/no-such-role/recommendations", headers=api.a)
    assert r.status_code == 404 and r.json()["type"].endswith("/unknown-id")


def test_reference_data(api, world):
    fw = api.client.get("/v1/framework", headers=api.a_diag).json()
    assert fw["version"] == "2.2" and len(fw["competences"]) == 21
    roles = api.client.get("/v1/roles", headers=api.a_diag).json()
    assert roles["total"] == len(world.roles.role_ids)
    page1 = api.client.get("/v1/catalog?limit=50", headers=api.a_diag).json()
    page2 = api.client.get("/v1/catalog?limit=50&offset=50", headers=api.a_diag).json()
    assert page1["total"] == len(world.catalogue) and len(page1["items"]) == 50
    ids = [it["content_id"] for it in page1["items"] + page2["items"]]
    assert len(set(ids)) == len(ids) == min(100, len(world.catalogue))
    assert isinstance(page1["items"][0]["competences"], list)
    assert api.client.get("/v1/catalog?limit=500", headers=api.a_diag).status_code == 422
