"""Key lifecycle: list, create, revoke, rotate (HTTP and CLI), expiry, last use, audit, and revocation
reaching another service instance on the same database within the check interval."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from typer.testing import CliRunner

from api.auth import KeyVerifier
from api.persistence.tables import ApiKey, AuditEntry
from tests.api.conftest import make_api


def _problem(r, status: int, slug: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"] == f"https://digipath.example/problems/{slug}"
    return r.json()


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _audit(api, action: str) -> list[AuditEntry]:
    with api.app.state.services.sessionmaker() as db:
        return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_create_list_revoke_rotate_over_http(api):
    r = api.client.post("/v1/admin/keys", json={"scopes": ["diagnostics", "events"], "name": "lms"},
                        headers=api.a)
    assert r.status_code == 201, r.text
    created = r.json()
    token, key_id = created["token"], created["key_id"]
    assert token.startswith(f"dp_{key_id}_") and created["org"] == "org-a" and created["status"] == "active"
    assert api.client.get("/v1/framework", headers=_bearer(token)).status_code == 200

    listed = api.client.get("/v1/admin/keys", headers=api.a).json()["items"]
    mine = [k for k in listed if k["key_id"] == key_id]
    assert len(mine) == 1 and mine[0]["scopes"] == ["diagnostics", "events"]
    assert all(k["org"] == "org-a" for k in listed)
    secret = token.split("_", 2)[2]
    assert secret not in r.text.replace(token, "")
    assert "token" not in mine[0] and "secret_sha256" not in mine[0]
    assert mine[0]["last_used_at"] is not None  # the request above used it

    rotated = api.client.post(f"/v1/admin/keys/{key_id}/rotate", headers=api.a)
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert new["replaces"] == key_id and new["scopes"] == ["diagnostics", "events"] and new["name"] == "lms"
    _problem(api.client.get("/v1/framework", headers=_bearer(token)), 401, "unauthorized")
    assert api.client.get("/v1/framework", headers=_bearer(new["token"])).status_code == 200
    _problem(api.client.post(f"/v1/admin/keys/{key_id}/rotate", headers=api.a), 409, "key-revoked")

    r = api.client.post(f"/v1/admin/keys/{new['key_id']}/revoke", json={"reason": "platform retired"},
                        headers=api.a)
    assert r.status_code == 200 and r.json()["status"] == "revoked" and r.json()["revoked_at"]
    _problem(api.client.get("/v1/framework", headers=_bearer(new["token"])), 401, "unauthorized")
    again = api.client.post(f"/v1/admin/keys/{new['key_id']}/revoke", headers=api.a)  # idempotent
    assert again.status_code == 200 and again.json()["revoked_at"] == r.json()["revoked_at"]
    active = api.client.get("/v1/admin/keys", params={"active": True}, headers=api.a).json()["items"]
    assert {key_id, new["key_id"]}.isdisjoint(k["key_id"] for k in active)

    creates, rotates = _audit(api, "key.create"), _audit(api, "key.rotate")
    revokes = _audit(api, "key.revoke")
    assert [e.target for e in creates] == [f"key:{key_id}"]
    assert rotates[0].target == f"key:{key_id}" and rotates[0].detail["new_key"] == new["key_id"]
    assert [e.target for e in revokes] == [f"key:{new['key_id']}"]  # once, not on the repeat
    assert revokes[0].detail["reason"] == "platform retired"
    admin_key_id = api.a["Authorization"].split("_")[1]
    assert {e.key_id for e in creates + rotates + revokes} == {admin_key_id}


def test_expiry(api):
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    _problem(api.client.post("/v1/admin/keys", json={"scopes": ["events"], "expires_at": past},
                             headers=api.a), 422, "validation")
    _problem(api.client.post("/v1/admin/keys", json={"scopes": ["events"], "expires_at": "2030-01-01T00:00"},
                             headers=api.a), 422, "validation")  # no time zone: ambiguous
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    created = api.client.post("/v1/admin/keys", json={"scopes": ["diagnostics"], "expires_at": soon},
                              headers=api.a).json()
    assert created["expires_at"] is not None
    assert api.client.get("/v1/framework", headers=_bearer(created["token"])).status_code == 200
    with api.app.state.services.sessionmaker() as db:
        db.execute(update(ApiKey).where(ApiKey.key_id == created["key_id"])
                   .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        db.commit()
    body = _problem(api.client.get("/v1/framework", headers=_bearer(created["token"])), 401, "unauthorized")
    assert "expired" in body["detail"]
    listed = api.client.get("/v1/admin/keys", headers=api.a).json()["items"]
    assert [k["status"] for k in listed if k["key_id"] == created["key_id"]] == ["expired"]


def test_bad_requests_change_nothing(api):
    before = api.client.get("/v1/admin/keys", headers=api.a).json()["items"]
    for body in ({"scopes": []}, {"scopes": ["root"]}, {"scopes": ["admin"], "org": "Not A Slug"},
                 {"scopes": ["admin"], "extra": 1}, {"scopes": ["admin"], "name": "x" * 201}):
        _problem(api.client.post("/v1/admin/keys", json=body, headers=api.a), 422, "validation")
    for path in ("/v1/admin/keys/xyz/revoke", "/v1/admin/keys/../rotate"):
        assert api.client.post(path, headers=api.a).status_code in (404, 422)
    _problem(api.client.post("/v1/admin/keys/0123456789ab/revoke", headers=api.a), 404, "not-found")
    assert api.client.get("/v1/admin/keys", headers=api.a).json()["items"] == before


def test_organisation_admin_manages_only_its_own_keys(api):
    b_key = api.client.post("/v1/admin/keys", json={"scopes": ["events"]}, headers=api.b).json()
    # another organisation's keys do not exist for org-a's admin
    _problem(api.client.get("/v1/admin/keys", params={"org": "org-b"}, headers=api.a), 404, "not-found")
    _problem(api.client.post("/v1/admin/keys", json={"scopes": ["events"], "org": "org-b"}, headers=api.a),
             404, "not-found")
    for action in ("revoke", "rotate"):
        r = api.client.post(f"/v1/admin/keys/{b_key['key_id']}/{action}", headers=api.a)
        _problem(r, 404, "not-found")
    assert api.client.get("/v1/framework", headers=_bearer(b_key["token"])).status_code == 200
    # no operator keys from an organisation admin, not even in its own organisation
    r = api.client.post("/v1/admin/keys", json={"scopes": ["operator"]}, headers=api.a)
    _problem(r, 403, "forbidden")
    operator_in_a = api.key("org-a", "operator")
    op_id = operator_in_a["Authorization"].split("_")[1]
    for action in ("revoke", "rotate"):
        _problem(api.client.post(f"/v1/admin/keys/{op_id}/{action}", headers=api.a), 403, "forbidden")
    # keys without admin manage nothing
    for headers in (api.a_diag, api.key("org-a", "insights", "events")):
        _problem(api.client.get("/v1/admin/keys", headers=headers), 403, "forbidden")
        _problem(api.client.post("/v1/admin/keys", json={"scopes": ["events"]}, headers=headers), 403,
                 "forbidden")


def test_revocation_reaches_another_instance_within_the_check_interval(settings, bank_v1, bundle):
    """Two service instances on one database (as two workers or hosts), each caching keys for 30 s:
    a key revoked through one is refused by the other within ``key_check_seconds``."""
    from api.providers import StaticModelProvider

    tuned = settings.model_copy(update={"key_cache_seconds": 30.0, "key_check_seconds": 0.3})
    one = make_api(tuned, StaticModelProvider({"1": bank_v1}, champion="1", recommender=bundle))
    two = make_api(tuned, StaticModelProvider({"1": bank_v1}, champion="1", recommender=bundle))
    try:
        victim = one.key("org-a", "diagnostics")
        assert two.client.get("/v1/framework", headers=victim).status_code == 200  # now cached in two
        verifier = two.app.state.services.keys
        token = victim["Authorization"].split()[1]
        assert verifier.cached(token) is not None
        key_id = token.split("_")[1]
        assert one.client.post(f"/v1/admin/keys/{key_id}/revoke", headers=one.a).status_code == 200
        revoked = time.monotonic()
        while two.client.get("/v1/framework", headers=victim).status_code == 200:
            assert time.monotonic() - revoked < 0.3 + 0.5, "revoked key still accepted"
            time.sleep(0.01)
        assert time.monotonic() - revoked < 0.3 + 0.5
        # other keys of the instance keep working (verified again once)
        assert two.client.get("/v1/framework", headers=two.a).status_code == 200
    finally:
        for api in (one, two):
            api.client.close()
            api.app.state.services.engine.dispose()


def test_revocations_are_checked_in_the_background_while_the_service_runs(settings, bank_v1, bundle):
    """With the service started (lifespan), a daemon thread looks at the revocations: cached keys stay
    usable without any request paying for a look, and a revocation made elsewhere empties the cache
    without any request arriving."""
    from api.providers import StaticModelProvider

    tuned = settings.model_copy(update={"key_cache_seconds": 30.0, "key_check_seconds": 0.3})
    one = make_api(tuned, StaticModelProvider({"1": bank_v1}, champion="1", recommender=bundle))
    two = make_api(tuned, StaticModelProvider({"1": bank_v1}, champion="1", recommender=bundle))
    try:
        victim = one.key("org-a", "diagnostics")
        token = victim["Authorization"].split()[1]
        verifier = two.app.state.services.keys
        with two.client:  # runs the lifespan: starts (and at the end stops) the checker
            assert two.client.get("/v1/framework", headers=victim).status_code == 200
            time.sleep(3 * 0.3)  # no request meanwhile: only the thread can have kept the look fresh
            assert verifier.cached(token) is not None
            revoke = f"/v1/admin/keys/{token.split('_')[1]}/revoke"
            assert one.client.post(revoke, headers=one.a).status_code == 200
            revoked = time.monotonic()
            while verifier.cached(token) is not None:
                assert time.monotonic() - revoked < 0.3 + 0.5, "revocation not seen by the background look"
                time.sleep(0.01)
            assert two.client.get("/v1/framework", headers=victim).status_code == 401
        assert _checker_stops()
    finally:
        for api in (one, two):
            api.client.close()
            api.app.state.services.engine.dispose()


def _checker_stops() -> bool:
    """The checker wakes from its wait when the service stops (no other test starts one)."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        if not any(t.name == "key-revocation-check" and t.is_alive() for t in threading.enumerate()):
            return True
        time.sleep(0.01)
    return False


