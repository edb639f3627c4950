"""How long a revoked API key keeps working: `digipath serve --workers N` on loopback, 30 s key cache.

Each trial creates a key through the admin endpoint, uses it on one keep-alive connection per worker (so
every worker has it cached), revokes it through one request, then polls every worker's connection every
``--poll-ms`` until it answers 401. The delay per worker is measured from the revocation's reply (the
revocation is committed then) to the first 401; the bound is ``DIGIPATH_KEY_CHECK_SECONDS`` (0.5 s) plus
one fingerprint query.

    python -m experiments.revocation_delay [--trials 40] [--workers 2] [--database-url postgresql+psycopg2://...]

Prints the distribution and writes ``experiments/out/revocation_delay[-pg].json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from experiments.load_benchmark import serving

ROOT = Path(__file__).resolve().parents[1]


def _env(home: Path, database_url: str | None) -> dict:
    env = {**os.environ, "DIGIPATH_HOME": str(home), "DIGIPATH_BOOTSTRAP": "false"}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("DIGIPATH_DATABASE_URL", None)
    if database_url:
        env["DIGIPATH_DATABASE_URL"] = database_url
    return env


def _cli_key(env: dict) -> str:
    command = [sys.executable, "-m", "api.cli", "keys", "create", "--org", "delay", "--scope", "admin"]
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def _worker_connections(url: str, admin: dict, workers: int) -> dict[str, httpx.Client]:
    """One keep-alive connection per worker process (a connection stays with the process that accepted it)."""
    found: dict[str, httpx.Client] = {}
    for _ in range(50 * workers):
        client = httpx.Client(base_url=url, timeout=10)
        worker = client.get("/readyz", headers=admin).json()["checks"]["worker"]
        if worker in found:
            client.close()
        else:
            found[worker] = client
        if len(found) == workers:
            return found
    raise SystemExit(f"reached only {len(found)} of {workers} workers")


def trial(connections: dict[str, httpx.Client], admin: dict, poll_s: float) -> dict[str, float]:
    first = next(iter(connections.values()))
    body = {"scopes": ["diagnostics"], "name": "delay trial"}
    created = first.post("/v1/admin/keys", json=body, headers=admin)
    created.raise_for_status()
    victim = {"Authorization": f"Bearer {created.json()['token']}"}
    for client in connections.values():
        assert client.get("/v1/framework", headers=victim).status_code == 200
    revoker = list(connections.values())[np.random.default_rng().integers(len(connections))]
    revoker.post(f"/v1/admin/keys/{created.json()['key_id']}/revoke", headers=admin).raise_for_status()
    revoked = time.perf_counter()
    delays: dict[str, float] = {}
    while len(delays) < len(connections):
        for worker, client in connections.items():
            if worker not in delays and client.get("/v1/framework", headers=victim).status_code == 401:
                delays[worker] = time.perf_counter() - revoked
        if time.perf_counter() - revoked > 60:
            raise SystemExit("a revoked key was still accepted after 60 s")
        time.sleep(poll_s)
    return delays


def check_cost(database_url: str, n: int = 500) -> dict[str, float]:
    """Wall time of one revocation check (the fingerprint query each process makes every 0.5 s at most)."""
    from api import db
    from api.auth import KeyVerifier

    engine = db.make_engine(database_url)
    verifier = KeyVerifier(db.make_sessionmaker(engine))
    verifier.check_revocations()  # connect once
    times = []
    for _ in range(n):
        t = time.perf_counter()
        verifier.check_revocations()
        times.append(time.perf_counter() - t)
    engine.dispose()
    ms = np.array(times) * 1000
    return {"check_p50_ms": float(np.percentile(ms, 50)), "check_p99_ms": float(np.percentile(ms, 99))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--poll-ms", type=float, default=5.0)
    ap.add_argument("--database-url", default=None, help="PostgreSQL URL (its schema is migrated, data kept)")
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="digipath-revoke-"))
    # models registered in a child process, as the load benchmark does (mlflow state stays out of here)
    subprocess.run([sys.executable, "-m", "experiments.load_benchmark", "--register-only", "--home",
                    str(home), "--seed", "0", "--items-per-competence", "6"], cwd=ROOT, check=True)
    env = _env(home, args.database_url)
    admin = {"Authorization": f"Bearer {_cli_key(env)}"}
    with serving(home, env, args.workers) as (_server, port):
        url = f"http://127.0.0.1:{port}"
        connections = _worker_connections(url, admin, args.workers)
        delays = []
        for _ in range(args.trials):
            delays += trial(connections, admin, args.poll_ms / 1000).values()
        for client in connections.values():
            client.close()
    ms = np.array(delays) * 1000
    from sqlalchemy import create_engine, func, select

    from api.persistence.tables import ApiKey

    engine = create_engine(args.database_url or f"sqlite:///{home / 'digipath.db'}")
    with engine.connect() as connection:
        n_keys = connection.execute(select(func.count()).select_from(ApiKey)).scalar_one()
    engine.dispose()
    figures = {"keys": int(n_keys), "workers": args.workers, "trials": args.trials,
               "observations": int(ms.size),
               "database": "postgresql" if args.database_url else "sqlite", "poll_ms": args.poll_ms,
               "key_check_seconds": float(os.environ.get("DIGIPATH_KEY_CHECK_SECONDS", 0.5)),
               "mean_ms": float(ms.mean()), "p50_ms": float(np.percentile(ms, 50)),
               "p90_ms": float(np.percentile(ms, 90)), "p99_ms": float(np.percentile(ms, 99)),
               "max_ms": float(ms.max()), "min_ms": float(ms.min()),
               "share_within_1s": float((ms < 1000).mean())}
    print(f"revocation delay, {args.workers} workers, {figures['database']}, {ms.size} worker-observations "
          f"({args.trials} keys): min {figures['min_ms']:.0f} ms, p50 {figures['p50_ms']:.0f} ms, "
          f"p90 {figures['p90_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms, max {figures['max_ms']:.0f} ms; "
          f"within 1 s: {figures['share_within_1s']:.0%}")
    figures.update(check_cost(args.database_url or f"sqlite:///{home / 'digipath.db'}"))
    print(f"one revocation check (count + max of revoked_at over {figures['keys']} keys): "
          f"p50 {figures['check_p50_ms']:.2f} ms, p99 {figures['check_p99_ms']:.2f} ms")
    out = ROOT / "experiments" / "out" / f"revocation_delay{'-pg' if args.database_url else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))
    print(f"written {out}")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
