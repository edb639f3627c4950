"""End to end against a real `digipath serve` (uvicorn) process on loopback, models in a real MLflow store.

The model set is registered once per module in a subprocess (tests/api/e2e_models.py); each server
gets its own DIGIPATH_HOME copy of the store, a free port, and is stopped with SIGTERM.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.e2e_models import small_bank
from tests.api.helpers import SimulatedTaker

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _register(home: Path, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "tests.api.e2e_models", str(home), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


class Server:
    """A `digipath serve` child process; ``restart`` keeps the home (database + MLflow store)."""

    def __init__(self, home: Path):
        self.home = home
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "DIGIPATH_HOME": str(self.home),
            "DIGIPATH_MAX_ITEMS": "12",
            "DIGIPATH_BOOTSTRAP": "false",
        }
        env.pop("DIGIPATH_DATABASE_URL", None)
        env.pop("MLFLOW_TRACKING_URI", None)
        self.log = open(self.home / f"serve-{self.port}.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.home / f"serve-{self.port}.log").read_text()[-3000:]
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise AssertionError("server did not become ready")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.log.close()

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="module")
def model_store(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("e2e-models")
    _register(home, "all", "11")
    return home


@pytest.fixture(scope="module")
def server(model_store, tmp_path_factory):
    # One server for the module (start-up imports mlflow and loads models: seconds); the tests run in
    # file order: journey on bank v1, reload to bank v2, then restart.
    home = tmp_path_factory.mktemp("e2e") / "home"
    shutil.copytree(model_store, home)
    srv = Server(home)
    srv.start()
    yield srv
    srv.stop()


def _client(server: Server) -> httpx.Client:
    key = (server.home / "demo-admin-key.txt").read_text().strip()
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def _answer_until(client, bank, step: dict, taker: SimulatedTaker, stop_after: int | None = None) -> dict:
    n = 0
    while step["status"] == "in_progress" and (stop_after is None or n < stop_after):
        item = step["item"]
        assert bank.item(item["id"]).content["en"].stem == item["stem"]  # served from this bank version
        r = client.post(
            f"/v1/diagnostics/{step['session_id']}/responses",
            json={"item_id": item["id"], "answer": taker.answer(item), "sequence": item["sequence"]},
        )
        assert r.status_code == 200, r.text
        step = r.json()
        n += 1
    return step


def test_full_journey_diagnostic_result_recommendations_events_export(server):
    bank = small_bank(11)
    with _client(server) as client:
        assert client.get("/docs").status_code == 200
        r = client.post(
            "/v1/diagnostics", json={"learner_id": "emp-1", "role": "policy-officer", "language": "en"}
        )
        assert r.status_code == 201, r.text
        final = _answer_until(client, bank, r.json(), SimulatedTaker(bank, 0.8, seed=1))
        sid = final["session_id"]
        result = client.get(f"/v1/diagnostics/{sid}/result").json()
        assert result["bank_version"] == "1" and set(result["profile"]["areas"]) == set(bank.area_ids)
        recs = client.get("/v1/learners/emp-1/recommendations", params={"k": 5}).json()
        assert len(recs["items"]) == 5 and recs["based_on_session"] == sid
        events = [
            {
                "event_id": f"ev{i}",
                "learner_id": "emp-1",
                "content_id": recs["items"][i]["content_id"],
                "event": "completed",
                "value": 1,
                "timestamp": "2026-03-01T12:00:00Z",
            }
            for i in range(2)
        ]
        assert client.post("/v1/learning-events", json={"events": events}).json()["accepted"] == 2
        assert client.post("/v1/learning-events", json={"events": events}).json()["duplicates"] == 2
        after = client.get("/v1/learners/emp-1/recommendations", params={"k": 5}).json()
        assert after["strategy"] == "personal"
        assert not {e["content_id"] for e in events} & {it["content_id"] for it in after["items"]}
        assert client.get("/v1/learners/emp-1/pathway").status_code == 200
        rows = list(csv.DictReader(io.StringIO(client.get("/v1/admin/responses/export").text)))
        assert len(rows) == final["answered"] and {r["person_id"] for r in rows} == {"emp-1"}
        metrics = httpx.get(server.url + "/metrics").text
        assert "digipath_diagnostics_finished_total 1.0" in metrics


def test_reload_new_champion_during_sessions(server):
    bank1, bank2 = small_bank(11), small_bank(12)
    with _client(server) as client:
        old = client.post("/v1/diagnostics", json={"learner_id": "a", "areas": ["1", "2"]}).json()
        taker = SimulatedTaker(bank1, 0.0, seed=2)
        old = _answer_until(client, bank1, old, taker, stop_after=2)
        assert _register(server.home, "bank", "12") == "2"
        # served version changes only on reload
        assert client.post("/v1/diagnostics", json={"learner_id": "b"}).json()["bank_version"] == "1"
        r = client.post("/v1/admin/models/reload")
        assert r.status_code == 200 and r.json()["served"]["digcomp-item-bank"] == "2"
        new = client.post("/v1/diagnostics", json={"learner_id": "c", "areas": ["1"]}).json()
        assert new["bank_version"] == "2"
        _answer_until(client, bank2, new, SimulatedTaker(bank2, 0.0, seed=3))
        final = _answer_until(client, bank1, old, taker)  # the old session finishes on bank v1
        assert final["bank_version"] == "1"
        assert client.get(f"/v1/diagnostics/{old['session_id']}/result").json()["bank_version"] == "1"


def test_restart_mid_session_loses_nothing(server):
    banks = {"1": small_bank(11), "2": small_bank(12)}
    key_file = (server.home / "demo-admin-key.txt").read_text()
    with _client(server) as client:
        step = client.post("/v1/diagnostics", json={"learner_id": "r1", "areas": ["3"]}).json()
        bank = banks[step["bank_version"]]
        taker = SimulatedTaker(bank, -0.5, seed=4)
        step = _answer_until(client, bank, step, taker, stop_after=2)
        item = step["item"]
        last = {"item_id": item["id"], "answer": taker.answer(item), "sequence": item["sequence"]}
        before = client.post(f"/v1/diagnostics/{step['session_id']}/responses", json=last).json()
    server.restart()
    assert (server.home / "demo-admin-key.txt").read_text() == key_file  # no second demo key
    with _client(server) as client:
        status = client.get(f"/v1/diagnostics/{step['session_id']}").json()
        assert status["answered"] == 3 and status["item"] == before["item"]
        # a client retrying its last answer across the restart gets the same reply
        assert client.post(f"/v1/diagnostics/{step['session_id']}/responses", json=last).json() == before
        final = _answer_until(client, bank, before, taker)
        assert final["status"] == "finished" and final["answered"] > 3
