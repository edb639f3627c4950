"""Health, readiness, metrics, the response-log export (calibration input), concurrency, migrations."""

from __future__ import annotations

import csv
import io
import threading

import pytest
from sqlalchemy import func, inspect, select, text

from adaptive.errors import RegistryUnavailableError
from api.auth import Principal
from api.db import alembic_config, make_engine, upgrade
from api.persistence.tables import ResponseRecord
from api.problems import ProblemError
from api.providers import StaticModelProvider
from tests.api.conftest import make_api
from tests.api.helpers import SimulatedTaker, run_diagnostic


def test_health_readiness_and_metrics(api, bank_v1):
    assert api.client.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}  # details need admin/operator
    ready = api.client.get("/readyz", headers=api.a)
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["models"] == "ok"
    run_diagnostic(api.client, api.a, bank_v1, 0.0, areas=["2"])
    metrics = api.client.get("/metrics").text
    assert "digipath_diagnostics_started_total 1.0" in metrics
    assert "digipath_diagnostics_finished_total 1.0" in metrics
    assert 'digipath_served_model{name="digcomp-item-bank",version="1"} 1.0' in metrics
    assert 'route="/v1/diagnostics/{session_id}/responses"' in metrics
    assert "digipath_http_request_duration_seconds_bucket" in metrics


class _BrokenProvider(StaticModelProvider):
    def _load_champion_bank(self):
        raise RegistryUnavailableError("registry at http://mlflow:5000 unreachable")


def test_not_ready_without_models_and_a_failed_reload_keeps_serving(settings, bank_v1, bundle):
    broken = make_api(settings, _BrokenProvider({"1": bank_v1}, "1", recommender=bundle))
    r = broken.client.get("/readyz", headers=broken.a)
    assert r.status_code == 503 and "unreachable" in r.json()["checks"]["models"]
    r = broken.client.post("/v1/diagnostics", json={"learner_id": "u1"}, headers=broken.a)
    assert r.status_code == 404 and r.json()["type"].endswith("/model-not-found")
    broken.app.state.services.engine.dispose()
    # a provider that loaded once and then fails on reload: 503 problem, old champion still served
    api = make_api(settings, StaticModelProvider({"1": bank_v1}, "1", recommender=bundle))
    api.provider.__class__ = _BrokenProvider
    r = api.client.post("/v1/admin/models/reload", headers=api.key("academy", "operator"))
    assert r.status_code == 503 and r.json()["type"].endswith("/registry-unavailable")
    assert api.client.post("/v1/diagnostics", json={"learner_id": "u1"}, headers=api.a).status_code == 201
    api.app.state.services.engine.dispose()


def test_export_is_calibration_input_including_pilot_items(settings, bank_v1, bundle):
    api = make_api(
        settings,
        StaticModelProvider({"1": bank_v1}, "1", recommender=bundle),
        cat={"max_items": 8, "min_items": 8, "n_pilot": 2, "se_target": 0.1},
    )
    finals = [
        run_diagnostic(api.client, api.a, bank_v1, t, seed=i, learner=f"p{i}")[2]
        for i, t in enumerate((-1.0, 0.0, 1.0))
    ]
    sessions = [f["session_id"] for f in finals]
    r = api.client.get("/v1/admin/responses/export", headers=api.a)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == ["person_id", "item_id", "response", "session_id", "administered_at", "answer"]
    # every answer of every session, operational and pilot (8 operational + up to 2 pilot each)
    assert len(rows) == sum(f["answered"] for f in finals) > 3 * 8
    assert {row["session_id"] for row in rows} == set(sessions)
    statuses = {bank_v1.item(row["item_id"]).status for row in rows}
    assert statuses == {"active", "pilot"}
    # responses are the server's scores: within each item's category range
    for row in rows:
        assert 0 <= int(row["response"]) < bank_v1.item(row["item_id"]).n_categories
    # and the calibration reader accepts the file as is
    calibration = pytest.importorskip("adaptive.calibration")
    path = settings.home / "export.csv"
    path.write_text(r.text)
    data = calibration.ResponseData.from_long_csv(path)
    assert data is not None
    api.app.state.services.engine.dispose()


