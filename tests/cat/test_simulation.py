"""Simulation study checks: theta recovery, exposure control, multidimensional efficiency, the report."""

from __future__ import annotations

import numpy as np
import pytest

from adaptive.cat import CatConfig
from adaptive.cat.exposure import N_UNIFORMS, SympsonHetter
from adaptive.cat.simulation import calibrate_sympson_hetter, simulate
from adaptive.errors import ValidationError
from adaptive.synthetic import generate_synthetic_bank


def test_theta_recovery_rmse_consistent_with_reported_se(big_bank):
    n = 600
    cfg = CatConfig(se_target=0.01, min_items=30, max_items=30, max_items_per_area=6)
    sim = simulate(big_bank, cfg, n_simulees=n, seed=1)
    for area, row in sim.area_report().items():
        # RMSE of n errors has relative sampling SD ~ 1/sqrt(2n) = 3%; allow 15% for the Laplace
        # approximation and expected-information SEs of 3PL/GRM items
        assert 0.85 < row["rmse"] / row["rms_se"] < 1.15, (area, row)
        # bias: mean of n errors has SD rmse/sqrt(n) ~ 0.018; 4 SDs (areas are correlated, so is their bias)
        assert abs(row["bias"]) < 4 * row["rmse"] / np.sqrt(n), (area, row)
        assert row["corr"] > 0.85
    # the estimate is much better than the prior alone (RMSE 1)
    assert max(r["rmse"] for r in sim.area_report().values()) < 0.55


def test_report_contents(bank):
    sim = simulate(bank, CatConfig(n_pilot=2, se_target=0.4), n_simulees=120, seed=2)
    rep = sim.report()
    s = rep["summary"]
    assert s["n_simulees"] == 120 and s["mean_pilot_items"] == 2.0
    assert s["min_length"] <= s["median_length"] <= s["max_length"] <= 40
    assert 0 < s["max_exposure"] <= 1 and 0 <= s["share_over_target"] <= 1 and 0 < s["overlap_rate"] < 1
    counts = sim.administered.sum(axis=0)
    expected_overlap = (counts * (counts - 1)).sum() / (120 * 119 * sim.n_items.mean())
    assert s["overlap_rate"] == expected_overlap
    assert set(rep["areas"]) == set(bank.area_ids)
    for row in rep["areas"].values():
        assert 0 <= row["level_within_one"] <= 1 and row["level_accuracy"] <= row["level_within_one"]
    # theta trace (the CAT's running estimate) starts at the prior and ends near the final estimate (the
    # scoring of record, re-scored from the items given); without re-scoring it ends exactly there
    np.testing.assert_array_equal(sim.theta_trace[:, 0], 0.0)
    last = sim.theta_trace[np.arange(120), sim.n_items]
    np.testing.assert_allclose(last, sim.theta, atol=0.01)
    assert not np.array_equal(last, sim.theta)


def test_sympson_hetter_calibration_reaches_target_on_an_independent_run(bank):
    cfg = CatConfig(se_target=0.3, max_items=20, min_items=20, max_items_per_area=4,
                    exposure="sympson-hetter")
    n, target = 400, 0.3
    sd = np.sqrt(target * (1 - target) / n)        # binomial SD of one exposure rate at the target: 0.023
    uncontrolled = simulate(bank, CatConfig(**{**cfg.to_dict(), "exposure": None}), n_simulees=n, seed=2)
    assert uncontrolled.summary()["max_exposure"] > 0.9
    k, history = calibrate_sympson_hetter(bank, cfg, target=target, n_simulees=n, seed=3)
    assert history[0] > 0.9 and len(k) > 10 and all(0 < v < 1 for v in k.values())
    # the calibration stops on an evaluation of its final K that is within its tolerance (1 SD)
    assert history[-1] <= target + sd and len(history) < 20
    controlled = simulate(bank, CatConfig(**{**cfg.to_dict(), "exposure": "sympson-hetter",
                                             "exposure_parameters": k}), n_simulees=n, seed=99)
    # K aims 2 SD under the target, so the true rates are at most ~target - 1 SD after calibration noise;
    # the largest of the ~40 rates near the top of an independent run of n lies <= ~3 SD above its
    # true value: target + 2 SD. (The classic K = target / P(S) update ended at 0.36 here.)
    rates = controlled.exposure_rates
    assert rates.max() <= target + 2 * sd
    # an individual rate is over target + 1 SD only by noise: a few percent of the items in use
    assert (rates > target + sd).sum() <= 0.05 * (rates > 0).sum()
    # exposure control costs little precision
    rmse_u = np.mean([r["rmse"] for r in uncontrolled.area_report().values()])
    rmse_c = np.mean([r["rmse"] for r in controlled.area_report().values()])
    assert rmse_c < rmse_u * 1.15


def test_sympson_hetter_gives_the_largest_k_when_every_candidate_is_rejected():
    sh = SympsonHetter(np.array([0.0, 0.4, 0.1, 1.0]))
    crit = np.array([[3.0, 2.0, 1.0, -np.inf],        # item 3 is not eligible
                     [3.0, 2.0, 1.0, 0.5]])
    u = np.full((2, N_UNIFORMS), 0.99)                 # every lottery fails but item 3's (K = 1)
    np.testing.assert_array_equal(sh.choose(crit, u), [1, 3])
    # the first row gives item 1 without putting the others out of the test; the second rejects 0-2
    np.testing.assert_array_equal(sh.rejected[0], [1, 1, 1])
    np.testing.assert_array_equal(sh.rejected[1], [0, 1, 2])
    np.testing.assert_array_equal(sh.lotteries, [2, 2, 2, 1])


