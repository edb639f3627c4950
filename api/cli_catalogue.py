"""``digipath catalogue import|export``: an organisation's learning catalogue from and to a file.

The file form is ``recommender.live_catalogue.FILE_COLUMNS`` (plus ``title_<language>`` columns); what
``export`` writes, ``import`` reads and ``digipath recommender train --catalogue`` trains on (so the first
retraining after new content arrived folds it in). An import is all or nothing: the first bad row stops it
with the file, row and column named, a non-zero exit, and nothing stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from adaptive.errors import DigipathError

app = typer.Typer(help="The learning catalogue an organisation maintains (import, export).",
                  no_args_is_help=True)
console = Console(stderr=True)


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _org_id(session, slug: str) -> int:  # noqa: ANN001
    from sqlalchemy import select

    from api.persistence.tables import Organisation

    org_id = session.scalar(select(Organisation.id).where(Organisation.slug == slug))
    if org_id is None:
        _fail(f"no organisation {slug!r} (organisations come with their first key: digipath keys create)")
    return org_id


def import_records(session, org_id: int, records: list[dict], actor: str, source: str,  # noqa: ANN001
                   retire_missing: bool = False):
    """Apply a file's validated records to the organisation's catalogue as one change set, audit-logged
    (the caller commits). ``retire_missing``: content of the catalogue that the file does not list is
    retired."""
    from api.audit import record
    from api.persistence.catalogue import apply_changes, live_records

    records = list(records)
    if retire_missing:
        listed = {r["content_id"] for r in records}
        records += [{**r, "status": "retired"} for r in live_records(session, org_id)
                    if r["content_id"] not in listed and r["status"] != "retired"]
    changes = apply_changes(session, org_id, records, actor)
    record(session, actor, "catalogue.import", Path(source).name[:200], org_id=org_id, **changes.to_dict())
    return changes


@app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help="catalogue file (CSV/TSV/Parquet), one row per content")],
    org: Annotated[str, typer.Option("--org", help="organisation slug (default DIGIPATH_DEMO_ORG)")] = "",
    retire_missing: Annotated[bool, typer.Option(
        "--retire-missing", help="retire catalogue content the file does not list")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="validate and count, store nothing")] = False,
) -> None:
    """Create or update the organisation's content from FILE (all or nothing; a new version per change)."""
    from api.cli_service import _actor, _session, _settings
    from recommender.live_catalogue import read_content_file

    try:
        records = read_content_file(path)
    except DigipathError as exc:
        _fail(str(exc))
    slug = org or _settings().demo_org
    with _session() as session:
        org_id = _org_id(session, slug)
        changes = import_records(session, org_id, records, _actor(), str(path), retire_missing)
        if dry_run:
            session.rollback()
        else:
            session.commit()
    summary = changes.to_dict()
    what = ", ".join(f"{summary[k]} {k}" for k in ("created", "updated", "retired", "restored", "unchanged"))
    version = "" if changes.catalogue_version is None else f"; catalogue version {changes.catalogue_version}"
    typer.echo(f"{'dry run: ' if dry_run else ''}{len(records)} rows of {path} for {slug!r}: {what}"
               f"{'' if dry_run else version}")


@app.command("export")
def export_command(
    path: Annotated[Path, typer.Argument(help="file to write (.csv or .parquet)")],
    org: Annotated[str, typer.Option("--org", help="organisation slug (default DIGIPATH_DEMO_ORG)")] = "",
    status: Annotated[str, typer.Option(help="active | retired | all")] = "all",
) -> None:
    """Write the organisation's catalogue in the file form import and ``recommender train`` read."""
    from api.cli_service import _session, _settings
    from api.persistence.catalogue import live_records
    from recommender.live_catalogue import write_content_file

    if status not in ("active", "retired", "all"):
        _fail(f"--status must be active, retired or all, got {status!r}")
    slug = org or _settings().demo_org
    with _session() as session:
        records = [r for r in live_records(session, _org_id(session, slug))
                   if status == "all" or r["status"] == status]
    try:
        write_content_file(records, path)
    except OSError as exc:
        _fail(f"cannot write {path}: {exc}")
    typer.echo(f"wrote {len(records)} content records of {slug!r} to {path}")


def seed_demo_catalogue(settings) -> int | None:  # noqa: ANN001
    """The demo organisation's catalogue from the demo bundle's (``<home>/demo/catalogue_live.csv``,
    written by bootstrap), once: only while the organisation exists and has no catalogue of its own.
    Returns the number of records seeded (None: nothing done)."""
    from sqlalchemy import select

    from api import db
    from api.persistence.catalogue import catalogue_version
    from api.persistence.tables import Organisation
    from recommender.live_catalogue import SEED_FILE, read_content_file

    path = Path(settings.home) / "demo" / SEED_FILE
    if not path.exists():
        return None
    engine = db.make_engine(settings.resolved_database_url)
    try:
        with db.make_sessionmaker(engine)() as session:
            org_id = session.scalar(select(Organisation.id).where(Organisation.slug == settings.demo_org))
            if org_id is None or catalogue_version(session, org_id) > 0:
                return None
            records = read_content_file(path)
            import_records(session, org_id, records, "cli:serve", str(path))
            session.commit()
    finally:
        engine.dispose()
    return len(records)
