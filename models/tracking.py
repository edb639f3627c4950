"""MLflow tracking and registry set-up.

The embedded default is one SQLite database under ``DIGIPATH_HOME`` (``sqlite:///<home>/mlflow.db``)
with artifacts beside it in ``<home>/mlartifacts``; ``MLFLOW_TRACKING_URI`` (or
``DIGIPATH_MLFLOW_TRACKING_URI``) points at a shared MLflow server or database instead. MLflow 3
refuses a plain file store by default, and digipath never uses one.
"""

from __future__ import annotations

import logging
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# Quiet and fast before mlflow is first imported: no telemetry, no progress bars on tiny
# artifacts, and a registry that is down fails in seconds rather than after minutes of backoff.
# setdefault: an operator's own environment wins.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")

import mlflow  # noqa: E402

DEFAULT_HOME = "./.digipath"
ARTIFACTS_DIR = "mlartifacts"
DB_FILE = "mlflow.db"
ITEM_BANK_EXPERIMENT = "digipath-item-bank"
RECOMMENDER_EXPERIMENT = "digipath-recommender"

_LOGGERS = ("mlflow", "alembic")


@dataclass(frozen=True)
class TrackingConfig:
    """Where runs and registered models live."""

    tracking_uri: str
    home: Path
    artifact_root: Path | None  # None when a server or external database decides

    @property
    def is_embedded(self) -> bool:
        return self.artifact_root is not None


_current: TrackingConfig | None = None


def resolve_home(home: str | Path | None = None) -> Path:
    """``home`` if given, else ``DIGIPATH_HOME``, else ``./.digipath``; made absolute."""
    if home is None:
        home = os.environ.get("DIGIPATH_HOME") or DEFAULT_HOME
    return Path(home).expanduser().resolve()


def embedded_uri(home: str | Path) -> str:
    return f"sqlite:///{resolve_home(home) / DB_FILE}"


def configure(home: str | Path | None = None) -> TrackingConfig:
    """Point mlflow at digipath's store and return the configuration.

    ``MLFLOW_TRACKING_URI`` / ``DIGIPATH_MLFLOW_TRACKING_URI`` win over the embedded SQLite store.
    The registry always follows the tracking URI (one store for both).
    """
    global _current
    home_path = resolve_home(home)
    external = os.environ.get("DIGIPATH_MLFLOW_TRACKING_URI") or os.environ.get("MLFLOW_TRACKING_URI")
    ours = _current.tracking_uri if _current is not None and _current.is_embedded else None
    if external and external in (embedded_uri(home_path), ours):
        # mlflow.set_tracking_uri exports the URI to the environment (also to child processes such as
        # uvicorn workers): our own embedded store is not an operator's choice of an external one
        external = None
    if external:
        if external.startswith("file:") or "://" not in external:
            raise ValueError(
                f"tracking URI {external!r} is a file store; "
                "use sqlite:///path/mlflow.db or an http(s) server"
            )
        config = TrackingConfig(tracking_uri=external, home=home_path, artifact_root=None)
    else:
        home_path.mkdir(parents=True, exist_ok=True)
        config = TrackingConfig(
            tracking_uri=embedded_uri(home_path), home=home_path, artifact_root=home_path / ARTIFACTS_DIR
        )
    quiet()
    mlflow.set_tracking_uri(config.tracking_uri)
    mlflow.set_registry_uri(config.tracking_uri)
    _current = config
    return config


def current() -> TrackingConfig:
    """The configuration in force, configuring the default one on first use."""
    if _current is None or mlflow.get_tracking_uri() != _current.tracking_uri:
        return configure(_current.home if _current is not None else None)
    return _current


def client() -> mlflow.MlflowClient:
    config = current()
    return mlflow.MlflowClient(tracking_uri=config.tracking_uri, registry_uri=config.tracking_uri)


def experiment_id(name: str) -> str:
    """Id of the named experiment, created on first use.

    In the embedded store its artifacts go to ``<home>/mlartifacts`` (MLflow would otherwise use
    ``./mlruns`` relative to whatever the working directory happens to be).
    """
    config = current()
    c = client()
    exp = c.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = config.artifact_root.as_uri() if config.artifact_root is not None else None
    try:
        return c.create_experiment(name, artifact_location=location)
    except mlflow.exceptions.MlflowException:  # created meanwhile by another process
        exp = c.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


def quiet() -> None:
    """MLflow's INFO chatter ("Creating initial MLflow database tables", "Registered model ...") off."""
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


@contextmanager
def silenced_logging():
    """Suppress MLflow's advice-level warnings while logging a model.

    We log pyfunc models deliberately without an input example or type hints (a signature is
    given explicitly) and by reference to an importable class, so these warnings are noise.
    """
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        logger.setLevel(level)
