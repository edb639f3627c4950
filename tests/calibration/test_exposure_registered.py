"""Exposure control of banks psychometricians register: ``calibrate fit --register`` and ``calibrate pilots
--register`` store the conditional Sympson-Hetter control the bootstrap stores (for the service's CAT
settings), ``--no-exposure-control`` says it registers none, and ``calibrate exposure`` adds one to a
registered version as a new version naming its source. A real MLflow store in a temporary DIGIPATH_HOME.

Kept small: 3 DigComp areas x 8 items per competence (104 active items), tests of up to 10 items
(``DIGIPATH_MAX_ITEMS``; a bank holds a .25 target from 1.5 x 10 / .25 = 60 active items), 300 simulees
per calibration run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from adaptive.cat import CatConfig, CatSession
from adaptive.cat.exposure import Randomesque, SympsonHetter
from adaptive.cat.simulation import simulate
from adaptive.itembank import ItemBank
from api.cli_calibrate import app
from api.diagnostics import DiagnosticService
from api.providers import StaticModelProvider
from api.settings import Settings
from tests.calibration.helpers import simulate_bank_responses, small_bank

runner = CliRunner()
MAX_ITEMS = 10
FAST = ["--quiet", "--exposure-simulees", "300"]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """One MLflow store for the module: the versions registered by one test are the input of the next."""
    path = tmp_path_factory.mktemp("exposure") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIGIPATH_HOME", str(path))
        mp.setenv("DIGIPATH_MAX_ITEMS", str(MAX_ITEMS))
        # mlflow exports the tracking URI to os.environ: setenv first so that teardown restores the absence
        for name in ("MLFLOW_TRACKING_URI", "DIGIPATH_MLFLOW_TRACKING_URI"):
            mp.setenv(name, "unset")
            mp.delenv(name)
        yield path


@pytest.fixture(scope="module")
def files(home, tmp_path_factory):
    d = tmp_path_factory.mktemp("exposure-data")
    bank = small_bank(n_areas=3, items_per_competence=8, n_pilot=1, seed=7, share_grm=0.0)
    X, _ = simulate_bank_responses(bank, 1200, seed=8, missing=0.5)
    rows, cols = np.nonzero(np.isfinite(X))
    ids = np.array([it.id for it in bank.items])
    pd.DataFrame(
        {"person_id": [f"p{r}" for r in rows], "item_id": ids[cols], "response": X[rows, cols].astype(int)}
    ).to_csv(d / "log.csv", index=False)
    bank.save_json(d / "template.json")
    return d


def registered(version: int) -> ItemBank:
    from models import registry

    registry.clear_cache()  # read the store again: a version must not have changed under the cache
    bank, _ = registry.load_item_bank(version=version)
    return bank


def served_exposure(bank) -> dict:
    """What the service's diagnostics make of ``bank`` under the service's settings (DIGIPATH_MAX_ITEMS)."""
    settings = Settings()
    service = DiagnosticService(StaticModelProvider({"1": bank}, "1"), cat_overrides=settings.cat_overrides)
    return service.exposure_control(bank)


def fit(files, out, *extra):
    return runner.invoke(app, ["fit", str(files / "log.csv"), "--template", str(files / "template.json"),
                               "--model", "2PL", "--out", str(out), "--register", *FAST, *extra])


def test_fit_register_stores_the_control_and_the_cat_uses_it(files, tmp_path):
    r = fit(files, tmp_path / "fit")
    assert r.exit_code == 0, r.output
    assert "registered digcomp-item-bank version 1" in r.output
    assert f"exposure control: conditional-sympson-hetter for tests of up to {MAX_ITEMS} items" in r.output
    bank = registered(1)
    control = bank.exposure_control
    assert control["method"] == "conditional-sympson-hetter" and control["target"] == 0.25
    # calibrated for the service's settings, and the file written is the registered bank
    assert control["config"]["max_items"] == MAX_ITEMS and control["calibration"]["n_simulees"] == 300
    assert ItemBank.load_json(tmp_path / "fit" / "bank.json").exposure_control == control
    config = CatConfig.from_dict(Settings().cat_overrides)
    assert isinstance(CatSession(bank, config, 1)._engine.exposure, SympsonHetter)
    assert served_exposure(bank) == {"method": "conditional-sympson-hetter", "stored": True, "target": 0.25,
                                     "calibrated_for_settings": True, "warning": None}
    # the control restrains exposure: the same bank without it (randomesque) gives items far more often
    with_control = simulate(bank, config, n_simulees=1000, seed=5, rescore=False).summary()
    without = simulate(bank.replace(exposure_control=None), config, n_simulees=1000, seed=5,
                       rescore=False).summary()
    assert with_control["max_conditional_exposure"] < 0.35 < 0.6 < without["max_conditional_exposure"]
    from models import registry

    logged = registry.version_metrics("digcomp-item-bank", 1)
    assert logged["exposure_max"] == control["check"]["max_exposure"]


def test_no_exposure_control_is_said_and_the_service_reports_its_fallback(files, tmp_path):
    r = fit(files, tmp_path / "fit", "--no-exposure-control")
    assert r.exit_code == 0, r.output
    assert "registered digcomp-item-bank version 2" in r.output
    assert "exposure control: not calibrated (--no-exposure-control)" in r.output
    assert "exposure control: none; the service will give this bank randomesque" in r.output
    bank = registered(2)
    assert bank.exposure_control is None
    assert isinstance(CatSession(bank, CatConfig.from_dict(Settings().cat_overrides), 1)._engine.exposure,
                      Randomesque)
    info = served_exposure(bank)
    assert info["method"] == "randomesque" and not info["stored"]
    assert "no stored exposure control" in info["warning"]
    assert "digipath calibrate exposure" in info["warning"]


def test_calibrate_exposure_registers_a_new_version_naming_its_source(files, tmp_path):
    from models import registry

    r = runner.invoke(app, ["exposure", "--version", "2", "--simulees", "300", "--quiet",
                            "--out", str(tmp_path / "bank.json")])
    assert r.exit_code == 0, r.output
    assert "registered digcomp-item-bank version 3" in r.output and "version 2 is unchanged" in r.output
    assert "digipath models promote digcomp-item-bank 3" in r.output
    source, new = registered(2), registered(3)
    assert source.exposure_control is None  # a registered version's artefacts are never changed
    assert new.exposure_control["config"]["max_items"] == MAX_ITEMS
    assert new.provenance["derived_from_version"] == 2
    assert new.to_dict()["items"] == source.to_dict()["items"]
    assert ItemBank.load_json(tmp_path / "bank.json").exposure_control == new.exposure_control
    assert served_exposure(new)["method"] == "conditional-sympson-hetter"
    # the new version carries the calibration's metrics (promotion checks them) and its report
    metrics = registry.version_metrics("digcomp-item-bank", 3)
    assert metrics["loglik_total"] == registry.version_metrics("digcomp-item-bank", 2)["loglik_total"]
    assert metrics["exposure_max"] == new.exposure_control["check"]["max_exposure"]
    from models import item_bank_model

    paths = item_bank_model.artifact_paths(registry.download("digcomp-item-bank", 3, str(tmp_path / "v3")))
    assert (paths[item_bank_model.REPORT_ARTIFACT] / "report.md").exists()
    registry.promote("digcomp-item-bank", 3)
    assert registry.alias_version("digcomp-item-bank") == 3


def test_calibrate_exposure_refuses_what_it_cannot_do(files, monkeypatch):
    from models import registry

    before = len(registry.list_models())
    r = runner.invoke(app, ["exposure", "--quiet"])
    assert r.exit_code == 1 and "give the bank version" in r.output
    r = runner.invoke(app, ["exposure", "--version", "99", "--quiet"])
    assert r.exit_code == 1 and r.output.startswith("error:") and "99" in r.output
    monkeypatch.setenv("DIGIPATH_MAX_ITEMS", "forty")
    r = runner.invoke(app, ["exposure", "--version", "2", "--quiet"])
    assert r.exit_code == 1 and r.output.startswith("error: service settings: DIGIPATH_MAX_ITEMS: ")
    # tests of up to 40 items: 104 active items cannot hold .25 (240 needed); nothing is registered
    monkeypatch.delenv("DIGIPATH_MAX_ITEMS")
    r = runner.invoke(app, ["exposure", "--version", "2", "--quiet"])
    assert r.exit_code == 1, r.output
    assert r.output == ("error: digcomp-item-bank version 2: 104 active items cannot hold a maximum exposure "
                        "of 0.25 with tests of up to 40 items (at least 240 needed); nothing registered\n")
    assert len(registry.list_models()) == before


def test_pilots_register_recalibrates_the_control_or_carries_the_live_one_over(files, tmp_path):
    live = registered(1)  # the fitted bank with its control; its pilot items are still pilots
    assert any(it.status == "pilot" for it in live.items)
    live.save_json(tmp_path / "live.json")
    args = ["pilots", str(files / "log.csv"), "--bank", str(tmp_path / "live.json"), "--register", *FAST]
    r = runner.invoke(app, [*args, "--out", str(tmp_path / "p")])
    assert r.exit_code == 0, r.output
    passed = ItemBank.load_json(tmp_path / "p" / "bank.json")
    newly_active = [it.id for it in live.items
                    if it.status == "pilot" and passed.item(it.id).status == "active"]
    assert newly_active and "carried over" not in r.output
    version = int(r.output.rsplit("registered digcomp-item-bank version ", 1)[1].split()[0])
    control = registered(version).exposure_control
    assert control == passed.exposure_control and control != live.exposure_control
    assert control["config"]["max_items"] == MAX_ITEMS
    r = runner.invoke(app, [*args, "--out", str(tmp_path / "q"), "--no-exposure-control"])
    assert r.exit_code == 0, r.output
    assert "not recalibrated (--no-exposure-control) (the live bank's, carried over)" in r.output
    assert ItemBank.load_json(tmp_path / "q" / "bank.json").exposure_control == live.exposure_control
