"""Suite-wide checks: where PostgreSQL or the browser is required (CI), their tests may not be skipped."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("DIGIPATH_REQUIRE_POSTGRES") not in (None, "", "0"):
        url = os.environ.get("DIGIPATH_TEST_DATABASE_URL")
        if not url:
            raise pytest.UsageError(
                "DIGIPATH_REQUIRE_POSTGRES is set but DIGIPATH_TEST_DATABASE_URL is not: "
                "the PostgreSQL variants would be skipped"
            )
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:
            raise pytest.UsageError(f"PostgreSQL at {url} is required but unreachable: {exc}") from exc
        finally:
            engine.dispose()

    if os.environ.get("DIGIPATH_REQUIRE_BROWSER") not in (None, "", "0"):
        from tests.ui.browser import browser_missing

        reason = browser_missing()
        if reason:
            raise pytest.UsageError(
                f"DIGIPATH_REQUIRE_BROWSER is set but the browser tests cannot run: {reason}")
