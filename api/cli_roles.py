"""``digipath roles import|export|list``: an organisation's role profiles in the service database.

The file format is the recommender's roles table (``role_id, title, competence, required_level``, one
row per required competence; CSV, TSV or Parquet), so the demo's ``roles.csv`` and an export import as
they are. An import is checked whole before anything is written: a bad row is one line naming the file,
the row and the field, exit code 1, and nothing changes. Each role that differs from its current version
gets a new version; roles the file does not name stay as they are. Audit-logged (``roles.import``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from adaptive.errors import DigipathError

app = typer.Typer(help="Role profiles the academy maintains: import, export, list.", no_args_is_help=True)
err_console = Console(stderr=True)

OrgOption = Annotated[str, typer.Option("--org", help="organisation slug")]
FrameworkOption = Annotated[
    str | None, typer.Option("--framework", help="framework of the levels (default: digcomp-2.2)")
]


def _fail(message: object) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def _org_id(session, slug: str) -> int:  # noqa: ANN001
    from sqlalchemy import select

    from api.persistence.tables import Organisation

    org_id = session.scalar(select(Organisation.id).where(Organisation.slug == slug))
    if org_id is None:
        raise _fail(f"no organisation {slug!r} (create one with `digipath keys create --org {slug} ...`)")
    return org_id


@app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help="roles file: role_id, title, competence, required_level")],
    org: OrgOption,
    framework: FrameworkOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check and report, change nothing")] = False,
) -> None:
    """Validate a roles file and store each changed role as a new version (all or nothing)."""
    from api.audit import record
    from api.cli_service import _actor, _session
    from api.persistence import roles as role_store

    try:
        profiles = role_store.read_profiles(path, framework)
    except DigipathError as exc:
        raise _fail(exc) from None
    fw = role_store.framework(framework)
    with _session() as session:
        org_id = _org_id(session, org)
        summary = role_store.import_profiles(session, org_id, profiles, fw.id, _actor())
        if dry_run:
            session.rollback()
        else:
            record(session, _actor(), "roles.import", f"roles:{path.name}", org_id=org_id, framework=fw.id,
                   **summary.to_dict())
            session.commit()
    typer.echo(json.dumps({"dry_run": dry_run, "org": org, "framework": fw.id, **summary.to_dict()}))


@app.command("export")
def export_command(
    org: OrgOption,
    out: Annotated[Path | None, typer.Option("--out", help="file to write (default: stdout)")] = None,
) -> None:
    """The current role profiles in the import format (CSV; Parquet for a .parquet file)."""
    from api.cli_service import _session
    from api.persistence import roles as role_store

    with _session() as session:
        frame = role_store.profiles_frame(role_store.current_profiles(session, _org_id(session, org)))
    if out is None:
        typer.echo(frame.to_csv(index=False), nl=False)
        return
    from recommender.data import write_table

    write_table(frame, out)
    err_console.print(f"{frame['role_id'].nunique()} roles ({len(frame)} rows) written to {out}")


@app.command("list")
def list_command(org: OrgOption) -> None:
    """One line per current role: id, version, framework, number of competences, title."""
    from api.cli_service import _session
    from api.persistence import roles as role_store

    with _session() as session:
        rows = role_store.current_profiles(session, _org_id(session, org))
        lines = [f"{p.role_id}\tv{p.version}\t{p.framework_id}\t{len(p.required)} competences\t{p.title}"
                 for p in rows]
    for line in lines:  # plain tab-separated lines: easy to read and to grep or cut
        typer.echo(line)
    if not lines:
        err_console.print(f"no role profiles in {org!r} (import some with `digipath roles import`)")


def seed_demo_roles(settings, org_slug: str) -> int:  # noqa: ANN001
    """At ``digipath serve`` in a bootstrapped demo home: the demo organisation gets the demo world's
    role profiles (``<home>/demo/roles.csv``) as version 1, once (never over profiles it has)."""
    from api import db
    from api.persistence import roles as role_store
    from api.persistence.tables import Organisation
    from recommender.data import RoleProfiles

    path = Path(settings.home) / "demo" / "roles.csv"
    if not path.exists():
        return 0
    engine = db.make_engine(settings.resolved_database_url)
    try:
        with db.make_sessionmaker(engine)() as session:
            from sqlalchemy import select

            org_id = session.scalar(select(Organisation.id).where(Organisation.slug == org_slug))
            if org_id is None:
                return 0
            summary = role_store.seed_profiles(session, org_id, RoleProfiles.read(path), "cli:serve")
            session.commit()
            return len(summary.created) if summary else 0
    finally:
        engine.dispose()
