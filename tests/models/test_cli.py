"""``digipath models list|promote|rollback`` through typer's runner, on a real store."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from api import cli_models
from models import registry, runs
from models.registry import ITEM_BANK_MODEL


@pytest.fixture
def cli():
    root = typer.Typer()
    cli_models.register(root)
    runner = CliRunner()
    return lambda *args: runner.invoke(root, list(args), env={"COLUMNS": "200"})


def test_models_list_promote_rollback(home, small_bank, cli):
    result = cli("models", "list")
    assert result.exit_code == 0 and "no registered models" in result.output
    for i in range(2):
        runs.log_item_bank(small_bank, metrics={"loglik_total": -10.0 * (i + 1)})
    result = cli("models", "promote", ITEM_BANK_MODEL, "1")
    assert result.exit_code == 0, result.output
    result = cli("models", "promote", ITEM_BANK_MODEL, "2")
    assert result.exit_code == 0 and "was version 1" in result.output
    result = cli("models", "list")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if ITEM_BANK_MODEL in line]
    assert len(lines) == 2 and "champion" in lines[0] and "champion" not in lines[1]
    assert f"n_items={len(small_bank)}" in lines[0]  # first key metric on the version's first line
    assert "loglik_total=-20" in result.output and "loglik_total=-10" in result.output
    result = cli("models", "rollback", ITEM_BANK_MODEL)
    assert result.exit_code == 0 and "to version 1" in result.output
    assert registry.alias_version(ITEM_BANK_MODEL) == 1


def test_cli_errors_are_one_line_and_non_zero(home, small_bank, cli):
    runs.log_item_bank(small_bank)
    result = cli("models", "promote", ITEM_BANK_MODEL, "5")
    assert result.exit_code == 1 and "version 5" in result.output and "Traceback" not in result.output
    result = cli("models", "rollback", ITEM_BANK_MODEL)
    assert result.exit_code == 1 and "champion" in result.output
    result = cli("models", "list", "nonsense")
    assert result.exit_code == 1 and "unknown model" in result.output
