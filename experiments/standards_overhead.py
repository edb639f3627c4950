"""What the 1EdTech CAT door costs over ``/v1/diagnostics`` per item, and what xAPI costs per statement.

    python -m experiments.standards_overhead [--sessions 20] [--database-url URL]

In process (FastAPI TestClient, one thread), on a fresh SQLite file by default: the same synthetic bank,
CAT settings and simulated candidates answer whole diagnostics through ``POST /v1/diagnostics/{id}/responses``
and through the CAT service's ``submitResults`` (posting cumulative results, as TAO does, so the body grows
with the test), once with TAO's own SCORE per item (a section with ``scoring: platform``) and once with the
candidate's RESPONSE scored here (``scoring: server``); reported: median and p90 milliseconds per item for
each door, and per statement for ``POST /xapi/statements`` in batches of 1 and 100.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from adaptive.synthetic import generate_synthetic_bank
from api.app import create_app
from api.auth import create_key
from api.providers import StaticModelProvider
from api.settings import Settings
from tests.api.helpers import SimulatedTaker

CAT = {"max_items": 24, "min_items": 24, "se_target": 0.1, "min_items_per_area": 1, "max_items_per_area": 12}


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    bank = generate_synthetic_bank(items_per_competence=12, languages=("en",), seed=5)
    home = Path(tempfile.mkdtemp(prefix="standards-overhead-"))
    settings = Settings(home=home, database_url=args.database_url, key_cache_seconds=60.0)
    app = create_app(settings, StaticModelProvider({"1": bank}, "1"), cat_overrides=CAT)
    client = TestClient(app)
    with app.state.services.sessionmaker() as db:
        headers = {"Authorization": f"Bearer {create_key(db, 'bench', ['admin'])}"}
    v1 = []
    areas = ["1", "2"]
    for i in range(args.sessions):
        taker = SimulatedTaker(bank, 0.3, i)
        step = client.post("/v1/diagnostics", json={"learner_id": f"v1-{i}", "areas": areas},
                           headers=headers).json()
        while step["status"] == "in_progress":
            item = step["item"]
            body = {"item_id": item["id"], "answer": taker.answer(item), "sequence": item["sequence"]}
            t = time.perf_counter()
            url = f"/v1/diagnostics/{step['session_id']}/responses"
            step = client.post(url, json=body, headers=headers).json()
            v1.append(1000 * (time.perf_counter() - t))
    cat: dict[str, list[float]] = {"platform": [], "server": []}
    for scoring, times in cat.items():
        config = base64.b64encode(json.dumps({"areas": areas, "scoring": scoring}).encode()).decode()
        section = client.post("/ims/cat/v1p0/sections", json={"sectionConfiguration": config},
                              headers=headers).json()["sectionIdentifier"]
        for i in range(args.sessions):
            taker = SimulatedTaker(bank, 0.3, i)
            created = client.post(f"/ims/cat/v1p0/sections/{section}/sessions", json={},
                                  headers=headers).json()
            sid, items, results = created["sessionIdentifier"], created["nextItems"]["itemIdentifiers"], []
            while items:
                option = taker.answer({"id": items[0]})
                if scoring == "platform":  # what TAO sends: its own SCORE only, in its forms
                    score = {"baseType": "FLOAT", "value": float(bank.score(items[0], option))}
                    results.append({"identifier": items[0], "sessionStatus": "FINAL",
                                    "datestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
                                    "outcomeVariables": [{"identifier": "SCORE", "cardinality": 0,
                                                          "value": [score]}]})
                else:  # the candidate's response, scored by digipath
                    results.append({"identifier": items[0], "datestamp": datetime.now(UTC).isoformat(),
                                    "sessionStatus": "final", "responseVariables": [{
                                        "identifier": "RESPONSE", "cardinality": "single",
                                        "candidateResponse": {"value": [{"value": str(option)}]}}]})
                t = time.perf_counter()
                r = client.post(f"/ims/cat/v1p0/sections/{section}/sessions/{sid}/results",
                                json={"assessmentResult": {"itemResult": results}}, headers=headers)
                times.append(1000 * (time.perf_counter() - t))
                assert r.status_code == 201, r.text
                items = r.json()["nextItems"]["itemIdentifiers"]
    xapi = {"X-Experience-API-Version": "1.0.3", **headers}

    def statement(n: int) -> dict:
        actor = {"account": {"homePage": "https://lms.example", "name": f"l-{n}"}}
        return {"id": str(uuid.uuid4()), "actor": actor,
                "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
                "object": {"id": f"https://lms.example/content/c-{n % 50}"}}

    one, batch = [], []
    for n in range(200):
        t = time.perf_counter()
        client.post("/xapi/statements", json=statement(n), headers=xapi)
        one.append(1000 * (time.perf_counter() - t))
    for _ in range(10):
        body = [statement(n) for n in range(100)]
        t = time.perf_counter()
        client.post("/xapi/statements", json=body, headers=xapi)
        batch.append(1000 * (time.perf_counter() - t) / 100)
    db = "PostgreSQL" if args.database_url and args.database_url.startswith("postgresql") else "SQLite"
    print(f"{db}, {args.sessions} sessions x {CAT['max_items']} items, areas {areas}")
    for name, xs in (("/v1 answer, ms/item", v1),
                     ("CAT submitResults, platform's SCORE, ms/item", cat["platform"]),
                     ("CAT submitResults, RESPONSE scored here, ms/item", cat["server"]),
                     ("xAPI 1 statement, ms/statement", one), ("xAPI batch of 100, ms/statement", batch)):
        print(f"{name:50s} median {statistics.median(xs):6.2f}  p90 {_pct(xs, 0.9):6.2f}  (n={len(xs)})")
    client.close()
    app.state.services.engine.dispose()


if __name__ == "__main__":
    main()
