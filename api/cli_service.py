"""``digipath serve``, ``digipath db upgrade``, ``digipath keys list|create|revoke|rotate``: running the
HTTP service."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def _session() -> Iterator:
    """A session on the migrated service database for one command."""
    from api import db

    url = _settings().resolved_database_url
    try:
        db.upgrade(url)
    except Exception as exc:  # bad URL, server down: one clear line
        _fail(f"database upgrade failed for {_redact(url)}: {exc}")
    engine = db.make_engine(url)
    try:
        with db.make_sessionmaker(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name (containers): still say it came from the command line
        return "cli:unknown"


@keys_app.command("create")
def keys_create(
    org: str = typer.Option(..., "--org", help="organisation slug (created if new)"),
    scope: list[str] = typer.Option(
        ...,
        "--scope",
        help="diagnostics, recommendations, events, insights, supervisor, oversight, admin or operator; "
        "repeatable",
    ),
    name: str | None = typer.Option(None, help="a label for the key"),
    expires: str | None = typer.Option(None, help="expiry: 90d, 12h, 4w, or an ISO date/datetime (UTC)"),
    unit: list[str] = typer.Option([], "--unit", help="supervisor keys: a unit it sees learner by learner; "
                                   "repeatable"),
) -> None:
    """Create an API key and print it (only this once; the database keeps a hash)."""
    from api.keys import issue_key, parse_expiry

    scopes = [s.strip() for item in scope for s in item.split(",") if s.strip()]
    with _session() as session:
        try:
            _, token = issue_key(session, _actor(), org, scopes, name, expires_at=parse_expiry(expires),
                                 units=unit or None)
        except ValueError as exc:
            _fail(str(exc))
        session.commit()
    typer.echo(token)


@keys_app.command("list")
def keys_list(
    org: str | None = typer.Option(None, "--org", help="one organisation (default: all)"),
    active: bool = typer.Option(False, "--active", help="only keys neither revoked nor expired"),
) -> None:
    """List API keys: id, organisation, scopes, status, created, expires, last used (never secrets)."""
    from sqlalchemy import select

    from api.keys import list_keys
    from api.persistence.tables import Organisation

    with _session() as session:
        org_id = None
        if org is not None:
            org_id = session.scalar(select(Organisation.id).where(Organisation.slug == org))
            if org_id is None:
                _fail(f"no organisation {org!r}")
        rows = list_keys(session, org_id, include_inactive=not active)
    columns = ("key_id", "org", "scopes", "status", "name", "created_at", "expires_at", "last_used_at")
    typer.echo("\t".join(columns))
    for row in rows:
        cells = [",".join(row[c]) if c == "scopes" else _cell(row[c]) for c in columns]
        typer.echo("\t".join(cells))


def _cell(value) -> str:  # noqa: ANN001
    if value is None:
        return "-"
    return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else str(value)


def _find(session, key_id: str):  # noqa: ANN001, ANN202
    from api.keys import find_key

    found = find_key(session, key_id.strip())
    if found is None:
        _fail(f"no key {key_id!r} (see `digipath keys list`)")
    return found


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="the key id (the 12 hex digits after dp_)"),
    reason: str | None = typer.Option(None, help="kept in the audit log"),
) -> None:
    """Revoke a key; running services refuse it within DIGIPATH_KEY_CHECK_SECONDS (0.5 s)."""
    from api.keys import revoke_key

    with _session() as session:
        key, slug = _find(session, key_id)
        already = key.revoked_at is not None
        revoke_key(session, _actor(), key, slug, reason=reason)
        session.commit()
    console.print(f"key {key.key_id} of {slug!r} {'was already' if already else 'is'} revoked")


@keys_app.command("rotate")
def keys_rotate(
    key_id: str = typer.Argument(..., help="the key id (the 12 hex digits after dp_)"),
    expires: str | None = typer.Option(None, help="expiry of the new key: 90d, 12h, 4w or an ISO date"),
) -> None:
    """Replace a key by a new one (same organisation, scopes, name), revoke the old one, print the new."""
    from api.keys import parse_expiry, rotate_key

    with _session() as session:
        key, slug = _find(session, key_id)
        try:
            info, token = rotate_key(session, _actor(), key, slug, expires_at=parse_expiry(expires))
        except ValueError as exc:
            _fail(str(exc))
        session.commit()
    console.print(f"key {key.key_id} of {slug!r} revoked; new key {info['key_id']}:")
    typer.echo(token)


def ensure_demo_key(settings) -> str | None:  # noqa: ANN001
    """The demo's key: only in a home where the demo was bootstrapped (``<home>/demo/bootstrap.json``)
    and the database holds no key yet. It holds ``admin`` of the demo organisation and ``operator`` (one
    person runs the whole demo); it is written to ``<home>/demo-admin-key.txt`` (mode 600)."""
    from sqlalchemy import select

    from api import db
    from api.keys import issue_key
    from api.persistence.tables import ApiKey

    if not (Path(settings.home) / "demo" / "bootstrap.json").exists():
        return None
    engine = db.make_engine(settings.resolved_database_url)
    try:
        with db.make_sessionmaker(engine)() as session:
            if session.scalar(select(ApiKey.key_id).limit(1)) is not None:
                return None
            _, token = issue_key(session, "cli:serve", settings.demo_org, ["admin", "operator"],
                                 name="demo key (bootstrapped demo)")
            session.commit()
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
    from api.cli_roles import seed_demo_roles

    if seeded := seed_demo_roles(settings, settings.demo_org):
        console.print(f"{seeded} demo role profiles given to organisation {settings.demo_org!r}")
    if token:
        console.print(
            f"[bold]demo key: admin of organisation {settings.demo_org!r} and operator[/bold] "
            f"(also in {settings.home / DEMO_KEY_FILE}):\n{token}"
        )
    from api.cli_catalogue import seed_demo_catalogue

    seeded = seed_demo_catalogue(settings)
    if seeded:
        console.print(f"demo organisation's catalogue seeded from the demo bundle's ({seeded} contents)")
    host = host or settings.host
    port = port or settings.port
    console.print(f"digipath API on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    with _stop_on_signal() as stopped:
        uvicorn.run(
            "api.asgi:create",
            factory=True,
            host=host,
            port=port,
            workers=workers or settings.workers,
            log_level="warning",
            access_log=False,
        )
    if stopped:
        console.print(f"digipath API stopped ({stopped[0]})")


class _Stop(Exception):
    """A stop signal arrived after uvicorn's graceful shutdown."""


@contextmanager
def _stop_on_signal() -> Iterator[list[str]]:
    """Make Ctrl-C and SIGTERM a clean stop: exit status 0 and ``atexit`` handlers run.

    uvicorn shuts down gracefully (lifespan shutdown included), then restores the handlers it found and
    re-raises the signal so that they see it. With Python's defaults SIGTERM killed the process (status
    -15, no atexit; ``make`` printed ``*** [Makefile] Terminated``) and SIGINT became a traceback; the
    handlers installed here turn the re-raised signal into a normal return. Yields the list that gets the
    name of the signal that stopped the server."""
    import signal

    stopped: list[str] = []

    def stop(signum, _frame) -> None:  # noqa: ANN001
        raise _Stop(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopped
    except _Stop as exc:
        stopped.append(str(exc))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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
