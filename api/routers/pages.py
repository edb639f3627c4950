"""Pages for people: the landing page, the documentation served from local files, and the reference
learner and HR interface.

The pages are shells rendered on the server (Jinja2); everything about learners comes from the public API,
called by the page's own script with the API key the user pastes (kept in the tab's ``sessionStorage``),
exactly as a learning platform would call it. Nothing is loaded from another host: Swagger UI and ReDoc are
vendored under ``api/static/vendor`` (FastAPI's "self-hosting JavaScript and CSS for docs" recipe).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.deps import ServicesDep

PACKAGE = Path(__file__).resolve().parents[1]
STATIC_DIR = PACKAGE / "static"
templates = Jinja2Templates(directory=PACKAGE / "templates")

router = APIRouter(include_in_schema=False)

# What the browser may load on each page: this host only. The reference pages have no inline script; the
# documentation pages need FastAPI's inline start-up script, ReDoc its blob: worker. ReDoc's side menu
# asks for Redocly's logo from cdn.redoc.ly: this policy stops that request in the browser.
_POLICY = ("default-src 'self'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
           "frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
PAGE_POLICY = f"{_POLICY}; script-src 'self'; style-src 'self'"
DOCS_POLICY = (f"{_POLICY}; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
               "worker-src 'self' blob:")


def _page(request: Request, template: str, context: dict) -> HTMLResponse:
    response = templates.TemplateResponse(request, template, context)
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    return response


def _docs(response: HTMLResponse) -> HTMLResponse:
    response.headers["Content-Security-Policy"] = DOCS_POLICY
    return response

STATIC = "/static"
FAVICON = f"{STATIC}/favicon.svg"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
# Names of the languages item content may come in, in the language itself (a select shows them).
LANGUAGE_NAMES = {"en": "English", "lt": "Lietuvių", "lv": "Latviešu", "et": "Eesti", "fi": "Suomi",
                  "de": "Deutsch", "fr": "Français", "pl": "Polski", "es": "Español", "it": "Italiano"}


def _bank_facts(services) -> dict:  # noqa: ANN001
    """What the pages say about the served item bank: its framework and content languages (no items)."""
    try:
        bank, version = services.provider.champion_bank()
    except Exception:  # noqa: BLE001 - models not loaded yet: the pages still render, /readyz says why
        return {"bank_version": None, "framework_id": None, "languages": []}
    return {"bank_version": version, "framework_id": bank.framework_id,
            "languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in bank.languages]}


@router.get("/", response_class=HTMLResponse)
def landing(request: Request, services: ServicesDep) -> HTMLResponse:
    return _page(request, "index.html", {"page": "home", **_bank_facts(services)})


@router.get("/ui/learner", response_class=HTMLResponse)
def learner_page(request: Request, services: ServicesDep) -> HTMLResponse:
    return _page(request, "learner.html", {"page": "learner", **_bank_facts(services)})


@router.get("/ui/hr", response_class=HTMLResponse)
def hr_page(request: Request, services: ServicesDep) -> HTMLResponse:
    min_group = services.settings.insights_min_group_size
    return _page(request, "hr.html", {"page": "hr", "min_group_size": min_group, **_bank_facts(services)})


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    return _docs(get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title}: API documentation",
        swagger_js_url=f"{STATIC}/vendor/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{STATIC}/vendor/swagger-ui/swagger-ui.css",
        swagger_favicon_url=FAVICON,
        oauth2_redirect_url=OAUTH2_REDIRECT,
        # no badge from validator.swagger.io: the page stays on this host
        swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": False},
    ))


@router.get(OAUTH2_REDIRECT, response_class=HTMLResponse)
def swagger_ui_redirect() -> HTMLResponse:
    return _docs(get_swagger_ui_oauth2_redirect_html())


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    return _docs(get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title}: API reference",
        redoc_js_url=f"{STATIC}/vendor/redoc/redoc.standalone.js",
        redoc_favicon_url=FAVICON,
        with_google_fonts=False,
    ))
