"""Engine set-up (SQLite WAL + busy timeout, or PostgreSQL) and the Alembic upgrade run on start."""

from __future__ import annotations

import logging
import threading
import weakref
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

_API_DIR = Path(__file__).resolve().parent
log = logging.getLogger("digipath.api")


def make_engine(
    url: str, *, busy_timeout_ms: int = 5000, pool_size: int = 16, background_checkpoint: bool = False
) -> Engine:
    """An engine for ``url``; SQLite files get WAL, a busy timeout and foreign keys on every connection.

    ``background_checkpoint``: a SQLite file's WAL is checkpointed by a daemon thread every second
    (``WalCheckpointer``) instead of by whichever commit crosses 1,000 pages. The checkpoint is the only
    fsync under WAL + synchronous=NORMAL; run inline, it added tens of ms to the request whose commit
    crossed the threshold (and holds the write lock meanwhile), about once a second under load.
    """
    if url.startswith("sqlite"):
        database = url.split("///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
            pool_size=pool_size,
            max_overflow=16,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # noqa: ANN001 - DBAPI connection
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # NORMAL survives application crashes in WAL mode; only an OS crash may lose the last commit.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            if background_checkpoint:
                cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.close()

        if background_checkpoint and database and database != ":memory:":
            WalCheckpointer(engine).start()
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=16, pool_pre_ping=True)


class WalCheckpointer(threading.Thread):
    """Checkpoints a SQLite WAL every ``interval`` seconds (PASSIVE: never waits for readers or writers).

    Holds the engine weakly and stops once the engine is gone; sqlite3 releases the GIL while it copies
    pages and fsyncs, so requests go on meanwhile.
    """

    def __init__(self, engine: Engine, interval: float = 1.0):
        super().__init__(name="sqlite-wal-checkpoint", daemon=True)
        self._engine = weakref.ref(engine)
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            engine = self._engine()
            if engine is None:
                return
            try:
                connection = engine.raw_connection()
                try:
                    connection.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)")
                finally:
                    connection.close()
            except Exception:  # a busy or closed database: try again next time
                log.debug("WAL checkpoint skipped", exc_info=True)
            del engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    """Alembic config pointing at the packaged migrations, independent of the working directory."""
    config = Config(str(_API_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(_API_DIR / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (creates it on first use)."""
    if url.startswith("sqlite"):
        make_engine(url).dispose()  # creates the parent directory and switches the file to WAL once
    command.upgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
