"""Cost of erasure and of the retention purge on a populated service database.

    python -m experiments.privacy_costs [--learners 5000] [--erase 20] [--database-url postgresql+psycopg2://...]

A fresh database (SQLite file by default) is filled with one organisation of ``--learners`` learners,
each with 3 finished diagnostics of 25 responses and 10 learning events (bulk Core inserts, no CAT).
Then ``--erase`` learners are erased one by one (``api.privacy.erase_learner``, one transaction each,
as ``DELETE /v1/learners/{id}`` does) and the median/max time is printed; then half of the remaining
learners' data is backdated and ``api.privacy.purge`` runs (as ``digipath purge``), timed, then run a
second time (idempotent: nothing left to do).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, insert, select, update

from api import db as dbmod
from api.auth import get_or_create_org
from api.persistence.tables import (
    AnonymousResponse,
    DiagnosticSession,
    Learner,
    LearningEvent,
    ResponseRecord,
)
from api.privacy import erase_learner, purge

SESSIONS, RESPONSES, EVENTS = 3, 25, 10


def fill(maker, n_learners: int) -> int:
    now = datetime.now(UTC)
    with maker() as db:
        org = get_or_create_org(db, "bench").id
        db.execute(insert(Learner), [{"org_id": org, "external_id": f"p{i}", "role": "r",
                                      "unit": f"u{i % 20}", "created_at": now} for i in range(n_learners)])
        ids = dict(db.execute(select(Learner.external_id, Learner.id)).all())
        sessions, responses, events = [], [], []
        for i in range(n_learners):
            lid = ids[f"p{i}"]
            for s in range(SESSIONS):
                sid = f"s-{i}-{s}"
                sessions.append({"id": sid, "org_id": org, "learner_id": lid, "bank_version": "1",
                                 "language": "en", "role": "r", "areas": ["1"], "seed": 0,
                                 "status": "finished",
                                 "sequence": RESPONSES, "pending_item": None, "state": "{}",
                                 "result": {"areas": {}}, "version": 1, "created_at": now, "updated_at": now,
                                 "finished_at": now})
                responses += [{"org_id": org, "session_id": sid, "learner_id": lid, "sequence": q + 1,
                               "item_id": f"I{(i + q) % 400}", "answer": q % 4, "response": q % 2,
                               "bank_version": "1", "administered_at": now, "reply": {}}
                              for q in range(RESPONSES)]
            events += [{"org_id": org, "learner_id": lid, "event_id": f"e-{i}-{k}", "content_id": f"c{k}",
                        "event": "completed", "value": None, "timestamp": now, "received_at": now}
                       for k in range(EVENTS)]
        for table, rows in ((DiagnosticSession, sessions), (ResponseRecord, responses),
                            (LearningEvent, events)):
            for start in range(0, len(rows), 20_000):
                db.execute(insert(table), rows[start:start + 20_000])
        db.commit()
    return len(responses)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=5000)
    ap.add_argument("--erase", type=int, default=20)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    console = Console(width=120)
    with tempfile.TemporaryDirectory() as home:
        url = args.database_url or f"sqlite:///{Path(home) / 'digipath.db'}"
        if args.database_url:
            from tests.api.helpers import reset_postgres

            reset_postgres(url)
        dbmod.upgrade(url)
        engine = dbmod.make_engine(url)
        maker = dbmod.make_sessionmaker(engine)
        t0 = time.perf_counter()
        n_responses = fill(maker, args.learners)
        fill_s = time.perf_counter() - t0
        times = []
        for i in range(args.erase):
            with maker() as db:
                learner = db.scalar(select(Learner).where(Learner.external_id == f"p{i}"))
                t0 = time.perf_counter()
                erase_learner(db, "bench", learner)
                db.commit()
                times.append((time.perf_counter() - t0) * 1000)
        old = datetime.now(UTC) - timedelta(days=400)
        with maker() as db:
            half = select(Learner.id).where(Learner.id % 2 == 0)
            db.execute(update(DiagnosticSession).where(DiagnosticSession.learner_id.in_(half))
                       .values(updated_at=old, finished_at=old))
            db.execute(update(LearningEvent).where(LearningEvent.learner_id.in_(half)).values(timestamp=old))
            db.execute(update(Learner).where(Learner.id.in_(half)).values(created_at=old))
            db.commit()
        runs = []
        for _ in range(2):
            with maker() as db:
                t0 = time.perf_counter()
                summary = purge(db, 365)
                db.commit()
                runs.append((time.perf_counter() - t0, summary))
        with maker() as db:
            anon = db.scalar(select(func.count()).select_from(AnonymousResponse))
        engine.dispose()
    dialect = url.split(":")[0]
    table = Table(title=f"privacy costs, {dialect}: {args.learners} learners, {args.learners * SESSIONS} "
                        f"sessions, {n_responses} responses, {args.learners * EVENTS} events "
                        f"(filled in {fill_s:.1f} s)")
    for col in ("operation", "time", "what"):
        table.add_column(col)
    table.add_row("erase one learner", f"median {statistics.median(times):.0f} ms, max {max(times):.0f} ms",
                  f"{args.erase} learners, {SESSIONS * RESPONSES} responses anonymised each")
    for k, (seconds, summary) in enumerate(runs):
        table.add_row(f"purge run {k + 1}", f"{seconds:.2f} s",
                      f"deleted {summary['deleted']}, anonymised {summary['anonymised_responses']}")
    table.add_row("anonymous_responses", "", f"{anon} rows")
    console.print(table)


if __name__ == "__main__":
    main()
