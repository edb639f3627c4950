"""RFC 9457 problem+json responses with stable ``type`` URIs for every error the service returns."""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from adaptive.errors import DigipathError

PROBLEM_BASE = "https://digipath.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

log = logging.getLogger("digipath.api")

# Stable slugs for plain HTTP errors raised by the framework (routing, methods) or by us.
_HTTP_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation",
    429: "too-many-requests",
    500: "internal",
    503: "unavailable",
}


class ProblemError(Exception):
    """An error the API raises itself (auth, isolation, conflicts), rendered as problem+json."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.title = title
        self.headers = headers
        self.extra = extra


def problem_body(
    status: int,
    slug: str,
    detail: str | None,
    *,
    title: str | None = None,
    instance: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title or _title(slug, status),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def problem_response(
    status: int, slug: str, detail: str | None, *, headers: dict[str, str] | None = None, **kw: Any
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, slug, detail, **kw),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _title(slug: str, status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    words = slug.replace("-", " ")
    return words[:1].upper() + words[1:] if slug not in _HTTP_SLUGS.values() else phrase


def digipath_error_extras(exc: DigipathError) -> dict[str, Any]:
    """Machine-readable fields of a library error (item id, field, ...), never anything secret."""
    extras: dict[str, Any] = {}
    for name in ("kind", "id", "item_id", "field", "row", "where"):
        value = getattr(exc, name, None)
        if isinstance(value, str | int | float):
            extras[name] = value
    return extras


# Doors that speak another standard answer errors in its format (the 1EdTech CAT service: imsx_StatusInfo):
# a renderer registered for a path prefix builds the response from (status, slug, detail, headers, extras).
ERROR_RENDERERS: dict[str, Callable[[int, str, str | None, dict[str, str] | None, dict], JSONResponse]] = {}


def _respond(
    request: Request, status: int, slug: str, detail: str | None, *, headers: dict[str, str] | None = None,
    **kw: Any,
) -> JSONResponse:
    for prefix, render in ERROR_RENDERERS.items():
        if request.url.path.startswith(prefix):
            return render(status, slug, detail, headers, {"instance": request.url.path, **kw})
    return problem_response(status, slug, detail, headers=headers, instance=request.url.path, **kw)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return _respond(request, exc.status, exc.slug, exc.detail, title=exc.title, headers=exc.headers,
                        **exc.extra)

    @app.exception_handler(DigipathError)
    async def _digipath(request: Request, exc: DigipathError) -> JSONResponse:
        status = int(getattr(exc, "status", 400) or 400)
        return _respond(request, status, exc.type, exc.detail, **digipath_error_extras(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        first = errors[0] if errors else None
        detail = f"{'.'.join(first['loc'])}: {first['msg']}" if first else "request is not valid"
        return _respond(request, 422, "validation", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = _HTTP_SLUGS.get(exc.status_code, f"http-{exc.status_code}")
        detail = exc.detail if isinstance(exc.detail, str) else None
        return _respond(request, exc.status_code, slug, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _respond(request, 500, "internal", "internal server error")
