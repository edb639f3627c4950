"""Request dependencies: the one place that reaches the application's services.

Routes declare what they need (a database session, the model provider, the diagnostic service, the
metrics, the settings) as ``Annotated`` dependencies; tests override any of them through
``app.dependency_overrides``. ``get_db`` is a plain (sync) generator, so FastAPI opens and closes the
session in its thread pool: no database I/O ever runs on the event loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
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


def get_db(services: ServicesDep) -> Iterator[Session]:
    """A database session for the request, closed (connection back to the pool) after the response."""
    with services.sessionmaker() as db:
        yield db


async def get_provider(services: ServicesDep) -> ModelProvider:
    return services.provider


async def get_diagnostics(services: ServicesDep) -> DiagnosticService:
    return services.diagnostics


async def get_metrics(services: ServicesDep) -> Metrics:
    return services.metrics


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
