"""Request-scoped dependencies shared by the routers."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request
from sqlalchemy.orm import Session


async def get_db(request: Request) -> AsyncIterator[Session]:
    """A database session for the request. Async so FastAPI does not spend a thread-pool hop on it:
    creating a Session opens nothing; the (sync) endpoint that uses it runs in the thread pool."""
    db = request.app.state.services.sessionmaker()
    try:
        yield db
    finally:
        db.close()
