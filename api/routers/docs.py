"""The API documentation, served by the service from local files: Swagger UI and ReDoc are vendored under
``api/static/vendor`` (FastAPI's "self-hosting JavaScript and CSS for docs" recipe), so the documentation
works on an offline or locked-down network."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

from api.routers.pages import FAVICON, SAME_ORIGIN, STATIC

router = APIRouter(include_in_schema=False)

# FastAPI's pages start Swagger UI with an inline script; ReDoc runs a blob: worker and asks for Redocly's
# logo from cdn.redoc.ly, which this policy stops in the browser.
DOCS_POLICY = (f"{SAME_ORIGIN}; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
               "worker-src 'self' blob:")

OAUTH2_REDIRECT = "/docs/oauth2-redirect"


def _docs(response: HTMLResponse) -> HTMLResponse:
    response.headers["Content-Security-Policy"] = DOCS_POLICY
    return response


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
