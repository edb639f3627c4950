"""Request dependencies: the one place that reaches the application's services.

Routes declare what they need (a database session, the model provider, the diagnostic service, the
metrics, the settings) as ``Annotated`` dependencies; tests override any of them through
``app.dependency_overrides``. No database I/O runs on the event loop: routes that use the database are
plain ``def`` (FastAPI runs them in its thread pool), and ``get_db`` closes a session that still holds a
connection in the thread pool too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from api.app import Services
    from api.diagnostics import DiagnosticService
    from api.metrics import Metrics
    from api.providers import ModelProvider
    from api.settings import Settings


async def get_services(request: Request) -> Services:
    """The services built by ``create_app`` (async: reading an attribute needs no thread)."""
    return request.app.state.services


# Any, not the classes: importing ``api.app`` here would be circular (FastAPI only needs the Depends).
ServicesDep = Annotated[Any, Depends(get_services)]


async def get_db(services: ServicesDep) -> AsyncIterator[Session]:
    """A database session for the request, closed after the route returns.

    Creating a ``Session`` opens nothing (it connects on first use, in the route's thread). After a
    commit it holds no connection, so closing it is bookkeeping that needs no thread; one still in a
    transaction (a read, an error) is closed, rolling back and returning its connection, in the pool.
    """
    db = services.sessionmaker()
    try:
        yield db
    finally:
        if db.in_transaction():
            await run_in_threadpool(db.close)
        else:
            db.close()


async def get_provider(services: ServicesDep) -> ModelProvider:
    return services.provider


async def get_diagnostics(services: ServicesDep) -> DiagnosticService:
    return services.diagnostics


async def get_metrics(services: ServicesDep) -> Metrics:
    return services.metrics


async def get_frameworks() -> dict[str, Any]:
    """The frameworks loaded: packaged ones and the own ones registered at start (no I/O)."""
    from adaptive.framework import known_frameworks

    return known_frameworks()


async def get_app_settings(services: ServicesDep) -> Settings:
    return services.settings


Provider = Annotated[Any, Depends(get_provider)]


async def get_recommender(provider: Provider) -> tuple[Any, str]:
    """The served recommender bundle and its version (503 problem when none is loaded)."""
    return provider.recommender()


DbSession = Annotated[Session, Depends(get_db)]
Diagnostics = Annotated[Any, Depends(get_diagnostics)]
MetricsDep = Annotated[Any, Depends(get_metrics)]
SettingsDep = Annotated[Any, Depends(get_app_settings)]
Recommender = Annotated[tuple[Any, str], Depends(get_recommender)]
Frameworks = Annotated[dict[str, Any], Depends(get_frameworks)]
