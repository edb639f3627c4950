"""Transparency and oversight (issue 13): a result explains itself; oversight keys annotate or override a
level (the scored one is kept); the learner's platform contests; everything audit-logged and isolated."""

from __future__ import annotations

from sqlalchemy import select

from adaptive.framework import load_framework
from api.persistence.tables import AuditEntry, DiagnosticSession
from tests.api.helpers import run_diagnostic


def _audit(api) -> list[tuple[str, str | None, dict | None]]:  # noqa: ANN001
    with api.app.state.services.sessionmaker() as db:
        return [
            (e.action, e.target, e.detail) for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


def _problem(r, status: int, slug: str) -> dict:  # noqa: ANN001
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/" + slug)
    return r.json()


def test_result_explains_itself(api, bank_v1):
    sid, _, _ = run_diagnostic(api.client, api.a_diag, bank_v1, 0.5, areas=["1", "4"], learner="e1")
    result = api.client.get(f"/v1/diagnostics/{sid}/result", headers=api.a_diag).json()
    profile, ex = result["profile"], result["explanation"]
    fw = load_framework()
    assert result["bank_version"] == "1" and ex["framework"] == {"name": fw.name, "version": fw.version}
    assert ex["areas_measured"] == ["1", "4"]
    for area, r in profile["areas"].items():
        e = ex["areas"][area]
        assert e["name"] == fw.area(area).name
        assert e["items"] == r["n_items"] > 0 and e["se"] == r["se"] and e["level"] == r["level"]
        assert e["precision"] in {"high", "moderate", "low"}
        low, high = e["level_range"]
        assert 1 <= low <= r["level"] <= high <= 8
        assert f"level {r['level']} is the most likely" in e["reading"]
        descriptor = fw.level(r["level"])
        assert e["level_meaning"]["complexity"] == descriptor.complexity
        assert e["level_meaning"]["autonomy"] == descriptor.autonomy
        assert e["level_meaning"]["group"] == descriptor.group
        assert result["levels"][area] == {
            "level": r["level"],
            "scored_level": r["level"],
            "override_id": None,
        }
    assert "maximum a posteriori" in ex["scoring"]["method"] and ex["scoring"]["prior"]["sd"] == 1.0
    assert "5 items" in ex["competences"]["rule"]
    assert result["reviews"] == [] and result["contested"] is False
    # a platform's read is not a person's: not audit-logged
    assert _audit(api) == []


def test_oversight_overrides_annotates_and_learner_contests(api, bank_v1):
    sid, _, final = run_diagnostic(api.client, api.a_diag, bank_v1, 0.0, areas=["2", "3"], learner="o1")
    scored = final["result"]["areas"]["2"]["level"]
    oversight = api.key("org-a", "oversight")
    url = f"/v1/diagnostics/{sid}"

    # the learner's platform contests; oversight keys cannot, diagnostics keys cannot review
    r = api.client.post(
        f"{url}/contest", json={"reason": "I was interrupted", "area": "2"}, headers=api.a_diag
    )
    assert r.status_code == 201 and r.json()["kind"] == "contest"
    _problem(api.client.post(f"{url}/contest", json={"reason": "x"}, headers=oversight), 403, "forbidden")
    _problem(
        api.client.post(f"{url}/reviews", json={"kind": "annotation", "reason": "x"}, headers=api.a_diag),
        403,
        "forbidden",
    )
    result = api.client.get(f"{url}/result", headers=oversight).json()
    assert result["contested"] is True and result["contest_open"] is True

    new_level = 1 if scored != 1 else 2
    r = api.client.post(
        f"{url}/reviews",
        json={"kind": "override", "area": "2", "level": new_level, "reason": "supervisor observed the tasks"},
        headers=oversight,
    )
    assert r.status_code == 201, r.text
    override = r.json()
    assert override["original_level"] == scored and override["level"] == new_level
    api.client.post(
        f"{url}/reviews", json={"kind": "annotation", "area": "3", "reason": "looks right"}, headers=oversight
    )
    result = api.client.get(f"{url}/result", headers=api.a_diag).json()
    assert result["levels"]["2"] == {
        "level": new_level,
        "scored_level": scored,
        "override_id": override["id"],
    }
    assert result["profile"]["areas"]["2"]["level"] == scored  # the scored result is kept as it was
    assert result["contested"] is True and result["contest_open"] is False
    assert [x["kind"] for x in result["reviews"]] == ["contest", "override", "annotation"]
    listed = api.client.get(f"{url}/reviews", headers=oversight).json()
    assert listed == result["reviews"]
    with api.app.state.services.sessionmaker() as db:
        assert db.get(DiagnosticSession, sid).result["areas"]["2"]["level"] == scored

    actions = [a for a, _, _ in _audit(api)]
    assert actions == [
        "result.contest",
        "result.read",
        "result.override",
        "result.annotation",
    ]
    _, target, detail = _audit(api)[2]
    assert target == f"session:{sid}" and detail["original_level"] == scored and detail["level"] == new_level
    assert detail["review_id"] == override["id"] and "reason" not in detail  # free text stays in the review


def test_bad_reviews_are_refused_and_store_nothing(api, bank_v1):
    sid, _, _ = run_diagnostic(api.client, api.a_diag, bank_v1, 0.0, areas=["5"], learner="o2")
    oversight = api.key("org-a", "oversight")
    url = f"/v1/diagnostics/{sid}/reviews"
    for body, field in (
        ({"kind": "override", "area": "5", "level": 9, "reason": "x"}, "level"),
        ({"kind": "override", "area": "1", "level": 3, "reason": "x"}, "area"),
        ({"kind": "override", "level": 3, "reason": "x"}, "area"),
        ({"kind": "override", "area": "5", "reason": "x"}, "level"),
        ({"kind": "annotation", "area": "5", "level": 3, "reason": "x"}, "level"),
    ):
        assert (
            _problem(api.client.post(url, json=body, headers=oversight), 422, "validation")["field"] == field
        )
    for body in (
        {"kind": "verdict", "reason": "x"},
        {"kind": "annotation", "reason": ""},
        {"kind": "annotation", "reason": "x", "extra": 1},
        {"kind": "annotation", "reason": "y" * 2001},
    ):
        _problem(api.client.post(url, json=body, headers=oversight), 422, "validation")
    # another organisation's result does not exist for it; an unfinished one cannot be reviewed
    other = api.key("org-b", "oversight")
    _problem(
        api.client.post(url, json={"kind": "annotation", "reason": "x"}, headers=other), 404, "not-found"
    )
    _problem(api.client.get(f"/v1/diagnostics/{sid}/result", headers=other), 404, "not-found")
    _problem(
        api.client.post(f"/v1/diagnostics/{sid}/contest", json={"reason": "x"}, headers=api.b),
        404,
        "not-found",
    )
    _problem(api.client.get(url, headers=api.b), 404, "not-found")
    running = api.client.post("/v1/diagnostics", json={"learner_id": "o3"}, headers=api.a_diag).json()
    _problem(
        api.client.post(
            f"/v1/diagnostics/{running['session_id']}/reviews",
            json={"kind": "annotation", "reason": "x"},
            headers=oversight,
        ),
        409,
        "session-not-finished",
    )
    _problem(
        api.client.post(
            f"/v1/diagnostics/{running['session_id']}/contest", json={"reason": "x"}, headers=api.a_diag
        ),
        409,
        "session-not-finished",
    )
    # an oversight key reads and reviews results, it does not run diagnostics
    _problem(
        api.client.post("/v1/diagnostics", json={"learner_id": "o4"}, headers=oversight), 403, "forbidden"
    )
    assert api.client.get(url, headers=oversight).json() == []
    assert _audit(api) == []


def test_contested_results_queue(api, bank_v1):
    oversight = api.key("org-a", "oversight")
    sids = [
        run_diagnostic(api.client, api.a_diag, bank_v1, 0.0, areas=["5"], learner=f"q{k}")[0]
        for k in range(3)
    ]
    for sid in sids[:2]:
        assert (
            api.client.post(
                f"/v1/diagnostics/{sid}/contest", json={"reason": "unfair"}, headers=api.a_diag
            ).status_code
            == 201
        )
    queue = api.client.get("/v1/oversight/contests", headers=oversight).json()
    assert queue["total"] == 2 and [e["session_id"] for e in queue["items"]] == [sids[1], sids[0]]
    assert queue["items"][0]["learner_id"] == "q1" and queue["items"][0]["last_contest"]["reason"] == "unfair"
    # a review closes the contest; a later contest reopens it
    api.client.post(
        f"/v1/diagnostics/{sids[0]}/reviews",
        json={"kind": "annotation", "reason": "checked"},
        headers=oversight,
    )
    assert [
        e["session_id"] for e in api.client.get("/v1/oversight/contests", headers=oversight).json()["items"]
    ] == [sids[1]]
    everything = api.client.get("/v1/oversight/contests?status=all", headers=oversight).json()
    assert {e["session_id"]: e["open"] for e in everything["items"]} == {sids[0]: False, sids[1]: True}
    api.client.post(f"/v1/diagnostics/{sids[0]}/contest", json={"reason": "still unfair"}, headers=api.a_diag)
    assert api.client.get("/v1/oversight/contests", headers=oversight).json()["total"] == 2
    page = api.client.get("/v1/oversight/contests?limit=1&offset=1", headers=oversight).json()
    assert page["total"] == 2 and len(page["items"]) == 1
    # other organisations and other scopes see nothing of it
    assert (
        api.client.get("/v1/oversight/contests", headers=api.key("org-b", "oversight")).json()["total"] == 0
    )
    _problem(api.client.get("/v1/oversight/contests", headers=api.a_diag), 403, "forbidden")
    _problem(api.client.get("/v1/oversight/contests?status=closed", headers=oversight), 422, "validation")
    assert sum(a == "result.contests.read" for a, _, _ in _audit(api)) == 6
