"""``digipath calibrate pilots``: pilot items fitted on the live scale; those that pass become active."""

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
    monkeypatch.setenv("DIGIPATH_HOME", str(tmp_path / "home"))
    for name in ("MLFLOW_TRACKING_URI", "DIGIPATH_MLFLOW_TRACKING_URI"):
        monkeypatch.setenv(name, "unset")
        monkeypatch.delenv(name)


def test_pilots_pass_or_stay_and_the_live_scale_holds(tmp_path):
    """Live bank: pilots carry provisional values (a = 1; one b off by +2). One pilot's answers are coin
    flips (no relation to ability): it must stay a pilot. 1500 persons, 60% of the cells answered: ~900
    responses per pilot, SE(b) ~ .1, so the re-estimated b of the shifted pilot is within .35 of the truth
    (3.5 SE) and far from the provisional +2."""
    bank = small_bank(n_areas=1, items_per_competence=5, n_pilot=2, seed=7, share_grm=0.0)
    X, _ = simulate_bank_responses(bank, 1500, seed=8, missing=0.4)
    pilots = [it.id for it in bank.items if it.status == "pilot"]
    shifted, noise = pilots[0], pilots[1]
    j = [it.id for it in bank.items].index(noise)
    rng = np.random.default_rng(9)
    answered = np.isfinite(X[:, j])
    X[answered, j] = rng.integers(0, 2, answered.sum())
    rows, cols = np.nonzero(np.isfinite(X))
    ids = np.array([it.id for it in bank.items])
    pd.DataFrame(
        {"person_id": [f"p{r}" for r in rows], "item_id": ids[cols], "response": X[rows, cols].astype(int)}
    ).to_csv(tmp_path / "log.csv", index=False)
    live_items = []
    for it in bank.items:
        rec = it.to_dict()
        if it.status == "pilot":
            rec["a"] = 1.0
        if it.id == shifted:
            rec["b"] = [x + 2.0 for x in it.b]
        live_items.append(Item.from_dict(rec))
    bank.replace(items=live_items).save_json(tmp_path / "live.json")
    out = tmp_path / "p"
    r = runner.invoke(
        app,
        [
            "pilots",
            str(tmp_path / "log.csv"),
            "--bank",
            str(tmp_path / "live.json"),
            "--out",
            str(out),
            "--quiet",
            "--register",
        ],
    )
    assert r.exit_code == 0, r.output
    verdicts = pd.read_csv(out / "pilots.csv", index_col=0)["verdict"]
    assert verdicts[noise].startswith("kept as pilot")
    assert (verdicts.drop(index=noise) == "passed").all(), verdicts
    new = ItemBank.load_json(out / "bank.json")
    assert new.item(noise).status == "pilot" and new.item(shifted).status == "active"
    assert abs(new.item(shifted).b[0] - bank.item(shifted).b[0]) < 0.35
    for it in bank.items:  # operational items keep exactly their bank values
        if it.status == "active":
            assert new.item(it.id).a == it.a and new.item(it.id).b == it.b
    assert f"{len(pilots) - 1} of {len(pilots)} pilot items pass" in r.output
    assert "registered digcomp-item-bank version 1" in r.output


def test_pilots_needs_pilot_items(tmp_path):
    bank = small_bank(n_areas=1, items_per_competence=3, seed=1)
    bank.save_json(tmp_path / "b.json")
    (tmp_path / "log.csv").write_text("person_id,item_id,response\np1,x,1\n")
    r = runner.invoke(
        app,
        [
            "pilots",
            str(tmp_path / "log.csv"),
            "--bank",
            str(tmp_path / "b.json"),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert r.exit_code == 1 and "no pilot items" in r.output
