"""Service settings from ``DIGIPATH_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service reads from the environment; one data directory holds the defaults."""

    model_config = SettingsConfigDict(env_prefix="DIGIPATH_", extra="ignore")

    home: Path = Field(Path(".digipath"), description="data directory: SQLite DB, MLflow store, demo data")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default sqlite:///<home>/digipath.db")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    threads: int = Field(4, ge=1, le=64, description="thread-pool size per worker for the sync endpoints")
    max_body_bytes: int = Field(256 * 1024, description="request bodies larger than this get a 413 problem")
    bootstrap: bool = Field(True, description="register demo models on start when no champion exists")
    demo_org: str = "demo"
    item_bank_alias: str = "champion"
    recommender_alias: str = "champion"
    # CAT default applied when the client does not say; unset: adaptive.cat.CatConfig's default (chosen
    # with the stopping rule and the stored exposure control: experiments/exposure_stopping.py)
    max_items: int | None = None
    cat_seed: int | None = Field(
        None, description="seed of the CAT session seeds (reproducible diagnostics); unset: from the OS"
    )
    sqlite_busy_timeout_ms: int = 5000
    key_cache_seconds: float = Field(
        30.0, description="how long a verified API key is trusted without a DB hit"
    )
    key_check_seconds: float = Field(
        0.5, ge=0.0, le=5.0,
        description="each process looks for revoked keys at most this often: a revoked key is refused "
        "by every worker and host sharing the database within it",
    )
    insights_min_group_size: int = Field(
        5, ge=2, description="insights suppress groups smaller than this; requests may only raise it"
    )
    retention_days: int | None = Field(
        None, ge=1, description="`digipath purge` removes personal data older than this many days; "
        "unset: nothing is purged"
    )

    cat_session_hours: float = Field(
        24.0, gt=0, description="a 1EdTech CAT-service session takes results for this long after it started "
        "(platforms such as TAO never end sessions)"
    )
    xapi_verbs: dict[str, str] | None = Field(
        None, description="xAPI verb IRI -> learning event (viewed|enrolled|completed|rated), over the "
        "defaults in api.xapi.VERB_EVENTS; JSON"
    )
    xapi_activity_prefix: str | None = Field(
        None, description="stripped from xAPI activity ids to give catalogue content ids"
    )

    @property
    def cat_overrides(self) -> dict:
        """The service's CAT settings over ``adaptive.cat.CatConfig``'s defaults (what diagnostics run with
        unless a request says otherwise, and what a registered bank's exposure control is calibrated for)."""
        return {"max_items": self.max_items} if self.max_items is not None else {}

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home.resolve() / 'digipath.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
