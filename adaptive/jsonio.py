"""Reading JSON data files with errors that name the file, line and column."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adaptive.errors import DataFileError


def read_json_file(path: str | Path, what: str) -> Any:
    """Parse ``path`` as JSON; a missing file or bad JSON is a DataFileError naming ``what`` and the place."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFileError(f"cannot read {what}: {exc.strerror or exc}", file=str(path)) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFileError(
            f"invalid JSON: {exc.msg}", file=str(path), line=exc.lineno, column=f"char {exc.colno}"
        ) from exc
