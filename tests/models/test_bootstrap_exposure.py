"""The exposure control recorded for the default demo bank (models/data/demo_exposure.json) is reused by
the bootstrap only for a bank and settings with the recorded fingerprint; anything else is calibrated
(issue 16: the calibration is about half of a bootstrap and gives the same parameters on the same bank)."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from adaptive.cat import CatConfig
from adaptive.framework import packaged_frameworks
from adaptive.synthetic import generate_synthetic_bank
from models.bootstrap import (
    DEMO_DIR,
    DEMO_EXPOSURE,
    EXPOSURE_TARGET,
    exposure_fingerprint,
    known_record,
    record_exposure,
    store_exposure_control,
)

N = 300  # simulees: enough to calibrate a control quickly; its quality is tested in tests/cat


@pytest.fixture(scope="module")
def bank():
    return generate_synthetic_bank(packaged_frameworks()["digcomp-3.0"], items_per_competence=16, seed=3)


def test_a_recorded_control_is_reused_only_for_its_fingerprint(bank, tmp_path):
    quiet = Console(quiet=True)
    made = store_exposure_control(bank, quiet, seed=1, n_simulees=N, recorded=None)
    assert made.exposure_control["method"] == "conditional-sympson-hetter"
    path = tmp_path / "record.json"
    marked = {**made.exposure_control, "marker": "recorded"}
    path.write_text(json.dumps({"fingerprint": exposure_fingerprint(bank, CatConfig(), EXPOSURE_TARGET, N, 1),
                                "exposure_control": marked}))
    assert store_exposure_control(bank, quiet, seed=1, n_simulees=N, recorded=path).exposure_control == marked
    # name and provenance do not count; the items, the seed and the number of simulees do
    assert store_exposure_control(bank.replace(name="renamed"), quiet, seed=1, n_simulees=N,
                                  recorded=path).exposure_control == marked
    assert "marker" not in store_exposure_control(bank, quiet, seed=2, n_simulees=N,
                                                  recorded=path).exposure_control
    changed = bank.replace(items=bank.items[1:])
    assert "marker" not in store_exposure_control(changed, quiet, seed=1, n_simulees=N,
                                                  recorded=path).exposure_control


def test_a_bootstrapped_home_records_its_control(bank, tmp_path):
    made = store_exposure_control(bank, Console(quiet=True), seed=0, n_simulees=N, recorded=None)
    (tmp_path / DEMO_DIR).mkdir()
    made.save_json(tmp_path / DEMO_DIR / "bank_calibrated.json")
    path = tmp_path / "record.json"
    record = record_exposure(tmp_path, path, seed=0, n_simulees=N)
    assert known_record(path, exposure_fingerprint(bank, CatConfig(), EXPOSURE_TARGET, N, 0),
                        "exposure_control") == made.exposure_control == record["exposure_control"]


def test_the_committed_record_is_a_calibrated_control_for_the_default_settings():
    record = json.loads(DEMO_EXPOSURE.read_text())
    control = record["exposure_control"]
    assert len(record["fingerprint"]) == 64 and control["method"] == "conditional-sympson-hetter"
    assert control["target"] == EXPOSURE_TARGET and control["check"]["max_exposure"] <= EXPOSURE_TARGET
    assert control["config"] == {k: CatConfig().to_dict()[k] for k in control["config"]}
