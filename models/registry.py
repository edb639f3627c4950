"""The model registry: load by alias or version, promote, roll back, list.

Two registered models, both pyfunc: ``digcomp-item-bank`` and ``learning-recommender``. The service
serves the versions carrying the alias ``champion``. Loading downloads the model directory once per
version and builds the library object (ItemBank / RecommenderBundle) from its artifacts directly, so
a request never pays pyfunc overhead and a second load of the same version is a dictionary lookup.

Alias history (for rollback) is kept as a registered-model tag ``digipath.alias_history.<alias>``
holding the JSON list of versions the alias pointed to, oldest first.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import mlflow
from mlflow.exceptions import MlflowException

from adaptive.errors import DigipathError, ModelNotFoundError, RegistryUnavailableError, ValidationError
from models import item_bank_model, recommender_model, tracking

ITEM_BANK_MODEL = "digcomp-item-bank"
RECOMMENDER_MODEL = "learning-recommender"
CHAMPION = "champion"
HISTORY_TAG = "digipath.alias_history."
HISTORY_LENGTH = 50  # tag values are bounded in size; older history is of no use for rollback
# load() trusts an alias -> version resolution this long: an alias lookup is a registry round trip
# (~10 ms on SQLite), too much per request; a promotion elsewhere is seen within this delay.
ALIAS_CACHE_SECONDS = 2.0


@dataclass(frozen=True)
class ModelKind:
    """What distinguishes the two registered models."""

    name: str
    experiment: str
    loader: Callable  # downloaded model directory -> library object
    required_metrics: tuple[str, ...]  # a version lacking any of these cannot be promoted
    key_metrics: tuple[str, ...]  # shown by ``digipath models list``


KINDS: dict[str, ModelKind] = {
    ITEM_BANK_MODEL: ModelKind(
        name=ITEM_BANK_MODEL,
        experiment=tracking.ITEM_BANK_EXPERIMENT,
        loader=item_bank_model.load_from_model_dir,
        required_metrics=("n_items", "loglik_total"),
        key_metrics=("n_items", "n_persons", "n_responses", "loglik_total", "n_items_flagged"),
    ),
    RECOMMENDER_MODEL: ModelKind(
        name=RECOMMENDER_MODEL,
        experiment=tracking.RECOMMENDER_EXPERIMENT,
        loader=recommender_model.load_from_model_dir,
        required_metrics=("n_contents", "test_ndcg_at_10"),
        key_metrics=("test_ndcg_at_10", "test_recall_at_10", "test_coverage_at_10", "n_learners",
                     "n_contents"),
    ),
}


def kind(name: str) -> ModelKind:
    try:
        return KINDS[name]
    except KeyError:
        raise ModelNotFoundError(f"unknown model {name!r}; digipath registers {sorted(KINDS)}") from None


# --------------------------------------------------------------------------- errors


@contextmanager
def registry_errors(what: str) -> Iterator[None]:
    """Turn MLflow / transport failures into ModelNotFoundError or RegistryUnavailableError."""
    try:
        yield
    except DigipathError:
        raise
    except MlflowException as exc:
        code = getattr(exc, "error_code", "")
        message = str(getattr(exc, "message", exc))
        missing_alias = code == "INVALID_PARAMETER_VALUE" and "not found" in message
        if code == "RESOURCE_DOES_NOT_EXIST" or missing_alias:
            raise ModelNotFoundError(f"{what}: {message}") from exc
        raise RegistryUnavailableError(
            f"{what}: MLflow registry at {tracking.current().tracking_uri} failed: {message}") from exc
    except FileNotFoundError as exc:  # e.g. a version whose local artifacts were deleted
        raise ModelNotFoundError(f"{what}: artifacts missing: {exc}") from exc
    except OSError as exc:  # includes requests' ConnectionError
        raise RegistryUnavailableError(
            f"{what}: MLflow registry at {tracking.current().tracking_uri} unreachable: {exc}") from exc
    except Exception as exc:  # e.g. sqlalchemy OperationalError on a broken database file
        if type(exc).__module__.split(".")[0] in ("sqlalchemy", "requests", "urllib3"):
            raise RegistryUnavailableError(
                f"{what}: MLflow registry at {tracking.current().tracking_uri} failed: {exc}") from exc
        raise


def _client():
    """An MlflowClient; building one opens (and for SQLite, migrates) the store, which can fail."""
    with registry_errors("opening the MLflow registry"):
        return tracking.client()


# --------------------------------------------------------------------------- resolving versions


def resolve_version(name: str, alias: str | None = CHAMPION, version: int | None = None) -> int:
    """The version number ``version`` names (checked to exist) or the one ``alias`` points to."""
    kind(name)
    client = _client()
    if version is not None:
        with registry_errors(f"model {name!r} version {version}"):
            client.get_model_version(name, str(int(version)))
        return int(version)
    if alias is None:
        raise ValueError("give an alias or a version")
    with registry_errors(f"model {name!r} alias {alias!r}"):
        return int(client.get_model_version_by_alias(name, alias).version)


def alias_version(name: str, alias: str = CHAMPION) -> int | None:
    """The version carrying ``alias``, or None when the model or the alias does not exist."""
    try:
        return resolve_version(name, alias=alias)
    except ModelNotFoundError:
        return None


def champions() -> dict[str, int | None]:
    """Champion version per registered model kind (None where there is none)."""
    return {name: alias_version(name, CHAMPION) for name in KINDS}


# --------------------------------------------------------------------------- loading with a cache


@dataclass
class _Cache:
    objects: dict[tuple[str, str, int], object] = field(default_factory=dict)
    aliases: dict[tuple[str, str, str], tuple[float, int]] = field(default_factory=dict)  # -> (time, version)
    lock: threading.Lock = field(default_factory=threading.Lock)
    downloads: int = 0
    hits: int = 0
    root: str | None = None

    def directory(self) -> str:
        if self.root is None:
            self.root = tempfile.mkdtemp(prefix="digipath-models-")
            atexit.register(shutil.rmtree, self.root, True)
        return tempfile.mkdtemp(dir=self.root)


_cache = _Cache()


def cache_info() -> dict[str, int]:
    """Downloads and cache hits since the last :func:`clear_cache` (for tests and diagnostics)."""
    return {"downloads": _cache.downloads, "hits": _cache.hits, "size": len(_cache.objects)}


def clear_cache() -> None:
    with _cache.lock:
        _cache.objects.clear()
        _cache.aliases.clear()
        _cache.downloads = 0
        _cache.hits = 0


def download(name: str, version: int, dst_path: str | None = None) -> str:
    """Download a model version's directory (MLmodel + artifacts) to ``dst_path`` (default: a temporary
    directory kept until the process exits)."""
    with registry_errors(f"downloading model {name!r} version {version}"):
        return mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{int(version)}", dst_path=dst_path or _cache.directory(),
            tracking_uri=tracking.current().tracking_uri)


def _load_version(name: str, version: int):
    key = (tracking.current().tracking_uri, name, int(version))
    with _cache.lock:
        if key in _cache.objects:
            _cache.hits += 1
            return _cache.objects[key]
    # download outside the lock: a slow server must not block cache hits for other versions. The loaders
    # read every artifact into memory, so the download is removed at once: a server stopped by a signal
    # (uvicorn re-raises it after shutdown, so atexit never runs) leaves no folder behind.
    with tempfile.TemporaryDirectory(prefix="digipath-model-") as tmp:
        model_dir = download(name, version, dst_path=tmp)
        with registry_errors(f"loading model {name!r} version {version}"):
            obj = kind(name).loader(model_dir)
    with _cache.lock:
        _cache.downloads += 1
        return _cache.objects.setdefault(key, obj)


def _cached_alias(name: str, alias: str) -> int:
    key = (tracking.current().tracking_uri, name, alias)
    now = time.monotonic()
    with _cache.lock:
        hit = _cache.aliases.get(key)
    if hit is not None and now - hit[0] < ALIAS_CACHE_SECONDS:
        return hit[1]
    v = resolve_version(name, alias=alias)
    with _cache.lock:
        _cache.aliases[key] = (now, v)
    return v


def _forget_alias(name: str, alias: str) -> None:
    with _cache.lock:
        _cache.aliases.pop((tracking.current().tracking_uri, name, alias), None)


def load(name: str, alias: str | None = CHAMPION, version: int | None = None) -> tuple[object, int]:
    """The library object of a registered model version, and that version number.

    An alias is re-resolved at most every ``ALIAS_CACHE_SECONDS`` (immediately after a promote or
    rollback in this process); a version is downloaded and built once per process.
    """
    if version is None and alias is not None:
        kind(name)
        v = _cached_alias(name, alias)
    else:
        v = resolve_version(name, alias=alias, version=version)
    return _load_version(name, v), v


def load_item_bank(alias: str | None = CHAMPION, version: int | None = None):
    """``(ItemBank, version)`` by alias (default ``champion``) or by version number (wins over alias)."""
    return load(ITEM_BANK_MODEL, alias=alias, version=version)


def load_recommender(alias: str | None = CHAMPION, version: int | None = None):
    """``(RecommenderBundle, version)`` by alias (default ``champion``) or by version number."""
    return load(RECOMMENDER_MODEL, alias=alias, version=version)


# --------------------------------------------------------------------------- promote / rollback


def version_metrics(name: str, version: int) -> dict[str, float]:
    """Metrics of the run that produced a model version (empty if it has no run)."""
    client = _client()
    with registry_errors(f"model {name!r} version {version}"):
        mv = client.get_model_version(name, str(int(version)))
        if not mv.run_id:
            return {}
        return dict(client.get_run(mv.run_id).data.metrics)


def check_version(name: str, version: int) -> None:
    """Raise ValidationError unless the version's metrics are complete and its artifacts load."""
    spec = kind(name)
    metrics = version_metrics(name, version)
    missing = [m for m in spec.required_metrics if m not in metrics]
    if not metrics or missing:
        raise ValidationError(f"refusing: metrics missing ({', '.join(missing) or 'no metrics logged'})",
                              where=f"model {name!r} version {version}", field="metrics")
    try:
        _load_version(name, version)
    except RegistryUnavailableError:
        raise
    except Exception as exc:
        raise ValidationError(f"refusing: artifacts do not load: {type(exc).__name__}: {exc}",
                              where=f"model {name!r} version {version}", field="artifacts") from exc


