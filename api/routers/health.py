"""Liveness, readiness and Prometheus metrics (no API key needed; readiness details need one)."""

from __future__ import annotations

import os

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.auth import Principal, optional_principal
from api.deps import MetricsDep, ServicesDep
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="Readiness: database reachable and models loaded",
    description="Without a key only `ready` / `not-ready`; with an admin or operator key also `checks` "
    "(which check failed and why, and the answering worker's process id).",
    responses={503: {"model": Health, "description": "not ready; `checks` says why (admin/operator keys)"}},
)
def readyz(services: ServicesDep, principal: Principal | None = Depends(optional_principal)) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with services.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "not ready", never a 500
        checks["database"] = f"unreachable: {type(exc).__name__}"
    provider = services.provider
    checks["models"] = "ok" if provider.ready else f"not loaded: {provider.last_error or 'loading'}"
    ok = all(v == "ok" for v in checks.values())
    # internal error text is for the service's administrators, not for whoever can reach the port
    if principal is not None and (principal.is_operator or principal.has("admin")):
        checks["worker"] = f"pid {os.getpid()}"
        body = Health(status="ready" if ok else "not-ready", checks=checks)
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
    return JSONResponse({"status": "ready" if ok else "not-ready"}, status_code=200 if ok else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics(metrics: MetricsDep) -> Response:
    payload, content_type = metrics.render()
    return Response(payload, media_type=content_type)
