"""End to end against a real `digipath serve` (uvicorn) process on loopback, models in a real MLflow store.

The model set is registered once per module in a subprocess (tests/api/e2e_models.py); each server
gets its own DIGIPATH_HOME copy of the store, a free port, and is stopped with SIGTERM. Keys come from
`digipath keys create` (a home without a bootstrapped demo gets no demo key).
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
from tests.api.helpers import PG_URL, SimulatedTaker, reset_postgres

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


def _env(home: Path, database_url: str | None = None) -> dict:
    env = {**os.environ, "DIGIPATH_HOME": str(home), "DIGIPATH_MAX_ITEMS": "12",
           "DIGIPATH_BOOTSTRAP": "false"}
    env.pop("DIGIPATH_DATABASE_URL", None)
    env.pop("MLFLOW_TRACKING_URI", None)
    if database_url:
        env["DIGIPATH_DATABASE_URL"] = database_url
    return env


def create_key(home: Path, org: str, *scopes: str, database_url: str | None = None) -> str:
    """A key from the real command line (`digipath keys create`), as an operator would make one."""
    args = [a for scope in scopes for a in ("--scope", scope)]
    out = subprocess.run([sys.executable, "-m", "api.cli", "keys", "create", "--org", org, *args], cwd=ROOT,
                         env=_env(home, database_url), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


class Server:
    """A `digipath serve` child process; ``restart`` keeps the home (database + MLflow store)."""

    def __init__(self, home: Path, workers: int = 1, database_url: str | None = None):
        self.home = home
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None
        self.workers = workers
        self.database_url = database_url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = _env(self.home, self.database_url)
        self.log = open(self.home / f"serve-{self.port}.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(self.port),
             "--workers", str(self.workers)],
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
    (home / "e2e-key.txt").write_text(create_key(home, "demo", "admin", "operator"))
    srv = Server(home)
    srv.start()
    yield srv
    srv.stop()


def _client(server: Server) -> httpx.Client:
    key = (server.home / "e2e-key.txt").read_text().strip()
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
    with _client(server) as client:
        step = client.post("/v1/diagnostics", json={"learner_id": "r1", "areas": ["3"]}).json()
        bank = banks[step["bank_version"]]
        taker = SimulatedTaker(bank, -0.5, seed=4)
        step = _answer_until(client, bank, step, taker, stop_after=2)
        item = step["item"]
        last = {"item_id": item["id"], "answer": taker.answer(item), "sequence": item["sequence"]}
        before = client.post(f"/v1/diagnostics/{step['session_id']}/responses", json=last).json()
    server.restart()
    assert not (server.home / "demo-admin-key.txt").exists()  # models not bootstrapped here: no demo key
    with _client(server) as client:
        status = client.get(f"/v1/diagnostics/{step['session_id']}").json()
        assert status["answered"] == 3 and status["item"] == before["item"]
        # a client retrying its last answer across the restart gets the same reply
        assert client.post(f"/v1/diagnostics/{step['session_id']}/responses", json=last).json() == before
        final = _answer_until(client, bank, before, taker)
        assert final["status"] == "finished" and final["answered"] > 3


def _one_connection_per_worker(srv: Server, headers: dict, workers: int = 2) -> dict[str, httpx.Client]:
    """A keep-alive connection to each worker process (a connection stays with the process that took it)."""
    found: dict[str, httpx.Client] = {}
    for _ in range(100 * workers):
        client = httpx.Client(base_url=srv.url, timeout=30)
        worker = client.get("/readyz", headers=headers).json()["checks"]["worker"]
        if worker in found:
            client.close()
        else:
            found[worker] = client
        if len(found) == workers:
            return found
    raise AssertionError(f"reached only {len(found)} of {workers} workers")


@pytest.mark.parametrize(
    "backend",
    [
        "sqlite",
        pytest.param("postgres", marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(PG_URL is None, reason="DIGIPATH_TEST_DATABASE_URL not set"),
        ]),
    ],
)
def test_revoked_key_is_refused_by_every_worker_within_a_second(model_store, tmp_path, backend):
    """`digipath serve --workers 2` with the default 30 s key cache: a key revoked through one request is
    refused on both workers within 1 s (each keeps a connection: keep-alive sticks to a process)."""
    url = None
    if backend == "postgres":
        reset_postgres(PG_URL)
        url = PG_URL
    home = tmp_path / "home"
    shutil.copytree(model_store, home)
    admin = {"Authorization": f"Bearer {create_key(home, 'demo', 'admin', database_url=url)}"}
    victim_token = create_key(home, "demo", "diagnostics", database_url=url)
    victim = {"Authorization": f"Bearer {victim_token}"}
    srv = Server(home, workers=2, database_url=url)
    srv.start()
    connections: dict[str, httpx.Client] = {}
    try:
        connections = _one_connection_per_worker(srv, admin)
        for client in connections.values():  # the victim is verified and cached (30 s) on both workers
            assert client.get("/v1/framework", headers=victim).status_code == 200
        revoker = next(iter(connections.values()))
        r = revoker.post(f"/v1/admin/keys/{victim_token.split('_')[1]}/revoke", headers=admin)
        assert r.status_code == 200, r.text
        revoked = time.monotonic()
        refused: dict[str, float] = {}
        while len(refused) < 2 and time.monotonic() - revoked < 5:
            for worker, client in connections.items():
                if worker not in refused:
                    status = client.get("/v1/framework", headers=victim).status_code
                    assert status in (200, 401)
                    if status == 401:
                        refused[worker] = time.monotonic() - revoked
            time.sleep(0.005)
        assert len(refused) == 2 and max(refused.values()) < 1.0, refused
        for worker, client in connections.items():  # the answers came from the worker we think
            assert client.get("/readyz", headers=admin).json()["checks"]["worker"] == worker
            assert client.get("/v1/framework", headers=victim).status_code == 401
    finally:
        for client in connections.values():
            client.close()
        srv.stop()


def test_a_reload_through_one_worker_is_followed_by_every_worker(model_store, tmp_path):
    """An operator's reload answered by one worker of `serve --workers 2`: the other follows by itself."""
    home = tmp_path / "home"
    shutil.copytree(model_store, home)
    operator = {"Authorization": f"Bearer {create_key(home, 'academy', 'operator')}"}
    srv = Server(home, workers=2)
    connections: dict[str, httpx.Client] = {}

    def served(client: httpx.Client) -> str:
        return client.get("/v1/models", headers=operator).json()["served"]["digcomp-item-bank"]

    try:
        srv.start()
        connections = _one_connection_per_worker(srv, operator)
        assert {served(c) for c in connections.values()} == {"1"}
        # a new champion in the registry; meanwhile keep the connections (uvicorn drops idle ones at 5 s)
        out_path = tmp_path / "register.out"
        with open(out_path, "w") as out:
            proc = subprocess.Popen([sys.executable, "-m", "tests.api.e2e_models", str(home), "bank", "12"],
                                    cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True)
            while proc.poll() is None:
                for worker, client in connections.items():
                    assert client.get("/readyz", headers=operator).json()["checks"]["worker"] == worker
                time.sleep(1.0)
        output = out_path.read_text()
        assert proc.returncode == 0 and output.strip().splitlines()[-1] == "2", output[-3000:]
        assert {served(c) for c in connections.values()} == {"1"}  # served only once told
        first = next(iter(connections.values()))
        r = first.post("/v1/admin/models/reload", headers=operator)
        assert r.status_code == 200 and r.json()["served"]["digcomp-item-bank"] == "2", r.text
        deadline = time.monotonic() + 10
        for worker, client in connections.items():
            while served(client) != "2":
                assert time.monotonic() < deadline, f"worker {worker} still serves the old champion"
                time.sleep(0.1)
            assert client.get("/readyz", headers=operator).json()["checks"]["worker"] == worker
    finally:
        for client in connections.values():
            client.close()
        srv.stop()
