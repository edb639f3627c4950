"""Model providers: where the service gets item banks and the recommender from.

The routers only see :class:`ModelProvider`. :class:`RegistryModelProvider` reads the MLflow registry
through ``models.registry`` (the served alias, normally ``champion``); :class:`StaticModelProvider` serves
objects handed to it (tests, notebooks). Item banks are cached per version so a diagnostic keeps the bank
it started on after a reload, and a reload swaps one reference, so requests in flight are unaffected.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from adaptive.errors import ModelNotFoundError

ITEM_BANK = "digcomp-item-bank"
RECOMMENDER = "learning-recommender"


@dataclass(frozen=True)
class Served:
    """What one model kind currently serves."""

    name: str
    version: str
    alias: str | None
    obj: Any


class ModelProvider:
    """Base: version-keyed bank cache and atomic champion swap; subclasses say how to load."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._banks: dict[str, Any] = {}
        self._bank: Served | None = None
        self._recommender: Served | None = None
        self.last_error: str | None = None

    # -- what subclasses provide -------------------------------------------------------------
    def _load_champion_bank(self) -> tuple[Any, str, str | None]:
        raise NotImplementedError

    def _load_bank_version(self, version: str) -> Any:
        raise NotImplementedError

    def _load_champion_recommender(self) -> tuple[Any, str, str | None] | None:
        raise NotImplementedError

    def list_models(self) -> list[dict[str, Any]]:
        """Registered models: name, version, aliases (served ones flagged by the router)."""
        return []

    # -- what the routers use ------------------------------------------------------------------
    def load(self) -> dict[str, str | None]:
        """(Re)load the served versions; on failure the previous ones stay served and the error is raised."""
        bank, bank_version, bank_alias = self._load_champion_bank()
        bank_version = str(bank_version)
        rec = self._load_champion_recommender()
        with self._lock:
            self._banks.setdefault(bank_version, bank)
            self._bank = Served(ITEM_BANK, bank_version, bank_alias, self._banks[bank_version])
            if rec is not None:
                self._recommender = Served(RECOMMENDER, str(rec[1]), rec[2], rec[0])
            self.last_error = None
        return self.served_versions()

    def reload(self) -> dict[str, str | None]:
        return self.load()

    def served_versions(self) -> dict[str, str | None]:
        return {
            ITEM_BANK: self._bank.version if self._bank else None,
            RECOMMENDER: self._recommender.version if self._recommender else None,
        }

    @property
    def ready(self) -> bool:
        return self._bank is not None and self._recommender is not None

    def champion_bank(self) -> tuple[Any, str]:
        served = self._bank
        if served is None:
            raise ModelNotFoundError("no item bank is being served (models not loaded)")
        return served.obj, served.version

    def bank(self, version: str) -> Any:
        """The bank of ``version`` (cached; loaded on first use, e.g. after a restart)."""
        bank = self._banks.get(version)
        if bank is None:
            bank = self._load_bank_version(version)
            with self._lock:
                bank = self._banks.setdefault(version, bank)
        return bank

    def recommender(self) -> tuple[Any, str]:
        served = self._recommender
        if served is None:
            raise ModelNotFoundError("no recommender is being served (models not loaded)")
        return served.obj, served.version

    def served(self) -> list[Served]:
        return [s for s in (self._bank, self._recommender) if s is not None]

    def promote(self, name: str, version: str) -> str | None:
        """Point the served alias of model ``name`` at ``version`` (served after the next ``load``);
        returns the version it pointed to before."""
        raise NotImplementedError


class StaticModelProvider(ModelProvider):
    """Serves given objects. ``set_champion`` changes what the next ``reload`` picks up."""

    def __init__(
        self, banks: dict[str, Any], champion: str, recommender: Any = None, recommender_version: str = "1"
    ):
        super().__init__()
        self._available = {str(k): v for k, v in banks.items()}
        self._champion = str(champion)
        self._rec = recommender
        self._rec_version = str(recommender_version)

    def set_champion(self, version: str, bank: Any = None) -> None:
        if bank is not None:
            self._available[str(version)] = bank
        self._champion = str(version)

    def _load_champion_bank(self):
        return self._load_bank_version(self._champion), self._champion, "champion"

    def promote(self, name: str, version: str) -> str | None:
        if name == ITEM_BANK:
            self._load_bank_version(version)  # unknown: ModelNotFoundError, alias unchanged
            previous, self._champion = self._champion, str(version)
            return previous
        if name == RECOMMENDER and self._rec is not None and str(version) == self._rec_version:
            return self._rec_version
        raise ModelNotFoundError(f"{name} version {version!r} is not available")

    def _load_bank_version(self, version: str):
        try:
            return self._available[str(version)]
        except KeyError:
            raise ModelNotFoundError(f"item bank version {version!r} is not available") from None

    def _load_champion_recommender(self):
        return None if self._rec is None else (self._rec, self._rec_version, "champion")

    def list_models(self) -> list[dict[str, Any]]:
        rows = [
            {"name": ITEM_BANK, "version": v, "aliases": ["champion"] if v == self._champion else []}
            for v in self._available
        ]
        if self._rec is not None:
            rows.append({"name": RECOMMENDER, "version": self._rec_version, "aliases": ["champion"]})
        return rows


class RegistryModelProvider(ModelProvider):
    """Serves the MLflow registry's ``alias`` versions through ``models.registry`` (the only mlflow user)."""

    LIST_TTL_SECONDS = 10.0  # listing the registry costs tens of ms: cache it briefly

    def __init__(self, bank_alias: str = "champion", recommender_alias: str = "champion"):
        super().__init__()
        self.bank_alias = bank_alias
        self.recommender_alias = recommender_alias
        self._listed: tuple[float, list[dict[str, Any]]] | None = None

    def load(self) -> dict[str, str | None]:
        self._listed = None
        return super().load()

    def promote(self, name: str, version: str) -> str | None:
        from models import registry

        alias = self.bank_alias if name == ITEM_BANK else self.recommender_alias
        previous = registry.promote(name, int(version), alias=alias)  # checks it loads and has its metrics
        self._listed = None
        return None if previous is None else str(previous)

    def _load_champion_bank(self):
        from models import registry

        bank, version = registry.load_item_bank(alias=self.bank_alias)
        return bank, str(version), self.bank_alias

    def _load_bank_version(self, version: str):
        from models import registry

        bank, _ = registry.load_item_bank(version=int(version) if str(version).isdigit() else version)
        return bank

    def _load_champion_recommender(self):
        from models import registry

        bundle, version = registry.load_recommender(alias=self.recommender_alias)
        return bundle, str(version), self.recommender_alias

    def list_models(self) -> list[dict[str, Any]]:
        from models import registry

        listed = self._listed
        if listed is not None and time.monotonic() - listed[0] < self.LIST_TTL_SECONDS:
            return [dict(row) for row in listed[1]]
        rows = [_model_row(row) for row in registry.list_models()]
        self._listed = (time.monotonic(), rows)
        return [dict(row) for row in rows]


def _model_row(row: Any) -> dict[str, Any]:
    """Normalise a ``registry.list_models()`` row (dict or object) to name/version/aliases."""
    get = row.get if isinstance(row, dict) else (lambda k, d=None: getattr(row, k, d))
    aliases = get("aliases", []) or []
    return {
        "name": str(get("name", "")),
        "version": str(get("version", "")),
        "aliases": sorted(str(a) for a in aliases),
    }
