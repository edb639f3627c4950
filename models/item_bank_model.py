"""``digcomp-item-bank``: an item bank with its calibration report as an MLflow pyfunc model.

The service never goes through ``predict``: it reads the bank JSON from the downloaded model
directory (:func:`load_from_model_dir`). ``predict`` is for generic MLflow clients: response
patterns in long format in, EAP ability estimates per person and area out.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import Model, ModelSignature
from mlflow.types import ColSpec, Schema

from adaptive.errors import ValidationError

BANK_ARTIFACT = "item_bank"
REPORT_ARTIFACT = "calibration_report"
BANK_FILE = "item_bank.json"

INPUT_COLUMNS = ("person_id", "item_id", "response")
SIGNATURE = ModelSignature(
    inputs=Schema([
        ColSpec("string", "person_id"),
        ColSpec("string", "item_id"),
        ColSpec("long", "response"),
    ]),
    outputs=Schema([
        ColSpec("string", "person_id"),
        ColSpec("string", "area"),
        ColSpec("double", "theta"),
        ColSpec("double", "se"),
        ColSpec("long", "level"),
        ColSpec("long", "n_items"),
    ]),
)


def estimate_abilities(bank, responses: pd.DataFrame) -> pd.DataFrame:
    """EAP theta, SE and most likely proficiency level per person and area.

    ``responses`` is long format (``person_id, item_id, response``), scored 0/1 for dichotomous
    items and 0..K-1 for GRM items; areas a person was given no item in are left out.
    """
    from adaptive.estimation import eap, level_probabilities, most_likely_level

    missing = [c for c in INPUT_COLUMNS if c not in responses.columns]
    if missing:
        raise ValidationError(f"missing column(s) {missing}; expected {list(INPUT_COLUMNS)}",
                              where="model input", field=missing[0])
    frame = responses.loc[:, list(INPUT_COLUMNS)].reset_index(drop=True)
    frame["person_id"] = frame["person_id"].astype(str)
    frame["item_id"] = frame["item_id"].astype(str)
    dup = frame.duplicated(["person_id", "item_id"])
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise ValidationError(f"item {frame.at[row, 'item_id']!r} answered twice by person "
                              f"{frame.at[row, 'person_id']!r}", where="model input", row=row,
                              field="item_id")

    index = np.array([bank.index_of(i) for i in frame["item_id"]], dtype=int)  # UnknownIdError names the item
    areas = np.asarray(bank.area_ids)[bank.item_areas()[index]]
    all_params = bank.parameters()
    n_cat = np.asarray(all_params.n_categories)[index]
    resp = pd.to_numeric(frame["response"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(resp) | (resp < 0) | (resp >= n_cat) | (resp != np.round(resp))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValidationError(f"response {frame.at[row, 'response']!r} out of range 0..{n_cat[row] - 1} "
                              f"for item {frame.at[row, 'item_id']!r}", where="model input", row=row,
                              field="response")
    frame["_index"] = index
    frame["_area"] = areas
    frame["_resp"] = resp.astype(int)

    rows = []
    for (person, area), group in frame.groupby(["person_id", "_area"], sort=True):
        idx = group["_index"].to_numpy()
        est = eap(all_params.subset(idx), group["_resp"].to_numpy())
        probs = level_probabilities(est.theta, est.se, np.asarray(bank.cut_scores[area], dtype=float))
        rows.append((person, area, float(est.theta), float(est.se), int(most_likely_level(probs)), len(idx)))
    return pd.DataFrame(rows, columns=["person_id", "area", "theta", "se", "level", "n_items"])


class ItemBankModel(mlflow.pyfunc.PythonModel):
    """pyfunc face of an item bank: ability estimates for response patterns."""

    def load_context(self, context):
        from adaptive.itembank import ItemBank

        self.bank = ItemBank.load_json(context.artifacts[BANK_ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        return estimate_abilities(self.bank, pd.DataFrame(model_input))


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
