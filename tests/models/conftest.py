"""A real MLflow SQLite store per test, copied from one freshly migrated template (migrating takes ~2 s)."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory):
    from models import tracking

    home = tmp_path_factory.mktemp("mlflow-template")
    tracking.configure(home)
    tracking.client().search_experiments()  # creates and migrates the schema
    return home / tracking.DB_FILE


@pytest.fixture
def home(tmp_path, monkeypatch, _template_db):
    """DIGIPATH_HOME in a temporary directory with an empty, migrated MLflow store configured."""
    from models import registry, tracking

    for var in ("MLFLOW_TRACKING_URI", "DIGIPATH_MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(_template_db, home / tracking.DB_FILE)
    monkeypatch.setenv("DIGIPATH_HOME", str(home))
    tracking.configure(home)
    registry.clear_cache()
    yield home
    registry.clear_cache()


@pytest.fixture(scope="session")
def small_bank():
    from adaptive.synthetic import generate_synthetic_bank

    return generate_synthetic_bank(items_per_competence=2, languages=("en",), seed=3)
