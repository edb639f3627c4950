"""Data-subject rights over HTTP on SQLite and PostgreSQL: erasure leaves nothing behind in any table or
export, the subject access export, retention (`digipath purge`), and the audit log with its export."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import typer
from sqlalchemy import select, text, update
from typer.testing import CliRunner

from api import cli_privacy
from api.auth import create_key
from api.persistence.tables import (
    AnonymousResponse,
    AuditEntry,
    Base,
    DiagnosticSession,
    Learner,
    LearningEvent,
    LearningPlan,
    ResponseRecord,
)
from tests.api.helpers import SimulatedTaker, run_diagnostic

VICTIM = "erase-me-7f3a"
KEEP = "keep-me-19c2"

# Every table is one or the other: a new table fails the erasure test until it is classified here.
HOLDS_NO_LEARNER_DATA = {
    "cat_sections": "CAT-service sections: an item-bank version and CAT settings, no candidate",
    "organisations": "the organisations (platform tenants), not people",
    "api_keys": "keys of platforms and staff tools; units are unit names, not people",
    "anonymous_responses": "the anonymised calibration log: random person ids, no link kept",
    "service_signals": "counters that tell every worker to reload the served models",
    "role_profiles": "an organisation's role profiles (required levels per role), made by API keys",
    "catalogue_items": "an organisation's learning content; changed_by is an API key id, not a person",
    "catalogue_item_versions": "every version of the learning content (the catalogue's history)",
    "catalogue_versions": "where each organisation's catalogue stands (a counter and a cache token)",
}
HOLDS_LEARNER_DATA = {"learners", "diagnostic_sessions", "responses", "learning_events", "audit_log",
                      "result_reviews", "cat_section_sessions", "xapi_statements", "learner_objectives",
                      "learning_plans",
                      "plan_revisions"}


def _events(api, learner: str, n: int, tag: str) -> None:
    when = datetime.now(UTC).isoformat()
    r = api.client.post("/v1/learning-events", headers=api.a, json={"events": [
        {"event_id": f"{tag}-{i}", "learner_id": learner, "content_id": f"c{i}", "event": "completed",
         "timestamp": when} for i in range(n)]})
    assert r.status_code == 200, r.text


def _learner_with_everything(api, bank, learner: str, seed: int) -> dict:
    """Two finished diagnostics, one in progress, events, an accepted plan a supervisor adjusted; returns
    what was stored about them."""
    r = api.client.post("/v1/diagnostics", headers=api.a,
                        json={"learner_id": learner, "unit": "tax-office", "role": "it-specialist"})
    assert r.status_code == 201, r.text
    running = r.json()
    item = running["item"]
    r = api.client.post(f"/v1/diagnostics/{running['session_id']}/responses", headers=api.a, json={
        "item_id": item["id"], "answer": SimulatedTaker(bank, 0.0, seed).answer(item),
        "sequence": item["sequence"]})
    assert r.status_code == 200, r.text
    running = r.json()
    finished = [run_diagnostic(api.client, api.a, bank, 0.3, seed=seed + k, learner=learner)[0]
                for k in range(2)]
    _events(api, learner, 3, f"ev-{learner}")
    # a contested result: oversight records about the learner's results are theirs too
    r = api.client.post(f"/v1/diagnostics/{finished[0]}/contest", headers=api.a,
                        json={"reason": f"{learner} disagrees with the level"})
    assert r.status_code in (200, 201), r.text
    # a plan (issue 18): accepted by the platform, adjusted by the unit's supervisor
    r = api.client.post(f"/v1/learners/{learner}/plan", headers=api.a, json={})
    assert r.status_code == 201, r.text
    with api.app.state.services.sessionmaker() as db:
        sup = {"Authorization": f"Bearer {create_key(db, 'org-a', ['supervisor'], units=['tax-office'])}"}
    r = api.client.post(f"/v1/learners/{learner}/plan/adjustments", headers=sup, json={
        "expected_revision": 1, "reason": f"{learner} starts with this",
        "changes": [{"op": "add", "content_id": "C00001", "deadline": "2027-01-31"}]})
    assert r.status_code == 200, r.text
    with api.app.state.services.sessionmaker() as db:
        lid = db.scalar(select(Learner.id).where(Learner.external_id == learner))
        n_resp = db.query(ResponseRecord).filter(ResponseRecord.learner_id == lid).count()
    return {"id": lid, "sessions": [running["session_id"], *finished], "responses": n_resp,
            "running": running}


def _all_rows(db, table) -> list[str]:
    return [json.dumps([str(v) for v in row], default=str) for row in db.execute(select(table)).all()]


def test_an_erased_learner_leaves_nothing_in_any_table_or_export(api, bank_v1):
    assert set(Base.metadata.tables) == set(HOLDS_NO_LEARNER_DATA) | HOLDS_LEARNER_DATA, \
        "classify the new table: does it hold learner data?"
    victim = _learner_with_everything(api, bank_v1, VICTIM, 1)
    keep = _learner_with_everything(api, bank_v1, KEEP, 5)
    assert victim["responses"] >= 5
    assert api.client.get(f"/v1/learners/{VICTIM}/export", headers=api.a).status_code == 200   # audited
    with api.app.state.services.sessionmaker() as db:
        sup = {"Authorization": f"Bearer {create_key(db, 'org-a', ['supervisor'], units=['tax-office'])}"}
    # another organisation cannot erase org-a's learner; a key without admin cannot either
    assert api.client.delete(f"/v1/learners/{VICTIM}", headers=api.b).status_code == 404
    assert api.client.delete(f"/v1/learners/{VICTIM}", headers=api.a_diag).status_code == 403

    cache = api.app.state.services.diagnostics.cache
    cache.put(victim["sessions"][0], 0, object())    # a live copy of the running session in this worker
    r = api.client.delete(f"/v1/learners/{VICTIM}", headers=api.a)
    assert r.status_code == 200, r.text
    assert cache.take(victim["sessions"][0], 0) is None
    receipt = r.json()
    assert receipt["deleted"] == {"diagnostic_sessions": 3, "learners": 1, "learning_events": 3,
                                   "result_reviews": 1, "learning_plans": 1, "plan_revisions": 2}
    # one random person per sitting (three diagnostics), no link between them or to the learner
    assert receipt["anonymised_responses"] == victim["responses"] and receipt["anonymous_persons"] == 3
    assert VICTIM not in r.text

    secrets_ = [VICTIM, *victim["sessions"]]
    with api.app.state.services.sessionmaker() as db:
        for name, table in Base.metadata.tables.items():
            rows = _all_rows(db, table)
            leaks = [row for row in rows if any(s in row for s in secrets_)]
            assert not leaks, (name, leaks[:2])
            for column in table.columns:   # no row points at the erased learner's id
                for fk in column.foreign_keys:
                    if fk.column.table.name == "learners":
                        assert db.scalar(select(column).where(column == victim["id"])) is None, name
            if name in HOLDS_NO_LEARNER_DATA and name != "anonymous_responses":
                assert not any(fk.column.table.name in ("learners", "diagnostic_sessions")
                               for fk in table.foreign_keys), name
        anon = db.execute(select(AnonymousResponse)).scalars().all()
        persons = {a.person_id for a in anon}
        assert len(anon) == victim["responses"] and len(persons) == 3
        assert all(a.administered_month.day == 1 and a.administered_month.hour == 0 for a in anon)
        for name, table in Base.metadata.tables.items():   # the random ids are kept nowhere else
            if name != "anonymous_responses":
                assert not any(p in row for row in _all_rows(db, table) for p in persons), name
        # the other learner is untouched
        assert db.query(DiagnosticSession).filter(DiagnosticSession.learner_id == keep["id"]).count() == 3
        assert db.query(ResponseRecord).filter(ResponseRecord.learner_id == keep["id"]).count() \
            == keep["responses"]
        assert db.query(LearningEvent).filter(LearningEvent.learner_id == keep["id"]).count() == 3
        erasure = db.scalars(select(AuditEntry).where(AuditEntry.action == "learner.erase")).one()
        assert erasure.target == f"erased:{receipt['erasure_id']}"
        renamed = db.scalars(select(AuditEntry).where(AuditEntry.action == "learner.export")).one()
        assert renamed.target == f"erased:{receipt['erasure_id']}"

    # the exports: the responses CSV keeps the calibration rows, anonymised; events and insights hold nothing
    resp = api.client.get("/v1/admin/responses/export", headers=api.a)
    assert resp.status_code == 200
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert not any(s in resp.text for s in secrets_)
    anon_rows = [x for x in rows if x["person_id"] in persons]
    assert len(anon_rows) == victim["responses"] and all(x["session_id"] == "" for x in anon_rows)
    assert all(x["administered_at"].startswith(f"{x['administered_at'][:7]}-01T00:00:00") for x in anon_rows)
    assert len([x for x in rows if x["person_id"] == KEEP]) == keep["responses"]
    from adaptive.calibration import ResponseData  # the anonymised rows are calibration input as they are

    path = api.settings.home / "responses.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(anon_rows)
    data = ResponseData.from_long_csv(path)
    assert set(map(str, data.person_ids)) == persons and len(data.scores) == victim["responses"]
    events = api.client.get("/v1/admin/events/export", headers=api.a)
    assert events.status_code == 200 and VICTIM not in events.text and KEEP in events.text
    audit = api.client.get("/v1/admin/audit", headers=api.a, params={"format": "csv"})
    assert audit.status_code == 200 and VICTIM not in audit.text and "learner.erase" in audit.text
    for table in ("learners",):
        body = api.client.get("/v1/insights/pathways", params={"table": table, "format": "csv"}, headers=sup)
        assert body.status_code == 200 and VICTIM not in body.text and KEEP in body.text
    # the learner is unknown everywhere now; the running diagnostic is gone (its next answer: 404)
    assert api.client.get(f"/v1/learners/{VICTIM}/export", headers=api.a).status_code == 404
    assert api.client.delete(f"/v1/learners/{VICTIM}", headers=api.a).status_code == 404
    assert api.client.get(f"/v1/learners/{VICTIM}/recommendations", headers=api.a).status_code == 404
    item = victim["running"]["item"]
    r = api.client.post(f"/v1/diagnostics/{victim['sessions'][0]}/responses", headers=api.a,
                        json={"item_id": item["id"], "answer": 0, "sequence": item["sequence"]})
    assert r.status_code == 404, r.text
    with api.app.state.services.sessionmaker() as db:
        assert not any(VICTIM in row for row in _all_rows(db, Base.metadata.tables["responses"]))


def test_the_subject_access_export_holds_everything_but_the_answer_key(api, bank_v1):
    who = _learner_with_everything(api, bank_v1, "subject-1", 3)
    r = api.client.get("/v1/learners/subject-1/export", headers=api.a)
    assert r.status_code == 200, r.text
    body = r.json()
    tables = body["tables"]
    assert set(tables) == {"learners", "diagnostic_sessions", "responses", "learning_events",
                           "result_reviews", "cat_section_sessions", "xapi_statements", "learner_objectives",
                           "learning_plans",
                           "plan_revisions"}
    # the plan and its history with who changed it (the supervisor's note names the learner here)
    assert [(x["revision"], x["kind"], x["author_scope"]) for x in tables["plan_revisions"]] == [
        (1, "accepted", "recommendations"), (2, "adjusted", "supervisor")]
    assert tables["learning_plans"][0]["revision"] == 2 and tables["learning_plans"][0]["steps"]
    assert [x["kind"] for x in tables["result_reviews"]] == ["contest"]
    assert [x["external_id"] for x in tables["learners"]] == ["subject-1"]
    assert tables["learners"][0]["unit"] == "tax-office"
    assert sorted(s["id"] for s in tables["diagnostic_sessions"]) == sorted(who["sessions"])
    finished = [s for s in tables["diagnostic_sessions"] if s["status"] == "finished"]
    assert len(finished) == 2 and all(s["result"]["areas"] for s in finished)
    assert len(tables["responses"]) == who["responses"] and len(tables["learning_events"]) == 3
    # the scored responses and the CAT state would give item keys away: withheld, and said so
    assert all("response" not in x and "reply" not in x for x in tables["responses"])
    assert all("answer" in x and "item_id" in x for x in tables["responses"])
    assert all("state" not in s and "seed" not in s for s in tables["diagnostic_sessions"])
    assert "responses.response" in body["withheld"] and "diagnostic_sessions.state" in body["withheld"]
    # an earlier export is in the audit part of the next one
    again = api.client.get("/v1/learners/subject-1/export", headers=api.a).json()
    assert [a["action"] for a in again["audit"]] == ["result.contest", "plan.accept", "plan.adjust",
                                                     "learner.export"]
    # another organisation, a non-admin key, a bad id
    assert api.client.get("/v1/learners/subject-1/export", headers=api.b).status_code == 404
    assert api.client.get("/v1/learners/subject-1/export", headers=api.a_diag).status_code == 403
    r = api.client.get("/v1/learners/bad%20id!/export", headers=api.a)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")


def _purge_app() -> typer.Typer:
    app = typer.Typer()
    cli_privacy.register(app)
    app.command("noop")(lambda: None)   # a group of two commands, so `purge` is a subcommand
    return app


def test_purge_removes_what_is_older_than_the_retention_and_is_idempotent(api, bank_v1, monkeypatch):
    old = _learner_with_everything(api, bank_v1, "old-timer", 7)
    new = _learner_with_everything(api, bank_v1, "newcomer", 9)
    long_ago = datetime.now(UTC) - timedelta(days=400)
    assert api.client.get("/v1/learners/old-timer/export", headers=api.a).status_code == 200   # audited
    with api.app.state.services.sessionmaker() as db:   # backdate one learner's data
        db.execute(update(DiagnosticSession).where(DiagnosticSession.learner_id == old["id"])
                   .values(updated_at=long_ago, finished_at=long_ago, created_at=long_ago))
        db.execute(update(DiagnosticSession).where(DiagnosticSession.learner_id == old["id"],
                                                   DiagnosticSession.status != "finished")
                   .values(finished_at=None))
        db.execute(update(LearningEvent).where(LearningEvent.learner_id == old["id"])
                   .values(timestamp=long_ago))
        db.execute(update(Learner).where(Learner.id == old["id"]).values(created_at=long_ago))
        db.execute(update(LearningPlan).where(LearningPlan.learner_id == old["id"])
                   .values(updated_at=long_ago, created_at=long_ago))
        db.commit()
    monkeypatch.setenv("DIGIPATH_HOME", str(api.settings.home))
    monkeypatch.setenv("DIGIPATH_DATABASE_URL", api.settings.resolved_database_url)
    monkeypatch.delenv("DIGIPATH_RETENTION_DAYS", raising=False)
    runner = CliRunner()
    r = runner.invoke(_purge_app(), ["purge"])
    assert r.exit_code == 1 and "DIGIPATH_RETENTION_DAYS" in r.output and "Traceback" not in r.output
    monkeypatch.setenv("DIGIPATH_RETENTION_DAYS", "365")
    r = runner.invoke(_purge_app(), ["purge", "--dry-run"])
    assert r.exit_code == 0, r.output
    dry = json.loads(r.stdout.strip().splitlines()[-1])
    assert dry["dry_run"] and dry["anonymised_responses"] == old["responses"]
    r = runner.invoke(_purge_app(), ["purge"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["deleted"] == {"diagnostic_sessions": 3, "learners": 1, "learning_events": 3,
                                   "result_reviews": 1, "learning_plans": 1, "plan_revisions": 2}
    assert summary["anonymised_responses"] == old["responses"]
    with api.app.state.services.sessionmaker() as db:
        assert db.scalar(select(Learner).where(Learner.external_id == "old-timer")) is None
        assert db.query(ResponseRecord).filter(ResponseRecord.learner_id == old["id"]).count() == 0
        assert db.query(AnonymousResponse).count() == old["responses"]
        assert db.query(DiagnosticSession).filter(DiagnosticSession.learner_id == new["id"]).count() == 3
        assert db.query(ResponseRecord).filter(ResponseRecord.learner_id == new["id"]).count() \
            == new["responses"]
        assert db.query(LearningPlan).filter(LearningPlan.learner_id == new["id"]).count() == 1
        purged = db.scalars(select(AuditEntry).where(AuditEntry.action == "retention.purge")).one()
        export = db.scalars(select(AuditEntry).where(AuditEntry.action == "learner.export")).one()
        assert export.target == purged.target and purged.target.startswith("purge:")
        assert not any("old-timer" in row for t in Base.metadata.sorted_tables for row in _all_rows(db, t))
    seen = api.client.get("/v1/admin/audit", headers=api.a, params={"action": "retention.purge"}).json()
    assert seen["total"] == 1 and seen["items"][0]["detail"]["anonymised_responses"] == old["responses"]
    # a second run (cron) finds nothing more to do
    r = runner.invoke(_purge_app(), ["purge"])
    assert r.exit_code == 0, r.output
    again = json.loads(r.stdout.strip().splitlines()[-1])
    assert again["deleted"] == {} and again["anonymised_responses"] == 0
    with api.app.state.services.sessionmaker() as db:
        assert db.query(AnonymousResponse).count() == old["responses"]
    monkeypatch.setenv("DIGIPATH_RETENTION_DAYS", "zero")
    r = runner.invoke(_purge_app(), ["purge"])
    assert r.exit_code == 1 and "Traceback" not in r.output and len(r.output.strip().splitlines()) <= 2


def test_human_facing_reads_are_audit_logged_and_the_log_exports(api, bank_v1):
    run_diagnostic(api.client, api.a, bank_v1, 0.0, seed=2, learner="reader-1")
    _events(api, "reader-1", 2, "ev")
    t0 = datetime.now(UTC) - timedelta(seconds=1)
    reads = [("GET", "/v1/admin/responses/export", "responses.export", None),
             ("GET", "/v1/admin/events/export", "events.export", None),
             ("GET", "/v1/learners/reader-1/export", "learner.export", "learner:reader-1")]
    for method, path, _, _ in reads:
        assert api.client.request(method, path, headers=api.a).status_code == 200
    # reads through machine-facing scopes and refused reads are not in the log
    assert api.client.get("/v1/admin/responses/export", headers=api.a_diag).status_code == 403
    page = api.client.get("/v1/admin/audit", headers=api.a, params={"since": t0.isoformat()})
    assert page.status_code == 200, page.text
    items = page.json()["items"]
    assert [(i["action"], i["target"]) for i in items] == [(a, t) for _, _, a, t in reads]
    key_id = api.a["Authorization"].split("_")[1]
    assert all(i["key_id"] == key_id for i in items)
    # the export of the log is logged too (seen by the next export), and its filters work
    later = api.client.get("/v1/admin/audit", headers=api.a, params={"since": t0.isoformat(),
                                                                     "action": "audit.export"}).json()
    assert later["total"] == 1 and later["items"][0]["detail"]["since"] == t0.isoformat()
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert api.client.get("/v1/admin/audit", headers=api.a, params={"since": future}).json()["total"] == 0
    until = api.client.get("/v1/admin/audit", headers=api.a, params={"until": t0.isoformat()}).json()
    assert until["total"] == 0
    r = api.client.get("/v1/admin/audit", headers=api.a, params={"format": "csv", "since": t0.isoformat()})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == ["at", "key_id", "action", "target", "detail"]
    assert [x["action"] for x in rows][:3] == [a for _, _, a, _ in reads]
    # org-b sees none of org-a's log; bad filters are a 422 problem; non-admin keys are refused
    assert api.client.get("/v1/admin/audit", headers=api.b).json()["total"] == 0
    for params in ({"since": "yesterday"}, {"since": future, "until": t0.isoformat()}, {"action": "DROP;"},
                   {"since": "0001-01-01T00:00:00+05:00"}, {"until": "9999-12-31T23:59:59-05:00"}):
        r = api.client.get("/v1/admin/audit", headers=api.a, params=params)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert api.client.get("/v1/admin/audit", headers=api.a_diag).status_code == 403


@pytest.mark.parametrize("scopes", [["insights"], ["supervisor"]])
def test_units_column_round_trips_through_the_database(api, scopes):
    units = ["tax-office"] if "supervisor" in scopes else None
    with api.app.state.services.sessionmaker() as db:
        token = create_key(db, "org-a", scopes, units=units)
        key_id = token.split("_")[1]
        stored = db.execute(text("SELECT units FROM api_keys WHERE key_id = :k"), {"k": key_id}).scalar()
    assert (json.loads(stored) if isinstance(stored, str) else stored) == units


def test_two_purges_at_once_remove_each_row_once(api, bank_v1):
    """Cron may start a purge while the last one still runs: every response is anonymised exactly once."""
    import threading

    from api.privacy import purge

    old = _learner_with_everything(api, bank_v1, "twice", 11)
    long_ago = datetime.now(UTC) - timedelta(days=90)
    with api.app.state.services.sessionmaker() as db:
        db.execute(update(DiagnosticSession).values(updated_at=long_ago, finished_at=long_ago))
        db.commit()
    barrier, results, errors = threading.Barrier(2), [], []

    def run() -> None:
        try:
            with api.app.state.services.sessionmaker() as db:
                barrier.wait()
                results.append(purge(db, 30))
                db.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(r["anonymised_responses"] for r in results) == [0, old["responses"]]
    with api.app.state.services.sessionmaker() as db:
        assert db.query(AnonymousResponse).count() == old["responses"]
        assert db.query(ResponseRecord).count() == 0 and db.query(DiagnosticSession).count() == 0


def test_the_privacy_migration_downgrades_and_upgrades(tmp_path):
    from alembic import command
    from sqlalchemy import create_engine, inspect

    from api import db

    url = f"sqlite:///{tmp_path / 'm.db'}"
    db.upgrade(url)
    engine = create_engine(url)
    assert "anonymous_responses" in inspect(engine).get_table_names()
    command.downgrade(db.alembic_config(url), "0003")
    assert "anonymous_responses" not in inspect(engine).get_table_names()
    assert "units" not in {c["name"] for c in inspect(engine).get_columns("api_keys")}
    db.upgrade(url)
    assert "units" in {c["name"] for c in inspect(engine).get_columns("api_keys")}
    engine.dispose()


def test_digipath_has_the_purge_command():
    from api.cli import app

    r = CliRunner().invoke(app, ["purge", "--help"])
    assert r.exit_code == 0 and "--dry-run" in r.output and "--days" in r.output


def test_erasure_and_export_say_whether_the_served_recommender_holds_the_learner(settings, bank_v1, world):
    """The recommender model is derived data the database erasure cannot reach: the receipt says whether
    the served version was trained with the learner's events (they go at the next retraining)."""
    from api.providers import StaticModelProvider
    from recommender.training import train_bundle
    from tests.api.conftest import make_api

    events = world.events.copy()
    first = events["learner_id"].iloc[0]
    events.loc[events["learner_id"] == first, "learner_id"] = "org-a:trained-1"
    bundle, _ = train_bundle(world.catalogue, world.roles, events, ranker="hybrid", tune=False,
                             baselines=False, progress=False)
    api = make_api(settings, StaticModelProvider({"1": bank_v1}, "1", recommender=bundle))
    try:
        for learner in ("trained-1", "never-trained"):
            _events(api, learner, 1, f"e-{learner}")
        export = api.client.get("/v1/learners/trained-1/export", headers=api.a).json()
        assert export["recommender"] == {"model_version": "1", "holds_learner": True}
        gone = api.client.delete("/v1/learners/trained-1", headers=api.a).json()
        assert gone["recommender"]["holds_learner"] is True
        other = api.client.delete("/v1/learners/never-trained", headers=api.a).json()
        assert other["recommender"]["holds_learner"] is False
    finally:
        api.client.close()
        api.app.state.services.engine.dispose()
    # no recommender served: nothing to say, and erasure still works
    api = make_api(settings, StaticModelProvider({"1": bank_v1}, "1"))
    try:
        _events(api, "plain", 1, "e-plain")
        r = api.client.delete("/v1/learners/plain", headers=api.a)
        assert r.status_code == 200 and r.json()["recommender"] is None
    finally:
        api.client.close()
        api.app.state.services.engine.dispose()
