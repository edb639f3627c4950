"""``digipath purge``: remove personal data older than the retention period (safe to run from cron)."""

from __future__ import annotations

import json

import typer
from rich.console import Console

console = Console(stderr=True)


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}", soft_wrap=True)
    raise typer.Exit(1)


def purge(
    days: int | None = typer.Option(None, "--days", help="retention days; default DIGIPATH_RETENTION_DAYS"),
    dry_run: bool = typer.Option(False, "--dry-run", help="count what would go, change nothing"),
) -> None:
    """Erase diagnostics, responses (kept anonymised for calibration), events and idle learners older than
    the retention period. Idempotent: a second run removes nothing more; two at once remove each row once.
    Prints one JSON line with the counts."""
    from api import db
    from api.privacy import purge as purge_old
    from api.settings import Settings

    try:
        settings = Settings()
    except Exception as exc:  # noqa: BLE001 - e.g. DIGIPATH_RETENTION_DAYS=abc: one line, not a traceback
        _fail(f"bad setting: {str(exc).splitlines()[0]} ({' '.join(str(exc).split())[:200]})")
    retention = days if days is not None else settings.retention_days
    if retention is None:
        _fail("no retention period: set DIGIPATH_RETENTION_DAYS (or pass --days)")
    if retention < 1:
        _fail(f"retention must be >= 1 day, got {retention}")
    url = settings.resolved_database_url
    try:
        db.upgrade(url)
        engine = db.make_engine(url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
        try:
            with db.make_sessionmaker(engine)() as session:
                summary = purge_old(session, retention)
                if dry_run:
                    session.rollback()
                else:
                    session.commit()
        finally:
            engine.dispose()
    except Exception as exc:  # noqa: BLE001 - unreachable database etc.: one line, non-zero exit
        _fail(f"purge failed: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
    typer.echo(json.dumps({"dry_run": dry_run, "retention_days": retention, **summary}, sort_keys=True))


def register(app: typer.Typer) -> None:
    app.command("purge")(purge)
