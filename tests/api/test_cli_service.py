"""`digipath db upgrade` and `digipath keys create` (typer, in-process on a temp DIGIPATH_HOME)."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from api import cli_service, db
from api.auth import KeyVerifier
from api.settings import Settings


def _app() -> typer.Typer:
    app = typer.Typer()
    cli_service.register(app)
    return app


def test_db_upgrade_and_keys_create(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIPATH_HOME", str(tmp_path))
    monkeypatch.delenv("DIGIPATH_DATABASE_URL", raising=False)
    runner = CliRunner()
    r = runner.invoke(_app(), ["db", "upgrade"])
    assert r.exit_code == 0, r.output
    engine = db.make_engine(Settings().resolved_database_url)
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(db.alembic_config(Settings().resolved_database_url)).get_current_head()
    assert db.current_revision(engine) == head
    r = runner.invoke(_app(), ["keys", "create", "--org", "city-of-riga", "--scope", "diagnostics",
                               "--scope", "events"])
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[-1]
    principal = KeyVerifier(db.make_sessionmaker(engine)).verify(token)
    assert principal.org_slug == "city-of-riga" and principal.scopes == {"diagnostics", "events"}
    engine.dispose()


def test_keys_create_rejects_bad_input_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIPATH_HOME", str(tmp_path))
    runner = CliRunner()
    r = runner.invoke(_app(), ["keys", "create", "--org", "acme", "--scope", "superuser"])
    assert r.exit_code == 1 and "unknown scope" in r.output and "Traceback" not in r.output
    r = runner.invoke(_app(), ["keys", "create", "--org", "Not A Slug", "--scope", "admin"])
    assert r.exit_code == 1 and "slug" in r.output


def test_db_upgrade_reports_unreachable_database(monkeypatch, tmp_path):
    monkeypatch.setenv("DIGIPATH_HOME", str(tmp_path))
    monkeypatch.setenv("DIGIPATH_DATABASE_URL", "postgresql+psycopg2://nobody:secret@127.0.0.1:9/nowhere")
    r = CliRunner().invoke(_app(), ["db", "upgrade"])
    assert r.exit_code == 1 and "database upgrade failed" in r.output
    assert "secret" not in r.output  # the password is redacted
