"""FastAPI app factory: settings -> database (migrated) -> model provider -> routers."""

from __future__ import annotations

import gc
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio.to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api import db as dbmod
from api.auth import KeyVerifier
from api.diagnostics import DiagnosticService, SeedSource
from api.limits import BodySizeLimitMiddleware
from api.metrics import LatencyMiddleware, Metrics
from api.problems import install_problem_handlers
from api.providers import ITEM_BANK, ModelProvider, RegistryModelProvider
from api.settings import Settings, get_settings
from api.signals import MODELS, SignalWatcher

log = logging.getLogger("digipath.api")

API_DESCRIPTION = """
Adaptive DigComp 2.2 diagnostics (IRT + computerized adaptive testing) and learning recommendations
for public-sector learning platforms. Every endpoint except the health checks needs
`Authorization: Bearer <API key>`; errors are RFC 9457 `application/problem+json`.
"""


@dataclass
class Services:
    """What the request dependencies (``api.deps``) hand to the routes."""

    settings: Settings
    engine: Engine
    sessionmaker: sessionmaker[Session]
    keys: KeyVerifier
    provider: ModelProvider
    diagnostics: DiagnosticService
    metrics: Metrics
    model_signal: SignalWatcher | None = None  # follows operators' reloads made through other processes

    def load_models(self) -> dict[str, str | None]:
        before = self.provider.served_versions()
        served = self.provider.load()
        self.metrics.set_served(served)
        version = served.get(ITEM_BANK)
        if version is not None and version != before.get(ITEM_BANK):  # once per bank version served
            bank, _ = self.provider.champion_bank()
            warning = self.diagnostics.exposure_control(bank)["warning"]
            if warning:
                log.warning("item bank version %s: %s", version, warning)
        return served


def _load_own_frameworks(settings: Settings) -> None:
    """Register the academy's own frameworks (``<home>/frameworks/*.json``, see ``digipath frameworks add``)
    before any bank is served, so results on them report their level scheme. A bad file is logged and
    skipped: the service starts with the packaged frameworks and the good files."""
    from adaptive.framework import load_directory

    _, errors = load_directory(settings.home / "frameworks")
    for exc in errors:
        log.error("framework file skipped: %s", exc)


