"""``digcomp-item-bank``: an item bank with its calibration report as an MLflow pyfunc model.

The service never goes through ``predict``: it reads the bank JSON from the downloaded model
directory (:func:`load_from_model_dir`). ``predict`` is for generic MLflow clients: response
patterns in long format in (e.g. the service's response log export), competence profiles per person
(or per diagnostic session) and area out, scored by the one estimator the live diagnostic reports with
(``adaptive.cat.profile.ProfileEstimator``: joint MAP + Laplace under the bank's correlated area prior).
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import Model, ModelSignature
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

from adaptive.cat.config import CatConfig
from adaptive.errors import ValidationError

BANK_ARTIFACT = "item_bank"
REPORT_ARTIFACT = "calibration_report"
BANK_FILE = "item_bank.json"

INPUT_COLUMNS = ("person_id", "item_id", "response")
SESSION_COLUMN = "session_id"      # optional: one profile per (person, session) instead of per person
SIGNATURE = ModelSignature(
    inputs=Schema([
        ColSpec("string", "person_id"),
        ColSpec("string", "item_id"),
        ColSpec("long", "response"),
        ColSpec("string", SESSION_COLUMN, required=False),
        ColSpec("string", "administered_at", required=False),     # in the service's export; ignored
        ColSpec("string", "answer", required=False),              # in the service's export; ignored
    ]),
    outputs=Schema([
        ColSpec("string", "person_id"),
        ColSpec("string", SESSION_COLUMN, required=False),
        ColSpec("string", "area"),
        ColSpec("double", "theta"),
        ColSpec("double", "se"),
        ColSpec("long", "level"),
        ColSpec("long", "n_items"),
    ]),
    params=ParamSchema([
        ParamSpec("prior_sd", "double", 1.0),
        ParamSpec("independent_areas", "boolean", False),
        # the service's default, so that a finished diagnostic's log reproduces its reported result
        ParamSpec("prior_correlation_shrinkage", "double", CatConfig().prior_correlation_shrinkage),
    ]),
)


def estimate_abilities(bank, responses: pd.DataFrame, *, prior_sd: float = 1.0,
                       independent_areas: bool = False,
                       prior_correlation_shrinkage: float = CatConfig().prior_correlation_shrinkage
                       ) -> pd.DataFrame:
    """Theta, SE and most likely proficiency level per person (and session) and area.

    ``responses`` is long format (``person_id, item_id, response[, session_id]``), scored 0/1 for
    dichotomous items and 0..K-1 for GRM items. With a ``session_id`` column every session is its own
    profile (a learner's diagnostics are not pooled). Pilot items are validated but never scored; areas
    a person was given no scored item in are left out (which does not change the other areas' estimates:
    see ``adaptive.cat.profile``). The prior is the one ``CatConfig(prior_sd=..., independent_areas=...,
    prior_correlation_shrinkage=...)``
    gives a diagnostic, so a finished diagnostic's log reproduces its reported result.
    """
    from adaptive.cat.profile import ProfileEstimator

    missing = [c for c in INPUT_COLUMNS if c not in responses.columns]
    if missing:
        raise ValidationError(f"missing column(s) {missing}; expected {list(INPUT_COLUMNS)}",
                              where="model input", field=missing[0])
    by_session = SESSION_COLUMN in responses.columns
    keys = ["person_id", SESSION_COLUMN] if by_session else ["person_id"]
    frame = responses.loc[:, [*INPUT_COLUMNS, *keys[1:]]].reset_index(drop=True)
    for col in ("item_id", *keys):
        frame[col] = frame[col].astype(str)
    dup = frame.duplicated([*keys, "item_id"])
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise ValidationError(f"item {frame.at[row, 'item_id']!r} answered twice by person "
                              f"{frame.at[row, 'person_id']!r}", where="model input", row=row,
                              field="item_id")

    estimator = ProfileEstimator(bank, None, prior_sd=prior_sd, independent_areas=independent_areas,
                                 prior_correlation_shrinkage=prior_correlation_shrinkage)
    index = estimator.indices(frame["item_id"].tolist())            # UnknownIdError names the item
    n_cat = np.asarray(bank.parameters().n_categories)[index]
    resp = pd.to_numeric(frame["response"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(resp) | (resp < 0) | (resp >= n_cat) | (resp != np.round(resp))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValidationError(f"response {frame.at[row, 'response']!r} out of range 0..{n_cat[row] - 1} "
                              f"for item {frame.at[row, 'item_id']!r}", where="model input", row=row,
                              field="response")
    scores = resp.astype(np.int64)

    rows = []
    for key, group in frame.groupby(keys, sort=True).indices.items():
        key = key if isinstance(key, tuple) else (key,)
        profile = estimator.estimate_indices(index[group], scores[group])
        for area, r in profile.areas.items():
            rows.append((*key, area, r.theta, r.se, r.level, r.n_items))
    out = pd.DataFrame(rows, columns=[*keys, "area", "theta", "se", "level", "n_items"])
    return out.astype({"theta": float, "se": float, "level": "int64", "n_items": "int64"})


class ItemBankModel(mlflow.pyfunc.PythonModel):
    """pyfunc face of an item bank: ability estimates for response patterns."""

    def load_context(self, context):
        from adaptive.itembank import ItemBank

        self.bank = ItemBank.load_json(context.artifacts[BANK_ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        params = params or {}
        return estimate_abilities(self.bank, pd.DataFrame(model_input),
                                  prior_sd=float(params.get("prior_sd", 1.0)),
                                  independent_areas=bool(params.get("independent_areas", False)),
                                  prior_correlation_shrinkage=float(params.get(
                                      "prior_correlation_shrinkage",
                                      CatConfig().prior_correlation_shrinkage)))


def artifact_paths(model_dir: str | Path) -> dict[str, Path]:
    """Local paths of the pyfunc artifacts inside a downloaded model directory, by name."""
    model_dir = Path(model_dir)
    flavor = Model.load(str(model_dir / "MLmodel")).flavors.get("python_function", {})
    return {name: model_dir / spec["path"] for name, spec in (flavor.get("artifacts") or {}).items()}


def load_from_model_dir(model_dir: str | Path):
    """The :class:`~adaptive.itembank.ItemBank` stored in a downloaded model directory."""
    from adaptive.itembank import ItemBank

    paths = artifact_paths(model_dir)
    if BANK_ARTIFACT not in paths:
        raise ValidationError(f"no {BANK_ARTIFACT!r} artifact in the model", where=str(model_dir))
    return ItemBank.load_json(paths[BANK_ARTIFACT])
