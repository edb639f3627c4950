"""``digipath calibrate`` commands: fit, link, fit-check; errors as one line with a non-zero exit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from adaptive.itembank import Item, ItemBank
from api.cli_calibrate import app
from tests.calibration.helpers import simulate_bank_responses, small_bank

runner = CliRunner()


@pytest.fixture(autouse=True)
def digipath_home(tmp_path, monkeypatch):
    """`calibrate fit` logs an MLflow run into DIGIPATH_HOME's store: keep it in the test's tmp dir."""
    monkeypatch.setenv("DIGIPATH_HOME", str(tmp_path / "home"))
    # mlflow exports the tracking URI to os.environ: setenv first so that teardown restores the absence
    for name in ("MLFLOW_TRACKING_URI", "DIGIPATH_MLFLOW_TRACKING_URI"):
        monkeypatch.setenv(name, "unset")
        monkeypatch.delenv(name)
    return tmp_path / "home"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    bank = small_bank(n_areas=1, items_per_competence=5, n_pilot=2, seed=7, share_grm=0.2)
    X, _ = simulate_bank_responses(bank, 1500, seed=8, missing=0.4)
    rows, cols = np.nonzero(np.isfinite(X))
    ids = np.array([it.id for it in bank.items])
    pd.DataFrame(
        {"person_id": [f"p{r}" for r in rows], "item_id": ids[cols], "response": X[rows, cols].astype(int)}
    ).to_csv(d / "log.csv", index=False)
    # the live bank: pilot items carry provisional slopes (a = 1); the first pilot item is far off (b + 2)
    first_pilot = next(it.id for it in bank.items if it.status == "pilot")
    live_items = []
    for it in bank.items:
        rec = it.to_dict()
        if it.status == "pilot":
            rec["a"] = 1.0
        if it.id == first_pilot:
            rec["b"] = [x + 2.0 for x in it.b]
        live_items.append(Item.from_dict(rec))
    live = bank.replace(items=live_items)
    live.save_json(d / "live.json")
    return d, bank, first_pilot


def test_fit_writes_bank_and_report(files, digipath_home):
    d, bank, _ = files
    out = d / "fit"
    r = runner.invoke(
        app,
        [
            "fit",
            str(d / "log.csv"),
            "--template",
            str(d / "live.json"),
            "--model",
            "2PL",
            "--out",
            str(out),
            "--quiet",
            "--register",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "calibrated 21 items" in r.output
    new = ItemBank.load_json(out / "bank.json")
    assert {it.id for it in new.items} == {it.id for it in bank.items}
    assert (out / "report.md").exists() and (out / "item_fit.png").exists()
    # the fit is an MLflow run in DIGIPATH_HOME's store, and its bank is a registered version
    assert "registered digcomp-item-bank version 1" in r.output
    from models import registry, tracking

    assert tracking.configure().tracking_uri == f"sqlite:///{digipath_home.resolve()}/mlflow.db"
    served, version = registry.load_item_bank(version=1)
    assert version == 1 and [it.id for it in served.items] == [it.id for it in new.items]


def test_link_new_calibration_onto_bank(files):
    d, bank, _ = files
    # a bank calibrated on its own scale (theta_old = 1.1 theta_new - 0.3) with two new items
    A, B = 1.1, -0.3
    items = []
    for it in bank.items:
        rec = it.to_dict()
        rec.update(a=it.a * A, b=[(x - B) / A for x in it.b])
        items.append(Item.from_dict(rec))
    new_ids = {bank.items[0].id, bank.items[1].id}
    old = bank.replace(items=[it for it in bank.items if it.id not in new_ids])
    for it in old.items:
        it.enemies = [e for e in it.enemies if e not in new_ids]
    old.save_json(d / "old.json")
    bank.replace(items=items).save_json(d / "new.json")
    r = runner.invoke(
        app,
        ["link", str(d / "new.json"), "--anchor-bank", str(d / "old.json"), "--out", str(d / "linked.json")],
    )
    assert r.exit_code == 0, r.output
    assert "A=1.1000 B=-0.3000" in r.output and "linked 2 new items" in r.output
    linked = ItemBank.load_json(d / "linked.json")
    for iid in new_ids:
        assert linked.item(iid).b == pytest.approx(bank.item(iid).b, abs=1e-3)
    assert (d / "linked_anchor_drift.csv").exists()


def test_fit_check_reports_flags(files):
    d, _, wrong = files
    r = runner.invoke(
        app, ["fit-check", str(d / "live.json"), str(d / "log.csv"), "--out", str(d / "fit.csv")]
    )
    assert r.exit_code == 0, r.output
    t = pd.read_csv(d / "fit.csv", index_col=0)
    assert len(t) == 21
    assert "misfit" in t.loc[wrong, "flags"] and t.loc[wrong, "fit_p"] < 1e-6
    assert f"{wrong}:" in r.output
    assert t.drop(index=wrong)["flags"].notna().sum() <= 3  # the rest fit their bank parameters


def test_bad_csv_one_line_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("person_id,item_id,response\np1,i1,1\np1,i2,maybe\n")
    r = runner.invoke(app, ["fit", str(bad), "--out", str(tmp_path / "o"), "--quiet"])
    assert r.exit_code == 1
    err = r.output.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and "line 3" in err[0] and "response" in err[0]
    r = runner.invoke(app, ["fit", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "file not found" in r.output


def test_fit_wide_csv_with_metadata_models(lsat7, tmp_path):
    """Wide input (a column per item) and per-item models from the metadata (``--model template``)."""
    X, ref = lsat7
    wide = tmp_path / "lsat7.csv"
    pd.DataFrame(X.astype(int), columns=[f"item{j + 1}" for j in range(5)]).to_csv(wide, index=False)
    meta = tmp_path / "meta.csv"
    meta.write_text(
        "item_id,area,competence,level,model\n" + "".join(f"item{j + 1},1,1.1,3,2PL\n" for j in range(5))
    )
    out = tmp_path / "out"
    r = runner.invoke(
        app,
        [
            "fit",
            str(wide),
            "--wide",
            "--metadata",
            str(meta),
            "--model",
            "template",
            "--out",
            str(out),
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    bank = ItemBank.load_json(out / "bank.json")
    a = [bank.item(f"item{j + 1}").a for j in range(5)]
    np.testing.assert_allclose(a, ref["2PL"]["a"], atol=0.01)  # mirt's LSAT7 2PL slopes
    assert all(bank.item(f"item{j + 1}").level == 3 for j in range(5))