def test_last_use_is_written_at_most_once_per_interval(api):
    maker = api.app.state.services.sessionmaker
    token = api.key("org-a", "events")["Authorization"].split()[1]
    key_id = token.split("_")[1]

    def last_used():
        with maker() as db:
            return db.scalar(select(ApiKey.last_used_at).where(ApiKey.key_id == key_id))

    verifier = KeyVerifier(maker, cache_seconds=0.0, check_seconds=0.0, touch_seconds=60.0)
    assert last_used() is None
    verifier.verify(token)
    verifier.check_revocations()
    first = last_used()
    assert first is not None
    for _ in range(5):
        verifier.verify(token)
    verifier.check_revocations()
    assert last_used() == first  # within the minute: no write
    eager = KeyVerifier(maker, cache_seconds=0.0, check_seconds=0.0, touch_seconds=0.0)
    time.sleep(0.01)
    eager.verify(token)
    eager.check_revocations()
    assert last_used() > first


def test_cli_list_create_revoke_rotate(tmp_path, monkeypatch):
    from api import cli_service, db
    from api.settings import Settings

    monkeypatch.setenv("DIGIPATH_HOME", str(tmp_path))
    monkeypatch.delenv("DIGIPATH_DATABASE_URL", raising=False)
    import typer

    app = typer.Typer()
    cli_service.register(app)
    runner = CliRunner()
    r = runner.invoke(app, ["keys", "create", "--org", "riga", "--scope", "diagnostics", "--expires", "30d"])
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[-1]
    key_id = token.split("_")[1]
    r = runner.invoke(app, ["keys", "list", "--org", "riga"])
    assert r.exit_code == 0 and key_id in r.stdout and "active" in r.stdout
    assert token.split("_", 2)[2] not in r.stdout
    r = runner.invoke(app, ["keys", "rotate", key_id])
    assert r.exit_code == 0, r.output
    new_token = r.stdout.strip().splitlines()[-1]
    assert new_token.startswith("dp_") and new_token != token
    r = runner.invoke(app, ["keys", "revoke", new_token.split("_")[1], "--reason", "test"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["keys", "list", "--active"])
    assert key_id not in r.stdout and new_token.split("_")[1] not in r.stdout
    engine = db.make_engine(Settings().resolved_database_url)
    verifier = KeyVerifier(db.make_sessionmaker(engine))
    for t in (token, new_token):
        try:
            verifier.verify(t)
            raise AssertionError("a revoked key verified")
        except Exception as exc:  # noqa: BLE001 - the 401 problem
            assert getattr(exc, "status", None) == 401
    with db.make_sessionmaker(engine)() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        actors = {e.key_id for e in session.scalars(select(AuditEntry))}
    engine.dispose()
    assert actions == ["key.create", "key.rotate", "key.revoke"] and all(a.startswith("cli:") for a in actors)
    # bad input: one line, non-zero exit, nothing stored
    for args, words in ((["keys", "revoke", "0123456789ab"], "no key"),
                        (["keys", "rotate", key_id], "revoked"),
                        (["keys", "create", "--org", "riga", "--scope", "events", "--expires", "yesterday"],
                         "expiry"),
                        (["keys", "create", "--org", "riga", "--scope", "events", "--expires", "2001-01-01"],
                         "not in the future"),
                        (["keys", "list", "--org", "nowhere"], "no organisation")):
        r = runner.invoke(app, args)
        assert r.exit_code == 1 and words in r.output and "Traceback" not in r.output, (args, r.output)


def test_keys_that_cannot_be_checked_are_refused_with_503_not_trusted():
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from api.problems import ProblemError

    token = "dp_0123456789ab_" + "x" * 43
    down = create_engine("postgresql+psycopg2://nobody@127.0.0.1:9/nowhere",
                         connect_args={"connect_timeout": 2})
    verifier = KeyVerifier(sessionmaker(down), cache_seconds=30.0, check_seconds=0.0)
    try:
        verifier.verify(token)
        raise AssertionError("verified without a database")
    except ProblemError as exc:
        assert exc.status == 503 and "database" in exc.detail
    down.dispose()


def test_demo_key_only_in_a_bootstrapped_demo_home(tmp_path):
    from api import cli_service, db
    from api.settings import Settings

    settings = Settings(home=tmp_path, database_url=None)
    db.upgrade(settings.resolved_database_url)
    assert cli_service.ensure_demo_key(settings) is None  # models registered some other way: no key
    assert not (tmp_path / cli_service.DEMO_KEY_FILE).exists()
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "bootstrap.json").write_text("{}")
    token = cli_service.ensure_demo_key(settings)
    assert token and (tmp_path / cli_service.DEMO_KEY_FILE).read_text().strip() == token
    assert (tmp_path / cli_service.DEMO_KEY_FILE).stat().st_mode & 0o077 == 0
    engine = db.make_engine(settings.resolved_database_url)
    principal = KeyVerifier(db.make_sessionmaker(engine)).verify(token)
    engine.dispose()
    assert principal.org_slug == "demo" and principal.scopes == {"admin", "operator"}
    assert cli_service.ensure_demo_key(settings) is None  # a second start: no second key
