"""calibrate_bank end to end: per-area fits, model choice, exclusions, bank output, report, pilot linking."""

from __future__ import annotations

import numpy as np
import pytest

from adaptive.calibration import calibrate_bank
from adaptive.calibration.data import ResponseData
from adaptive.itembank import Item, ItemBank
from tests.calibration.helpers import simulate_2pl, simulate_bank_responses, small_bank


@pytest.fixture(scope="module")
def bank():
    return small_bank(items_per_competence=4, share_grm=0.25, seed=2)


@pytest.fixture(scope="module")
def result(bank, tmp_path_factory):
    X, theta = simulate_bank_responses(bank, 2500, seed=3, missing=0.3)
    ids = [it.id for it in bank.items]
    rng = np.random.default_rng(0)
    flat = np.ones((2500, 1))  # no variance
    rare = np.full((2500, 1), np.nan)
    rare[:10, 0] = rng.integers(0, 2, 10)  # 10 responses
    # a wrongly keyed area-1 item: probability falls with theta (negative discrimination)
    rev = (rng.random((2500, 1)) < 1 / (1 + np.exp(1.2 * theta[:, [0]]))).astype(float)
    data = ResponseData.from_matrix(np.hstack([X, flat, rare, rev]), item_ids=ids + ["FLAT", "RARE", "REV"])
    meta = tmp_path_factory.mktemp("meta") / "meta.csv"
    meta.write_text("item_id,area\nREV,1\n")  # the new item's area; the others come from the template
    return calibrate_bank(data, template=bank, metadata_csv=meta, progress=False)


def test_exclusions_reported_not_crashed(result):
    reasons = dict(result.excluded)
    assert "no variance" in reasons["FLAT"]
    assert "too few responses" in reasons["RARE"]
    assert "negative" in reasons["REV"]
    assert {"FLAT", "RARE", "REV"}.isdisjoint({it.id for it in result.bank.items})


def test_parameters_recovered_on_template_items(bank, result):
    new = result.bank
    assert len(new) == len(bank)
    db, da = [], []
    for it in bank.items:
        got = new.item(it.id)
        assert got.model == it.model
        assert len(got.b) == len(it.b)
        db += list(np.subtract(got.b, it.b))
        da.append(got.a - it.a)
        assert got.content == it.content and got.key == it.key  # content and key kept from the template
    # ~1750 responses per item: SE(b) ~ 0.06-0.1 except at the extremes
    assert np.sqrt(np.mean(np.square(db))) < 0.15
    assert np.sqrt(np.mean(np.square(da))) < 0.15


def test_model_choice_per_area(result):
    mc = result.model_comparison
    for area in ("1", "2"):
        rows = mc[mc["area"] == area]
        assert list(rows["model"]) == ["1PL", "2PL", "3PL"]
        assert rows["chosen"].sum() == 1
        # slopes vary (log-SD 0.25) and n = 2500: the LR test rejects the common slope
        assert rows.loc[rows["model"] == "2PL", "LR_p"].iloc[0] < 0.05
        chosen = rows.loc[rows["chosen"], "model"].iloc[0]
        assert chosen == "2PL"
        assert "LR test" in rows.loc[rows["chosen"], "reason"].iloc[0]
        assert np.all(np.diff(rows["n_parameters"]) > 0)


def test_area_correlation_and_bank_metadata(bank, result):
    R = result.bank.area_correlation
    assert R.shape == (2, 2)
    assert R[0, 1] == pytest.approx(bank.area_correlation[0, 1], abs=0.1)  # true 0.6, disattenuated
    [(lo, hi)] = result.bank.provenance["area_correlation_ci95"].values()  # stored with the bank
    assert lo < R[0, 1] < hi and lo <= bank.area_correlation[0, 1] <= hi
    assert result.bank.cut_scores == bank.cut_scores
    assert result.bank.provenance["source"] == "calibration"
    assert result.metrics["n_items_calibrated"] == len(bank)
    assert result.metrics["n_items_excluded"] == 3


def test_bank_round_trip_and_report(tmp_path, result):
    path = result.bank.save_json(tmp_path / "bank.json")
    again = ItemBank.load_json(path)  # validates
    assert [it.id for it in again.items] == [it.id for it in result.bank.items]
    report = result.write_report(tmp_path / "report")
    text = report.read_text()
    assert "Model choice per area" in text and "Excluded items" in text and "REV" in text
    for name in ("icc_area_1.png", "icc_area_2.png", "test_information.png", "item_fit.png", "items.csv"):
        assert (tmp_path / "report" / name).stat().st_size > 1000 or name == "items.csv"
    assert set(result.artifact_paths) >= {report, tmp_path / "report" / "item_fit.png"}
    assert (result.items["fit_test"] == "LOO-X2").all()  # 30 % missing: sparse-design item fit


