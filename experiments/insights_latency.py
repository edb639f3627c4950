"""Latency of the ``/v1/insights`` endpoints on a seeded organisation (in-process app, SQLite file).

A generated organisation (``adaptive.synthetic_organisation``: learners with role and unit, real batched CAT
diagnostics, retests, learning events) is written into a fresh database; roles are mapped onto a small
trained recommender's role profiles. Each endpoint is called ``--repeat`` times through the ASGI app
(TestClient: no network) and the median and max wall time are printed. Insights recompute from the
database on every call (no cache), so this is the cost an HR dashboard pays per refresh.

    python -m experiments.insights_latency [--learners 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from adaptive.synthetic import generate_synthetic_bank
from adaptive.synthetic_organisation import AREAS, generate_organisation
from api.app import create_app
from api.auth import create_key, get_or_create_org
from api.persistence.tables import DiagnosticSession, Learner, LearningEvent
from api.providers import StaticModelProvider
from api.settings import Settings

ENDPOINTS = [
    ("gaps (competences)", "/v1/insights/gaps", {"table": "competences", "limit": 1000}),
    ("gaps csv (levels)", "/v1/insights/gaps", {"table": "levels", "format": "csv"}),
    ("gap heatmap png (role)", "/v1/insights/gaps/heatmap", {"grouping": "role"}),
    ("pathway progress (units)", "/v1/insights/pathways", {"table": "units"}),
    ("impact (contents)", "/v1/insights/impact", {"table": "contents", "limit": 1000}),
    ("impact csv (changes)", "/v1/insights/impact", {"table": "changes", "format": "csv"}),
]


def seed(app, org, role_map) -> None:
    with app.state.services.sessionmaker() as db:
        o = get_or_create_org(db, "bench")
        rows = {r.learner_id: Learner(org_id=o.id, external_id=r.learner_id, role=role_map[r.role],
                                      unit=r.unit) for r in org.learners.itertuples()}
        db.add_all(rows.values())
        db.flush()
        for d in org.diagnostics:
            t = pd.Timestamp(d["finished_at"]).to_pydatetime()
            db.add(DiagnosticSession(id=str(uuid.uuid4()), org_id=o.id, learner_id=rows[d["learner_id"]].id,
                                     bank_version="1", language="en", role=None, areas=list(AREAS), seed=0,
                                     status="finished", sequence=0, pending_item=None, state="{}",
                                     result=d["profile"], version=1, created_at=t, updated_at=t,
                                     finished_at=t))
        db.add_all(LearningEvent(org_id=o.id, learner_id=rows[e.learner_id].id, event_id=e.event_id,
                                 content_id=e.content_id, event=e.event, value=e.value,
                                 timestamp=pd.Timestamp(e.timestamp).to_pydatetime())
                   for e in org.events.itertuples())
        db.commit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    console = Console(width=120)
    from fastapi.testclient import TestClient

    from recommender.synthetic import generate_world
    from recommender.training import train_bundle

    with console.status("building bank, organisation and recommender"):
        bank = generate_synthetic_bank(items_per_competence=24, languages=("en",), seed=0)
        org = generate_organisation(args.learners, seed=0, bank=bank)
        world = generate_world(n_learners=300, n_content=300, mean_items=8, seed=3)
        bundle, _ = train_bundle(world.catalogue, world.roles, world.events, learners=world.learners,
                                 ranker="hybrid", tune=False, baselines=False, progress=False)
    role_ids = list(bundle.roles.role_ids)
    role_map = {r: role_ids[i % len(role_ids)] for i, r in enumerate(sorted(set(org.learners["role"])))}
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), key_cache_seconds=60.0)
        app = create_app(settings, StaticModelProvider({"1": bank}, "1", recommender=bundle))
        seed(app, org, role_map)
        with app.state.services.sessionmaker() as db:
            headers = {"Authorization": f"Bearer {create_key(db, 'bench', ['insights'])}"}
            # per-learner tables need a supervisor key naming the units (issue 13): all of them here
            units = sorted(set(org.learners["unit"].dropna()))
            supervisor = {"Authorization": f"Bearer {create_key(db, 'bench', ['supervisor'], units=units)}"}
        client = TestClient(app)
        table = Table(title=f"/v1/insights latency, {len(org.learners)} learners, {len(org.diagnostics)} "
                            f"diagnostics, {len(org.events)} events (in-process, SQLite)")
        for col in ("endpoint", "median ms", "max ms", "bytes"):
            table.add_column(col, justify="right" if col != "endpoint" else "left")
        for name, path, params in ENDPOINTS:
            times, size = [], 0
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                per_learner = params.get("table") in ("changes", "learners")
                r = client.get(path, params=params, headers=supervisor if per_learner else headers)
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, r.text
                size = len(r.content)
            table.add_row(name, f"{statistics.median(times):.0f}", f"{max(times):.0f}", str(size))
        client.close()
        app.state.services.engine.dispose()
    console.print(table)


if __name__ == "__main__":
    main()
