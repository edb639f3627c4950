"""Where the browser tests find Chromium (Debian's ``chromium``; ``DIGIPATH_CHROMIUM`` names another) and
whether they can run here. Light on imports: ``tests/conftest.py`` asks before the suite starts."""

from __future__ import annotations

import os
import shutil

# Chromium's own background traffic (updates, sync, field trials) is switched off: every request the
# browser makes comes from the page under test.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    path = os.environ.get("DIGIPATH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def browser_missing() -> str | None:
    """Why the browser tests cannot run here (None: they can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright (the dev extra) is not installed"
    if chromium_path() is None:
        where = os.environ.get("DIGIPATH_CHROMIUM") or "chromium on PATH or /usr/bin/chromium"
        return f"no chromium executable at {where} (apt-get install chromium, or DIGIPATH_CHROMIUM=path)"
    return None