def create_app(
    settings: Settings | None = None,
    provider: ModelProvider | None = None,
    *,
    migrate: bool = True,
    cat_overrides: dict | None = None,
) -> FastAPI:
    """Build the app. ``provider`` defaults to the MLflow registry (``models.registry``)."""
    settings = settings or get_settings()
    url = settings.resolved_database_url
    if migrate:
        dbmod.upgrade(url)
    engine = dbmod.make_engine(
        url, busy_timeout_ms=settings.sqlite_busy_timeout_ms, background_checkpoint=True
    )
    maker = dbmod.make_sessionmaker(engine)
    _load_own_frameworks(settings)
    provider = provider or RegistryModelProvider(settings.item_bank_alias, settings.recommender_alias)
    overrides = {**settings.cat_overrides, **(cat_overrides or {})}
    services = Services(
        settings=settings,
        engine=engine,
        sessionmaker=maker,
        keys=KeyVerifier(maker, settings.key_cache_seconds, settings.key_check_seconds),
        provider=provider,
        diagnostics=DiagnosticService(provider, cat_overrides=overrides, seeds=SeedSource(settings.cat_seed)),
        metrics=Metrics(),
    )
    services.model_signal = SignalWatcher(MODELS, services.load_models)
    services.keys.watchers.append(services.model_signal)
    with maker() as db:  # where the counter stands before the models load: a later move is followed
        services.model_signal(db)
    try:
        services.load_models()
    except Exception as exc:  # the service still starts; /readyz says why it is not ready
        provider.last_error = f"{type(exc).__name__}: {exc}"
        log.error("models not loaded: %s", provider.last_error)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        # Routes are sync and CPU-bound (CAT update) under one GIL: a few threads queue requests fairly,
        # forty threads only fight over the GIL and stretch tail latency.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        # Everything loaded so far (modules, item banks, recommender) lives as long as the process: keep
        # it out of the cyclic GC, whose full passes over ~10^6 such objects stalled requests 100+ ms.
        gc.collect()
        gc.freeze()
        checker = services.keys.start_checking()
        yield
        if checker is not None:
            checker.stop()
        engine.dispose()

    app = FastAPI(
        title="digipath",
        # Swagger UI and ReDoc come from api/routers/pages.py, served from local files (offline networks)
        docs_url=None,
        redoc_url=None,
        version="1.0.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "diagnostics", "description": "adaptive DigComp diagnostics"},
            {"name": "recommendations", "description": "learning content for learners and roles"},
            {"name": "events", "description": "learning events for the recommender"},
            {"name": "reference", "description": "framework, roles, catalogue"},
            {"name": "catalogue", "description": "the learning catalogue the organisation maintains"},
            {"name": "frameworks", "description": "competence frameworks: levels, statements, outcomes"},
            {"name": "models", "description": "served model versions; reload and promote (operators)"},
            {"name": "keys", "description": "API keys: list, create, revoke, rotate (admins, operators)"},
            {"name": "operator", "description": "the academy's organisations and cross-organisation "
             "aggregates (operator scope)"},
            {"name": "insights", "description": "organisation insights: gaps, pathway progress, impact"},
            {"name": "oversight", "description": "human review of results: annotate, override, contest"},
            {"name": "organisation", "description": "the caller's organisation settings (practice mode)"},
            {"name": "privacy", "description": "erasure, subject access export, the audit log"},
            {"name": "health", "description": "liveness, readiness, metrics"},
        ],
    )
    app.state.services = services
    install_problem_handlers(app)
    # the last added is outermost: latency -> body size limit -> FastAPI routing. The body limit is ours,
    # not FastAPI's ``max_body_size``, which answers a declared oversize body in text/plain.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(LatencyMiddleware, metrics=services.metrics)

    from api.insights import router as insights
    from api.routers import (
        admin,
        aggregates,
        catalogue,
        diagnostics,
        docs,
        events,
        frameworks,
        health,
        ims_cat,
        keys,
        learners,
        organisation,
        organisations,
        pages,
        plans,
        privacy,
        reference,
        reviews,
        roles,
        xapi,
    )

    for module in (health, diagnostics, reviews, learners, plans, events, reference, frameworks, admin,
                   organisation, insights, keys, organisations, aggregates, privacy, roles, catalogue):
        app.include_router(module.router)
    app.include_router(ims_cat.router)  # the 1EdTech CAT service, /ims/cat/v1p0 (issue 17)
    app.include_router(xapi.router)  # xAPI statements in, /xapi/statements (issue 17)
    app.include_router(pages.router)  # landing page and reference interface (issue 16)
    app.include_router(docs.router)  # Swagger UI and ReDoc from local files
    app.mount(pages.STATIC, StaticFiles(directory=pages.STATIC_DIR), name="static")
    app.openapi = lambda: _openapi_with_problems(app)
    return app


def _openapi_with_problems(app: FastAPI) -> dict:
    """OpenAPI where every error response is documented as problem+json (not FastAPI's 422 default)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi
    from pydantic.json_schema import models_json_schema

    from api.schemas import Problem

    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes,
                         tags=app.openapi_tags)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    _, defs = models_json_schema([(Problem, "serialization")], ref_template="#/components/schemas/{model}")
    components.update(defs.get("$defs", {}))
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, path_item in schema.get("paths", {}).items():
        if path.startswith("/ims/"):  # the 1EdTech CAT service documents its own error body (imsx_StatusInfo)
            for operation in path_item.values():  # bad data is a 400 there: FastAPI's default 422 never comes
                operation.get("responses", {}).pop("422", None)
            continue
        for operation in path_item.values():
            responses = operation.get("responses", {})
            for code, response in responses.items():
                if code[0] in "45":
                    response["content"] = problem
            if path_item is not schema["paths"].get("/healthz"):
                responses.setdefault("default", {"description": "problem details", "content": problem})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    app.openapi_schema = schema
    return schema
