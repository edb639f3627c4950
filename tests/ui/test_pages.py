"""The pages without a browser: what they send (local assets only, a Content-Security-Policy), that the
OpenAPI schema they render is whole, that the wheel ships their files, and that CI cannot skip the
browser tests."""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from adaptive.synthetic import generate_synthetic_bank
from api.app import create_app
from api.providers import StaticModelProvider
from api.routers.docs import DOCS_POLICY
from api.routers.pages import PAGE_POLICY, STATIC_DIR
from api.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "api"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    bank = generate_synthetic_bank(items_per_competence=2, languages=("en", "lt"), seed=3)
    app = create_app(Settings(home=tmp_path_factory.mktemp("pages")), StaticModelProvider({"1": bank}, "1"))
    with TestClient(app) as client:
        yield client
    app.state.services.engine.dispose()


def _assets(html: str) -> list[str]:
    attributes = re.findall(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']""", html)
    return attributes + re.findall(r"""url:\s*'([^']+)'""", html)  # Swagger UI's start-up script


@pytest.mark.parametrize("path, policy", [("/", PAGE_POLICY), ("/ui/learner", PAGE_POLICY),
                                          ("/ui/hr", PAGE_POLICY), ("/docs", DOCS_POLICY),
                                          ("/redoc", DOCS_POLICY), ("/docs/oauth2-redirect", DOCS_POLICY)])
def test_pages_load_nothing_from_another_host(client, path, policy):
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == policy
    assert "default-src 'self'" in policy and "http" not in policy  # the policy names no other host
    for url in _assets(r.text):
        if url.startswith("/"):
            assert not url.startswith("//"), url  # protocol-relative: another host
            if url.startswith("/static/") or url == "/openapi.json":
                assert client.get(url).status_code == 200, url
        elif not url.startswith("#"):  # an anchor on the page itself is fine
            pytest.fail(f"{path} refers to {url}")


def test_the_learner_page_offers_the_languages_of_the_served_bank(client):
    html = client.get("/ui/learner").text
    assert re.findall(r'<option value="([a-z-]+)" lang=', html) == ["en", "lt"]


def test_pages_render_while_the_models_are_not_loaded(tmp_path):
    app = create_app(Settings(home=tmp_path), StaticModelProvider({}, "1"))
    with TestClient(app) as c:
        assert "no item bank loaded" in c.get("/ui/learner").text
        assert c.get("/").status_code == 200 and c.get("/ui/hr").status_code == 200
    app.state.services.engine.dispose()


def test_openapi_schema_has_no_dangling_reference(client):
    """ReDoc refuses to render a schema with a $ref to a missing component (the 1EdTech paths kept
    FastAPI's 422 with the HTTPValidationError that the schema hook had removed)."""
    schema = client.get("/openapi.json").json()
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(schema)))
    assert refs and refs <= set(schema["components"]["schemas"])
    assert not any(p.startswith(("/docs", "/redoc", "/ui", "/static")) or p == "/" for p in schema["paths"])


def test_the_wheel_ships_every_page_file():
    """Every template and static file matches the package-data patterns setuptools puts in the wheel."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["api"]
    shipped = {os.path.normpath(f) for p in patterns for f in glob.glob(p, root_dir=API, recursive=True)
               if (API / f).is_file()}
    files = [p.relative_to(API) for d in ("templates", "static") for p in (API / d).rglob("*") if p.is_file()]
    assert len(files) > 10 and {str(f) for f in files} <= shipped
    for licence in ("swagger-ui/LICENSE", "swagger-ui/NOTICE", "redoc/LICENSE"):
        assert (STATIC_DIR / "vendor" / licence).is_file()


def test_ci_refuses_to_skip_the_browser_tests_without_a_browser(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGIPATH_")}
    env.update(DIGIPATH_REQUIRE_BROWSER="1", DIGIPATH_CHROMIUM=str(tmp_path / "no-chromium"),
               PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only",
                          "tests/ui/test_pages.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 4, run.stdout + run.stderr  # pytest's usage error: nothing ran
    assert "DIGIPATH_REQUIRE_BROWSER is set but the browser tests cannot run" in run.stderr
