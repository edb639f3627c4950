"""The ``digipath`` command line: mounts one typer sub-app per concern (``api/cli_*.py``)."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(help="digipath: adaptive DigComp diagnostics and learning pathways.", no_args_is_help=True)

# (module, name) pairs: a module exposing ``app`` is mounted as a command group; one exposing
# ``register(app)`` adds top-level commands itself.
_SUBCOMMANDS = [
    ("api.cli_calibrate", "calibrate"),
    ("api.cli_simulate", None),
    ("api.cli_recommender", "recommender"),
    ("api.cli_models", None),
    ("api.cli_service", None),
    ("api.cli_privacy", None),
    ("api.cli_frameworks", "frameworks"),
    ("api.cli_roles", "roles"),
    ("api.cli_catalogue", "catalogue"),
]

for module_name, group in _SUBCOMMANDS:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:  # a part not built yet must not break the others
        if exc.name != module_name:
            raise
        continue
    if group is not None:
        app.add_typer(module.app, name=group)
    else:
        module.register(app)


if __name__ == "__main__":
    app()
