"""Logging calibration and recommender-training runs, and registering their output in one call.

Each ``log_*`` function opens one MLflow run in the model kind's experiment, logs parameters,
metrics and artifacts, logs the pyfunc model (explicit pip requirements and signature, no
dependency inference) and, with ``register=True``, creates a new registered-model version.
It returns that version number (None when not registering). Aliases are left alone: moving
``champion`` is :func:`models.registry.promote`'s job.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from collections.abc import Mapping, Sequence
from importlib import metadata as importlib_metadata
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException

from models import item_bank_model, recommender_model, tracking
from models.registry import ITEM_BANK_MODEL, RECOMMENDER_MODEL, kind, registry_errors

_KEY_INVALID = re.compile(r"[^\w\-. /]")
MODEL_ARTIFACT_PATH = "model"
REGISTERED_DESCRIPTIONS = {
    ITEM_BANK_MODEL: "DigComp item bank (IRT parameters, cut scores, content) with its calibration report. "
                     "pyfunc predict: long-format responses -> EAP theta per person and area.",
    RECOMMENDER_MODEL: "Learning-content recommender bundle (ranker, id maps, catalogue, role profiles). "
                       "pyfunc predict: learner_id[, k, role] -> top-k rankings.",
}


def _pinned(*packages: str) -> list[str]:
    """Exact versions of the installed packages (explicit pip requirements: no slow inference)."""
    out = []
    for pkg in packages:
        try:
            out.append(f"{pkg}=={importlib_metadata.version(pkg)}")
        except importlib_metadata.PackageNotFoundError:
            out.append(pkg)
    return out


def item_bank_requirements() -> list[str]:
    return _pinned("mlflow", "numpy", "pandas", "scipy", "digipath")


def recommender_requirements() -> list[str]:
    return _pinned("mlflow", "numpy", "pandas", "scipy", "scikit-learn", "implicit", "digipath")


def clean_key(key: str) -> str:
    """MLflow accepts only ``[\\w\\-. /]`` in metric and parameter names (``ndcg@10`` -> ``ndcg_at_10``,
    the recommender's own convention)."""
    return _KEY_INVALID.sub("_", str(key).replace("@", "_at_"))


def clean_metrics(metrics: Mapping[str, object] | None) -> dict[str, float]:
    """Finite numeric metrics under valid names; nested dicts are flattened with ``.``."""
    out: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        if isinstance(value, Mapping):
            out.update({f"{clean_key(key)}.{k}": v for k, v in clean_metrics(value).items()})
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out[clean_key(key)] = number
    return out


def clean_params(params: Mapping[str, object] | None) -> dict[str, str]:
    """Parameters as strings (lists/dicts as JSON) under valid names, cut to MLflow's value limit."""
    out = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
        out[clean_key(key)] = text[:6000]
    return out


def _log_model(model_name: str, python_model, artifacts: dict[str, str], signature, pip_requirements,
               register: bool, metadata: dict | None = None, version_tags: dict[str, str] | None = None
               ) -> int | None:
    """Log the pyfunc model in the active run and (optionally) register it as a new version.

    Registration goes through the client rather than ``registered_model_name`` because the fluent
    path prints "Successfully registered model" lines straight to stderr.
    """
    with tracking.silenced_logging():
        info = mlflow.pyfunc.log_model(
            name=MODEL_ARTIFACT_PATH, python_model=python_model, artifacts=artifacts, signature=signature,
            pip_requirements=pip_requirements, metadata=metadata)
    if not register:
        return None
    client = tracking.client()
    try:
        client.create_registered_model(model_name, description=REGISTERED_DESCRIPTIONS.get(model_name))
    except MlflowException as exc:
        if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise
    mv = client.create_model_version(model_name, source=info.model_uri,
                                     run_id=mlflow.active_run().info.run_id, tags=version_tags,
                                     model_id=info.model_id)
    return int(mv.version)


def log_item_bank(bank, *, metrics: Mapping[str, object] | None = None,
                  params: Mapping[str, object] | None = None, report_dir: str | Path | None = None,
                  tables: Mapping[str, object] | None = None, register: bool = True,
                  run_name: str | None = None, tags: Mapping[str, str] | None = None) -> int | None:
    """Log an item bank (and its calibration report directory) as a ``digcomp-item-bank`` run.

    ``tables`` are pandas DataFrames logged as CSV run artifacts (``name.csv``).
    """
    spec = kind(ITEM_BANK_MODEL)
    all_metrics = {"n_items": len(bank), "n_active": len(bank.select(status=("active",))),
                   "n_areas": len(bank.area_ids)}
    all_metrics.update(clean_metrics(metrics))
    all_params = {"framework_version": bank.framework_version, "bank_name": bank.name,
                  "languages": list(bank.languages)}
    all_params.update({f"provenance.{k}": v for k, v in (bank.provenance or {}).items()
                       if isinstance(v, str | int | float | bool)})
    all_params.update(params or {})
    run_tags = {"digipath.model": ITEM_BANK_MODEL, "framework_version": bank.framework_version,
                **(tags or {})}
    with registry_errors("logging an item bank run"), tempfile.TemporaryDirectory() as tmp:
        bank_path = Path(tmp) / item_bank_model.BANK_FILE
        bank.save_json(bank_path)
        artifacts = {item_bank_model.BANK_ARTIFACT: str(bank_path)}
        if report_dir is not None:
            artifacts[item_bank_model.REPORT_ARTIFACT] = str(report_dir)
        with mlflow.start_run(experiment_id=tracking.experiment_id(spec.experiment), run_name=run_name,
                              tags=run_tags, nested=mlflow.active_run() is not None):
            mlflow.log_params(clean_params(all_params))
            mlflow.log_metrics(clean_metrics(all_metrics))
            for name, frame in (tables or {}).items():
                csv = Path(tmp) / f"{name}.csv"
                frame.to_csv(csv, index=False)
                mlflow.log_artifact(str(csv))
            version = _log_model(ITEM_BANK_MODEL, item_bank_model.ItemBankModel(), artifacts,
                                 item_bank_model.SIGNATURE, item_bank_requirements(), register,
                                 version_tags={"framework_version": bank.framework_version})
    return version


def log_calibration(result, register: bool = True, *, params: Mapping[str, object] | None = None,
                    report_dir: str | Path | None = None, run_name: str | None = "calibration",
                    tags: Mapping[str, str] | None = None) -> int | None:
    """Log a :class:`~adaptive.calibration.CalibrationResult`: its metrics, item table, model
    comparison, exclusions, report and calibrated bank; register the bank; return the version.

    ``report_dir``: a report already written by ``result.write_report`` (else one is written)."""
    import pandas as pd

    metrics = dict(result.metrics or {})
    metrics.setdefault("n_excluded", len(result.excluded or ()))
    tables = {"items": result.items}
    if getattr(result, "model_comparison", None) is not None:
        tables["model_comparison"] = result.model_comparison
    if result.excluded:
        tables["excluded"] = pd.DataFrame(list(result.excluded), columns=["item_id", "reason"])
    all_params = {**(getattr(result, "params", None) or {}), **(params or {})}
    with tempfile.TemporaryDirectory() as tmp:
        if report_dir is None:  # not written yet: write it for the run only
            report_dir = Path(tmp) / item_bank_model.REPORT_ARTIFACT
            report_dir.mkdir()
            result.write_report(report_dir)
        return log_item_bank(result.bank, metrics=metrics, params=all_params, report_dir=report_dir,
                             tables=tables, register=register, run_name=run_name, tags=tags)


def log_derived_bank(bank, source_version: int, change: str, *, metrics: Mapping[str, object] | None = None,
                     run_name: str | None = None, tags: Mapping[str, str] | None = None) -> int:
    """Register ``bank``, made from registered item-bank version ``source_version`` by ``change`` (e.g. its
    exposure control recalibrated), as a new version: a registered version's artifacts are never changed.

    The new run carries the source run's metrics (its calibration: what promotion checks) updated by
    ``metrics`` (those ``change`` made anew), and the source version's calibration report; it names the
    source version in its parameters and tags. Returns the new version."""
    from models import registry

    source_metrics = registry.version_metrics(ITEM_BANK_MODEL, source_version)
    with tempfile.TemporaryDirectory(prefix="digipath-source-") as tmp:
        model_dir = registry.download(ITEM_BANK_MODEL, source_version, dst_path=tmp)
        report = item_bank_model.artifact_paths(model_dir).get(item_bank_model.REPORT_ARTIFACT)
        return log_item_bank(bank, metrics={**source_metrics, **(metrics or {})},
                             params={"source_version": int(source_version), "change": change},
                             report_dir=report if report is not None and report.exists() else None,
                             run_name=run_name,
                             tags={"digipath.source_version": str(int(source_version)), **(tags or {})})


def log_recommender(bundle, metrics: Mapping[str, object] | None = None,
                    params: Mapping[str, object] | None = None, register: bool = True, *,
                    run_name: str | None = "recommender-training",
                    tags: Mapping[str, str] | None = None) -> int | None:
    """Log a trained :class:`~recommender.bundle.RecommenderBundle` with its evaluation metrics and
    training parameters; register it as ``learning-recommender``; return the version."""
    spec = kind(RECOMMENDER_MODEL)
    framework = str(getattr(bundle, "framework_version", "") or "")
    all_metrics = {"n_contents": len(bundle.catalogue)}
    all_metrics.update(clean_metrics(getattr(bundle, "metrics", None)))
    all_metrics.update(clean_metrics(metrics))
    bundle_class = recommender_model.bundle_class_path(bundle)
    all_params = {"framework_version": framework or None, "bundle_class": bundle_class}
    all_params.update(params or {})
    run_tags = {"digipath.model": RECOMMENDER_MODEL, **(tags or {})}
    if framework:
        run_tags["framework_version"] = framework
    with registry_errors("logging a recommender run"), tempfile.TemporaryDirectory() as tmp:
        bundle_dir = Path(tmp) / "bundle"
        bundle.save(bundle_dir)
        with mlflow.start_run(experiment_id=tracking.experiment_id(spec.experiment), run_name=run_name,
                              tags=run_tags, nested=mlflow.active_run() is not None):
            mlflow.log_params(clean_params(all_params))
            mlflow.log_metrics(clean_metrics(all_metrics))
            version = _log_model(RECOMMENDER_MODEL, recommender_model.RecommenderModel(bundle_class),
                                 {recommender_model.BUNDLE_ARTIFACT: str(bundle_dir)},
                                 recommender_model.SIGNATURE, recommender_requirements(), register,
                                 metadata={"bundle_class": bundle_class},
                                 version_tags={"framework_version": framework} if framework else None)
    return version


def log_evaluation(name: str, *, metrics: Mapping[str, object], params: Mapping[str, object] | None = None,
                   artifacts: Sequence[str | Path] = (), experiment: str = "recommender-evaluation",
                   tags: Mapping[str, str] | None = None) -> str:
    """Log one offline evaluation (e.g. one ranker on one split) as an MLflow run; return its run id.

    Nothing is registered: comparisons inform a promotion, they are not models themselves."""
    with registry_errors("logging an evaluation run"):
        with mlflow.start_run(experiment_id=tracking.experiment_id(experiment), run_name=name,
                              tags={"digipath.evaluation": name, **(tags or {})},
                              nested=mlflow.active_run() is not None) as run:
            mlflow.log_params(clean_params(params))
            mlflow.log_metrics(clean_metrics(metrics))
            for path in artifacts:
                mlflow.log_artifact(str(path))
            return run.info.run_id