def test_d_optimal_needs_fewer_items_than_separate_cats_at_correlation_08():
    bank = generate_synthetic_bank(items_per_competence=16, languages=("en",), area_correlation=0.8, seed=13)
    # the prior's correlation is the true one here (no shrinkage): the saving the correlation buys
    base = dict(se_target=0.4, max_items=75, max_items_per_area=15, min_items_per_area=1, min_items=5,
                exposure=None, prior_correlation_shrinkage=0.0)
    multi = simulate(bank, CatConfig(**base), n_simulees=300, seed=1)
    separate = simulate(bank, CatConfig(**base, independent_areas=True, selection="max-info"), n_simulees=300,
                        seed=1)
    # test lengths have SD ~3.5 items, so means over 300 simulees are known to +-0.2 items
    assert multi.n_items.mean() < 0.8 * separate.n_items.mean()
    # and they are as precise: both stop at the same SE target, and the SEs are honest
    for sim in (multi, separate):
        for row in sim.area_report().values():
            assert row["mean_se"] <= 0.41 and row["rmse"] < 0.47


def test_conditional_report_shows_eap_shrinkage_and_adds_up(bank):
    """By true-theta band: the EAP's pull towards the prior mean gives positive bias at low theta and
    negative bias at high theta (about +-.3 beyond |theta| > 1.5 with ~8 items per area). 600 simulees
    x 5 areas put ~200 errors in each outer band (< -1.5, >= 1.5): bias SE ~ .45 / sqrt(200) = .03, so
    +-.1 is more than 5 SEs from zero yet far from the expected size."""
    cfg = CatConfig(se_target=0.3, max_items=40)
    sim = simulate(bank, cfg, n_simulees=600, seed=4)
    rows = sim.conditional_report()
    pooled = [r for r in rows if r["area"] == "all"]
    low = [r for r in pooled if r["upper"] <= -1.5]
    high = [r for r in pooled if r["lower"] >= 1.5]
    n_low, n_high = sum(r["n"] for r in low), sum(r["n"] for r in high)
    assert n_low > 120 and n_high > 120
    assert sum(r["n"] * r["bias"] for r in low) / n_low > 0.1
    assert sum(r["n"] * r["bias"] for r in high) / n_high < -0.1
    # the bands partition the simulees: n-weighted MSE and bias give back each area's overall figures
    areas = sim.area_report()
    for area, overall in areas.items():
        mine = [r for r in rows if r["area"] == area]
        assert sum(r["n"] for r in mine) == 600
        mse = sum(r["n"] * r["rmse"] ** 2 for r in mine) / 600
        assert np.isclose(np.sqrt(mse), overall["rmse"]) and np.isclose(
            sum(r["n"] * r["bias"] for r in mine) / 600, overall["bias"])
        assert all(0 <= r["coverage"] <= 1 for r in mine)
    lengths = sim.length_distribution()
    assert np.isclose(sum(lengths["by_length"].values()), 1.0)
    assert lengths["share_at_cap"] == np.mean(sim.n_items >= 40)
    assert sim.report()["conditional"] == rows


def test_gentle_start_raises_early_success_at_little_cost(bank):
    """First 5 items among those with predicted success >= .7: the observed success rate over them rises
    from about .5 (max-information items sit near p = .5) to about .7 or more.
    800 simulees x 5 items: success rate SE ~ .01, so +.15 is far beyond noise; the RMSE cost
    stays within .03 (its sampling SD is ~.01 per run, same simulees and seed)."""
    plain = simulate(bank, CatConfig(exposure=None, max_items=40), n_simulees=800, seed=5)
    gentle = simulate(bank, CatConfig(exposure=None, max_items=40, gentle_start=5, gentle_p=0.7),
                      n_simulees=800, seed=5)
    s0, s1 = plain.summary()["success_first_items"], gentle.summary()["success_first_items"]
    assert s0 < 0.6 and s1 > s0 + 0.15 and s1 > 0.65
    low = gentle.true_theta.mean(axis=1) < -1
    # low-ability learners gain less (the prediction uses the running estimate, which starts at the
    # prior mean): ~.25 -> ~.39; ~130 of them x 5 items gives an SE ~ .02, so +.08 is 4 SEs
    assert np.nanmean(gentle.success_trace[low, :5]) > np.nanmean(plain.success_trace[low, :5]) + 0.08
    # after the gentle start, selection is plain again: items 6.. succeed about as often as without it
    assert abs(np.nanmean(gentle.success_trace[:, 10:20]) - np.nanmean(plain.success_trace[:, 10:20])) < 0.05
    rmse = [np.mean([a["rmse"] for a in s.area_report().values()]) for s in (plain, gentle)]
    assert rmse[1] < rmse[0] + 0.03
    with pytest.raises(ValidationError, match="gentle_p"):
        CatConfig(gentle_start=3, gentle_p=1.0)
