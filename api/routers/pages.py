"""Pages for people: the landing page and the reference learner and HR interface (the documentation
pages are in ``api.routers.docs``).

The pages are shells rendered on the server (Jinja2); everything about learners comes from the public API,
called by the page's own script with the API key the user pastes (kept in the tab's ``sessionStorage``),
exactly as a learning platform would call it. Nothing is loaded from another host.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.deps import ServicesDep

PACKAGE = Path(__file__).resolve().parents[1]
STATIC_DIR = PACKAGE / "static"
templates = Jinja2Templates(directory=PACKAGE / "templates")

router = APIRouter(include_in_schema=False)

# What the browser may load: this host only (no inline script on these pages; the documentation pages add
# what Swagger UI and ReDoc need, ``api.routers.docs``).
SAME_ORIGIN = ("default-src 'self'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
               "frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
PAGE_POLICY = f"{SAME_ORIGIN}; script-src 'self'; style-src 'self'"

STATIC = "/static"
FAVICON = f"{STATIC}/favicon.svg"
# Names of the languages item content may come in, in the language itself (a select shows them).
LANGUAGE_NAMES = {"en": "English", "lt": "Lietuvių", "lv": "Latviešu", "et": "Eesti", "fi": "Suomi",
                  "de": "Deutsch", "fr": "Français", "pl": "Polski", "es": "Español", "it": "Italiano"}


def _page(request: Request, template: str, context: dict) -> HTMLResponse:
    response = templates.TemplateResponse(request, template, context)
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    return response


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
