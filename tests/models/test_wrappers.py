"""The pyfunc faces of the two models (what a generic MLflow client sees) and what a run records."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from adaptive.cat.profile import estimate_profile
from adaptive.errors import UnknownIdError, ValidationError
from adaptive.estimation import map_estimate
from adaptive.synthetic import simulate_responses
from models import registry, runs, tracking
from models.item_bank_model import artifact_paths, estimate_abilities
from models.registry import ITEM_BANK_MODEL


def _long(person_ids, item_ids, matrix):
    rows = [(p, item, int(matrix[i, j])) for i, p in enumerate(person_ids) for j, item in enumerate(item_ids)]
    return pd.DataFrame(rows, columns=["person_id", "item_id", "response"])


def test_item_bank_pyfunc_predict_recovers_abilities(home, small_bank):
    """MAP from ~8 items per area: with 300 simulees the correlation of estimate and truth is known to
    be about sqrt(reliability) ~ 0.85-0.9; 0.75 leaves room for sampling error (SE of r ~ 0.015)."""
    version = runs.log_item_bank(small_bank, metrics={"loglik_total": -1.0})
    model = mlflow.pyfunc.load_model(f"models:/{ITEM_BANK_MODEL}/{version}")
    rng = np.random.default_rng(11)
    area = "2"
    in_area = np.flatnonzero(small_bank.item_areas() == small_bank.area_ids.index(area))
    ids = [small_bank.items[i].id for i in in_area]
    theta = rng.normal(size=300)
    matrix = simulate_responses(small_bank.parameters(ids), theta, rng)
    persons = [f"p{i}" for i in range(len(theta))]
    out = model.predict(_long(persons, ids, matrix))
    assert list(out.columns) == ["person_id", "area", "theta", "se", "level", "n_items"]
    assert set(out["area"]) == {area} and (out["n_items"] == len(ids)).all()
    est = out.set_index("person_id").loc[persons, "theta"].to_numpy()
    assert np.corrcoef(est, theta)[0, 1] > 0.75
    # the wrapper is exactly the library's profile estimator, person by person (one area: N(0, 1) prior)
    direct = estimate_profile(small_bank, ids, matrix[0]).areas[area]
    assert out.set_index("person_id").loc["p0", "theta"] == pytest.approx(direct.theta, abs=1e-12)
    assert direct.theta == pytest.approx(map_estimate(small_bank.parameters(ids), matrix[0]).theta, abs=1e-5)
    # the prior is a parameter of predict (as of CatConfig)
    wide = model.predict(_long(persons[:1], ids, matrix[:1]), params={"prior_sd": 2.0})
    assert abs(wide.loc[0, "theta"]) > abs(direct.theta)
    assert out["level"].between(1, 8).all()


def test_item_bank_predict_names_bad_input(small_bank):
    item = small_bank.items[0].id
    with pytest.raises(ValidationError, match="response") as err:
        estimate_abilities(small_bank, pd.DataFrame({"person_id": ["p"], "item_id": [item], "response": [7]}))
    assert err.value.row == 0 and err.value.field == "response"
    with pytest.raises(UnknownIdError, match="nope"):
        estimate_abilities(small_bank, pd.DataFrame({"person_id": ["p"], "item_id": ["nope"],
                                                     "response": [1]}))
    with pytest.raises(ValidationError, match="twice"):
        estimate_abilities(small_bank, pd.DataFrame({"person_id": ["p", "p"], "item_id": [item, item],
                                                     "response": [1, 0]}))
    with pytest.raises(ValidationError, match="missing column"):
        estimate_abilities(small_bank, pd.DataFrame({"person_id": ["p"]}))


def test_item_bank_run_records_params_metrics_artifacts(home, small_bank, tmp_path):
    report = tmp_path / "report"
    report.mkdir()
    (report / "report.md").write_text("# calibration report\n")
    table = pd.DataFrame({"item_id": ["x"], "a": [1.0]})
    version = runs.log_item_bank(small_bank, metrics={"loglik_total": -12.5, "ndcg@5": np.nan},
                                 params={"model": "2PL"}, report_dir=report, tables={"items": table})
    client = tracking.client()
    mv = client.get_model_version(ITEM_BANK_MODEL, str(version))
    assert mv.tags["framework_version"] == small_bank.framework_version
    run = client.get_run(mv.run_id)
    assert run.data.params["model"] == "2PL" and run.data.params["framework_version"] == "2.2"
    assert run.data.metrics["n_items"] == len(small_bank) and run.data.metrics["loglik_total"] == -12.5
    assert "ndcg_at_5" not in run.data.metrics  # non-finite metrics are dropped, not logged as NaN
    assert "items.csv" in {a.path for a in client.list_artifacts(mv.run_id)}
    model_dir = registry.download(ITEM_BANK_MODEL, version)
    reqs = (Path(model_dir) / "requirements.txt").read_text()
    assert f"mlflow=={mlflow.__version__}" in reqs and "numpy==" in reqs
    report_copy = artifact_paths(model_dir)["calibration_report"] / "report.md"
    assert report_copy.read_text() == "# calibration report\n"
    sig = mlflow.models.get_model_info(f"models:/{ITEM_BANK_MODEL}/{version}").signature
    assert sig.inputs.input_names() == ["person_id", "item_id", "response", "session_id", "administered_at",
                                        "answer"]
    assert sig.inputs.required_input_names() == ["person_id", "item_id", "response"]


def test_clean_keys_and_params():
    assert runs.clean_key("ndcg@10") == "ndcg_at_10"
    assert runs.clean_metrics({"a": 1, "b": "x", "c": float("inf"), "d": {"e": 2}}) == {"a": 1.0, "d.e": 2.0}
    assert runs.clean_params({"l": [1, 2], "n": None, "s": "x"}) == {"l": "[1, 2]", "s": "x"}
