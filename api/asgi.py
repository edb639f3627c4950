"""ASGI entry point for uvicorn (``uvicorn --factory api.asgi:create``), one app per worker process.

Settings come from the environment, the MLflow tracking store from ``DIGIPATH_HOME``, models from the
registry's champion aliases.
"""

from __future__ import annotations

from fastapi import FastAPI

from api.app import create_app
from api.settings import Settings


def create() -> FastAPI:
    settings = Settings()
    from models import tracking

    tracking.configure(settings.home)
    return create_app(settings)
