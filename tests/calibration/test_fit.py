"""Item fit, classical statistics and the dimensionality check on data with known truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from adaptive.calibration.data import ResponseData
from adaptive.calibration.em import TwoPLCalibrator
from adaptive.calibration.fit import classical, dimensionality, infit_outfit, item_fit_table, loo_x2
from tests.calibration.helpers import simulate_2pl


@pytest.fixture(scope="module")
def misfit_data():
    """20 2PL items plus item 'bad' whose ICC is non-monotone (a U-shaped guessing pattern)."""
    rng = np.random.default_rng(31)
    a = np.exp(rng.normal(0.1, 0.2, 20))
    b = rng.uniform(-1.5, 1.5, 20)
    X, theta = simulate_2pl(2000, a, b, seed=32)
    p_bad = 0.25 + 0.6 * np.exp(-((theta - 0.0) ** 2))  # peaks in the middle: no logistic fits
    bad = (rng.random(2000) < p_bad).astype(float)
    return np.column_stack([X, bad]), [f"i{j}" for j in range(20)] + ["bad"]


def test_sx2_flags_the_misfitting_item_only(misfit_data):
    X, ids = misfit_data
    m = TwoPLCalibrator(se_method="none").fit(ResponseData.from_matrix(X, item_ids=ids))
    t = item_fit_table(m)
    assert (t["fit_test"] == "S-X2").all()
    assert t.loc["bad", "fit_p"] < 1e-6
    assert "misfit" in t.loc["bad", "flags"]
    good = t.drop(index="bad")
    assert (good["fit_p"] < 0.01).sum() <= 2  # ~0.2 expected false alarms among 20 items
    assert "low discrimination" in t.loc["bad", "flags"]  # its fitted slope is ~0


def test_sparse_design_uses_loo_fit_and_is_calibrated(misfit_data):
    """With half the responses missing at random S-X2 is undefined: LOO-X2 takes over; p-values of
    the well-fitting items are roughly uniform and infit/outfit average 1."""
    X, ids = misfit_data
    X = X.copy()
    rng = np.random.default_rng(4)
    X[rng.random(X.shape) < 0.5] = np.nan
    m = TwoPLCalibrator(se_method="none").fit(ResponseData.from_matrix(X, item_ids=ids))
    t = item_fit_table(m)
    assert (t["fit_test"] == "LOO-X2").all()
    assert t.loc["bad", "fit_p"] < 1e-4
    good = t.drop(index="bad")
    assert (good["fit_p"] < 0.01).sum() <= 2
    assert 0.3 < good["fit_p"].mean() < 0.7
    assert good["infit"].mean() == pytest.approx(1.0, abs=0.05)
    assert good["outfit"].mean() == pytest.approx(1.0, abs=0.1)


def test_loo_x2_df_and_infit_outfit_eap_option(lsat7):
    X, _ = lsat7
    m = TwoPLCalibrator(se_method="none").fit(X)
    q = loo_x2(m)
    assert (q["df_LOO"] == 8).all()  # 10 groups - 2 parameters
    eap = infit_outfit(m, method="eap")
    loo = infit_outfit(m)
    # EAP residuals are shrunk on a 5-item test: outfit below 1; LOO predictions are not
    assert eap["outfit"].mean() < 0.9
    assert loo["outfit"].mean() == pytest.approx(1.0, abs=0.1)


def test_classical_statistics_match_direct_computation(lsat7):
    X, _ = lsat7
    m = TwoPLCalibrator(se_method="none").fit(X)
    c = classical(m)
    # mirt itemstats() on LSAT7 (descriptives_check in lsat7_reference.json)
    np.testing.assert_allclose(c["p_value"], [0.828, 0.658, 0.772, 0.606, 0.843], atol=1e-3)
    rest = (X.sum(axis=1, keepdims=True) - X) / 4
    expected = [np.corrcoef(X[:, j], rest[:, j])[0, 1] for j in range(5)]
    np.testing.assert_allclose(c["point_biserial"], expected, atol=1e-10)


def test_dimensionality_parallel_analysis():
    rng = np.random.default_rng(1)
    n = 2000
    th = rng.standard_normal((n, 2))
    th[:, 1] = 0.3 * th[:, 0] + np.sqrt(1 - 0.09) * th[:, 1]
    b = rng.normal(0, 1, 20)
    two = np.concatenate([np.repeat(th[:, [0]], 10, 1), np.repeat(th[:, [1]], 10, 1)], axis=1)
    X2 = (rng.random((n, 20)) < expit(two - b)).astype(float)
    X1 = (rng.random((n, 20)) < expit(th[:, [0]] - b)).astype(float)
    d2 = dimensionality(TwoPLCalibrator(se_method="none").fit(X2), n_replications=5)
    d1 = dimensionality(TwoPLCalibrator(se_method="none").fit(X1), n_replications=5)
    assert d2["unidimensional"] is False and d2["eigenvalues"][1] > d2["lambda2_simulated_q95"] + 0.3
    assert d1["unidimensional"] is True
    assert d1["ratio_1_2"] > d2["ratio_1_2"]
