"""Parameter recovery on simulated data with known truth (fixed seeds).

Tolerances come from the sample sizes: with 2,000 persons per item the asymptotic SE of a 2PL
difficulty is about 0.05-0.07 and of a slope about 0.06-0.08 (see the fitted SEs), so the RMSE bar of the
issue (b < 0.10, a < 0.12) holds with margin; the standardised errors (estimate - truth) / SE must
have an SD near 1 (0.7-1.35 for 30-60 items) if the standard errors are right.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import expit

from adaptive.calibration.data import ResponseData
from adaptive.calibration.em import GRMCalibrator, MMLCalibrator, ThreePLCalibrator, TwoPLCalibrator
from tests.calibration.helpers import simulate_2pl


def rmse(x, y):
    return float(np.sqrt(np.mean((np.asarray(x) - np.asarray(y)) ** 2)))


@pytest.fixture(scope="module")
def truth_2pl():
    rng = np.random.default_rng(11)
    a = np.exp(rng.normal(np.log(1.2), 0.25, 30))
    b = rng.uniform(-2, 2, 30)
    return a, b


def test_2pl_recovery_2000_persons(truth_2pl):
    a, b = truth_2pl
    X, _ = simulate_2pl(2000, a, b, seed=1)
    m = TwoPLCalibrator().fit(X)
    assert m.converged_
    assert rmse(m.b_[:, 0], b) < 0.10
    assert rmse(m.a_, a) < 0.12
    # standard errors are calibrated: standardised errors have SD ~ 1
    zb = (m.b_[:, 0] - b) / m.se_["b"][:, 0]
    za = (m.a_ - a) / m.se_["a"]
    assert 0.7 < np.std(zb) < 1.35
    assert 0.7 < np.std(za) < 1.35


def test_sparse_multistage_design_recovery():
    """A CAT-like multistage design: everyone takes a 10-item router, then an easy or a hard 20-item
    block chosen from the router score. Missingness depends on observed responses only (MAR), so
    the marginal likelihood over observed responses is unbiased; zero-filling would not be."""
    rng = np.random.default_rng(5)
    n = 4000
    a = np.exp(rng.normal(np.log(1.2), 0.2, 50))
    b = np.concatenate([rng.uniform(-1, 1, 10), rng.uniform(-2.5, 0, 20), rng.uniform(0, 2.5, 20)])
    theta = rng.standard_normal(n)
    X = (rng.random((n, 50)) < expit(a * (theta[:, None] - b))).astype(float)
    hard = X[:, :10].sum(axis=1) >= 6
    X[np.ix_(hard, np.arange(10, 30))] = np.nan
    X[np.ix_(~hard, np.arange(30, 50))] = np.nan
    data = ResponseData.from_matrix(X)
    assert data.n_responses == n * 30
    m = TwoPLCalibrator().fit(data)
    per_item = data.responses_per_item()
    assert per_item[10:].min() > 1000  # every block item seen by > 1000 persons
    assert rmse(m.b_[:, 0], b) < 0.12
    assert rmse(m.a_, a) < 0.15
    assert abs(np.mean(m.b_[:, 0] - b)) < 0.05  # no bias from the design
    # zero-filling the design's missing responses (what must NOT be done) biases difficulty upwards
    Z = np.nan_to_num(X, nan=0.0)
    with warnings.catch_warnings():  # a rough fit is enough to show the bias
        warnings.simplefilter("ignore", RuntimeWarning)
        z = TwoPLCalibrator(se_method="none", tol=1e-3, max_iter=100).fit(Z)
    assert np.mean(z.b_[10:, 0] - b[10:]) > 0.2


def test_3pl_recovery_with_beta_prior():
    rng = np.random.default_rng(21)
    J, n = 20, 4000
    a = np.exp(rng.normal(np.log(1.3), 0.2, J))
    b = rng.uniform(-1.5, 2, J)
    c = rng.beta(5, 17, J)
    theta = rng.standard_normal(n)
    p = c + (1 - c) * expit(a * (theta[:, None] - b))
    X = (rng.random(p.shape) < p).astype(float)
    m = ThreePLCalibrator(se_method="none").fit(X)
    assert m.converged_
    assert rmse(m.b_[:, 0], b) < 0.25
    assert rmse(m.a_, a) < 0.30
    # c is weakly identified: the Beta(5, 17) prior pulls it; still clearly better than the prior mean
    assert rmse(m.c_, c) < 0.075
    assert rmse(m.c_, c) < rmse(np.full(J, 5 / 22), c)
    assert np.all((m.c_ > 0) & (m.c_ < 0.5))


def test_grm_recovery():
    rng = np.random.default_rng(8)
    J, n, K = 10, 2000, 4
    a = np.exp(rng.normal(np.log(1.3), 0.2, J))
    b = np.sort(rng.normal(0, 1, (J, K - 1)), axis=1) + np.array([-0.8, 0.0, 0.8])
    theta = rng.standard_normal(n)
    star = expit(a[None, :, None] * (theta[:, None, None] - b[None]))  # P(X >= k)
    u = rng.random((n, J, 1))
    X = (star > u).sum(axis=2).astype(float)
    m = GRMCalibrator().fit(X)
    assert rmse(m.a_, a) < 0.12
    assert rmse(m.b_, b) < 0.12
    z = (m.b_ - b) / m.se_["b"]
    assert 0.7 < np.std(z) < 1.35


def test_fixed_anchor_calibration_recovers_population_and_scale():
    """Anchors held at their bank values put new items on the bank scale; the new population's
    mean and SD (0.5, 1.3) are estimated rather than assumed N(0, 1)."""
    rng = np.random.default_rng(3)
    J = 40
    a = np.exp(rng.normal(np.log(1.2), 0.2, J))
    b = rng.uniform(-2, 2.5, J)
    theta = rng.normal(0.5, 1.3, 3000)
    X, _ = simulate_2pl(3000, a, b, seed=4, theta=theta)
    ids = [f"i{j}" for j in range(J)]
    anchors = {ids[j]: np.array([a[j], -a[j] * b[j]]) for j in range(20)}
    m = MMLCalibrator(model="2PL").fit(ResponseData.from_matrix(X, item_ids=ids), fixed=anchors)
    assert m.latent_mean_ == pytest.approx(0.5, abs=0.1)
    assert m.latent_sd_ == pytest.approx(1.3, abs=0.1)
    order = [int(np.flatnonzero(m.item_ids_ == i)[0]) for i in ids]
    new = np.array(order[20:])
    assert rmse(m.b_[new, 0], b[20:]) < 0.12
    assert rmse(m.a_[new], a[20:]) < 0.12
    assert np.all(m.fixed_[np.array(order[:20])])
    np.testing.assert_allclose(m.a_[np.array(order[:20])], a[:20])  # anchors untouched
    assert np.isnan(m.se_["a"][np.array(order[:20])]).all()  # fixed: no SE


def test_large_bank_se_fallbacks_close_to_full_observed_information():
    """When the numerical observed information is too costly, the cross-product estimate is used
    (same asymptotic covariance): SEs within 10 % of the full observed-information SEs. The
    item-diagonal Louis blocks ignore cross-item terms and can only understate the SEs."""
    rng = np.random.default_rng(2)
    a = np.exp(rng.normal(0.2, 0.2, 25))
    b = rng.uniform(-2, 2, 25)
    X, _ = simulate_2pl(1500, a, b, seed=9)
    full = TwoPLCalibrator().fit(X)
    assert full.se_method_ == "observed"
    big = TwoPLCalibrator(max_se_work=0).fit(X)
    assert big.se_method_ == "crossprod"
    np.testing.assert_allclose(big.se_["b"][:, 0], full.se_["b"][:, 0], rtol=0.10)
    np.testing.assert_allclose(big.se_["a"], full.se_["a"], rtol=0.10)
    block = TwoPLCalibrator(se_method="louis-block").fit(X)
    assert np.all(block.se_["b"][:, 0] <= full.se_["b"][:, 0] * 1.01)
    assert np.mean(block.se_["b"][:, 0] / full.se_["b"][:, 0]) > 0.85


def test_bootstrap_ses_agree_with_observed_information(truth_2pl):
    a, b = truth_2pl
    X, _ = simulate_2pl(2000, a[:10], b[:10], seed=12)
    m = TwoPLCalibrator().fit(X)
    observed = m.se_["b"][:, 0].copy(), m.se_["a"].copy()
    m.bootstrap_standard_errors(n_boot=30, seed=0)
    assert m.se_method_ == "bootstrap" and m.n_bootstrap_ == 30
    # 30 draws estimate an SD to ~13 %: the average ratio must be near 1
    assert 0.8 < np.mean(m.se_["b"][:, 0] / observed[0]) < 1.25
    assert 0.8 < np.mean(m.se_["a"] / observed[1]) < 1.25


def test_slope_prior_keeps_ridge_items_finite_and_vanishes_when_flat():
    """An easy item seen only by able persons leaves (a, b) on a ridge that plain ML runs along; the
    log-normal slope prior must hold it near the prior median, while for well-determined items (n=1500,
    SE(a) ~ 0.08) the same prior moves the estimates by well under one standard error."""
    rng = np.random.default_rng(11)
    J, n = 12, 1500
    a = np.exp(rng.normal(np.log(1.2), 0.2, J))
    b = np.linspace(-1.5, 1.5, J)
    a[0], b[0] = 1.3, -3.0
    X, theta = simulate_2pl(n, a, b, seed=12)
    X[theta < 0.5, 0] = np.nan  # the easy item only reaches the able half: almost all correct
    data = ResponseData.from_matrix(X, item_ids=[f"i{j}" for j in range(J)])
    plain = MMLCalibrator(model="2PL").fit(data)
    tight = MMLCalibrator(model="2PL", a_prior=(np.log(1.2), 0.3)).fit(data)
    ridge = 0
    assert abs(tight.b_[ridge, 0] - b[ridge]) < abs(plain.b_[ridge, 0] - b[ridge]) + 1e-9
    assert 0.6 < tight.a_[ridge] < 2.4
    rest = slice(1, J)
    assert np.all(np.abs(tight.a_[rest] - plain.a_[rest]) < 0.5 * plain.se_["a"][rest])
    assert np.all(np.abs(tight.b_[rest, 0] - plain.b_[rest, 0]) < 0.5 * plain.se_["b"][rest, 0])
