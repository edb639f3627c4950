"""``digipath serve``, ``digipath db upgrade``, ``digipath keys create``: running the HTTP service."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console

from adaptive.errors import DigipathError

console = Console(stderr=True)

db_app = typer.Typer(
    help="The service database (SQLite by default, PostgreSQL by DIGIPATH_DATABASE_URL).",
    no_args_is_help=True,
)
keys_app = typer.Typer(help="API keys for platform backends (one organisation each).", no_args_is_help=True)

DEMO_KEY_FILE = "demo-admin-key.txt"


def _settings():
    from api.settings import Settings

    return Settings()


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Alembic revision to upgrade to")) -> None:
    """Create or migrate the service database to the latest schema."""
    from api import db

    settings = _settings()
    url = settings.resolved_database_url
    try:
        db.upgrade(url, revision)
    except Exception as exc:  # a bad URL or unreachable server: one line, non-zero exit
        _fail(f"database upgrade failed for {_redact(url)}: {exc}")
    console.print(f"database at {_redact(url)} is at revision {revision}")


@keys_app.command("create")
def keys_create(
    org: str = typer.Option(..., "--org", help="organisation slug (created if new)"),
    scope: list[str] = typer.Option(
        ..., "--scope", help="diagnostics, recommendations, events or admin; repeatable"
    ),
    name: str | None = typer.Option(None, help="a label for the key"),
) -> None:
    """Create an API key and print it (only this once; the database keeps a hash)."""
    from api import db
    from api.auth import create_key

    settings = _settings()
    url = settings.resolved_database_url
    scopes = [s.strip() for item in scope for s in item.split(",") if s.strip()]
    try:
        db.upgrade(url)
        engine = db.make_engine(url)
        with db.make_sessionmaker(engine)() as session:
            token = create_key(session, org, scopes, name)
        engine.dispose()
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(token)


def ensure_demo_key(settings) -> str | None:  # noqa: ANN001
    """First start: create the demo organisation and an admin key (``<home>/demo-admin-key.txt``)."""
    from sqlalchemy import select

    from api import db
    from api.auth import create_key
    from api.persistence.tables import ApiKey

    engine = db.make_engine(settings.resolved_database_url)
    try:
        with db.make_sessionmaker(engine)() as session:
            if session.scalar(select(ApiKey.key_id).limit(1)) is not None:
                return None
            token = create_key(session, settings.demo_org, ["admin"], name="demo admin key (first start)")
    finally:
        engine.dispose()
    path = Path(settings.home) / DEMO_KEY_FILE
    path.write_text(token + "\n")
    os.chmod(path, 0o600)
    return token


def ensure_models(settings) -> None:  # noqa: ANN001
    """Configure MLflow under DIGIPATH_HOME and bootstrap demo models when no champion is registered."""
    from models import registry, tracking

    tracking.configure(settings.home)
    champions = registry.champions()
    if all(v is not None for v in champions.values()):
        console.print(f"serving champions {champions}")
        return
    if not settings.bootstrap:
        _fail(
            f"no champion registered for {[k for k, v in champions.items() if v is None]} and "
            "DIGIPATH_BOOTSTRAP=false"
        )
    from models import bootstrap

    console.print("no champion models registered: bootstrapping demo models (one-off) ...")
    bootstrap.bootstrap(settings.home)
    console.print(f"bootstrapped: {registry.champions()}")


def serve(
    host: str | None = typer.Option(None, help="default DIGIPATH_HOST (127.0.0.1)"),
    port: int | None = typer.Option(None, help="default DIGIPATH_PORT (8000)"),
    workers: int | None = typer.Option(None, help="uvicorn worker processes (default DIGIPATH_WORKERS=1)"),
) -> None:
    """Run the HTTP service: upgrade the DB, bootstrap models if needed, serve /v1 with docs at /docs."""
    import uvicorn

    from api import db

    settings = _settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    os.environ["DIGIPATH_HOME"] = str(settings.home.resolve())  # workers and mlflow see the same home
    try:
        db.upgrade(settings.resolved_database_url)
    except Exception as exc:  # bad URL, server down: one clear line
        _fail(f"database upgrade failed for {_redact(settings.resolved_database_url)}: {exc}")
    try:
        ensure_models(settings)
    except typer.Exit:
        raise
    except DigipathError as exc:
        _fail(str(exc))
    except Exception as exc:  # a failing bootstrap must not look like a crash of the service
        _fail(f"could not prepare models ({type(exc).__name__}: {exc}); see `digipath bootstrap`")
    token = ensure_demo_key(settings)
    if token:
        console.print(
            f"[bold]demo organisation {settings.demo_org!r} admin API key[/bold] "
            f"(also in {settings.home / DEMO_KEY_FILE}):\n{token}"
        )
    host = host or settings.host
    port = port or settings.port
    console.print(f"digipath API on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    uvicorn.run(
        "api.asgi:create",
        factory=True,
        host=host,
        port=port,
        workers=workers or settings.workers,
        log_level="warning",
        access_log=False,
    )


def _redact(url: str) -> str:
    """Hide a password in a database URL."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database url>"


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(db_app, name="db")
    app.add_typer(keys_app, name="keys")
