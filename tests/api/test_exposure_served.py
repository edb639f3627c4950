"""The service says how it controls exposure on the bank it serves: a bank registered without an exposure
control is served with randomesque, with a warning in the log when it is loaded and in ``GET /v1/models``;
a bank with one is served with conditional Sympson-Hetter, and a control calibrated for other CAT settings
is reported too."""

from __future__ import annotations

import logging

import pytest
from rich.console import Console

from adaptive.cat import CatConfig
from api.providers import StaticModelProvider
from models.bootstrap import store_exposure_control
from tests.api.conftest import CAT, make_api


@pytest.fixture(scope="module")
def controlled(bank_v2):
    """bank v2 with the exposure control the registration stores, for the tests' CAT settings."""
    bank = store_exposure_control(bank_v2, Console(quiet=True), n_simulees=300, recorded=None,
                                  config=CatConfig.from_dict(CAT))
    assert bank.exposure_control is not None
    return bank


def test_a_bank_without_control_is_reported_at_load_and_in_models(settings, bank_v1, controlled, bundle,
                                                                    caplog):
    provider = StaticModelProvider({"1": bank_v1}, champion="1", recommender=bundle)
    with caplog.at_level(logging.WARNING, logger="digipath.api"):
        api = make_api(settings, provider)
    warned = [r.getMessage() for r in caplog.records if "exposure control" in r.getMessage()]
    assert len(warned) == 1 and warned[0].startswith("item bank version 1: the item bank has no stored")
    body = api.client.get("/v1/models", headers=api.a_diag).json()
    exposure = body["item_bank_exposure"]
    assert exposure["method"] == "randomesque" and exposure["stored"] is False
    assert "fall back to randomesque" in exposure["warning"]

    # the champion moves to a version with a control: served with it, no warning
    caplog.clear()
    provider.set_champion("2", controlled)
    with caplog.at_level(logging.WARNING, logger="digipath.api"):
        api.app.state.services.load_models()
    assert not [r for r in caplog.records if "exposure control" in r.getMessage()]
    exposure = api.client.get("/v1/models", headers=api.a_diag).json()["item_bank_exposure"]
    assert exposure == {"method": "conditional-sympson-hetter", "stored": True, "target": 0.25,
                        "calibrated_for_settings": True, "warning": None}
    api.client.close()
    api.app.state.services.engine.dispose()


def test_a_control_made_for_other_settings_is_reported(settings, controlled, bundle, caplog):
    provider = StaticModelProvider({"2": controlled}, champion="2", recommender=bundle)
    with caplog.at_level(logging.WARNING, logger="digipath.api"):
        api = make_api(settings, provider, cat={**CAT, "max_items": CAT["max_items"] + 8})
    assert any("calibrated for other CAT settings" in r.getMessage() for r in caplog.records)
    exposure = api.client.get("/v1/models", headers=api.a_diag).json()["item_bank_exposure"]
    assert exposure["method"] == "conditional-sympson-hetter" and exposure["calibrated_for_settings"] is False
    assert "recalibrate" in exposure["warning"]
    api.client.close()
    api.app.state.services.engine.dispose()