def alias_history(name: str, alias: str = CHAMPION) -> list[int]:
    """Versions the alias pointed to, oldest first (as recorded by promote/rollback)."""
    with registry_errors(f"model {name!r}"):
        tags = _client().get_registered_model(name).tags
    raw = tags.get(HISTORY_TAG + alias)
    return [int(v) for v in json.loads(raw)] if raw else []


def _set_history(name: str, alias: str, history: list[int]) -> None:
    with registry_errors(f"model {name!r}"):
        _client().set_registered_model_tag(name, HISTORY_TAG + alias,
                                                   json.dumps(history[-HISTORY_LENGTH:]))


def promote(name: str, version: int, alias: str = CHAMPION, validate: bool = True) -> int | None:
    """Point ``alias`` at ``version`` after checking that it loads and has its metrics.

    Returns the version the alias pointed to before (None if it did not exist)."""
    version = resolve_version(name, version=version)
    if validate:
        check_version(name, version)
    previous = alias_version(name, alias)
    history = alias_history(name, alias)
    if previous is not None and (not history or history[-1] != previous):
        history.append(previous)  # alias was moved outside digipath: keep it rollback-able
    with registry_errors(f"model {name!r} version {version}"):
        _client().set_registered_model_alias(name, alias, str(version))
    _forget_alias(name, alias)
    if not history or history[-1] != version:
        history.append(version)
    _set_history(name, alias, history)
    return previous


