"""Issue 17 end to end: an unmodified TAO (``UnmodifiedTao``: what TAO as shipped sends, its own SCORE per
item) runs an adaptive section against a real `digipath serve` (uvicorn on loopback) with nothing but the
1EdTech CAT standard (OAuth 2 token, sections, sessions, results), across a server restart; an LMS posts
xAPI statements that the events export (the recommender's training input) then carries."""

from __future__ import annotations

import csv
import io
import shutil

import httpx

from tests.api.e2e_models import small_bank
from tests.api.helpers import SimulatedTaker
from tests.api.test_e2e import Server, create_key, model_store  # noqa: F401 - model_store is a fixture
from tests.api.test_ims_cat import UnmodifiedTao


def test_tao_like_platform_and_lms_against_digipath_serve(model_store, tmp_path):  # noqa: F811
    home = tmp_path / "home"
    shutil.copytree(model_store, home)
    key = create_key(home, "academy", "diagnostics", "events", "admin")
    server = Server(home)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            # the binding's security: client credentials for a bearer token
            r = http.post("/ims/cat/v1p0/oauth2/token", data={
                "grant_type": "client_credentials", "client_id": key[3:15], "client_secret": key[16:]})
            assert r.status_code == 200, r.text
            bearer = {"Authorization": f"Bearer {r.json()['access_token']}"}
            # an unmodified TAO: its own SCORE per item (the section's default scoring trusts it)
            tao = UnmodifiedTao(http, bearer, base="/ims/cat/v1p0")
            section_id = tao.publish({"areas": ["1", "2"]})
            bank, restarts, scores = small_bank(11), [], {}
            taker = SimulatedTaker(bank, 0.5, 1)

            def score_item(item_id: str) -> int:  # TAO's own response processing
                scores[item_id] = bank.score(item_id, taker.answer({"id": item_id}))
                return scores[item_id]

            def restart(n: int) -> None:  # the engine restarts mid-section: nothing is lost
                if n == 3:
                    server.restart()
                    restarts.append(n)

            sid, results, outcomes = tao.run(section_id, score_item, between=restart)
            assert restarts == [3] and len({x["identifier"] for x in results}) == len(results) > 3
            assert set(outcomes) == {"THETA_1", "SE_1", "LEVEL_1", "THETA_2", "SE_2", "LEVEL_2"}
            r = http.get(f"/v1/diagnostics/{sid}", headers=bearer)
            assert r.json()["status"] == "finished" and r.json()["answered"] == len(results)
            export = http.get("/v1/admin/responses/export", headers=bearer).text
            logged = [(r["item_id"], int(r["response"])) for r in csv.DictReader(io.StringIO(export))
                      if r["session_id"] == sid]
            assert sorted(logged) == sorted(scores.items())

            # an LMS posts xAPI statements; the next training's input has them
            statement = {"id": "3c1e0f7a-2b7d-4c55-9a53-0d7a1f7f2b10",
                         "actor": {"account": {"homePage": "https://lms.example", "name": "emp-7"}},
                         "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
                         "object": {"id": "https://lms.example/content/c-0003"}}
            xapi = {**bearer, "X-Experience-API-Version": "1.0.3"}
            assert http.post("/xapi/statements", json=statement, headers=xapi).status_code == 200
            assert http.post("/xapi/statements", json=[statement], headers=xapi).status_code == 200
            rows = list(csv.DictReader(io.StringIO(http.get("/v1/admin/events/export", headers=bearer).text)))
            assert [(r["learner_id"], r["event"], r["event_id"]) for r in rows] == [
                ("academy:emp-7", "completed", f"xapi:{statement['id']}")]
    finally:
        server.stop()
