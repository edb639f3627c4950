"""Fixtures: small synthetic item banks, an app per test on SQLite (and PostgreSQL when
DIGIPATH_TEST_DATABASE_URL is set), API keys for two organisations."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from adaptive.synthetic import generate_synthetic_bank
from api.app import create_app
from api.auth import create_key
from api.db import upgrade
from api.providers import StaticModelProvider
from api.settings import Settings
from tests.api.e2e_models import small_bundle, small_world
from tests.api.helpers import PG_URL, reset_postgres

# Small CAT settings keep the tests quick; the engine's own defaults are tested in tests/cat.
CAT = {"max_items": 12, "min_items": 4, "se_target": 0.5, "min_items_per_area": 1, "max_items_per_area": 6}


@pytest.fixture(scope="session")
def bank_v1():
    return generate_synthetic_bank(
        items_per_competence=6, languages=("en", "lt"), n_pilot_per_competence=1, seed=11, name="bank v1"
    )


@pytest.fixture(scope="session")
def bank_v2():
    return generate_synthetic_bank(items_per_competence=6, languages=("en", "lt"), seed=12, name="bank v2")


def _db_params():
    params = [pytest.param("sqlite", id="sqlite")]
    params.append(
        pytest.param(
            "postgres",
            id="postgres",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(PG_URL is None, reason="DIGIPATH_TEST_DATABASE_URL not set"),
            ],
        )
    )
    return params


@pytest.fixture(scope="session")
def world():
    """A small synthetic learning world (catalogue, roles, events) from recommender.synthetic."""
    return small_world()


@pytest.fixture(scope="session")
def bundle(world):
    return small_bundle(world)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file copied per test (migrating from scratch each time costs ~0.4 s)."""
    path = tmp_path_factory.mktemp("template") / "digipath.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=_db_params())
def database_url(request, tmp_path) -> str:
    if request.param == "postgres":
        reset_postgres(PG_URL)
        return PG_URL
    target = tmp_path / "digipath.db"
    shutil.copy(request.getfixturevalue("sqlite_template"), target)
    return f"sqlite:///{target}"


@dataclass
class Api:
    """An app with its provider, a TestClient and bearer headers for two organisations."""

    app: object
    client: TestClient
    provider: StaticModelProvider
    a: dict  # org-a, every scope
    b: dict  # org-b, every scope
    a_diag: dict  # org-a, diagnostics only
    settings: Settings

    def key(self, org: str, *scopes: str) -> dict:
        with self.app.state.services.sessionmaker() as db:
            return {"Authorization": f"Bearer {create_key(db, org, list(scopes))}"}


def make_api(settings: Settings, provider, cat=None) -> Api:  # noqa: ANN001
    app = create_app(settings, provider, cat_overrides=cat if cat is not None else CAT)
    client = TestClient(app, raise_server_exceptions=False)
    api = Api(app, client, provider, {}, {}, {}, settings)
    api.a = api.key("org-a", "admin")
    api.b = api.key("org-b", "admin")
    api.a_diag = api.key("org-a", "diagnostics")
    seed_roles(api)
    return api


def seed_roles(api: Api, orgs: tuple[str, ...] = ("org-a", "org-b")) -> None:
    """The organisations' role profiles: the served recommender's, as ``digipath serve`` seeds the demo's
    (role profiles are the organisation's data, read from the database on each request)."""
    from api.auth import get_or_create_org
    from api.persistence.roles import seed_profiles

    try:
        bundle, _ = api.provider.recommender()
    except Exception:  # noqa: BLE001 - no recommender served: no role profiles to seed
        return
    with api.app.state.services.sessionmaker() as db:
        for slug in orgs:
            seed_profiles(db, get_or_create_org(db, slug).id, bundle.roles, "test:seed")
        db.commit()


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return Settings(home=tmp_path, database_url=database_url, key_cache_seconds=0.0)


@pytest.fixture
def api(settings, bank_v1, bank_v2, bundle):
    provider = StaticModelProvider({"1": bank_v1, "2": bank_v2}, champion="1", recommender=bundle)
    api = make_api(settings, provider)
    yield api
    api.client.close()
    api.app.state.services.engine.dispose()
