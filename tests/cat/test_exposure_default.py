"""Exposure that holds by default (issue 14): conditional Sympson-Hetter calibrated as the bootstrap does,
stored with the bank, used by ``CatConfig()`` (the service's and ``digipath simulate``'s default)."""

from __future__ import annotations

import numpy as np
import pytest
from rich.console import Console

from adaptive.cat import CatConfig, CatSession
from adaptive.cat.exposure import DEFAULT_BANDS, N_UNIFORMS, Randomesque, SympsonHetter
from adaptive.cat.simulation import correlated_thetas, simulate
from adaptive.errors import ItemBankValidationError, ValidationError
from adaptive.framework import get_framework
from adaptive.itembank import ItemBank
from adaptive.synthetic import generate_synthetic_bank
from models.bootstrap import DEFAULT_FRAMEWORK, store_exposure_control

TARGET = 0.25


@pytest.fixture(scope="module")
def boot_bank():
    """The bootstrap's bank (DigComp 3.0, 16 items per competence: 698 items) with the exposure control
    the bootstrap stores for the service's default configuration."""
    bank = generate_synthetic_bank(get_framework(DEFAULT_FRAMEWORK), items_per_competence=16, seed=0)
    return store_exposure_control(bank, Console(quiet=True), seed=0)


@pytest.fixture(scope="module")
def default_run(boot_bank):
    """The default CAT on the bank's population N(0, R), a seed the calibration did not use."""
    return simulate(boot_bank, CatConfig(), n_simulees=3000, seed=101)


def test_stored_control_is_conditional_and_survives_json(boot_bank, tmp_path):
    ec = boot_bank.exposure_control
    assert ec["method"] == "conditional-sympson-hetter" and ec["theta_bands"] == list(DEFAULT_BANDS)
    k = np.array(list(ec["parameters"].values()))
    assert k.shape[1] == len(DEFAULT_BANDS) + 1 and len(k) > 50
    # conditioning matters: items restrained in one band are free (K = 1) in another
    assert ((k.min(axis=1) < 0.5) & (k.max(axis=1) == 1.0)).sum() > 20
    again = ItemBank.load_json(boot_bank.save_json(tmp_path / "bank.json"))
    assert again.exposure_control == ec
    bad = boot_bank.to_dict()
    bad["exposure_control"] = {**ec, "parameters": {"x": [1.0, 2.0, 1.0, 1.0, 1.0]}}
    with pytest.raises(ItemBankValidationError, match="exposure_control"):
        ItemBank.from_dict(bad)


def test_default_simulation_holds_the_target_overall_and_per_band(boot_bank, default_run):
    assert isinstance(CatSession(boot_bank, CatConfig(), 1)._engine.exposure, SympsonHetter)
    s = default_run.summary()
    # overall: the calibration aims 2 sampling SDs under the target in every band, and the overall rate
    # averages the band rates, so the largest of ~700 overall rates (SD .008 at n = 3000) stays under it
    assert s["max_exposure"] <= TARGET
    # by band: the largest of ~700 rates measured on the band's n simulees lies up to ~3 binomial SDs over
    # its true value (<= target); n is ~200 in the outer bands (SD .031), ~1150 in the middle (SD .013)
    for row in default_run.conditional_exposure_summary():
        assert row["max_exposure"] <= TARGET + 3 * row["sd_at_target"], row
        # only noise lifts an item over the target: a few percent of items per band at most
        assert row["share_over_target"] <= 0.05, row


def test_outer_bands_hold_when_measured_on_many_simulees(boot_bank):
    # the same check with the outer bands well filled (theta SD 1.5: ~16% of simulees each)
    theta = correlated_thetas(3000, boot_bank.area_correlation * 1.5**2, np.random.default_rng(7))
    sim = simulate(boot_bank, CatConfig(), true_theta=theta, seed=102, rescore=False)
    for row in sim.conditional_exposure_summary():
        assert row["min_n"] >= 400
        assert row["max_exposure"] <= TARGET + 3 * row["sd_at_target"], row


def test_without_stored_control_the_default_falls_back_to_randomesque_and_breaks_the_target(boot_bank):
    # the same bank without its stored parameters: randomesque k=5, which the target test above would fail
    bare = boot_bank.replace(exposure_control=None)
    assert isinstance(CatSession(bare, CatConfig(), 1)._engine.exposure, Randomesque)
    sim = simulate(bare, CatConfig(), n_simulees=1000, seed=101, rescore=False)
    assert sim.summary()["max_exposure"] > 0.5


def test_conditional_lottery_uses_the_band_of_the_current_estimate():
    # item 0 is barred (K = 0) for estimates under -1.5 only; item 1 is always allowed
    k = np.ones((2, len(DEFAULT_BANDS) + 1))
    k[0, 0] = 0.0
    sh = SympsonHetter(k, DEFAULT_BANDS, item_dim=np.array([0, 0]))
    crit = np.array([[2.0, 1.0], [2.0, 1.0]])
    u = np.full((2, N_UNIFORMS), 0.5)
    theta = np.array([[-2.0], [0.0]])
    np.testing.assert_array_equal(sh.choose(crit, u, theta=theta), [1, 0])
    np.testing.assert_array_equal(sh.band_lotteries[0], [1, 0, 1, 0, 0])
    with pytest.raises(ValueError, match="theta"):
        sh.choose(crit, u)


def test_config_checks_conditional_parameters():
    with pytest.raises(ValidationError, match="one K per theta band"):
        CatConfig(exposure="conditional-sympson-hetter", exposure_parameters={"i": [0.5, 1.0]})
    with pytest.raises(ValidationError, match="increasing"):
        CatConfig(exposure_bands=[0.5, -0.5])
    cfg = CatConfig.from_dict({"exposure": "conditional-sympson-hetter", "exposure_bands": [0],
                               "exposure_parameters": {"i": [0.2, 1]}})
    assert cfg.exposure_parameters == {"i": [0.2, 1.0]}


def test_a_session_stored_before_the_shrinkage_field_replays_as_it_ran(boot_bank):
    import json

    old = CatConfig(exposure="randomesque", prior_correlation_shrinkage=0.0)
    session = CatSession(boot_bank, old, 5)
    rng = np.random.default_rng(1)
    for _ in range(12):
        item = session.next_item()
        session.answer(item, int(rng.integers(0, boot_bank.item(item).n_options)))
    state = json.loads(session.to_json())
    del state["config"]["prior_correlation_shrinkage"]        # as stored before the field existed
    restored = CatSession.from_json(boot_bank, json.dumps(state))
    assert restored.config.prior_correlation_shrinkage == 0.0 and restored.log == session.log


def test_default_prior_keeps_coverage_when_the_true_correlation_is_03_lower(boot_bank):
    from dataclasses import replace

    from adaptive.cat.simulation import equicorrelation

    # the CAT assumes r = .8 (the bank's calibrated correlation), the learners' areas correlate .5
    assumed = boot_bank.replace(area_correlation=equicorrelation(len(boot_bank.area_ids), 0.8))

    def coverage(config):
        sim = simulate(assumed, config, n_simulees=1000, seed=33, correlation=0.5)
        return float((np.abs(sim.theta - sim.true_theta) <= 1.959964 * sim.se).mean())

    # 5000 area estimates (correlated within a simulee): coverage is known to about +-.006 (1 SD)
    assert coverage(CatConfig()) >= 0.93
    # without the shrinkage the reported SEs are too small (measured .866 without exposure control)
    assert coverage(replace(CatConfig(), prior_correlation_shrinkage=0.0)) < 0.90
