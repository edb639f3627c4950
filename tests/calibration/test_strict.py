"""Strict calibration input: no silent change of model, no scale from too few items, both
parameterisations reported, each model fitted once, warnings as one line each."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from adaptive.calibration import calibrate as calibrate_module
from adaptive.calibration.calibrate import calibrate_bank
from adaptive.calibration.data import ResponseData
from adaptive.errors import ValidationError
from api.cli_calibrate import app
from tests.calibration.helpers import simulate_2pl, simulate_bank_responses, small_bank

runner = CliRunner()


@pytest.fixture(autouse=True)
def digipath_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIPATH_HOME", str(tmp_path / "home"))
    for name in ("MLFLOW_TRACKING_URI", "DIGIPATH_MLFLOW_TRACKING_URI"):
        monkeypatch.setenv(name, "unset")
        monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def dich():
    """A dichotomous bank (no GRM) and complete responses from it."""
    bank = small_bank(n_areas=1, items_per_competence=3, seed=11, share_grm=0.0)
    X, _ = simulate_bank_responses(bank, 800, seed=12)
    return bank, X


def test_a_score_of_2_on_a_declared_2pl_item_is_an_error(dich):
    bank, X = dich
    X = X.copy()
    X[5, 2] = 2.0
    data = ResponseData.from_matrix(X, item_ids=[it.id for it in bank.items])
    bad = bank.items[2]
    for model in ("2PL", "template"):
        with pytest.raises(
            ValidationError, match=rf"item '{bad.id}' \(declared {bad.model}\) has a response of 2"
        ):
            calibrate_bank(data, template=bank, model=model, progress=False, se_method="none")
    # the data decide under auto: the item cannot keep the bank's 2-category shape, and says so
    res = calibrate_bank(data, template=bank, model="auto", progress=False, se_method="none")
    assert (
        bad.id,
        "3 score categories observed, the bank item has 2 (option codes? score them with the bank's keys)",
    ) in res.excluded


def test_undeclared_polytomous_items_are_named_in_the_model_summary():
    X, _ = simulate_2pl(1000, np.full(6, 1.3), np.linspace(-1, 1, 6), seed=2)
    X[:, 0] += X[:, 1]  # a 3-category item
    res = calibrate_bank(ResponseData.from_matrix(X), model="2PL", progress=False, se_method="none")
    assert res.params["chosen_models"] == "1:2PL+GRM(1)"
    assert res.items.loc["item1", "model"] == "GRM"


def test_an_area_with_too_few_usable_items_is_excluded(tmp_path):
    X, _ = simulate_2pl(1000, np.full(7, 1.2), np.linspace(-1, 1, 7), seed=3)
    ids = [f"i{k}" for k in range(7)]
    pd.DataFrame({"item_id": ids, "area": ["A"] * 5 + ["B"] * 2}).to_csv(tmp_path / "m.csv", index=False)
    data = ResponseData.from_matrix(X, item_ids=ids)
    res = calibrate_bank(data, metadata_csv=tmp_path / "m.csv", model="2PL", progress=False, se_method="none")
    assert list(res.items.index) == ids[:5]
    assert ("i5", "area B has only 2 usable item(s); 3 are needed to identify its scale") in res.excluded
    one = data.subset_items(["i0"])
    with pytest.raises(ValidationError, match="nothing to calibrate: no area has 3\\+ items"):
        calibrate_bank(one, model="2PL", progress=False, se_method="none")


def test_items_csv_and_report_carry_d_its_se_and_rasch_easiness(tmp_path):
    """1PL data with a = 1: the easiness d = -a b recovers -b. 3000 persons give SE(d) about .045; the
    tolerance is 4 SE of each item (a false failure has probability below 1e-3 over 10 items)."""
    b = np.linspace(-1.5, 1.5, 10)
    X, _ = simulate_2pl(3000, np.ones(10), b, seed=21)
    res = calibrate_bank(ResponseData.from_matrix(X), model="1PL", progress=False)
    t = res.items
    d = np.array([v[0] for v in t["d"]])
    se_d = np.array([v[0] for v in t["se_d"]])
    assert np.all((se_d > 0.02) & (se_d < 0.08))
    np.testing.assert_allclose(t["easiness"], d)
    np.testing.assert_allclose(d, -t["a"] * np.array([v[0] for v in t["b"]]), rtol=1e-9)
    assert np.all(np.abs(d - (-b)) < 4 * se_d)
    res.write_report(tmp_path)
    header = next(line for line in (tmp_path / "report.md").read_text().splitlines() if "| easiness" in line)
    assert "| d | se_d | easiness | se_easiness |" in header
    assert {"d", "se_d", "easiness", "se_easiness"} <= set(pd.read_csv(tmp_path / "items.csv").columns)


def test_auto_fits_an_all_polytomous_area_once(monkeypatch):
    X, _ = simulate_2pl(800, np.full(5, 1.4), np.linspace(-1, 1, 5), seed=5)
    Y, _ = simulate_2pl(800, np.full(5, 1.4), np.linspace(-0.5, 1.5, 5), seed=6)
    calls = []
    real_fit = calibrate_module.MMLCalibrator.fit

    def counting_fit(self, *a, **kw):
        calls.append(self.model)
        return real_fit(self, *a, **kw)

    monkeypatch.setattr(calibrate_module.MMLCalibrator, "fit", counting_fit)
    res = calibrate_bank(ResponseData.from_matrix(X + Y), model="auto", progress=False, se_method="none")
    assert len(calls) == 1 and res.params["chosen_models"] == "1:GRM"
    calls.clear()
    calibrate_bank(ResponseData.from_matrix(X), model="auto", progress=False, se_method="none")
    assert len(calls) == 3  # 1PL, 2PL, 3PL: three distinct models


def test_warnings_are_one_counted_line_in_cli_and_report(dich, tmp_path, monkeypatch):
    bank, X = dich
    pd.DataFrame(X.astype(int), columns=[it.id for it in bank.items]).to_csv(tmp_path / "w.csv", index=False)
    real = calibrate_module.calibrate_bank

    def noisy(*a, **kw):
        for _ in range(3):
            warnings.warn("overflow encountered in exp", RuntimeWarning, stacklevel=1)
        return real(*a, **kw)

    monkeypatch.setattr(calibrate_module, "calibrate_bank", noisy)
    out = tmp_path / "o"
    r = runner.invoke(
        app,
        [
            "fit",
            str(tmp_path / "w.csv"),
            "--wide",
            "--template",
            str(_save(bank, tmp_path)),
            "--out",
            str(out),
            "--quiet",
            "--no-mlflow",
        ],
    )
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.output.splitlines() if "overflow" in ln]
    assert len(lines) == 1 and lines[0].startswith("note: RuntimeWarning (3x) at test_strict.py:")
    assert "RuntimeWarning (3x)" in (out / "report.md").read_text()


def _save(bank, d):
    bank.save_json(d / "bank.json")
    return d / "bank.json"
