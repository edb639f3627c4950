"""``digipath simulate``: report, plots and clean errors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from adaptive.synthetic import generate_synthetic_bank
from api.cli import app

runner = CliRunner()


def test_simulate_prints_report_and_writes_plots(tmp_path):
    bank_path = tmp_path / "bank.json"
    generate_synthetic_bank(items_per_competence=10, n_pilot_per_competence=1, languages=("en",),
                            seed=4).save_json(bank_path)
    out = tmp_path / "sim"
    res = runner.invoke(app, ["simulate", str(bank_path), "--simulees", "80", "--max-items", "20",
                              "--se-target", "0.4", "--n-pilot", "1", "--seed", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "RMSE" in res.output and "max exposure rate" in res.output
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["n_simulees"] == 80 and report["summary"]["max_length"] <= 20
    assert set(report["areas"]) == {"1", "2", "3", "4", "5"}
    assert "By true theta" in res.output and "tests run to the item cap" in res.output
    assert {r["area"] for r in report["conditional"]} == {"1", "2", "3", "4", "5", "all"}
    for name in ("convergence.png", "exposure.png", "test_information.png", "conditional.png",
                 "test_length.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_with_sympson_hetter_and_area_subset(tmp_path):
    bank_path = tmp_path / "bank.json"
    generate_synthetic_bank(items_per_competence=8, languages=("en",), seed=4).save_json(bank_path)
    res = runner.invoke(app, ["simulate", str(bank_path), "-n", "60", "--areas", "1,3", "--max-items", "8",
                              "--min-items", "4", "--exposure", "sympson-hetter", "--exposure-target", "0.4"])
    assert res.exit_code == 0, res.output
    assert "calibrating Sympson-Hetter" in res.output


def test_simulate_errors_are_one_line(tmp_path):
    res = runner.invoke(app, ["simulate", str(tmp_path / "missing.json")])
    assert res.exit_code == 1 and "missing.json" in res.output and "Traceback" not in res.output
    bank_path = tmp_path / "bank.json"
    generate_synthetic_bank(items_per_competence=8, languages=("en",), seed=4).save_json(bank_path)
    res = runner.invoke(app, ["simulate", str(bank_path), "--selection", "magic"])
    assert res.exit_code == 1 and "selection" in res.output
    res = runner.invoke(app, ["simulate", str(bank_path), "--areas", "7"])
    assert res.exit_code == 1 and "'7'" in res.output


def test_default_simulation_holds_the_exposure_target(tmp_path):
    """No exposure option: Sympson-Hetter calibrated on the bank, and the evaluation run (a fresh seed)
    keeps every item's exposure at or below the .25 target; plain max-info on the same bank does not."""
    bank_path = tmp_path / "bank.json"
    generate_synthetic_bank(items_per_competence=8, languages=("en",), seed=5).save_json(bank_path)
    for exposure, out in ((None, tmp_path / "default"), ("none", tmp_path / "none")):
        args = ["simulate", str(bank_path), "-n", "500", "--max-items", "20", "--seed", "9",
                "--out", str(out)]
        res = runner.invoke(app, args + (["--exposure", exposure] if exposure else []))
        assert res.exit_code == 0, res.output
    held = json.loads((tmp_path / "default" / "report.json").read_text())["summary"]
    free = json.loads((tmp_path / "none" / "report.json").read_text())["summary"]
    assert held["max_exposure"] <= 0.25 < free["max_exposure"]
    assert held["overlap_rate"] < free["overlap_rate"]


def test_misspecified_correlation_loses_coverage(tmp_path):
    """The CAT assumes r = .8 while the simulees' areas correlate .2: the correlated prior borrows
    strength that is not there, so SEs are too small and the 95% coverage falls (the issue measured .81);
    with the true correlation assumed it stays near .95. 400 simulees x 5 areas: coverage SE ~ .005 (areas
    correlated: say .01), so a .05 gap is 5 SEs while the expected gap is ~.12."""
    bank_path = tmp_path / "bank.json"
    generate_synthetic_bank(items_per_competence=8, languages=("en",), seed=6).save_json(bank_path)
    coverage = {}
    for assumed in ("0.8", "0.2"):
        out = tmp_path / assumed
        res = runner.invoke(app, ["simulate", str(bank_path), "-n", "400", "--exposure", "none",
                                  "--seed", "2", "--max-items", "60", "--correlation", "0.2",
                                  "--assumed-correlation", assumed, "--out", str(out),
                                  # the prior as assumed, without the default's robustness (tested in
                                  # test_exposure_default)
                                  "--prior-correlation-shrinkage", "0"])
        assert res.exit_code == 0, res.output
        areas = json.loads((out / "report.json").read_text())["areas"]
        coverage[assumed] = sum(a["coverage"] for a in areas.values()) / len(areas)
    assert coverage["0.2"] > 0.92 and coverage["0.8"] < coverage["0.2"] - 0.05
    res = runner.invoke(app, ["simulate", str(bank_path), "--assumed-correlation", "1.5"])
    assert res.exit_code == 1 and "--assumed-correlation" in res.output


def test_simulate_uses_the_banks_stored_exposure_control_for_its_settings(tmp_path):
    from adaptive.cat import CatConfig
    from adaptive.cat.simulation import calibrate_exposure_control

    bank = generate_synthetic_bank(items_per_competence=10, languages=("en",), seed=4)
    control = calibrate_exposure_control(bank, CatConfig(), n_simulees=300, n_iterations=2,
                                         check_simulees=300)
    bank_path = bank.replace(exposure_control=control).save_json(tmp_path / "bank.json")
    out = tmp_path / "sim"
    res = runner.invoke(app, ["simulate", str(bank_path), "-n", "100", "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())          # rich wraps long lines
    assert "the bank's stored parameters" in text and "calibrating" not in text
    assert "Exposure by true theta band" in text and "tests stopped on precision" in text
    report = json.loads((out / "report.json").read_text())
    assert report["exposure_control"]["check"]["n_simulees"] == 300 and "parameters" not in report[
        "exposure_control"]
    assert len(report["exposure_by_band"]) == 5 and (out / "exposure_by_band.png").stat().st_size > 0
    # other settings than those the parameters were calibrated for: calibrated afresh
    res = runner.invoke(app, ["simulate", str(bank_path), "-n", "100", "--max-items", "20"])
    assert res.exit_code == 0, res.output
    assert "calibrated for other settings" in " ".join(res.output.split())
