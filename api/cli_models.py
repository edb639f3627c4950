"""``digipath models list|promote|rollback`` and ``digipath bootstrap``.

``app`` is the ``models`` command group; ``register(root)`` mounts it on the root app together with
the top-level ``bootstrap`` command.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from adaptive.errors import DigipathError

app = typer.Typer(help="Registered models (MLflow): list versions, promote, roll back.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)

HomeOption = Annotated[Path | None, typer.Option(
    "--home", help="data directory (default: $DIGIPATH_HOME or ./.digipath)", show_default=False)]


def _clean_errors(func: Callable) -> Callable:
    """A DigipathError becomes one red line on stderr and exit code 1."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except DigipathError as exc:
            err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def _configure(home: Path | None):
    from models import tracking

    return tracking.configure(home)


def _fmt(value: float) -> str:
    return f"{value:.4g}" if isinstance(value, float) and not float(value).is_integer() else f"{value:g}"


@app.command("list")
@_clean_errors
def list_command(
    name: Annotated[str | None, typer.Argument(help="only this registered model")] = None,
    home: HomeOption = None,
) -> None:
    """Show registered models, their versions, aliases and key metrics."""
    config = _configure(home)
    from models import registry

    names = (registry.kind(name).name,) if name else None
    rows = registry.list_models(names)
    table = Table(title=f"registered models ({config.tracking_uri})", title_justify="left",
                  box=box.SIMPLE_HEAD)
    table.add_column("model", no_wrap=True, min_width=20)
    table.add_column("ver", justify="right", no_wrap=True)
    table.add_column("aliases", min_width=8)
    table.add_column("created", no_wrap=True)
    table.add_column("key metrics", no_wrap=True, min_width=26)
    for row in rows:
        keys = registry.KINDS[row.name].key_metrics if row.name in registry.KINDS else ()
        shown = [f"{k}={_fmt(row.metrics[k])}" for k in keys if k in row.metrics]
        framework = f"\nDigComp {row.framework_version}" if row.framework_version else ""
        table.add_row(row.name + framework, str(row.version), ", ".join(row.aliases) or "-",
                      row.created.strftime("%Y-%m-%d"), "\n".join(shown) or "[red]no metrics[/red]",
                      end_section=True)
    if not rows:
        console.print("no registered models yet: run [bold]digipath bootstrap[/bold]")
        return
    console.print(table)


@app.command("promote")
@_clean_errors
def promote_command(
    name: Annotated[str, typer.Argument(help="registered model name, e.g. digcomp-item-bank")],
    version: Annotated[int, typer.Argument(help="version number to promote", min=1)],
    alias: Annotated[str, typer.Option(help="alias to move")] = "champion",
    home: HomeOption = None,
) -> None:
    """Point an alias (default champion) at VERSION, after checking that it loads and has its metrics."""
    _configure(home)
    from models import registry

    previous = registry.promote(name, version, alias=alias)
    was = f" (was version {previous})" if previous is not None else ""
    console.print(f"{name}: alias [bold]{alias}[/bold] -> version {version}{was}")


@app.command("rollback")
@_clean_errors
def rollback_command(
    name: Annotated[str, typer.Argument(help="registered model name")],
    alias: Annotated[str, typer.Option(help="alias to move back")] = "champion",
    home: HomeOption = None,
) -> None:
    """Return an alias (default champion) to the version it pointed to before."""
    _configure(home)
    from models import registry

    current = registry.resolve_version(name, alias=alias)
    target = registry.rollback(name, alias=alias)
    console.print(f"{name}: alias [bold]{alias}[/bold] rolled back from version {current} "
                  f"to version {target}")


@_clean_errors
def bootstrap_command(
    seed: Annotated[int, typer.Option(help="random seed of the whole demo world")] = 0,
    learners: Annotated[int, typer.Option(
        help="simulated learners (also the test takers the bank is calibrated from)", min=300)] = 2000,
    force: Annotated[bool, typer.Option(
        "--force", help="rebuild and re-register even if champions exist")] = False,
    home: HomeOption = None,
    framework: Annotated[str, typer.Option(
        help="framework id (digcomp-3.0, digcomp-2.2) or an own framework JSON file")] = "digcomp-3.0",
) -> None:
    """Build a demo world from nothing: item bank, responses, calibration, catalogue, recommender; register
    both models and set champion."""
    from models import tracking
    from models.bootstrap import bootstrap

    bootstrap(tracking.resolve_home(home), seed=seed, n_learners=learners, force=force, progress=True,
              framework=framework)


# also reachable as ``digipath models bootstrap`` while api/cli.py mounts this module as a plain group
app.command("bootstrap", hidden=True)(bootstrap_command)


def register(root: typer.Typer) -> None:
    """Mount ``models`` and the top-level ``bootstrap`` command on the root ``digipath`` app."""
    root.add_typer(app, name="models")
    root.command("bootstrap")(bootstrap_command)
