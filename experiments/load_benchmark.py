"""Load benchmark of the HTTP service: full diagnostics from N concurrent simulated clients.

    python -m experiments.load_benchmark [--clients 32] [--steps 6000] [--max-seconds 90] [--workers 1]
                                         [--database-url postgresql+psycopg2://...] [--max-items 30]
                                         [--stagger]

A separate server process (`digipath serve`, uvicorn on loopback) is started on a fresh DIGIPATH_HOME
holding a registered synthetic item bank (48 items per competence, ~1,000 items, the engine's default
CAT settings up to --max-items) and a small recommender. Each client (httpx, asyncio) repeatedly starts
a diagnostic and answers as a simulated test taker (IRT responses from a random true theta) until it
finishes. Bounded by --steps answers and --max-seconds after a warm-up. Prints answers per second and
p50/p95/p99 latency of one answer -> next-item step, as seen by the client. Target on a 2-core machine
with SQLite: p99 < 50 ms at 32 clients and >= 300 steps/s. The load generator shares the machine's
cores with the server, so figures are conservative.

Where a tail comes from: with one worker the report adds the server's own view of the answer route (its
Prometheus histogram: share over 50 ms, bucket of the 99th percentile; warm-up included), and
``experiments/out/*_slow.json`` lists every answer over 50 ms as (seconds after the warm-up, ms): slow
answers in bursts every ``max-items`` answer intervals are the clients' diagnostics starting and finishing
together (all clients begin at once and, with fixed-length tests, stay in step); ``--stagger`` spreads
the clients' first starts over one diagnostic's length, as real learners are spread.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
console = Console()


def _bank(seed: int, items_per_competence: int):
    from adaptive.synthetic import generate_synthetic_bank

    return generate_synthetic_bank(
        items_per_competence=items_per_competence, languages=("en",), seed=seed, name="load benchmark bank"
    )


def register_models(home: Path, seed: int, items_per_competence: int) -> None:
    """Register + promote the bank and a small recommender in ``home`` (run in a child process)."""
    from models import registry, runs, tracking
    from recommender.synthetic import generate_world
    from recommender.training import train_bundle

    tracking.configure(home)
    version = runs.log_item_bank(_bank(seed, items_per_competence))
    registry.promote(registry.ITEM_BANK_MODEL, version, validate=False)  # synthetic, not calibrated
    world = generate_world(n_learners=200, n_content=150, mean_items=8, seed=seed)
    bundle, _ = train_bundle(
        world.catalogue,
        world.roles,
        world.events,
        learners=world.learners,
        ranker="hybrid",
        tune=False,
        baselines=False,
        progress=False,
    )
    registry.promote(registry.RECOMMENDER_MODEL, runs.log_recommender(bundle), validate=False)


class Taker:
    """A simulated test taker answering with the bank's IRT model (the bank is regenerated locally).

    Item parameters are read once into plain tuples shared by all takers, and the response is drawn
    with ``random`` on floats: the load generator shares the cores with the server, so it stays lean.
    """

    _items: dict = {}  # item id -> (a, thresholds, c, d, key, n_options, polytomous)

    def __init__(self, bank, rng: random.Random):  # noqa: ANN001
        self.bank = bank
        self.rng = rng
        self.theta = rng.gauss(0.0, 1.0)

    def _params(self, item_id: str) -> tuple:
        hit = self._items.get(item_id)
        if hit is None:
            it = self.bank.item(item_id)
            key = list(it.key) if it.is_polytomous else int(it.key)
            hit = self._items[item_id] = (float(it.a), [float(b) for b in it.b], float(it.c), float(it.d),
                                          key, it.n_options, it.is_polytomous)
        return hit

    def answer(self, item: dict) -> int:
        a, bs, c, d, key, n_options, polytomous = self._params(item["id"])
        u = self.rng.random()
        if polytomous:  # GRM: score = number of thresholds passed, P(X >= k) = logistic(a (theta - b_k))
            score = sum(u < 1.0 / (1.0 + math.exp(-a * (self.theta - b))) for b in bs)
            return key.index(score)
        p = c + (d - c) / (1.0 + math.exp(-a * (self.theta - bs[0])))
        return key if u < p else (key + 1) % n_options


class RawClient:
    """HTTP/1.1 keep-alive over one asyncio connection, requests pre-formatted (a wrk-style generator).

    Every answer is still a complete HTTP request to the real server; this only avoids spending the
    shared cores on a general-purpose client (httpx costs ~2 ms CPU per request here).
    """

    def __init__(self, host: str, port: int, token: str):
        self.host, self.port = host, port
        self._head = (f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                      "Content-Type: application/json\r\n").encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> RawClient:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *exc) -> None:  # noqa: ANN002
        self.writer.close()

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.writer.write(b"POST " + path.encode() + b" HTTP/1.1\r\n" + self._head
                          + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        line = await self.reader.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        status = int(line.split(b" ", 2)[1])
        length = None
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                raise ConnectionError("chunked responses are not supported by the raw client")
        return status, await self.reader.readexactly(length or 0)


class HttpxClient:
    """The same interface on ``httpx.AsyncClient`` (``--client httpx``), one keep-alive connection."""

    def __init__(self, host: str, port: int, token: str):
        self._client = httpx.AsyncClient(
            base_url=f"http://{host}:{port}",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=30,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )

    async def __aenter__(self) -> HttpxClient:
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *exc) -> None:  # noqa: ANN002
        await self._client.__aexit__(*exc)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        r = await self._client.post(path, content=body)
        return r.status_code, r.content


async def client_loop(
    idx: int,
    make_client,  # noqa: ANN001
    bank,  # noqa: ANN001
    stop: dict,
    latencies: list,
    errors: list,
    measure_from: list,
    interval: float,
    slow: list,
    stagger: float = 0.0,
) -> None:
    rng = random.Random(1000 + idx)
    run = os.getpid()  # learner ids unique per run: a reused --home must not turn them into retests
    if stagger > 0:
        await asyncio.sleep(rng.uniform(0, stagger))
    next_at = time.monotonic() + rng.uniform(0, interval)  # spread the clients' phases
    perf, monotonic, loads = time.perf_counter, time.monotonic, json.loads
    async with make_client() as client:
        while not stop["now"]:
            start = b'{"learner_id":"load-%d-%d-%d"}' % (run, idx, rng.getrandbits(40))
            status, raw = await client.post("/v1/diagnostics", start)
            if status != 201:
                errors.append(status)
                await asyncio.sleep(0.05)
                continue
            step, taker = loads(raw), Taker(bank, rng)
            path = f"/v1/diagnostics/{step['session_id']}/responses"
            while step["status"] == "in_progress" and not stop["now"]:
                item = step["item"]
                body = b'{"item_id":"%s","answer":%d,"sequence":%d}' % (
                    item["id"].encode(), taker.answer(item), item["sequence"])
                if interval > 0:  # paced client: a learner answers at a given rate, not back-to-back
                    delay = next_at - monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    next_at = max(next_at + interval, monotonic() - interval)
                t0 = perf()
                status, raw = await client.post(path, body)
                dt = perf() - t0
                if status != 200:
                    errors.append(status)
                    break
                if monotonic() >= measure_from[0]:
                    latencies.append(dt)
                    if dt >= 0.05:  # when the slow ones happen: periodic (a timer) or in bursts
                        slow.append((round(t0 - measure_from[0], 4), round(dt * 1000, 1)))
                    if len(latencies) >= stop["steps"]:
                        stop["now"] = True
                step = loads(raw)


async def drive(
    make_client,  # noqa: ANN001
    bank,
    clients: int,
    steps: int,
    warmup_s: float,
    max_seconds: float,  # noqa: ANN001
    rate: float,
    server_pid: int,
    stagger_items: int = 0,
):
    stop = {"now": False, "steps": steps}
    latencies: list[float] = []
    slow: list[tuple[float, float]] = []
    errors: list[int] = []
    measure_from = [time.monotonic() + warmup_s]
    interval = clients / rate if rate > 0 else 0.0
    tasks = [
        asyncio.create_task(
            client_loop(i, make_client, bank, stop, latencies, errors, measure_from, interval, slow,
                        stagger_items * interval)
        )
        for i in range(clients)
    ]
    await asyncio.sleep(warmup_s)
    t_start = time.monotonic()
    cpu_start = process_tree_cpu_seconds(server_pid)
    client_cpu_start = time.process_time()
    while not stop["now"] and time.monotonic() - t_start < max_seconds:
        await asyncio.sleep(0.1)
    stop["now"] = True
    elapsed = time.monotonic() - t_start
    cpu = process_tree_cpu_seconds(server_pid) - cpu_start
    client_cpu = time.process_time() - client_cpu_start
    for outcome in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(outcome, BaseException):  # a broken connection counts, it is not hidden
            errors.append(f"{type(outcome).__name__}: {outcome}")
    return np.array(latencies), errors, elapsed, (cpu, client_cpu), sorted(slow)


def process_tree_cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of ``pid`` and its descendants (uvicorn workers), from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(cpu.get(p, 0.0) for p in tree)


def _loop_factory():  # noqa: ANN202
    """uvloop for the load generator when installed (less client CPU on the shared cores)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(home: Path, env: dict, workers: int = 1, status: str = "starting the server ..."):
    """A ``digipath serve`` child process on a free loopback port, ready (``/readyz`` 200) when entered and
    stopped with SIGTERM when left; yields ``(process, port)``. Its output goes to ``home/server.log``."""
    port = _free_port()
    log = open(home / "server.log", "ab")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        with console.status(status):
            deadline = time.monotonic() + 180
            while True:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"server did not start; see {home / 'server.log'}")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.3)
        yield server, port
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--steps", type=int, default=6000, help="answers measured (after warm-up)")
    ap.add_argument("--max-seconds", type=float, default=90.0)
    ap.add_argument("--warmup-seconds", type=float, default=5.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument(
        "--rate",
        type=float,
        default=320.0,
        help="offered answers/s over all clients (paced learners); 0 = back-to-back",
    )
    ap.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load generator HTTP client: raw asyncio HTTP/1.1 keep-alive (lean) or httpx.AsyncClient",
    )
    ap.add_argument(
        "--stagger",
        action="store_true",
        help="each client begins at a random moment within one diagnostic's length (--max-items answers); "
        "default: all begin within one answer interval, so with fixed-length tests their starts and "
        "finishes (the costliest requests) keep coinciding, every max-items answer intervals",
    )
    ap.add_argument("--database-url", default=None, help="default: SQLite under the fresh DIGIPATH_HOME")
    ap.add_argument("--max-items", type=int, default=30)
    ap.add_argument("--items-per-competence", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--home", default=None, help="reuse a home with registered models (default: temp)")
    ap.add_argument("--register-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.register_only:
        register_models(Path(args.home), args.seed, args.items_per_competence)
        return
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="digipath-load-"))
    if not (home / "mlflow.db").exists():
        with console.status("registering the benchmark models ..."):
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "experiments.load_benchmark",
                    "--register-only",
                    "--home",
                    str(home),
                    "--seed",
                    str(args.seed),
                    "--items-per-competence",
                    str(args.items_per_competence),
                ],
                cwd=ROOT,
                check=True,
            )
    env = {
        **os.environ,
        "DIGIPATH_HOME": str(home),
        "DIGIPATH_MAX_ITEMS": str(args.max_items),
        "DIGIPATH_BOOTSTRAP": "false",
    }
    if args.database_url:
        env["DIGIPATH_DATABASE_URL"] = args.database_url
    with serving(home, env, args.workers) as (server, port):
        base = f"http://127.0.0.1:{port}"
        key = _new_key(env)  # a key in this database (the demo key file may belong to another one)
        bank = _bank(args.seed, args.items_per_competence)
        # the generator's own long-lived objects (modules, the bank) out of the cyclic GC: a full pass
        # over them mid-run would stall every client for tens of ms and show up as server latency
        gc.collect()
        gc.freeze()
        client_class = RawClient if args.client == "raw" else HttpxClient

        def make_client():  # noqa: ANN202
            return client_class("127.0.0.1", port, key)

        with console.status(f"{args.clients} clients driving full diagnostics ..."):
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                lat, errors, elapsed, cpu, slow = runner.run(
                    drive(
                        make_client,
                        bank,
                        args.clients,
                        args.steps,
                        args.warmup_seconds,
                        args.max_seconds,
                        args.rate,
                        server.pid,
                        args.max_items if args.stagger else 0,
                    )
                )
        server_side = _server_latency(base) if args.workers == 1 else None
    report(args, lat, errors, elapsed, cpu, home, server_side, slow)
    if not args.home:
        shutil.rmtree(home, ignore_errors=True)


