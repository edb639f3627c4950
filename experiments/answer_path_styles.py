"""The answer path in two styles: async SQLAlchemy 2 + ``async def`` routes, or ``def`` routes in threads.

    python -m experiments.answer_path_styles [--database sqlite|postgres|both] [--clients 32] [--seconds 20]
                                             [--cpu-work-ms 0.5] [--pool-size 16] [--max-overflow 16]

Issue 11: keep database I/O off the event loop either with async SQLAlchemy (``create_async_engine``,
aiosqlite / asyncpg, ``AsyncSession`` from an async generator dependency, ``async def`` routes) or with
plain ``def`` routes in FastAPI's thread pool (``Session`` from a sync generator dependency: the service
now); measure both on the answer path and keep the better one. One FastAPI app on the service's tables
(``metadata.create_all`` on a fresh database), ONE answer-shaped route with the same body in both styles:
SELECT the session row, fixed numpy CPU work standing in for the CAT step (on the loop in the async style,
as it would be), ``UPDATE ... WHERE id = :id AND version = :seen`` of 4 columns, INSERT into the response
log with the JSON reply, one commit; same SQLite pragmas (``connect`` events) and pool sizes. Each style
is its own uvicorn server (1 worker) on loopback, driven by the load benchmark's raw keep-alive client, one
pre-created session per client answered in sequence. Reported: answers/s, p50/p99, server CPU ms/answer
(/proc), PostgreSQL CPU ms/answer (the database's backends + the postmaster with its reaped children, i.e.
forks and exited backends, of any database), PostgreSQL connections opened (pool overflow churn), and
async/sync ratios; JSON in experiments/out/answer_path_styles.json, keyed by database, clients and pool.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from sqlalchemy import bindparam, create_engine, event, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from api.persistence.tables import Base, DiagnosticSession, Learner, Organisation, ResponseRecord
from experiments.load_benchmark import ROOT, RawClient, _free_port, _loop_factory, console
from experiments.load_benchmark import process_tree_cpu_seconds as tree_cpu

_S, _R = DiagnosticSession.__table__, ResponseRecord.__table__
_HOT = ("id", "org_id", "learner_id", "bank_version", "language", "status", "sequence", "pending_item",
        "version")
SELECT = select(*(_S.c[n] for n in _HOT)).where(_S.c.id == bindparam("sid"))
STEP = (update(_S).where(_S.c.id == bindparam("b_id"), _S.c.version == bindparam("b_seen"))
        .values({c: bindparam(c) for c in ("sequence", "pending_item", "version", "updated_at")}))
RESPONSE = insert(_R).values({c: bindparam(c) for c in _R.c.keys() if c != "id"})
COLUMNS = {"answers_per_s": "answers/s", "p50_ms": "p50 ms", "p99_ms": "p99 ms",
           "server_cpu_ms_per_answer": "server CPU ms/ans", "pg_backend_cpu_ms_per_answer": "PG CPU ms/ans",
           "client_cpu_ms_per_answer": "client CPU ms/ans", "pg_connections_opened": "PG conns opened",
           "errors": "errors", "load_average_1m": "load 1m"}
RATIOS = ("answers_per_s", "p50_ms", "p99_ms", "server_cpu_ms_per_answer", "pg_backend_cpu_ms_per_answer")
POOL = {"pool_size": 16, "max_overflow": 16}  # default as api.db.make_engine; the same for both styles
_GEN = np.random.default_rng(0)
_A, _B = _GEN.uniform(0.8, 2.0, 1000), _GEN.normal(0.0, 1.0, 1000)  # a bank's item parameters


def cat_work(iterations: int, theta: float) -> int:
    """Stand-in for the CAT step: Fisher information of 1,000 2PL items, ``iterations`` times."""
    best = 0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-_A * (theta - _B)))
        best = int((_A * _A * p * (1.0 - p)).argmax())
    return best


def calibrate(ms: float) -> int:
    """Iterations of ``cat_work`` costing ``ms`` of CPU (thread CPU time, so other load does not count)."""
    best = float("inf")
    for _ in range(7):
        t0 = time.thread_time()
        cat_work(50, 0.1)
        best = min(best, (time.thread_time() - t0) / 50)
    return max(1, round(ms / 1000 / best)) if ms > 0 else 0


class AnswerIn(BaseModel):
    item_id: str
    answer: int
    sequence: int


def step(row: Any, sid: str, body: AnswerIn, iterations: int) -> tuple[dict, dict, dict]:
    """Checks, CAT work, and the UPDATE values / response record / reply (identical in both styles)."""
    if row is None:
        raise HTTPException(404, f"unknown session {sid!r}")
    if body.sequence != row.sequence + 1 or body.item_id != row.pending_item:
        raise HTTPException(409, "stale sequence or wrong item")
    nxt = f"item-{cat_work(iterations, body.answer / 3.0)}"
    now, seq = datetime.now(UTC), row.sequence + 1
    values = {"sequence": seq, "pending_item": nxt, "version": row.version + 1, "updated_at": now,
              "b_id": row.id, "b_seen": row.version}
    reply = {"session_id": row.id, "status": "in_progress", "answered": seq,
             "item": {"id": nxt, "sequence": seq + 1, "stem": "Which setting keeps the file private?",
                      "options": ["Share link", "Restricted", "Public", "Anyone with the link"]},
             "progress": {"answered": seq, "finished": False,
                          "areas": {f"{k}": {"n_items": seq // 5, "theta": 0.1 * k, "se": 0.9, "done": False}
                                    for k in range(1, 6)}},
             "result": None, "bank_version": row.bank_version}
    record = {"org_id": row.org_id, "session_id": row.id, "learner_id": row.learner_id, "sequence": seq,
              "item_id": body.item_id, "answer": body.answer, "response": body.answer % 2,
              "bank_version": row.bank_version, "administered_at": now, "reply": reply}
    return values, record, reply


def _engine_kwargs(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"check_same_thread": False, "timeout": 5.0} if "aiosqlite" not in url
                else {"timeout": 5.0}, **POOL}
    return {**POOL, "pool_pre_ping": True}


def _pragmas(sync_engine, url: str) -> None:  # noqa: ANN001 - Engine (AsyncEngine.sync_engine for async)
    if not url.startswith("sqlite"):
        return

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000", "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()


def create_app(style: str, url: str, iterations: int) -> FastAPI:
    """The app with one answer route, ``sync`` (def + Session) or ``async`` (async def + AsyncSession)."""
    app = FastAPI()  # annotations are strings: a local get_db is reached through Depends defaults
    if style == "sync":
        engine = create_engine(url, **_engine_kwargs(url))
        _pragmas(engine, url)
        factory = sessionmaker(engine, expire_on_commit=False)

        def get_db():  # noqa: ANN202 - sync generator: FastAPI enters and exits it in the thread pool
            with factory() as db:
                yield db

        @app.post("/answer/{sid}")
        def answer(sid: str, body: AnswerIn, db: Session = Depends(get_db)) -> JSONResponse:
            values, record, reply = step(db.execute(SELECT, {"sid": sid}).first(), sid, body, iterations)
            if db.execute(STEP, values).rowcount != 1:
                db.rollback()
                raise HTTPException(409, "concurrent update")
            db.execute(RESPONSE, record)
            db.commit()
            return JSONResponse(reply)
    else:
        url = url.replace("sqlite://", "sqlite+aiosqlite://").replace("+psycopg2", "+asyncpg")
        engine = create_async_engine(url, **_engine_kwargs(url))
        _pragmas(engine.sync_engine, url)
        factory = async_sessionmaker(engine, expire_on_commit=False)

        async def get_db():  # noqa: ANN202
            async with factory() as db:
                yield db

        @app.post("/answer/{sid}")
        async def answer(sid: str, body: AnswerIn, db: AsyncSession = Depends(get_db)) -> JSONResponse:
            row = (await db.execute(SELECT, {"sid": sid})).first()
            values, record, reply = step(row, sid, body, iterations)  # CPU work on the loop
            if (await db.execute(STEP, values)).rowcount != 1:
                await db.rollback()
                raise HTTPException(409, "concurrent update")
            await db.execute(RESPONSE, record)
            await db.commit()
            return JSONResponse(reply)

    @app.get("/ready")
    async def ready() -> dict:
        return {"ok": True}

    return app


def prepare(url: str, sessions: int) -> list[str]:
    """A fresh schema (drop + create_all) with ``sessions`` in-progress diagnostic sessions."""
    if url.startswith("sqlite"):  # a new file (and WAL) for every run
        for suffix in ("", "-wal", "-shm"):
            Path(url.split("///", 1)[1] + suffix).unlink(missing_ok=True)
    engine = create_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    now, ids = datetime.now(UTC), [f"bench-{i:04d}" for i in range(sessions)]
    with engine.begin() as c:
        c.execute(insert(Organisation.__table__), {"id": 1, "slug": "b", "name": "b", "created_at": now})
        c.execute(insert(Learner.__table__), {"id": 1, "org_id": 1, "external_id": "l", "created_at": now})
        c.execute(insert(_S), [{"id": i, "org_id": 1, "learner_id": 1, "bank_version": "1", "language": "en",
                                "areas": ["1"], "seed": 0, "status": "in_progress", "sequence": 0,
                                "pending_item": "item-0", "state": "{}", "version": 1, "created_at": now,
                                "updated_at": now} for i in ids])
    engine.dispose()
    return ids


def _stat(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:  # gone
        return ["0"] * 15


def _cpu(pid: int, reaped_children: bool = False) -> float:
    f = _stat(pid)
    return sum(int(x) for x in f[11:15 if reaped_children else 13]) / os.sysconf("SC_CLK_TCK")


def pg_probe(url: str) -> tuple[int, dict[int, float]]:
    """Connections ever opened to the database (PostgreSQL >= 14) and the CPU seconds of its live backends
    plus the postmaster's (forks, and the CPU of exited backends: any database's) under key 0."""
    engine = create_engine(url)
    with engine.connect() as c:
        n = c.scalar(text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()"))
        own, pids = c.scalar(text("SELECT pg_backend_pid()")), c.scalars(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )).all()
        postmaster = int(_stat(own)[1])
    engine.dispose()
    return int(n), {0: _cpu(postmaster, True), **{p: _cpu(p) for p in pids}}


async def client(port: int, sid: str, stop: dict, lat: list, errors: list, measure_from: float) -> None:
    item, seq, perf = "item-0", 1, time.perf_counter
    async with RawClient("127.0.0.1", port, "-") as c:
        while not stop["now"]:
            t0 = perf()
            status, raw = await c.post(f"/answer/{sid}", b'{"item_id":"%s","answer":%d,"sequence":%d}'
                                       % (item.encode(), seq % 4, seq))
            dt = perf() - t0
            if status != 200:
                errors.append(status)
                break
            if time.monotonic() >= measure_from:
                lat.append(dt)
            reply = json.loads(raw)
            item, seq = reply["item"]["id"], reply["item"]["sequence"]


async def drive(port: int, ids: list[str], warmup: float, seconds: float, pid: int, url: str) -> dict:
    stop, lat, errors = {"now": False}, [], []
    tasks = [asyncio.create_task(client(port, s, stop, lat, errors, time.monotonic() + warmup)) for s in ids]
    pg = not url.startswith("sqlite")
    await asyncio.sleep(warmup)
    t0, cpu0, ccpu0 = time.monotonic(), tree_cpu(pid), time.process_time()
    pg0 = await asyncio.to_thread(pg_probe, url) if pg else None  # off the client loop
    await asyncio.sleep(seconds)
    elapsed, cpu, ccpu = time.monotonic() - t0, tree_cpu(pid) - cpu0, time.process_time() - ccpu0
    n = len(lat)
    pg1 = await asyncio.to_thread(pg_probe, url) if pg else None
    stop["now"] = True
    for outcome in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(outcome, BaseException):
            errors.append(f"{type(outcome).__name__}: {outcome}")
    ms = np.array(lat[:n] or [np.nan]) * 1000
    return {"answers": n, "answers_per_s": round(n / elapsed, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "server_cpu_ms_per_answer": round(1000 * cpu / max(n, 1), 3),
            "client_cpu_ms_per_answer": round(1000 * ccpu / max(n, 1), 3), "errors": len(errors),
            "first_error": str(errors[0]) if errors else None,
            **({"pg_backend_cpu_ms_per_answer": round(1000 * sum(
                c - pg0[1].get(p, 0.0) for p, c in pg1[1].items()) / max(n, 1), 3),
                "pg_connections_opened": pg1[0] - pg0[0] - 1} if pg else {})}  # minus the probe's own


def run_style(style: str, url: str, args, iterations: int, workdir: Path) -> dict:  # noqa: ANN001
    ids = prepare(url, args.clients)
    port = _free_port()
    log = open(workdir / f"server-{style}.log", "ab")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "experiments.answer_path_styles", "--serve", style, "--url", url, "--port",
         str(port), "--cpu-iterations", str(iterations), "--pool-size", str(POOL["pool_size"]),
         "--max-overflow", str(POOL["max_overflow"])], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{style} server did not start; see {workdir}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            figures = runner.run(drive(port, ids, args.warmup_seconds, args.seconds, server.pid, url))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    return {"style": style, **figures, "load_average_1m": round(os.getloadavg()[0], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--warmup-seconds", type=float, default=3.0)
    ap.add_argument("--cpu-work-ms", type=float, default=0.5)
    ap.add_argument("--pool-size", type=int, default=POOL["pool_size"])
    ap.add_argument("--max-overflow", type=int, default=POOL["max_overflow"])
    ap.add_argument("--postgres-url", default="postgresql+psycopg2://postgres@127.0.0.1:55432/bench_styles")
    ap.add_argument("--serve", choices=("sync", "async"), help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--cpu-iterations", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    POOL.update(pool_size=args.pool_size, max_overflow=args.max_overflow)
    if args.serve:  # the server process: one uvicorn worker, no access log
        import uvicorn

        app = create_app(args.serve, args.url, args.cpu_iterations)
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
        return
    iterations = calibrate(args.cpu_work_ms)
    workdir = Path(tempfile.mkdtemp(prefix="digipath-styles-"))
    urls = {"sqlite": f"sqlite:///{workdir / 'bench.db'}", "postgres": args.postgres_url}
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    out = ROOT / "experiments" / "out" / "answer_path_styles.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    saved = json.loads(out.read_text()) if out.exists() else {}
    table = Table(title=f"answer path, {args.clients} clients, {args.seconds:g} s, CAT stand-in "
                        f"{args.cpu_work_ms:g} ms CPU ({iterations} iterations), 1 uvicorn worker, "
                        f"pool {POOL['pool_size']}+{POOL['max_overflow']}, {os.cpu_count()} cores")
    for col in ("database", "style", *COLUMNS.values()):
        table.add_column(col, justify="left" if col in ("database", "style") else "right")
    for db in databases:
        runs = {}
        for style in ("sync", "async"):
            with console.status(f"{db}, {style} style, {args.clients} clients ..."):
                runs[style] = run_style(style, urls[db], args, iterations, workdir)
        ratio = {k: round(runs["async"][k] / runs["sync"][k], 3) if runs["sync"].get(k) else None
                 for k in RATIOS}
        for style, r in runs.items():
            table.add_row(db, style, *(str(r.get(k, "-")) for k in COLUMNS))
        table.add_row(db, "async/sync", *(str(ratio.get(k) or "") for k in COLUMNS), end_section=True)
        key = f"{db}_{args.clients}c_pool{POOL['pool_size']}+{POOL['max_overflow']}"
        saved[key] = {"database": db, "clients": args.clients, "seconds": args.seconds, "pool": dict(POOL),
                      "cpu_work_ms": args.cpu_work_ms, "cpu_iterations": iterations,
                      "cpu_count": os.cpu_count(), "sync": runs["sync"], "async": runs["async"],
                      "ratio_async_over_sync": ratio}
    Console(width=max(console.width, 150)).print(table)
    console.print(f"1-minute load average now: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    out.write_text(json.dumps(saved, indent=2))
    console.print(f"figures written to {out}; server logs in {workdir}")


if __name__ == "__main__":
    main()
