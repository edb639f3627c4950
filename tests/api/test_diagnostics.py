"""Diagnostics over HTTP (in-process): full test with a simulated taker, retries, 409s, restart, reload."""

from __future__ import annotations

import json

import numpy as np
from sqlalchemy import func, select

from api.persistence.tables import ResponseRecord
from tests.api.conftest import make_api
from tests.api.helpers import SimulatedTaker, run_diagnostic


def _count_responses(api, session_id: str) -> int:
    with api.app.state.services.sessionmaker() as db:
        return db.scalar(
            select(func.count()).select_from(ResponseRecord).where(ResponseRecord.session_id == session_id)
        )


def test_start_returns_first_item_in_language_without_key(api, bank_v1):
    r = api.client.post(
        "/v1/diagnostics", json={"learner_id": "u1", "areas": ["2"], "language": "lt"}, headers=api.a
    )
    assert r.status_code == 201
    body = r.json()
    item = body["item"]
    assert body["status"] == "in_progress" and item["sequence"] == 1
    assert item["area"] == "2" and item["language"] == "lt"
    assert item["stem"] == bank_v1.item(item["id"]).content["lt"].stem
    assert "key" not in item and '"key"' not in r.text


def test_full_diagnostic_recovers_ordering_of_true_thetas(api, bank_v1):
    # Two simulated takers far apart (theta -1.5 vs +1.5): with SE <= ~0.6 after 12 items the estimates
    # must be ordered and each within 3 SE of the truth (fails with prob < 1% per area if scoring works).
    low_id, _, low = run_diagnostic(api.client, api.a, bank_v1, -1.5, seed=1, learner="low", areas=["1", "3"])
    high_id, replies, high = run_diagnostic(
        api.client, api.a, bank_v1, 1.5, seed=2, learner="high", areas=["1", "3"]
    )
    for area in ("1", "3"):
        lo, hi = low["result"]["areas"][area], high["result"]["areas"][area]
        assert lo["theta"] < hi["theta"]
        assert abs(lo["theta"] + 1.5) < 3 * lo["se"] + 0.3
        assert abs(hi["theta"] - 1.5) < 3 * hi["se"] + 0.3
        assert lo["level"] < hi["level"]
        assert abs(sum(hi["level_probabilities"]) - 1) < 1e-6
    # sequences are 1..n without gaps; the reply's answered count follows
    seqs = [r["item"]["sequence"] for r in replies if r["item"]]
    assert seqs == list(range(1, len(seqs) + 1))
    assert _count_responses(api, high_id) == len(seqs)
    result = api.client.get(f"/v1/diagnostics/{high_id}/result", headers=api.a).json()
    assert result["bank_version"] == "1" and result["learner_id"] == "high"
    assert result["profile"] == high["result"]
    status = api.client.get(f"/v1/diagnostics/{high_id}", headers=api.a).json()
    assert status["status"] == "finished" and status["answered"] == len(seqs) and status["item"] is None


def test_identical_retry_returns_same_reply_and_records_once(api, bank_v1):
    start = api.client.post("/v1/diagnostics", json={"learner_id": "u1"}, headers=api.a).json()
    sid, item = start["session_id"], start["item"]
    answer = SimulatedTaker(bank_v1, 0.0).answer(item)
    body = {"item_id": item["id"], "answer": answer, "sequence": 1}
    first = api.client.post(f"/v1/diagnostics/{sid}/responses", json=body, headers=api.a)
    again = api.client.post(f"/v1/diagnostics/{sid}/responses", json=body, headers=api.a)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert _count_responses(api, sid) == 1
    # the same sequence with another answer is not a retry
    other = {**body, "answer": (answer + 1) % len(item["options"])}
    r = api.client.post(f"/v1/diagnostics/{sid}/responses", json=other, headers=api.a)
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/already-answered")
    # a retry after the session moved on still gets the original reply
    nxt = first.json()["item"]
    api.client.post(
        f"/v1/diagnostics/{sid}/responses",
        json={"item_id": nxt["id"], "answer": 0, "sequence": 2},
        headers=api.a,
    )
    assert (
        api.client.post(f"/v1/diagnostics/{sid}/responses", json=body, headers=api.a).json() == first.json()
    )
    assert _count_responses(api, sid) == 2


def test_wrong_and_stale_items_are_409_problems(api, bank_v1):
    start = api.client.post("/v1/diagnostics", json={"learner_id": "u1"}, headers=api.a).json()
    sid, item = start["session_id"], start["item"]
    other_id = next(it.id for it in bank_v1 if it.id != item["id"])
    url = f"/v1/diagnostics/{sid}/responses"
    r = api.client.post(url, json={"item_id": other_id, "answer": 0, "sequence": 1}, headers=api.a)
    assert r.status_code == 409 and r.json()["type"].endswith("/wrong-item")
    assert r.json()["expected_sequence"] == 1
    r = api.client.post(url, json={"item_id": item["id"], "answer": 0, "sequence": 3}, headers=api.a)
    assert r.status_code == 409 and r.json()["type"].endswith("/stale-sequence")
    r = api.client.post(url, json={"item_id": item["id"], "answer": 99, "sequence": 1}, headers=api.a)
    assert r.status_code == 422 and r.json()["type"].endswith("/invalid-answer")
    r = api.client.get(f"/v1/diagnostics/{sid}/result", headers=api.a)
    assert r.status_code == 409 and r.json()["type"].endswith("/session-not-finished")
    assert _count_responses(api, sid) == 0


