"""Where the CPU time of one answer goes: the CAT step, the database transaction, the HTTP stack.

    python -m experiments.answer_profile [--sessions 40] [--items-per-competence 48] [--database-url URL]

Runs full diagnostics in-process on the benchmark's item bank (same as ``experiments.load_benchmark``) and
measures CPU time per answer for

1. the CAT step alone (``CatSession.answer`` + ``next_item``, the final result when a test ends);
2. ``DiagnosticService.answer`` with a real ``Session``: the CAT step plus the transaction (read the
   session row, ``UPDATE ... WHERE version``, append to the response log, commit) on SQLite or PostgreSQL;

and prints the top functions of (2) by cProfile. The HTTP stack (uvicorn, FastAPI routing and dependencies,
the thread-pool hops) is what ``python -m experiments.load_benchmark --clients 1 --rate 0`` measures on top
of (2) as server CPU per answer.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

console = Console()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=40)
    ap.add_argument("--items-per-competence", type=int, default=48)
    ap.add_argument("--max-items", type=int, default=30)
    ap.add_argument("--database-url", default=None, help="default: SQLite in a temporary directory")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from adaptive.cat import CatConfig, CatSession
    from adaptive.synthetic import generate_synthetic_bank
    from api.app import create_app
    from api.auth import create_key
    from api.providers import StaticModelProvider
    from api.settings import Settings
    from tests.api.helpers import SimulatedTaker

    bank = generate_synthetic_bank(items_per_competence=args.items_per_competence, languages=("en",),
                                   seed=args.seed, name="answer profile bank")
    overrides = {"max_items": args.max_items}

    # 1. the CAT step alone
    answers, cpu = 0, 0.0
    for k in range(args.sessions):
        taker = SimulatedTaker(bank, 0.0, seed=k)
        cat = CatSession(bank, CatConfig.from_dict(overrides), seed=k)
        item = cat.next_item()
        while item is not None:
            answer = taker.answer({"id": item})
            start = time.process_time()
            cat.answer(item, answer)
            item = cat.next_item()
            if item is None:
                cat.result()
            cpu += time.process_time() - start
            answers += 1
    cat_ms = 1000 * cpu / answers

    # 2. the service's answer: CAT step + one transaction
    home = Path(tempfile.mkdtemp(prefix="digipath-profile-"))
    if args.database_url and args.database_url.startswith("postgresql"):
        from tests.api.helpers import reset_postgres

        reset_postgres(args.database_url)
    settings = Settings(home=home, database_url=args.database_url)
    app = create_app(settings, StaticModelProvider({"1": bank}, champion="1"), cat_overrides=overrides)
    services = app.state.services
    with services.sessionmaker() as db:
        principal = services.keys.verify(create_key(db, "profile", ["diagnostics"]))
    def run(first: int, profile: cProfile.Profile | None) -> tuple[int, float]:
        answers, cpu = 0, 0.0
        for k in range(first, first + args.sessions):
            taker = SimulatedTaker(bank, 0.0, seed=k)
            with services.sessionmaker() as db:
                reply = services.diagnostics.start(db, principal, f"learner-{k}", None, None, "en")
            while reply["status"] == "in_progress":
                item = reply["item"]
                answer = taker.answer(item)
                start = time.process_time()
                if profile is not None:
                    profile.enable()
                with services.sessionmaker() as db:
                    reply = services.diagnostics.answer(db, principal, reply["session_id"], item["id"],
                                                        answer, item["sequence"]).reply
                if profile is not None:
                    profile.disable()
                cpu += time.process_time() - start
                answers += 1
        return answers, cpu

    answers, cpu = run(0, None)  # timed without the profiler's overhead
    profile = cProfile.Profile()
    run(args.sessions, profile)  # the same number of other sessions, profiled
    service_ms = 1000 * cpu / answers
    services.engine.dispose()

    table = Table(title=f"CPU per answer ({answers} answers, {settings.resolved_database_url.split(':')[0]})")
    table.add_column("part")
    table.add_column("ms", justify="right")
    table.add_row("CAT step (answer + next item + final result)", f"{cat_ms:.3f}")
    table.add_row("service answer (CAT step + transaction)", f"{service_ms:.3f}")
    table.add_row("of which the transaction and its bookkeeping", f"{service_ms - cat_ms:.3f}")
    console.print(table)
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(
        r"diagnostics.py.*\(answer\)|session.py.*\((answer|next_item|result)\)|orm/session.py.*\((execute|commit)\)"
        r"|base.py.*\(execute\)|\{method '(execute|commit)' of 'sqlite3|psycopg2|json/__init__.py.*dumps"
    )
    print("cumulative CPU of the parts, profiled run (cProfile adds overhead to every call):")
    print(out.getvalue().split("\n", 6)[-1])  # skip pstats' header lines
    console.print("HTTP stack on top: python -m experiments.load_benchmark --clients 1 --rate 0 "
                  "(server CPU per answer)")


if __name__ == "__main__":
    main()
