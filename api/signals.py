"""Service-wide changes every process follows: a counter per signal in ``service_signals``.

A process that makes such a change (an operator's model reload or promotion) bumps the counter in the
transaction of its audit entry; every process reads the counters with its revocation check (at most every
``DIGIPATH_KEY_CHECK_SECONDS``, on the next request) and, when one moved, acts on it in a background thread,
so no request waits for a model to load.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.persistence.tables import ServiceSignal, utcnow

log = logging.getLogger("digipath.api")

MODELS = "models"


def bump(db: Session, name: str) -> int:
    """Advance signal ``name`` in ``db``'s transaction (the caller commits); returns the new generation."""
    result = db.execute(
        update(ServiceSignal)
        .where(ServiceSignal.name == name)
        .values(generation=ServiceSignal.generation + 1, changed_at=utcnow())
    )
    if result.rowcount == 0:  # the migration seeds the row; recreate it if someone removed it
        db.add(ServiceSignal(name=name, generation=1, changed_at=utcnow()))
        db.flush()
    return int(db.scalar(select(ServiceSignal.generation).where(ServiceSignal.name == name)))


class SignalWatcher:
    """Runs ``action`` in a background thread whenever signal ``name`` moves (one run at a time; a move
    during a run triggers another)."""

    def __init__(self, name: str, action: Callable[[], object]):
        self.name = name
        self.action = action
        self.seen: int | None = None
        self._run_lock = threading.Lock()

    def __call__(self, db: Session) -> None:
        generation = db.scalar(select(ServiceSignal.generation).where(ServiceSignal.name == self.name)) or 0
        if self.seen is None:  # the first look only learns where the counter stands
            self.seen = generation
        elif generation != self.seen:
            self.seen = generation
            threading.Thread(target=self._run, name=f"signal-{self.name}", daemon=True).start()

    def acknowledge(self, generation: int) -> None:
        """This process made the change itself: nothing to follow."""
        self.seen = max(self.seen or 0, generation)

    def _run(self) -> None:
        with self._run_lock:
            try:
                self.action()
            except Exception as exc:  # the process keeps serving what it had; /readyz shows the error
                log.error("could not follow signal %r: %s: %s", self.name, type(exc).__name__, exc)
