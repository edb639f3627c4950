"""``learning-recommender``: a saved :class:`~recommender.bundle.RecommenderBundle` as an MLflow pyfunc model.

The bundle directory (fitted ranker, id maps, catalogue, role profiles, metrics) is the one
artifact. The service loads the bundle from the downloaded directory (:func:`load_from_model_dir`);
``predict`` gives generic MLflow clients top-k rankings for learner ids.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import Model, ModelSignature
from mlflow.types import ColSpec, Schema

from adaptive.errors import ValidationError
from models.item_bank_model import artifact_paths

BUNDLE_ARTIFACT = "bundle"
DEFAULT_K = 10

SIGNATURE = ModelSignature(
    inputs=Schema([
        ColSpec("string", "learner_id"),
        ColSpec("long", "k", required=False),
        ColSpec("string", "role", required=False),
    ]),
    outputs=Schema([
        ColSpec("string", "learner_id"),
        ColSpec("long", "rank"),
        ColSpec("string", "content_id"),
        ColSpec("double", "score"),
        ColSpec("string", "reason"),
    ]),
)


DEFAULT_BUNDLE_CLASS = "recommender.bundle:RecommenderBundle"


def bundle_class_path(bundle) -> str:
    """``module:QualName`` of a bundle's class, kept in the model metadata so loading needs no pickle."""
    cls = type(bundle)
    return f"{cls.__module__}:{cls.__qualname__}"


def _bundle_class(path: str | None = None):
    module_name, _, qualname = (path or DEFAULT_BUNDLE_CLASS).partition(":")
    obj = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def rankings(bundle, requests: pd.DataFrame) -> pd.DataFrame:
    """Top-k recommendations for each ``learner_id`` row (optional ``k`` and ``role`` columns)."""
    if "learner_id" not in requests.columns:
        raise ValidationError("missing column 'learner_id'", where="model input", field="learner_id")
    rows = []
    for i, req in enumerate(requests.to_dict("records")):
        k = req.get("k")
        k = DEFAULT_K if k is None or pd.isna(k) else int(k)
        if k < 1:
            raise ValidationError(f"k must be >= 1, got {k}", where="model input", row=i, field="k")
        role = req.get("role")
        role = None if role is None or (isinstance(role, float) and pd.isna(role)) else str(role)
        learner = str(req["learner_id"])
        for rank, rec in enumerate(bundle.recommend(learner, k=k, role=role), start=1):
            rows.append((learner, rank, str(rec.content_id), float(rec.score), str(rec.reason)))
    return pd.DataFrame(rows, columns=["learner_id", "rank", "content_id", "score", "reason"])


class RecommenderModel(mlflow.pyfunc.PythonModel):
    """pyfunc face of a recommender bundle: rankings for learner ids."""

    def __init__(self, bundle_class: str = DEFAULT_BUNDLE_CLASS):
        self.bundle_class = bundle_class

    def load_context(self, context):
        self.bundle = _bundle_class(self.bundle_class).load(context.artifacts[BUNDLE_ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        return rankings(self.bundle, pd.DataFrame(model_input))


def load_from_model_dir(model_dir: str | Path):
    """The :class:`~recommender.bundle.RecommenderBundle` stored in a downloaded model directory."""
    paths = artifact_paths(model_dir)
    if BUNDLE_ARTIFACT not in paths:
        raise ValidationError(f"no {BUNDLE_ARTIFACT!r} artifact in the model", where=str(model_dir))
    metadata = Model.load(str(Path(model_dir) / "MLmodel")).metadata or {}
    return _bundle_class(metadata.get("bundle_class")).load(paths[BUNDLE_ARTIFACT])