def test_answer_after_finish_is_409(api, bank_v1):
    sid, replies, last = run_diagnostic(api.client, api.a, bank_v1, 0.0, areas=["4"])
    some_item = next(it.id for it in bank_v1 if it.area == "4")
    r = api.client.post(
        f"/v1/diagnostics/{sid}/responses",
        json={"item_id": some_item, "answer": 0, "sequence": last["answered"] + 1},
        headers=api.a,
    )
    assert r.status_code == 409 and r.json()["type"].endswith("/session-finished")


def test_restart_loses_no_session(settings, bank_v1, bank_v2, bundle, api):
    start = api.client.post(
        "/v1/diagnostics", json={"learner_id": "u1", "areas": ["5"]}, headers=api.a
    ).json()
    sid = start["session_id"]
    taker = SimulatedTaker(bank_v1, 0.5, seed=3)
    step = start
    for _ in range(3):
        item = step["item"]
        step = api.client.post(
            f"/v1/diagnostics/{sid}/responses",
            json={"item_id": item["id"], "answer": taker.answer(item), "sequence": item["sequence"]},
            headers=api.a,
        ).json()
    # a new process: new app, new provider (empty caches), same database
    from api.providers import StaticModelProvider

    restarted = make_api(
        settings, StaticModelProvider({"1": bank_v1, "2": bank_v2}, champion="2", recommender=bundle)
    )
    status = restarted.client.get(f"/v1/diagnostics/{sid}", headers=api.a).json()
    assert status["answered"] == 3 and status["item"] == step["item"] and status["bank_version"] == "1"
    while step["status"] != "finished":
        item = step["item"]
        r = restarted.client.post(
            f"/v1/diagnostics/{sid}/responses",
            json={"item_id": item["id"], "answer": taker.answer(item), "sequence": item["sequence"]},
            headers=api.a,
        )
        assert r.status_code == 200, r.text
        step = r.json()
        assert bank_v1.item(step["item"]["id"]) if step["item"] else True
    assert step["bank_version"] == "1"
    restarted.app.state.services.engine.dispose()


def test_reload_serves_new_champion_but_running_sessions_keep_their_bank(api, bank_v1, bank_v2):
    old = api.client.post("/v1/diagnostics", json={"learner_id": "u1", "areas": ["1"]}, headers=api.a).json()
    assert old["bank_version"] == "1"
    api.provider.set_champion("2")
    for refused in (api.a_diag, api.a):  # the models serve every organisation: operators only
        assert api.client.post("/v1/admin/models/reload", headers=refused).status_code == 403
    r = api.client.post("/v1/admin/models/reload", headers=api.key("academy", "operator"))
    assert r.status_code == 200 and r.json()["served"]["digcomp-item-bank"] == "2"
    new = api.client.post("/v1/diagnostics", json={"learner_id": "u2", "areas": ["1"]}, headers=api.a).json()
    assert new["bank_version"] == "2"
    ids_v1 = {it.id: it for it in bank_v1}
    taker = SimulatedTaker(bank_v1, 0.0, seed=5)
    step = old
    while step["status"] != "finished":
        item = step["item"]
        # the old session's items and content come from bank v1
        assert item["stem"] == ids_v1[item["id"]].content["en"].stem
        step = api.client.post(
            f"/v1/diagnostics/{old['session_id']}/responses",
            json={"item_id": item["id"], "answer": taker.answer(item), "sequence": item["sequence"]},
            headers=api.a,
        ).json()
    result = api.client.get(f"/v1/diagnostics/{old['session_id']}/result", headers=api.a).json()
    assert result["bank_version"] == "1"
    models = api.client.get("/v1/models", headers=api.a_diag).json()
    served = {(m["name"], m["version"]) for m in models["models"] if m["served"]}
    assert ("digcomp-item-bank", "2") in served and ("digcomp-item-bank", "1") not in served


def test_result_payload_is_json_without_non_finite_numbers(api, bank_v1):
    sid, _, last = run_diagnostic(api.client, api.a, bank_v1, 3.5, areas=["2"], seed=9)
    text = api.client.get(f"/v1/diagnostics/{sid}/result", headers=api.a).text
    data = json.loads(text)  # strict JSON: NaN/Infinity would not parse back identically
    assert np.isfinite(data["profile"]["areas"]["2"]["theta"])
