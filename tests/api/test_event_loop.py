"""No database I/O on the event loop: while one answer waits for a SQLite write lock, a real uvicorn
server on loopback still answers other requests (before the fix, the answer's commit ran on the loop
and stalled every request of the worker for up to the busy timeout)."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time

import httpx
import uvicorn

from api.app import create_app
from api.auth import create_key
from api.providers import StaticModelProvider
from api.settings import Settings
from tests.api.conftest import CAT
from tests.api.helpers import SimulatedTaker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_locked_database_does_not_stall_other_requests(tmp_path, bank_v1, bundle):
    settings = Settings(home=tmp_path, key_cache_seconds=30.0, sqlite_busy_timeout_ms=20_000)
    provider = StaticModelProvider({"1": bank_v1}, champion="1", recommender=bundle)
    app = create_app(settings, provider, cat_overrides=CAT)
    with app.state.services.sessionmaker() as db:
        headers = {"Authorization": f"Bearer {create_key(db, 'org-a', ['admin'])}"}
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and serving.is_alive(), "server did not start"
        time.sleep(0.05)
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            step = client.post("/v1/diagnostics", json={"learner_id": "locked"}).json()
            item = step["item"]
            body = {"item_id": item["id"], "answer": SimulatedTaker(bank_v1, 0.0).answer(item),
                    "sequence": item["sequence"]}

            lock = sqlite3.connect(settings.resolved_database_url.split("///", 1)[1], timeout=1)
            lock.execute("BEGIN IMMEDIATE")  # hold the write lock: the answer's UPDATE has to wait
            answered: dict = {}

            def answer() -> None:
                with httpx.Client(base_url=base, headers=headers, timeout=60) as own:
                    url = f"/v1/diagnostics/{step['session_id']}/responses"
                    answered["response"] = own.post(url, json=body)

            waiting = threading.Thread(target=answer)
            waiting.start()
            time.sleep(0.5)  # the answer reaches its UPDATE and waits for the lock
            try:
                assert waiting.is_alive(), "the answer did not wait for the lock"
                health = client.get("/healthz")
                status = client.get(f"/v1/diagnostics/{step['session_id']}")  # a read: WAL lets it through
                # both came back while the answer was still waiting
                assert waiting.is_alive()
                assert health.status_code == 200 and status.status_code == 200
                assert status.json()["answered"] == 0
            finally:
                lock.rollback()
                lock.close()
            waiting.join(timeout=60)
            assert answered["response"].status_code == 200, answered["response"].text
            assert client.get(f"/v1/diagnostics/{step['session_id']}").json()["answered"] == 1
    finally:
        server.should_exit = True
        serving.join(timeout=30)
        app.state.services.engine.dispose()