def _new_key(env: dict) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "api.cli", "keys", "create", "--org", "load", "--scope", "diagnostics"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


_ANSWER_ROUTE = 'route="/v1/diagnostics/{session_id}/responses"'


def _server_latency(base: str) -> dict | None:
    """The server's own view of the answer route (its Prometheus histogram, warm-up included): share of
    answers over 50 ms and the bucket holding the 99th percentile. Client minus server is time spent
    before the app sees the request or after it answered (socket, event loop, GIL)."""
    try:
        text = httpx.get(base + "/metrics", timeout=5).text
    except httpx.HTTPError:
        return None
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith("digipath_http_request_duration_seconds_bucket") and _ANSWER_ROUTE in line \
                and 'status="200"' in line:
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[float(le)] = buckets.get(float(le), 0.0) + float(line.rsplit(" ", 1)[1])
    if not buckets:
        return None
    total = buckets[float("inf")]
    p99 = next(le for le in sorted(buckets) if buckets[le] >= 0.99 * total)
    return {"server_answers": int(total), "server_share_over_50ms": round(1 - buckets[0.05] / total, 4),
            "server_p99_bucket_ms": p99 * 1000}


def report(  # noqa: ANN001
    args, lat: np.ndarray, errors: list, elapsed: float, cpu: tuple, home: Path,
    server_side: dict | None = None, slow: list | None = None,
) -> None:
    db = "PostgreSQL" if args.database_url else "SQLite"
    ms = lat * 1000 if lat.size else np.array([np.nan])
    figures = {
        "clients": args.clients,
        "workers": args.workers,
        "database": db,
        "answers": int(lat.size),
        "seconds": round(elapsed, 2),
        "steps_per_second": round(lat.size / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
        "errors": len(errors),
        "error_statuses": {str(k): v for k, v in sorted(Counter(map(str, errors)).items())},
        "client": args.client,
        "target_rate": args.rate,
        "stagger": args.stagger,
        # server CPU per answered step (all workers): capacity ~ 1000 / this per free core
        "server_cpu_ms_per_step": round(1000 * cpu[0] / max(lat.size, 1), 2),
        # the load generator shares the cores: its own CPU per step
        "client_cpu_ms_per_step": round(1000 * cpu[1] / max(lat.size, 1), 2),
        "client_share_over_50ms": round(float((ms >= 50).mean()), 4),
        **(server_side or {}),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
    }
    table = Table(title=f"answer -> next item, {args.clients} clients, {args.workers} worker(s), {db}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for k, v in figures.items():
        table.add_row(k, str(v))
    console.print(table)
    ok = figures["p99_ms"] < 50 and figures["steps_per_second"] >= 300
    console.print(f"target (p99 < 50 ms and >= 300 steps/s): {'met' if ok else 'NOT met'}")
    out = ROOT / "experiments" / "out"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"load_benchmark_{db.lower()}_{args.workers}w_{args.clients}c.json"
    path.write_text(json.dumps(figures, indent=2))
    if slow is not None:  # seconds after the warm-up, ms: look for a period or a burst
        path.with_name(path.stem + "_slow.json").write_text(json.dumps(slow))
    console.print(f"figures written to {path}")


if __name__ == "__main__":
    main()
