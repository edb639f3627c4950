"""The libraries stay libraries: importing them never pulls in the service, the web framework, the
database layer or MLflow (DESIGN.md)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

LIBRARY_MODULES = [
    "adaptive.cat", "adaptive.cat.profile", "adaptive.cat.simulation", "adaptive.change",
    "adaptive.insights",
    "adaptive.insights.plots", "adaptive.synthetic_organisation", "recommender.progress",
    "recommender.bundle",
]
FORBIDDEN = ("api", "fastapi", "sqlalchemy", "mlflow")


@pytest.mark.parametrize("module", LIBRARY_MODULES)
def test_library_imports_no_service_code(module):
    code = (f"import sys, importlib; importlib.import_module({module!r}); "
            f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}); print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ}, cwd=os.getcwd())
    assert out.stdout.strip() == "[]", out.stdout