@pytest.mark.parametrize("link_method", ["fixed", "stocking-lord"])
def test_pilot_items_join_bank_through_anchors(link_method):
    """Live-CAT-like data: active items (anchors, bank values) plus pilot items; the new population is
    N(0.4, 1.2^2) on the bank scale, and one anchor has drifted by 1.2 logits."""
    full = small_bank(n_areas=1, items_per_competence=8, n_pilot=3, seed=5, share_grm=0.0)
    # the live bank: pilot items carry provisional parameters (a=1, b=0) and must not anchor anything
    live = full.replace(
        items=[
            Item.from_dict({**it.to_dict(), **({"a": 1.0, "b": [0.0]} if it.status == "pilot" else {})})
            for it in full.items
        ]
    )
    active = live.replace(items=[it for it in live.items if it.status == "active"])
    truth = full.replace(items=[Item.from_dict(it.to_dict()) for it in full.items])  # copies
    drifted = truth.items[0]
    drifted.b = [drifted.b[0] + 1.2]
    truth = truth.replace(items=list(truth.items))
    X, _ = simulate_bank_responses(truth, 3000, seed=6, mean=0.4, sd=1.2, missing=0.2)
    data = ResponseData.from_matrix(X, item_ids=[it.id for it in truth.items])
    res = calibrate_bank(data, anchors=live, model="2PL", progress=False, link_method=link_method)
    link = res.area_fits["1"].linking
    assert link.A == pytest.approx(1.2, abs=0.1) and link.B == pytest.approx(0.4, abs=0.1)
    assert drifted.id in link.unstable and drifted.id in link.dropped
    assert len(link.unstable) <= 2
    cal = res.area_fits["1"].calibrator
    assert cal.latent_mean_ == pytest.approx(0.4, abs=0.1) and cal.latent_sd_ == pytest.approx(1.2, abs=0.1)
    pilots = [it for it in full.items if it.status == "pilot"]
    assert len(pilots) == 9
    err = [res.bank.item(it.id).b[0] - it.b[0] for it in pilots]
    assert np.sqrt(np.mean(np.square(err))) < 0.2  # on the bank scale
    assert all(res.bank.item(it.id).status == "pilot" for it in pilots)
    # stable anchors are unchanged; the drifted one was re-estimated freely
    stable = [it for it in active.items if it.id not in link.dropped]
    assert all(res.bank.item(it.id).a == it.a and res.bank.item(it.id).b == it.b for it in stable)
    assert res.bank.item(drifted.id).b[0] == pytest.approx(drifted.b[0], abs=0.3)
    assert res.items.loc[drifted.id, "anchor"] == "dropped (drift)"
    assert (res.items.loc[[it.id for it in stable], "anchor"] == "kept (bank values)").all()


def test_unknown_area_reported_not_thrown_away(tmp_path):
    """Metadata naming an area outside DigComp: the calibration is kept and the problem reported."""
    X, _ = simulate_2pl(500, np.full(10, 1.2), np.linspace(-1, 1, 10), seed=1)
    meta = tmp_path / "meta.csv"
    meta.write_text("item_id,area\n" + "".join(f"item{j + 1},{'X' if j < 5 else '1'}\n" for j in range(10)))
    res = calibrate_bank(ResponseData.from_matrix(X), metadata_csv=meta, model="2PL", progress=False)
    assert set(res.area_fits) == {"1", "X"}
    assert res.validation_error is not None and "X" in res.validation_error
    assert "does not validate" in res.write_report(tmp_path / "r").read_text()


def test_template_calibration_validates(result):
    assert result.validation_error is None


def test_output_keeps_template_order(bank, result):
    assert [it.id for it in result.bank.items] == [it.id for it in bank.items]


def test_area_without_anchors_is_reported(bank):
    """An anchor bank sharing no items with an area: that area cannot be linked, and the result says so."""
    X, _ = simulate_bank_responses(bank, 600, seed=9)
    area1 = [it.id for it in bank.items if it.area == "1"]
    data = ResponseData.from_matrix(X[:, : len(area1)], item_ids=area1)
    other = bank.replace(items=[it for it in bank.items if it.area == "2"])
    res = calibrate_bank(data, template=bank, anchors=other, model="2PL", progress=False, se_method="none")
    assert res.area_fits["1"].linking is None
    assert len(res.notes) == 1 and "NOT linked" in res.notes[0] and "area 1" in res.notes[0]


def test_items_without_known_area_are_excluded(bank):
    X, _ = simulate_bank_responses(bank, 600, seed=10)
    ids = [it.id for it in bank.items]
    extra, _ = simulate_2pl(600, np.ones(1), np.zeros(1), seed=11)
    data = ResponseData.from_matrix(np.hstack([X, extra]), item_ids=ids + ["NEW-1"])
    res = calibrate_bank(data, template=bank, model="2PL", progress=False, se_method="none")
    assert dict(res.excluded)["NEW-1"].startswith("area unknown")
    assert "NEW-1" not in {it.id for it in res.bank.items}


def test_area_correlation_interval_covers_the_true_correlation_at_its_nominal_rate():
    """Fisher's z interval, disattenuated: over 300 simulated samples of 400 persons whose EAP scores have
    known reliabilities (normal model: EAP = w (theta + e), posterior variance w sigma_e^2), the 95%
    interval holds the true correlation .6 in .95 +- 3 binomial SDs (SD = .0126) of the samples."""
    from types import SimpleNamespace

    from adaptive.calibration.calibrate import AreaFit, area_correlation

    rng = np.random.default_rng(14)
    rho, n, reps, hits, widths = 0.6, 400, 300, 0, []
    for _ in range(reps):
        theta = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n)
        fits = {}
        for k, (area, noise) in enumerate((("1", 0.5), ("2", 0.8))):
            w = 1 / (1 + noise**2)
            eap = w * (theta[:, k] + rng.normal(0, noise, n))
            cal = SimpleNamespace(eap_=eap, eap_sd_=np.full(n, np.sqrt(w * noise**2)),
                                  person_ids_=np.arange(n))
            fits[area] = AreaFit(area, "2PL", cal, None, {}, None)
        R, info = area_correlation(fits)
        lo, hi = info["ci95"]["1-2"]
        hits += lo <= rho <= hi
        widths.append(hi - lo)
        assert lo < R[0, 1] < hi
    assert abs(hits / reps - 0.95) < 3 * np.sqrt(0.95 * 0.05 / reps), hits / reps
    assert 0.1 < np.mean(widths) < 0.3  # about 2 * 1.96 / sqrt(397) / sqrt(rel1 rel2) = .28 at most
