"""``digipath frameworks list|validate|add``: the competence frameworks the service loads.

Packaged: DigComp 2.2 and 3.0. An academy's own framework (``adaptive/data/README.md`` documents the
JSON format) is checked with ``validate`` and installed with ``add`` into ``<home>/frameworks/``, which the
service reads at start. A bad file is one line naming the file, the entry and what is wrong, exit code 1,
and nothing is written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from adaptive.errors import DigipathError

app = typer.Typer(
    help="Competence frameworks: list, validate and add an own framework.", no_args_is_help=True
)
console = Console()
err_console = Console(stderr=True)

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home", help="data directory (default: $DIGIPATH_HOME or ./.digipath)", show_default=False
    ),
]


def _home(home: Path | None) -> Path:
    return Path(home or os.environ.get("DIGIPATH_HOME") or ".digipath").expanduser().resolve()


def _fail(exc: Exception) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def _read(path: Path):
    from adaptive.framework import read_framework_file

    try:
        return read_framework_file(path)
    except DigipathError as exc:
        raise _fail(exc) from None


@app.command("list")
def list_command(home: HomeOption = None) -> None:
    """The frameworks the service would load: packaged ones and <home>/frameworks/*.json."""
    from adaptive.framework import load_directory, packaged_frameworks

    own, errors = load_directory(_home(home) / "frameworks")
    listed = [(f, "packaged") for f in packaged_frameworks().values()] + [(f, "own") for f in own.values()]
    for fw, source in listed:  # one line each: easy to read and to grep
        console.print(
            f"{fw.id}\t{fw.version}\t{source}\t{fw.scheme_id}: {', '.join(fw.level_scheme.codes)}\t"
            f"{len(fw.areas)} areas, {len(fw.competences)} competences, {len(fw.statements)} statements, "
            f"{len(fw.outcomes)} outcomes",
            highlight=False,
            soft_wrap=True,
        )
    for exc in errors:
        err_console.print(f"[red]skipped:[/red] {exc}", highlight=False, soft_wrap=True)
    if errors:
        raise typer.Exit(1)


@app.command("validate")
def validate_command(
    path: Annotated[Path, typer.Argument(help="framework file (digipath JSON or JSON-LD)")],
) -> None:
    """Check a framework file; prints what it holds, or one line saying what is wrong."""
    fw = _read(path)
    counts = fw.summary()["counts"]
    console.print(
        f"{path}: {fw.id} ({fw.name} {fw.version}), levels {', '.join(fw.level_scheme.codes)}; "
        + ", ".join(f"{v} {k}" for k, v in counts.items()),
        highlight=False,
    )


@app.command("add")
def add_command(
    path: Annotated[Path, typer.Argument(help="own framework file (digipath JSON)")],
    home: HomeOption = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="replace an own framework of the same id")
    ] = False,
) -> None:
    """Validate an own framework and install it in <home>/frameworks/ (the service loads it at start)."""
    from adaptive.framework import packaged_frameworks

    fw = _read(path)
    if fw.id in packaged_frameworks():
        raise _fail(f"{path}: framework id {fw.id!r} is a packaged framework; give yours its own id")
    folder = _home(home) / "frameworks"
    target = folder / f"{fw.id}.json"
    if target.exists() and not replace:
        raise _fail(f"{path}: framework {fw.id!r} is already installed at {target} (use --replace)")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(fw.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(target)  # atomic: the service never reads half a file
    console.print(
        f"installed {fw.id} ({fw.name} {fw.version}) at {target}; restart the service to load it",
        highlight=False,
    )
