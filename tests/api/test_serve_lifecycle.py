"""Start and stop as a newcomer does (issue 16): a real `digipath serve` stopped by SIGTERM or Ctrl-C
exits 0 and leaves nothing in the temporary directory, `make serve` prints no `*** Terminated`, and a
second `make serve` with nothing changed does not reinstall.

Each server gets its own TMPDIR, so "nothing left behind" is measured on an otherwise empty directory
(before the fix every stopped server left a `digipath-models-*` folder there).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.test_e2e import _free_port, _register

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model_store(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("lifecycle-models")
    _register(home, "all", "11")
    return home


def _home_and_env(model_store: Path, tmp_path: Path) -> tuple[Path, dict]:
    home = tmp_path / "home"
    shutil.copytree(model_store, home)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "DIGIPATH_HOME": str(home), "DIGIPATH_BOOTSTRAP": "false", "TMPDIR": str(tmpdir),
           "PYTHONPATH": str(ROOT)}
    for name in ("DIGIPATH_DATABASE_URL", "MLFLOW_TRACKING_URI"):
        env.pop(name, None)
    return home, env


def _wait_ready(proc: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return  # models loaded: their download happened
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become ready: " + log.read_text()[-3000:])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_stops_cleanly_on_signal(model_store, tmp_path, sig):
    home, env = _home_and_env(model_store, tmp_path)
    port = _free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], cwd=ROOT,
                                env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_ready(proc, port, log)
            proc.send_signal(sig)
            status = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = log.read_text()
    assert status == 0, text[-3000:]
    assert f"stopped ({sig.name})" in text
    assert "Traceback" not in text
    assert sorted(p.name for p in Path(env["TMPDIR"]).iterdir()) == []


def test_make_serve_stops_without_make_error(model_store, tmp_path):
    """The Makefile's own `serve` recipe, its `install` prerequisite taken as done (-o install), with
    ``digipath`` in a stand-in venv that runs this checkout: SIGTERM to make stops the server with status
    0, so make reports nothing (before: ``make: *** [Makefile:20: serve] Terminated``)."""
    home, env = _home_and_env(model_store, tmp_path)
    port = _free_port()
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    digipath = venv_bin / "digipath"
    digipath.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m api.cli "$@" --port {port}\n')
    digipath.chmod(0o755)
    log = tmp_path / "make.log"
    with open(log, "wb") as out:
        make = subprocess.Popen(["make", "--no-print-directory", "-o", "install", "serve",
                                 f"VENV={tmp_path / 'venv'}"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
        try:
            _wait_ready(make, port, log)
            make.send_signal(signal.SIGTERM)  # make passes it on to the server and waits for it
            make.wait(timeout=30)
        finally:
            if make.poll() is None:
                make.kill()
                make.wait()
    text = log.read_text()
    assert "stopped (SIGTERM)" in text, text[-3000:]
    assert "***" not in text, text[-3000:]
    assert sorted(p.name for p in Path(env["TMPDIR"]).iterdir()) == []


def _dry_run(workdir: Path, target: str) -> str:
    out = subprocess.run(["make", "--no-print-directory", "-n", target], cwd=workdir, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_second_make_serve_does_not_reinstall(tmp_path):
    """`make -n` on a copy of the Makefile: the first `make serve` installs, a second one with the same
    pyproject.toml goes straight to the server, an edited pyproject.toml installs again."""
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").touch()  # the venv exists

    first = _dry_run(tmp_path, "serve")
    assert "pip install --quiet -e ." in first and "digipath serve" in first

    subprocess.run(["make", "--no-print-directory", "-t", "install"], cwd=tmp_path, check=True,
                   capture_output=True, timeout=30)  # -t: mark installed, as the real install's touch does
    second = _dry_run(tmp_path, "serve")
    assert "pip" not in second and "digipath serve" in second

    stamp = next((tmp_path / ".venv").glob(".digipath-installed*"))
    later = stamp.stat().st_mtime + 10
    os.utime(tmp_path / "pyproject.toml", (later, later))
    assert "pip install --quiet -e ." in _dry_run(tmp_path, "serve")
