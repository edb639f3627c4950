"""A pathway is a plan people steer (issue 18), over HTTP on SQLite and PostgreSQL: accept, progress against
the stored plan, a supervisor's adjustments only within its units, the history with authors, updates on
new evidence, survival of a restart, and the insights reading the stored plans.

The restart-and-promotion case against a real `digipath serve` and MLflow store is at the end."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from api.auth import create_key
from api.persistence.tables import AuditEntry
from tests.api.conftest import make_api
from tests.api.helpers import PG_URL, SimulatedTaker, reset_postgres

PLATFORM = ("recommendations", "events")


def _diagnose(api, headers, bank, learner: str, theta: float, *, seed: int = 0, role: str = "clerk",
              unit: str = "tax-office") -> str:
    r = api.client.post("/v1/diagnostics", headers=headers,
                        json={"learner_id": learner, "role": role, "unit": unit})
    assert r.status_code == 201, r.text
    step, taker = r.json(), SimulatedTaker(bank, theta, seed)
    while step["status"] == "in_progress":
        item = step["item"]
        r = api.client.post(f"/v1/diagnostics/{step['session_id']}/responses", headers=headers,
                            json={"item_id": item["id"], "answer": taker.answer(item),
                                  "sequence": item["sequence"]})
        assert r.status_code == 200, r.text
        step = r.json()
    return step["session_id"]


def _key(api, org: str, scopes, *, name: str | None = None, units=None) -> dict:  # noqa: ANN001
    with api.app.state.services.sessionmaker() as db:
        token = create_key(db, org, list(scopes), name, units=units)
    return {"Authorization": f"Bearer {token}", "key_id": token.split("_")[1]}


def _h(key: dict) -> dict:
    return {"Authorization": key["Authorization"]}


def _accept(api, headers, learner: str) -> dict:
    prop = api.client.get(f"/v1/learners/{learner}/plan/proposal", headers=headers)
    assert prop.status_code == 200, prop.text
    r = api.client.post(f"/v1/learners/{learner}/plan", headers=headers,
                        json={"proposal": prop.json()["proposal"], "expected_revision": 0})
    assert r.status_code == 201, r.text
    return r.json()


def _complete(api, headers, learner: str, content_id: str, tag: str) -> None:
    r = api.client.post("/v1/learning-events", headers=headers, json={"events": [
        {"event_id": tag, "learner_id": learner, "content_id": content_id, "event": "completed",
         "timestamp": datetime.now(UTC).isoformat()}]})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text


def _audit(api, action: str) -> list[AuditEntry]:
    with api.app.state.services.sessionmaker() as db:
        return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_accepted_plan_is_stored_and_progress_is_measured_against_it(api, bank_v1):
    platform = _key(api, "org-a", PLATFORM, name="learning platform")
    sid = _diagnose(api, api.a_diag, bank_v1, "emp-1", -1.5)
    assert api.client.get("/v1/learners/emp-1/plan", headers=_h(platform)).status_code == 404   # none yet

    prop = api.client.get("/v1/learners/emp-1/plan/proposal", headers=_h(platform)).json()
    pathway = api.client.get("/v1/learners/emp-1/pathway", headers=_h(platform)).json()
    assert prop["current_revision"] == 0 and prop["changed"] and prop["based_on_session"] == sid
    assert [s["content_id"] for s in prop["steps"]] == [s["content_id"] for s in pathway["steps"]]
    assert len(prop["steps"]) >= 3 and len(prop["difference"]["added"]) == len(prop["steps"])

    r = api.client.post("/v1/learners/emp-1/plan", headers=_h(platform), json={"proposal": prop["proposal"]})
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["revision"] == 1 and plan["based_on_session"] == sid and plan["model_version"] == "1"
    assert [s["content_id"] for s in plan["steps"]] == [s["content_id"] for s in prop["steps"]]
    assert plan["steps"][0]["reason"] == pathway["steps"][0]["reason"]
    assert (plan["n_steps"], plan["n_completed"]) == (len(prop["steps"]), 0)
    assert plan["last_change"]["author"] == {"key_id": platform["key_id"], "name": "learning platform",
                                             "scope": "recommendations"}
    # the proposal it was accepted from is stale now: accepting it again is refused, nothing is stored
    again = api.client.post("/v1/learners/emp-1/plan", headers=_h(platform),
                            json={"proposal": prop["proposal"]})
    assert again.status_code == 409 and again.json()["type"].endswith("/proposal-changed")
    assert api.client.get("/v1/learners/emp-1/plan/history", headers=_h(platform)).json()["total"] == 1

    # progress: completing the first step counts against the stored plan; the next step is the second
    first, second = plan["steps"][0]["content_id"], plan["steps"][1]["content_id"]
    _complete(api, _h(platform), "emp-1", first, "done-1")
    now = api.client.get("/v1/learners/emp-1/plan", headers=_h(platform)).json()
    assert (now["n_completed"], now["next_content_id"]) == (1, second)
    assert now["steps"][0]["status"] == "completed" and now["steps"][0]["completed_at"]
    assert now["share_completed"] == pytest.approx(1 / now["n_steps"])
    # the live pathway drops the completed step; the stored plan does not move
    live = api.client.get("/v1/learners/emp-1/pathway", headers=_h(platform)).json()
    assert first not in [s["content_id"] for s in live["steps"]]
    assert [s["content_id"] for s in now["steps"]] == [s["content_id"] for s in plan["steps"]]
    # completing a step is evidence: the proposal says so and keeps the completed step
    prop2 = api.client.get("/v1/learners/emp-1/plan/proposal", headers=_h(platform)).json()
    assert prop2["evidence"]["completed_since"] == [first] and prop2["steps"][0]["content_id"] == first
    accepted = _audit(api, "plan.accept")
    assert [(a.target, a.key_id, a.detail["revision"]) for a in accepted] == [
        ("learner:emp-1", platform["key_id"], 1)]
    # another organisation does not see the learner or the plan
    assert api.client.get("/v1/learners/emp-1/plan", headers=api.b).status_code == 404


def test_completions_before_the_plan_was_accepted_are_no_progress_on_it(api, bank_v1):
    """A completion the platform reports late, dated before the plan was accepted, does not count on the
    plan (GET .../plan, the proposal, insights); one at the moment of acceptance or after does."""
    platform = _key(api, "org-a", PLATFORM)
    sup = _key(api, "org-a", ["supervisor"], units=["tax-office"])
    _diagnose(api, api.a_diag, bank_v1, "emp-1", -1.5, seed=3)
    plan = _accept(api, _h(platform), "emp-1")
    steps = [s["content_id"] for s in plan["steps"]]
    assert len(steps) >= 3 and plan["n_completed"] == 0
    accepted = datetime.fromisoformat(plan["accepted_at"])
    r = api.client.post("/v1/learning-events", headers=_h(platform), json={"events": [
        {"event_id": f"c{i}", "learner_id": "emp-1", "content_id": steps[i], "event": "completed",
         "timestamp": when.isoformat()}
        for i, when in enumerate((accepted - timedelta(days=1), accepted, accepted + timedelta(minutes=1)))]})
    assert r.status_code == 200 and r.json()["accepted"] == 3, r.text
    now = api.client.get("/v1/learners/emp-1/plan", headers=_h(platform)).json()
    assert [s["status"] for s in now["steps"][:3]] == ["open", "completed", "completed"]
    assert (now["n_completed"], now["next_content_id"]) == (2, steps[0])
    assert now["steps"][0]["completed_at"] is None and now["steps"][1]["completed_at"]
    prop = api.client.get("/v1/learners/emp-1/plan/proposal", headers=_h(platform)).json()
    status = {s["content_id"]: s["status"] for s in prop["steps"]}
    assert status.get(steps[0]) != "completed" and status[steps[1]] == status[steps[2]] == "completed"
    rows = api.client.get("/v1/insights/pathways", headers=_h(sup), params={"table": "learners"}).json()
    row = next(x for x in rows["items"] if x["learner_id"] == "emp-1")
    assert (row["pathway"], row["n_steps"], row["n_completed"], row["next_content_id"]) == (
        "plan", len(steps), 2, steps[0])


def test_supervisor_adjusts_only_in_its_units_and_the_history_names_each_author(api, bank_v1):
    platform = _key(api, "org-a", PLATFORM, name="learning platform")
    sup = _key(api, "org-a", ["supervisor"], name="Head of the tax office", units=["tax-office"])
    other = _key(api, "org-b", ["supervisor"], name="org-b supervisor", units=["tax-office"])
    _diagnose(api, api.a_diag, bank_v1, "emp-1", -1.5, seed=1)
    _diagnose(api, api.a_diag, bank_v1, "emp-2", -1.5, seed=2, unit="customs")
    plan1, plan2 = _accept(api, _h(platform), "emp-1"), _accept(api, _h(platform), "emp-2")
    steps = [s["content_id"] for s in plan1["steps"]]
    change = {"expected_revision": 1,
              "changes": [{"op": "hide", "content_id": plan2["steps"][0]["content_id"]}]}

    # outside the units (and in another organisation): the same 404 as an unknown learner
    unknown = api.client.get("/v1/learners/nobody/plan", headers=_h(sup))
    for r in (api.client.get("/v1/learners/emp-2/plan", headers=_h(sup)),
              api.client.get("/v1/learners/emp-2/plan/history", headers=_h(sup)),
              api.client.post("/v1/learners/emp-2/plan/adjustments", headers=_h(sup), json=change),
              api.client.get("/v1/learners/emp-1/plan", headers=_h(other))):
        assert r.status_code == 404, r.text
        body = r.json()
        assert (body["type"], body["title"]) == (unknown.json()["type"], unknown.json()["title"])
        assert body["detail"].startswith("unknown learner")
    # adjusting needs a supervisor key with units: the platform and an admin without units are refused
    for headers in (_h(platform), api.a):
        r = api.client.post("/v1/learners/emp-2/plan/adjustments", headers=headers, json=change)
        assert r.status_code == 403, r.text
    assert api.client.get("/v1/learners/emp-2/plan", headers=_h(platform)).json()["revision"] == 1

    catalogue = api.provider.recommender()[0].catalogue
    extra = next(c for c in catalogue.ids if c not in steps)
    r = api.client.post("/v1/learners/emp-1/plan/adjustments", headers=_h(sup), json={
        "expected_revision": 1, "reason": "mandatory course first; step 2 is covered by on-the-job training",
        "changes": [{"op": "add", "content_id": extra, "position": 1, "deadline": "2027-03-31"},
                    {"op": "hide", "content_id": steps[1]},
                    {"op": "move", "content_id": steps[3], "position": 2},
                    {"op": "deadline", "content_id": steps[0], "deadline": "2027-06-30T12:00:00+02:00"}]})
    assert r.status_code == 200, r.text
    adjusted = r.json()
    assert adjusted["revision"] == 2
    assert [s["content_id"] for s in adjusted["steps"]][:4] == [extra, steps[3], steps[0], steps[1]]
    by = {s["content_id"]: s for s in adjusted["steps"]}
    assert by[extra]["origin"] == "added" and by[extra]["deadline"] == "2027-03-31T00:00:00Z"
    assert by[steps[0]]["deadline"] == "2027-06-30T10:00:00Z"
    assert by[steps[1]]["hidden"] and by[steps[1]]["status"] == "hidden"
    assert adjusted["n_steps"] == len(steps)          # one added, one hidden
    # a stale revision or a bad change is refused and changes nothing
    stale = api.client.post("/v1/learners/emp-1/plan/adjustments", headers=_h(sup), json=change)
    assert stale.status_code == 409
    bad = api.client.post("/v1/learners/emp-1/plan/adjustments", headers=_h(sup), json={
        "expected_revision": 2, "changes": [{"op": "pin", "content_id": steps[0]},
                                            {"op": "add", "content_id": "NO-SUCH-CONTENT"}]})
    assert bad.status_code == 422
    assert (bad.json()["where"], bad.json()["field"]) == ("changes[1]", "content_id")

    # the learner's platform sees who changed what: on the steps and in the history
    seen = api.client.get("/v1/learners/emp-1/plan", headers=_h(platform)).json()
    assert seen["revision"] == 2 and not {s["content_id"]: s for s in seen["steps"]}[steps[0]]["pinned"]
    who = {"key_id": sup["key_id"], "name": "Head of the tax office", "scope": "supervisor"}
    assert all({s["content_id"]: s for s in seen["steps"]}[c]["changed_by"] == who
               for c in (extra, steps[0], steps[1], steps[3]))
    assert {s["content_id"]: s for s in seen["steps"]}[steps[2]]["changed_by"] is None
    assert seen["last_change"]["author"] == who and seen["last_change"]["note"].startswith("mandatory")
    history = api.client.get("/v1/learners/emp-1/plan/history", headers=_h(platform)).json()
    assert history["total"] == 2
    newest, first = history["items"]
    assert (newest["revision"], newest["kind"], newest["author"]) == (2, "adjusted", who)
    assert [a["op"] for a in newest["changes"]["adjustments"]] == ["add", "hide", "move", "deadline"]
    assert newest["changes"]["adjustments"][2] == {"op": "move", "content_id": steps[3], "from_position": 5,
                                                    "to_position": 2}
    assert (first["revision"], first["kind"], first["author"]["scope"]) == (1, "accepted", "recommendations")
    # every change and every supervisor read is in the audit log, under the learner
    assert [(a.key_id, a.target, a.detail["operations"]) for a in _audit(api, "plan.adjust")] == [
        (sup["key_id"], "learner:emp-1", ["add", "hide", "move", "deadline"])]
    assert _audit(api, "plan.read") == []     # the platform's reads are not, and refused reads neither
    assert api.client.get("/v1/learners/emp-1/plan", headers=_h(sup)).json() == seen
    assert api.client.get("/v1/learners/emp-1/plan/history", headers=_h(sup)).json() == history
    reads = _audit(api, "plan.read")
    assert [(a.key_id, a.target, a.detail["what"]) for a in reads] == [
        (sup["key_id"], "learner:emp-1", "plan"), (sup["key_id"], "learner:emp-1", "history")]


def test_new_evidence_proposes_an_update_that_keeps_what_people_decided(api, bank_v1):
    platform = _key(api, "org-a", PLATFORM)
    sup = _key(api, "org-a", ["supervisor"], name="unit head", units=["tax-office"])
    _diagnose(api, api.a_diag, bank_v1, "emp-1", -1.5, seed=3)
    plan = _accept(api, _h(platform), "emp-1")
    steps = [s["content_id"] for s in plan["steps"]]
    r = api.client.post("/v1/learners/emp-1/plan/adjustments", headers=_h(sup), json={
        "expected_revision": 1, "changes": [{"op": "pin", "content_id": steps[-1]},
                                            {"op": "hide", "content_id": steps[0]}]})
    assert r.status_code == 200, r.text
    nothing = api.client.get("/v1/learners/emp-1/plan/proposal", headers=_h(platform)).json()
    assert not nothing["changed"] and nothing["difference"]["summary"] == ["no change"]

    sid = _diagnose(api, api.a_diag, bank_v1, "emp-1", 1.5, seed=4)     # a much better retest
    prop = api.client.get("/v1/learners/emp-1/plan/proposal", headers=_h(platform)).json()
    assert prop["evidence"]["new_diagnostic"] and prop["based_on_session"] == sid and prop["changed"]
    diff = prop["difference"]
    assert diff["removed"], diff
    assert any("level in" in r["why"] and "is now" in r["why"] for r in diff["removed"])
    assert len(diff["summary"]) == len(diff["added"]) + len(diff["removed"]) + len(diff["reordered"])
    proposed = {s["content_id"]: s for s in prop["steps"]}
    assert proposed[steps[-1]]["pinned"] and proposed[steps[0]]["hidden"]      # people's decisions stay
    assert steps[-1] not in [r["content_id"] for r in diff["removed"]]

    r = api.client.post("/v1/learners/emp-1/plan", headers=_h(platform),
                        json={"proposal": prop["proposal"], "note": "after the retest"})
    assert r.status_code == 200, r.text
    updated = r.json()
    assert updated["revision"] == 3 and updated["based_on_session"] == sid
    assert [s["content_id"] for s in updated["steps"]] == [s["content_id"] for s in prop["steps"]]
    newest = api.client.get("/v1/learners/emp-1/plan/history", headers=_h(platform)).json()["items"][0]
    assert (newest["kind"], newest["note"]) == ("updated", "after the retest")
    assert newest["changes"]["removed"] == diff["removed"] and newest["changes"]["added"] == diff["added"]
    assert [a.detail["revision"] for a in _audit(api, "plan.update")] == [3]


def test_concurrent_changes_to_one_revision_apply_once(api, bank_v1):
    """Supervisors adjusting the same revision at once (and a platform accepting a first plan twice at
    once): exactly one wins, the others get 409 and nothing of theirs is stored."""
    platform = _key(api, "org-a", PLATFORM)
    sup = _key(api, "org-a", ["supervisor"], units=["tax-office"])
    _diagnose(api, api.a_diag, bank_v1, "emp-1", -1.5, seed=11)
    barrier = threading.Barrier(4)

    def accept(_: int) -> int:
        barrier.wait()
        return api.client.post("/v1/learners/emp-1/plan", headers=_h(platform),
                               json={"expected_revision": 0}).status_code

    with ThreadPoolExecutor(4) as pool:
        codes = sorted(pool.map(accept, range(4)))
    assert codes == [201, 409, 409, 409], codes
    plan = api.client.get("/v1/learners/emp-1/plan", headers=_h(platform)).json()
    steps = [s["content_id"] for s in plan["steps"]]

    def adjust(i: int) -> int:
        barrier.wait()
        return api.client.post("/v1/learners/emp-1/plan/adjustments", headers=_h(sup), json={
            "expected_revision": 1, "changes": [{"op": "pin", "content_id": steps[i]}]}).status_code

    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(adjust, range(4)))
    assert sorted(codes) == [200, 409, 409, 409], codes
    plan = api.client.get("/v1/learners/emp-1/plan", headers=_h(platform)).json()
    winner = steps[codes.index(200)]
    assert plan["revision"] == 2 and [s["content_id"] for s in plan["steps"] if s["pinned"]] == [winner]
    assert api.client.get("/v1/learners/emp-1/plan/history", headers=_h(platform)).json()["total"] == 2
    assert len(_audit(api, "plan.adjust")) == 1 and len(_audit(api, "plan.accept")) == 1


def test_an_accepted_plan_survives_a_restart(api, settings, bank_v1, bank_v2, bundle):
    from api.providers import StaticModelProvider

    platform = _key(api, "org-a", PLATFORM)
    _diagnose(api, api.a_diag, bank_v1, "emp-1", -1.5, seed=5)
    plan = _accept(api, _h(platform), "emp-1")
    history = api.client.get("/v1/learners/emp-1/plan/history", headers=_h(platform)).json()
    api.client.close()
    api.app.state.services.engine.dispose()
    # a new process on the same database, serving another recommender version
    again = make_api(settings, StaticModelProvider({"1": bank_v1, "2": bank_v2}, champion="1",
                                                   recommender=bundle, recommender_version="7"))
    try:
        assert again.client.get("/v1/learners/emp-1/plan", headers=_h(platform)).json() == plan
        assert again.client.get("/v1/learners/emp-1/plan/history", headers=_h(platform)).json() == history
        prop = again.client.get("/v1/learners/emp-1/plan/proposal", headers=_h(platform)).json()
        assert prop["model_version"] == "7" and prop["evidence"]["model_changed"]
        # the same recommender under another version: same steps, but accepting records what it stands on
        assert prop["changed"] and prop["difference"]["summary"] == ["no change"]
        r = again.client.post("/v1/learners/emp-1/plan", headers=_h(platform),
                              json={"proposal": prop["proposal"]})
        assert r.status_code == 200 and (r.json()["revision"], r.json()["model_version"]) == (2, "7")
        assert r.json()["steps"] == plan["steps"]
    finally:
        again.client.close()
        again.app.state.services.engine.dispose()


def test_bad_plan_requests_get_clear_errors(api, bank_v1):
    platform = _key(api, "org-a", PLATFORM)
    diag_only = api.a_diag
    _diagnose(api, api.a_diag, bank_v1, "emp-1", -1.5, seed=6)
    assert api.client.get("/v1/learners/emp-1/plan/proposal", headers=diag_only).status_code == 403
    assert api.client.post("/v1/learners/ghost/plan", headers=_h(platform), json={}).status_code == 404
    for body in ({"proposal": "not-hex"}, {"expected_revision": -1}, {"surprise": 1}):
        r = api.client.post("/v1/learners/emp-1/plan", headers=_h(platform), json=body)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    r = api.client.post("/v1/learners/emp-1/plan", headers=_h(platform), json={"expected_revision": 3})
    assert r.status_code == 409
    sup = _key(api, "org-a", ["supervisor"], units=["tax-office"])
    r = api.client.post("/v1/learners/emp-1/plan/adjustments", headers=_h(sup),
                        json={"expected_revision": 1, "changes": [{"op": "pin", "content_id": "x"}]})
    assert r.status_code == 404 and "no plan" in r.json()["detail"]
    _accept(api, _h(platform), "emp-1")
    for changes in ([], [{"op": "explode", "content_id": "x"}],
                    [{"op": "move", "content_id": "x", "position": 0}]):
        r = api.client.post("/v1/learners/emp-1/plan/adjustments", headers=_h(sup),
                            json={"expected_revision": 1, "changes": changes})
        assert r.status_code == 422, r.text
    assert api.client.get("/v1/learners/emp-1/plan", headers=_h(platform)).json()["revision"] == 1


# ----------------------------------------------------------------------------- real server, real MLflow store
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=[
    pytest.mark.postgres, pytest.mark.skipif(PG_URL is None, reason="DIGIPATH_TEST_DATABASE_URL not set")])])
def test_an_accepted_plan_survives_a_model_promotion_and_a_restart(tmp_path_factory, backend):
    """`digipath serve` on loopback with models in an MLflow store: a plan accepted on recommender v1 stays
    as accepted after v2 is promoted (and served) and after the service restarts; the proposal moves on."""
    from tests.api.e2e_models import small_bank
    from tests.api.test_e2e import Server, _register, create_key

    url = None
    if backend == "postgres":
        reset_postgres(PG_URL)
        url = PG_URL
    home = tmp_path_factory.mktemp("plans-e2e") / "home"
    home.mkdir()
    assert _register(home, "all", "11") == "1"
    admin = {"Authorization": f"Bearer {create_key(home, 'demo', 'admin', 'operator', database_url=url)}"}
    srv = Server(home, database_url=url)
    srv.start()
    try:
        with httpx.Client(base_url=srv.url, headers=admin, timeout=60) as client:
            bank = small_bank(11)
            r = client.post("/v1/diagnostics",
                            json={"learner_id": "emp-1", "role": "clerk", "unit": "tax-office"})
            step, taker = r.json(), SimulatedTaker(bank, -1.5, 7)
            while step["status"] == "in_progress":
                item = step["item"]
                step = client.post(f"/v1/diagnostics/{step['session_id']}/responses", json={
                    "item_id": item["id"], "answer": taker.answer(item), "sequence": item["sequence"]}).json()
            prop = client.get("/v1/learners/emp-1/plan/proposal").json()
            r = client.post("/v1/learners/emp-1/plan", json={"proposal": prop["proposal"]})
            assert r.status_code == 201, r.text
            plan = r.json()
            assert plan["model_version"] == "1" and plan["n_steps"] >= 3
            history = client.get("/v1/learners/emp-1/plan/history").json()

            assert _register(home, "recommender") == "2"        # registered and promoted to champion
            served = client.post("/v1/admin/models/reload").json()["served"]
            assert served["learning-recommender"] == "2"
            assert client.get("/v1/learners/emp-1/plan").json() == plan
            after = client.get("/v1/learners/emp-1/plan/proposal").json()
            assert after["model_version"] == "2" and after["evidence"]["model_changed"]
        srv.restart()
        with httpx.Client(base_url=srv.url, headers=admin, timeout=60) as client:
            assert client.get("/v1/learners/emp-1/plan").json() == plan
            assert client.get("/v1/learners/emp-1/plan/history").json() == history
    finally:
        srv.stop()


def test_insights_read_the_stored_plans(api, bank_v1):
    from adaptive.insights.impact import PLAN_CAVEAT

    platform = _key(api, "org-a", PLATFORM)
    sup = _key(api, "org-a", ["supervisor"], units=["tax-office"])
    _diagnose(api, api.a_diag, bank_v1, "emp-1", -1.5, seed=8)
    _diagnose(api, api.a_diag, bank_v1, "emp-2", -1.5, seed=9)
    steps = [s["content_id"] for s in _accept(api, _h(platform), "emp-1")["steps"]]
    r = api.client.post("/v1/learners/emp-1/plan/adjustments", headers=_h(sup), json={
        "expected_revision": 1,
        "changes": [{"op": "hide", "content_id": steps[0]},
                    {"op": "deadline", "content_id": steps[1], "deadline": "2026-01-31"}]})
    assert r.status_code == 200, r.text
    _complete(api, _h(platform), "emp-1", steps[2], "done-2")
    rows = api.client.get("/v1/insights/pathways", headers=_h(sup), params={"table": "learners"}).json()
    by = {x["learner_id"]: x for x in rows["items"]}
    assert (by["emp-1"]["pathway"], by["emp-1"]["n_steps"], by["emp-1"]["n_completed"]) == (
        "plan", len(steps) - 1, 1)
    assert by["emp-1"]["n_overdue"] == 1 and by["emp-1"]["next_content_id"] == steps[1]
    live = api.client.get("/v1/learners/emp-2/pathway", headers=_h(platform)).json()["steps"]
    assert (by["emp-2"]["pathway"], by["emp-2"]["n_steps"]) == ("recommended", len(live))
    assert "accepted plan (1 learners" in rows["notes"][0]
    # the training-impact comparison of followers: reachable, caveat first, small groups suppressed
    _diagnose(api, api.a_diag, bank_v1, "emp-1", -1.0, seed=10)
    impact = api.client.get("/v1/insights/impact", headers=api.a, params={"table": "plans"})
    assert impact.status_code == 200, impact.text
    body = impact.json()
    assert body["notes"][0] == PLAN_CAVEAT and body["items"]
    assert all(x["suppressed"] and x["n_followed"] is None for x in body["items"])
    refused = api.client.get("/v1/insights/impact", headers=_h(sup), params={"table": "plans"})
    assert refused.status_code == 403      # an aggregate: the insights scope, not a supervisor's


def test_a_proposal_is_the_pathway_with_objectives_and_the_live_catalogue(api, bank_v1):
    """The proposal and `/pathway` are one computation: a learner's objective and content the academy
    added to its catalogue (never seen by the recommender) reach the plan as they reach the pathway."""
    platform = _key(api, "org-a", PLATFORM, name="learning platform")
    _diagnose(api, api.a_diag, bank_v1, "emp-9", -1.5)
    before = api.client.get("/v1/learners/emp-9/plan/proposal", headers=_h(platform)).json()
    assert "NEW-9" not in [s["content_id"] for s in before["steps"]]

    r = api.client.put("/v1/learners/emp-9", headers=api.a, json={
        "role": "clerk", "unit": "tax-office", "objectives": [{"competence": "4.2", "target_level": 8}]})
    assert r.status_code in (200, 201), r.text
    r = api.client.post("/v1/catalogue", headers=api.a, json={
        "content_id": "NEW-9", "title": "Spotting phishing", "format": "course", "languages": ["en"],
        "competences": ["4.2"], "level": 8})
    assert r.status_code == 201, r.text

    prop = api.client.get("/v1/learners/emp-9/plan/proposal", headers=_h(platform)).json()
    pathway = api.client.get("/v1/learners/emp-9/pathway", headers=_h(platform)).json()
    assert [s["content_id"] for s in prop["steps"]] == [s["content_id"] for s in pathway["steps"]]
    [new] = [s for s in prop["steps"] if s["content_id"] == "NEW-9"]
    assert new["competence"] == "4.2" and "objective" in new["reason"]
    assert any(g["competence"] == "4.2" and g["from"] == "objective" for g in pathway["gaps"])


def test_insights_measure_a_learner_without_a_plan_against_the_pathway_their_objectives_give(api, bank_v1):
    """Without a plan, insights measure the pathway `/pathway` gives: the role's current profile and the
    learner's objectives, not the requirements the recommender was trained with."""
    platform = _key(api, "org-a", PLATFORM)
    sup = _key(api, "org-a", ["supervisor"], units=["tax-office"])
    _diagnose(api, api.a_diag, bank_v1, "emp-3", -1.5, seed=11)
    before = len(api.client.get("/v1/learners/emp-3/pathway", headers=_h(platform)).json()["steps"])
    r = api.client.put("/v1/learners/emp-3", headers=api.a, json={
        "role": "clerk", "unit": "tax-office",
        "objectives": [{"competence": c, "target_level": 8} for c in ("4.2", "5.3", "1.3")]})
    assert r.status_code in (200, 201), r.text
    live = len(api.client.get("/v1/learners/emp-3/pathway", headers=_h(platform)).json()["steps"])
    assert live > before  # the objectives add steps
    rows = api.client.get("/v1/insights/pathways", headers=_h(sup), params={"table": "learners"}).json()
    [row] = [x for x in rows["items"] if x["learner_id"] == "emp-3"]
    assert (row["pathway"], row["n_steps"]) == ("recommended", live)
