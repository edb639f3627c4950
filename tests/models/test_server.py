"""Register and load through a real ``mlflow server`` on loopback (the multi-replica deployment shape)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from models import registry, runs, tracking
from models.registry import ITEM_BANK_MODEL, RECOMMENDER_MODEL
from tests.models.standin import TinyBundle

READY_TIMEOUT = 180  # s; a loaded 2-core CI machine can be slow to import mlflow's server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    port = _free_port()
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--serve-artifacts", "--artifacts-destination", str(tmp_path / "server-artifacts")],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited: {(tmp_path / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server not ready: {(tmp_path / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield url, tmp_path / "server-artifacts"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_register_promote_and_load_through_mlflow_server(home, small_bank, mlflow_server, monkeypatch):
    url, artifacts = mlflow_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    config = tracking.configure(home)
    assert config.tracking_uri == url and not config.is_embedded
    version = runs.log_item_bank(small_bank, metrics={"loglik_total": -3.0})
    rec_version = runs.log_recommender(TinyBundle(["a", "b", "c"]), metrics={"test_ndcg@10": 0.2})
    registry.promote(ITEM_BANK_MODEL, version)
    registry.promote(RECOMMENDER_MODEL, rec_version)
    # a second replica: nothing cached, everything comes over HTTP
    registry.clear_cache()
    bank, v = registry.load_item_bank()
    bundle, rv = registry.load_recommender()
    assert (v, rv) == (1, 1) and bank.to_dict() == small_bank.to_dict()
    assert bundle.catalogue == ["a", "b", "c"]
    # the artifacts went to the server's store, not to this replica's home
    assert any(artifacts.rglob("item_bank.json")) and not (home / "mlartifacts").exists()
    assert [r.aliases for r in registry.list_models((ITEM_BANK_MODEL,))] == [("champion",)]
