"""Load benchmark of the HTTP service: full diagnostics from N concurrent simulated clients.

    python -m experiments.load_benchmark [--clients 32] [--steps 6000] [--max-seconds 90] [--workers 1]
                                         [--database-url postgresql+psycopg2://...] [--max-items 30]

A separate server process (`digipath serve`, uvicorn on loopback) is started on a fresh DIGIPATH_HOME
holding a registered synthetic item bank (48 items per competence, ~1,000 items, the engine's default
CAT settings up to --max-items) and a small recommender. Each client (httpx, asyncio) repeatedly starts
a diagnostic and answers as a simulated test taker (IRT responses from a random true theta) until it
finishes. Bounded by --steps answers and --max-seconds after a warm-up. Prints answers per second and
p50/p95/p99 latency of one answer -> next-item step, as seen by the client. Target on a 2-core machine
with SQLite: p99 < 50 ms at 32 clients and >= 300 steps/s. The load generator shares the machine's
cores with the server, so figures are conservative.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
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
    """A simulated test taker answering with the bank's IRT model (the bank is regenerated locally)."""

    _params: dict = {}  # per-item ItemParameters, shared by all takers (keeps the load generator light)

    def __init__(self, bank, rng: np.random.Generator):  # noqa: ANN001
        self.bank = bank
        self.rng = rng
        self.theta = rng.normal(0, 1)

    def answer(self, item: dict) -> int:
        it = self.bank.item(item["id"])
        params = self._params.get(it.id)
        if params is None:
            params = self._params[it.id] = self.bank.parameters([it.id])
        p = params.category_probabilities(np.array([self.theta]))[0, 0][: it.n_categories]
        score = int(self.rng.choice(len(p), p=p / p.sum()))
        if it.is_polytomous:
            return int(list(it.key).index(score))
        return int(it.key) if score == 1 else int((it.key + 1) % it.n_options)


async def client_loop(
    idx: int,
    base: str,
    key: str,
    bank,
    stop: dict,
    latencies: list,
    errors: list,  # noqa: ANN001
    measure_from: list,
    interval: float,
) -> None:
    rng = np.random.default_rng(1000 + idx)
    next_at = time.monotonic() + rng.uniform(0, interval)  # spread the clients' phases
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30, limits=limits) as client:
        while not stop["now"]:
            r = await client.post(
                "/v1/diagnostics", json={"learner_id": f"load-{idx}-{int(rng.integers(1e9))}"}
            )
            if r.status_code != 201:
                errors.append(r.status_code)
                await asyncio.sleep(0.05)
                continue
            step, taker = r.json(), Taker(bank, rng)
            while step["status"] == "in_progress" and not stop["now"]:
                item = step["item"]
                body = {"item_id": item["id"], "answer": taker.answer(item), "sequence": item["sequence"]}
                if interval > 0:  # paced client: a learner answers at a given rate, not back-to-back
                    delay = next_at - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    next_at = max(next_at + interval, time.monotonic() - interval)
                t0 = time.perf_counter()
                r = await client.post(f"/v1/diagnostics/{step['session_id']}/responses", json=body)
                dt = time.perf_counter() - t0
                if r.status_code != 200:
                    errors.append(r.status_code)
                    break
                if time.monotonic() >= measure_from[0]:
                    latencies.append(dt)
                    if len(latencies) >= stop["steps"]:
                        stop["now"] = True
                step = r.json()


async def drive(
    base: str,
    key: str,
    bank,
    clients: int,
    steps: int,
    warmup_s: float,
    max_seconds: float,  # noqa: ANN001
    rate: float,
    server_pid: int,
):
    stop = {"now": False, "steps": steps}
    latencies: list[float] = []
    errors: list[int] = []
    measure_from = [time.monotonic() + warmup_s]
    interval = clients / rate if rate > 0 else 0.0
    tasks = [
        asyncio.create_task(client_loop(i, base, key, bank, stop, latencies, errors, measure_from, interval))
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
    await asyncio.gather(*tasks, return_exceptions=True)
    return np.array(latencies), errors, elapsed, (cpu, client_cpu)


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    port = _free_port()
    env = {
        **os.environ,
        "DIGIPATH_HOME": str(home),
        "DIGIPATH_MAX_ITEMS": str(args.max_items),
        "DIGIPATH_BOOTSTRAP": "false",
    }
    if args.database_url:
        env["DIGIPATH_DATABASE_URL"] = args.database_url
    log = open(home / "server.log", "ab")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", str(args.workers)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with console.status("starting the server ..."):
            deadline = time.monotonic() + 180
            while True:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"server did not start; see {home / 'server.log'}")
                try:
                    if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.3)
        key = _new_key(env)  # a key in this database (the demo key file may belong to another one)
        bank = _bank(args.seed, args.items_per_competence)
        with console.status(f"{args.clients} clients driving full diagnostics ..."):
            lat, errors, elapsed, cpu = asyncio.run(
                drive(
                    base,
                    key,
                    bank,
                    args.clients,
                    args.steps,
                    args.warmup_seconds,
                    args.max_seconds,
                    args.rate,
                    server.pid,
                )
            )
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    report(args, lat, errors, elapsed, cpu, home)
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


def report(args, lat: np.ndarray, errors: list, elapsed: float, cpu: tuple, home: Path) -> None:  # noqa: ANN001
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
        "target_rate": args.rate,
        # server CPU per answered step (all workers): capacity ~ 1000 / this per free core
        "server_cpu_ms_per_step": round(1000 * cpu[0] / max(lat.size, 1), 2),
        # the load generator shares the cores: its own CPU per step
        "client_cpu_ms_per_step": round(1000 * cpu[1] / max(lat.size, 1), 2),
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
    console.print(f"figures written to {path}")


if __name__ == "__main__":
    main()