def test_concurrent_answers_exactly_one_applied(api, bank_v1):
    start = api.client.post("/v1/diagnostics", json={"learner_id": "u1"}, headers=api.a).json()
    sid, item = start["session_id"], start["item"]
    services = api.app.state.services
    principal = Principal(
        org_id=services.keys.verify(api.a["Authorization"].split()[1]).org_id,
        org_slug="org-a",
        key_id="k",
        scopes=frozenset({"admin"}),
    )
    n = 8
    barrier = threading.Barrier(n)
    outcomes: list[object] = [None] * n

    def worker(i: int) -> None:
        answer = i % len(item["options"])  # different answers: only one may win
        barrier.wait()
        with services.sessionmaker() as db:
            try:
                outcomes[i] = services.diagnostics.answer(db, principal, sid, item["id"], answer, 1)
            except ProblemError as exc:
                outcomes[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    applied = [o for o in outcomes if not isinstance(o, ProblemError) and o.applied]
    assert len(applied) == 1
    others = [o for o in outcomes if o not in applied]
    # losers either replayed an identical answer or got a 409
    assert all(
        (isinstance(o, ProblemError) and o.status == 409) or (not o.applied and o.reply == applied[0].reply)
        for o in others
    )
    with services.sessionmaker() as db:
        assert (
            db.scalar(
                select(func.count()).select_from(ResponseRecord).where(ResponseRecord.session_id == sid)
            )
            == 1
        )
    status = api.client.get(f"/v1/diagnostics/{sid}", headers=api.a).json()
    assert status["answered"] == 1 and status["item"]["sequence"] == 2


def test_concurrent_identical_retries_all_get_the_one_reply(api, bank_v1):
    start = api.client.post("/v1/diagnostics", json={"learner_id": "u1"}, headers=api.a).json()
    sid, item = start["session_id"], start["item"]
    body = {"item_id": item["id"], "answer": SimulatedTaker(bank_v1, 0.0).answer(item), "sequence": 1}
    n = 6
    barrier = threading.Barrier(n)
    replies: list = [None] * n

    def worker(i: int) -> None:
        barrier.wait()
        replies[i] = api.client.post(f"/v1/diagnostics/{sid}/responses", json=body, headers=api.a)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = [r.json() for r in replies if r.status_code == 200]
    assert all(r.status_code in (200, 409) for r in replies) and ok
    assert all(o == ok[0] for o in ok)
    with api.app.state.services.sessionmaker() as db:
        assert (
            db.scalar(
                select(func.count()).select_from(ResponseRecord).where(ResponseRecord.session_id == sid)
            )
            == 1
        )


def test_migrations_up_down_up(database_url):
    from alembic import command

    upgrade(database_url)
    engine = make_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    assert {
        "organisations",
        "api_keys",
        "learners",
        "diagnostic_sessions",
        "responses",
        "learning_events",
        "alembic_version",
    } <= tables
    command.downgrade(alembic_config(database_url), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(database_url)
    assert "responses" in inspect(engine).get_table_names()
    if database_url.startswith("sqlite"):
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000
    engine.dispose()


def test_reloads_do_not_fail_requests_in_flight(api, bank_v1, bank_v2):
    # Learners keep answering on several threads while the champion flips between versions 1 and 2.
    stop = threading.Event()
    failures: list[str] = []
    finished: list[dict] = []

    def learner(i: int) -> None:
        banks = {"1": bank_v1, "2": bank_v2}
        while not stop.is_set():
            r = api.client.post(
                "/v1/diagnostics", json={"learner_id": f"l{i}", "areas": ["1"]}, headers=api.a
            )
            if r.status_code != 201:
                failures.append(r.text)
                return
            step = r.json()
            taker = SimulatedTaker(banks[step["bank_version"]], 0.0, seed=i)
            while step["status"] == "in_progress":
                item = step["item"]
                r = api.client.post(
                    f"/v1/diagnostics/{step['session_id']}/responses",
                    json={"item_id": item["id"], "answer": taker.answer(item), "sequence": item["sequence"]},
                    headers=api.a,
                )
                if r.status_code != 200:
                    failures.append(r.text)
                    return
                step = r.json()
            finished.append(step)

    threads = [threading.Thread(target=learner, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    operator = api.key("academy", "operator")
    for k in range(6):
        api.provider.set_champion("2" if k % 2 == 0 else "1")
        assert api.client.post("/v1/admin/models/reload", headers=operator).status_code == 200
    stop.set()
    for t in threads:
        t.join()
    assert not failures, failures[:3]
    assert finished and all(f["status"] == "finished" for f in finished)


def test_migrations_create_exactly_the_declared_tables(database_url):
    """Alembic's head matches ``api.persistence.tables``: a table or column added without a migration
    (or a migration without the model) fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from api.persistence.tables import Base

    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