def rollback(name: str, alias: str = CHAMPION) -> int:
    """Return ``alias`` to the version it pointed to before the current one; returns that version."""
    current = resolve_version(name, alias=alias)
    history = alias_history(name, alias)
    if not history or history[-1] != current:
        history.append(current)
    client = _client()
    while len(history) > 1:
        history.pop()
        target = history[-1]
        if target == current:
            continue
        try:
            with registry_errors(f"model {name!r} version {target}"):
                client.get_model_version(name, str(target))
        except ModelNotFoundError:  # deleted since: skip it
            continue
        with registry_errors(f"model {name!r} version {target}"):
            client.set_registered_model_alias(name, alias, str(target))
        _forget_alias(name, alias)
        _set_history(name, alias, history)
        return target
    raise ValidationError(f"alias {alias!r} has no previous version to roll back to (now version {current})",
                          where=f"model {name!r}", field="alias")


# --------------------------------------------------------------------------- listing


@dataclass(frozen=True)
class ModelVersionInfo:
    name: str
    version: int
    aliases: tuple[str, ...]
    status: str
    run_id: str | None
    created: datetime
    metrics: dict[str, float]
    framework_version: str | None


def _aliases_by_version(aliases) -> dict[int, tuple[str, ...]]:
    """Registered-model aliases ({alias: version}) grouped by version (search results omit them)."""
    out: dict[int, list[str]] = {}
    for alias, version in dict(aliases or {}).items():
        out.setdefault(int(version), []).append(alias)
    return {v: tuple(sorted(a)) for v, a in out.items()}


def list_models(names: tuple[str, ...] | None = None) -> list[ModelVersionInfo]:
    """Every version of the registered models (default: the digipath ones), newest first per model."""
    client = _client()
    out: list[ModelVersionInfo] = []
    with registry_errors("listing models"):
        for name in names or tuple(KINDS):
            try:
                aliases_of = _aliases_by_version(client.get_registered_model(name).aliases)
            except MlflowException as exc:
                if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                    continue
                raise
            versions = client.search_model_versions(f"name='{name}'")
            for mv in sorted(versions, key=lambda m: int(m.version), reverse=True):
                metrics, framework = {}, mv.tags.get("framework_version")
                if mv.run_id:
                    try:
                        run = client.get_run(mv.run_id)
                        metrics = dict(run.data.metrics)
                        framework = framework or run.data.params.get("framework_version")
                    except MlflowException:  # run deleted: still list the version
                        pass
                out.append(ModelVersionInfo(
                    name=name, version=int(mv.version), aliases=aliases_of.get(int(mv.version), ()),
                    status=str(mv.status), run_id=mv.run_id or None,
                    created=datetime.fromtimestamp(mv.creation_timestamp / 1000, tz=UTC),
                    metrics=metrics, framework_version=framework))
    return out
