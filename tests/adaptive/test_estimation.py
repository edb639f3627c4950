"""Ability estimation: EAP/MAP/MLE, the multidimensional posterior and proficiency levels.

Statistical checks use simulated data with known truth and fixed seeds; tolerances are derived in
the comments from the sample sizes.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from adaptive.errors import ValidationError
from adaptive.estimation import (
    METHOD_MLE_FALLBACK,
    MultidimensionalPosterior,
    eap,
    level_of,
    level_probabilities,
    map_estimate,
    mle,
    most_likely_level,
)
from adaptive.irt import ItemParameters


def _simulate(params: ItemParameters, theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw responses (N, n) from the model's category probabilities (independent of synthetic.py)."""
    probs = params.category_probabilities(theta)            # (N, n, K)
    cum = np.cumsum(probs, axis=2)
    u = rng.random(probs.shape[:2])[..., None]
    return np.minimum((u > cum).sum(axis=2), params.n_categories - 1)


def _simulate_items(params: ItemParameters, theta_items: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One response per item, item j answered at its own theta_items[j] (between-item multidimensional)."""
    n = len(params)
    probs = params.category_probabilities(theta_items)[np.arange(n), np.arange(n)]  # (n, K)
    u = rng.random(n)[:, None]
    return np.minimum((u > np.cumsum(probs, axis=1)).sum(axis=1), params.n_categories - 1)


@pytest.fixture
def est_mixed_test() -> ItemParameters:
    """12 items: 2PL, 3PL, 4PL and GRM, roughly spread over -2..2."""
    return ItemParameters.concatenate([
        ItemParameters.dichotomous(a=[1.2, 0.8, 1.6, 1.0, 1.4], b=[-1.5, -0.5, 0.0, 0.7, 1.8]),
        ItemParameters.dichotomous(a=[1.3, 1.1], b=[0.2, -0.8], c=[0.2, 0.25]),
        ItemParameters.dichotomous(a=[1.0], b=[0.5], c=[0.1], d=[0.92], model="4PL"),
        ItemParameters.graded(a=[1.5, 0.9, 1.2, 1.1], thresholds=[[-1.8, -0.2, 1.1, np.nan],
                                                                  [-1.0, 0.6, np.nan, np.nan],
                                                                  [-2.2, -1.0, 0.3, 1.6],
                                                                  [-0.4, 1.2, np.nan, np.nan]]),
    ])


@pytest.fixture
def est_two_pl_bank() -> ItemParameters:
    rng = np.random.default_rng(11)
    n = 40
    return ItemParameters.dichotomous(a=rng.lognormal(np.log(1.3), 0.25, n), b=np.linspace(-2.2, 2.2, n))


def _brute_force_posterior(params, responses, prior_mean, prior_sd):
    def density(t):
        return np.exp(params.log_likelihood([t], responses)[0]) * stats.norm.pdf(t, prior_mean, prior_sd)

    lim = (prior_mean - 10 * prior_sd, prior_mean + 10 * prior_sd)
    kw = {"limit": 200, "epsabs": 0, "epsrel": 1e-11, "points": [prior_mean]}
    z = integrate.quad(density, *lim, **kw)[0]
    m = integrate.quad(lambda t: t * density(t), *lim, **kw)[0] / z
    v = integrate.quad(lambda t: (t - m) ** 2 * density(t), *lim, **kw)[0] / z
    return m, np.sqrt(v)


# -- EAP ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("seed", "prior_mean", "prior_sd"), [(0, 0.0, 1.0), (1, 0.5, 0.8), (2, -1.0, 1.5)])
def test_eap_equals_brute_force_integration(est_mixed_test, seed, prior_mean, prior_sd):
    rng = np.random.default_rng(seed)
    responses = _simulate(est_mixed_test, np.array([rng.normal()]), rng)[0]
    responses[rng.random(len(responses)) < 0.2] = -1
    est = eap(est_mixed_test, responses, prior_mean, prior_sd)
    m, sd = _brute_force_posterior(est_mixed_test, responses, prior_mean, prior_sd)
    # 61 equally spaced nodes over +/-6 prior SD: the rule is spectrally accurate for this smooth integrand
    assert est.theta == pytest.approx(m, abs=1e-6)
    assert est.se == pytest.approx(sd, abs=1e-6)
    assert est.method == "EAP" and est.n_items == int((responses >= 0).sum())
    assert est.posterior.sum() == pytest.approx(1.0)


def test_eap_without_answers_returns_the_prior(est_mixed_test):
    est = eap(est_mixed_test, np.full(len(est_mixed_test), -1), prior_mean=0.3, prior_sd=0.7)
    assert est.theta == pytest.approx(0.3, abs=1e-9)
    assert est.se == pytest.approx(0.7, rel=1e-6)


def test_eap_on_a_large_bank_uses_only_administered_items():
    rng = np.random.default_rng(5)
    n = 1000
    bank = ItemParameters.dichotomous(a=rng.lognormal(0.2, 0.3, n), b=rng.normal(0, 1, n),
                                      c=np.where(rng.random(n) < 0.2, 0.2, 0.0))
    responses = np.full(n, -1)
    given = rng.choice(n, 25, replace=False)
    responses[given] = rng.integers(0, 2, 25)
    full = eap(bank, responses)
    part = eap(bank.subset(given), responses[given])
    assert full.theta == pytest.approx(part.theta, abs=1e-13)
    assert full.se == pytest.approx(part.se, abs=1e-13)


def test_eap_recovers_theta_with_bayes_risk_equal_to_posterior_variance(est_two_pl_bank):
    # With theta drawn from the same N(0,1) prior the EAP uses, E[(theta - EAP)^2] = E[posterior var]
    # exactly (Bayes). With N=600 the sample MSE has relative SD ~ sqrt(2/600) ~ 6% (errors are
    # near normal), so the ratio must be within 1 +/- 0.2 (> 3 SD); the mean error within 3 SE.
    rng = np.random.default_rng(42)
    params = est_two_pl_bank.subset(np.arange(0, 40, 2))  # 20 items
    theta = rng.normal(size=600)
    responses = _simulate(params, theta, rng)
    est = [eap(params, r) for r in responses]
    err = np.array([e.theta for e in est]) - theta
    post_var = np.array([e.se for e in est]) ** 2
    assert np.mean(err**2) / np.mean(post_var) == pytest.approx(1.0, abs=0.2)
    assert abs(err.mean()) < 3 * np.sqrt(post_var.mean() / 600)


# -- MLE ----------------------------------------------------------------------------------------

def test_mle_recovers_theta_with_rmse_close_to_inverse_root_information(est_two_pl_bank):
    # 40 items, a ~ 1.3: test information ~ 12-15 around 0, SE ~ 0.27. Asymptotically the MLE is
    # N(theta, 1/I(theta)); for 40 items the finite-test inflation is a few %. N=400 gives a sample
    # RMSE relative SD ~ 3.5%, so RMSE / sqrt(mean 1/I(theta)) within [0.9, 1.2]; the 95% Wald
    # interval coverage has binomial SD ~ 0.011 -> within [0.91, 0.985].
    rng = np.random.default_rng(7)
    theta = rng.uniform(-1.5, 1.5, 400)
    responses = _simulate(est_two_pl_bank, theta, rng)
    est = [mle(est_two_pl_bank, r) for r in responses]
    assert all(e.method == "MLE" for e in est)
    th = np.array([e.theta for e in est])
    se = np.array([e.se for e in est])
    true_se = 1 / np.sqrt(est_two_pl_bank.information(theta).sum(axis=1))
    rmse = np.sqrt(np.mean((th - theta) ** 2))
    assert rmse / np.sqrt(np.mean(true_se**2)) == pytest.approx(1.05, abs=0.15)
    assert abs(np.mean(th - theta)) < 3 * rmse / np.sqrt(400)
    coverage = np.mean(np.abs(th - theta) < 1.96 * se)
    assert 0.91 <= coverage <= 0.985


def test_mle_equals_numerical_maximiser(est_mixed_test):
    rng = np.random.default_rng(3)
    for _ in range(5):
        responses = _simulate(est_mixed_test, np.array([rng.normal()]), rng)[0]
        est = mle(est_mixed_test, responses)
        if est.method != "MLE":
            continue
        ref = optimize.minimize_scalar(lambda t, r=responses: -est_mixed_test.log_likelihood([t], r)[0],
                                       bounds=(-4, 4), method="bounded", options={"xatol": 1e-10})
        assert est.theta == pytest.approx(ref.x, abs=1e-5)
        info = est_mixed_test.information([est.theta])[0].sum()
        assert est.se == pytest.approx(1 / np.sqrt(info), rel=1e-12)


@pytest.mark.parametrize("pattern", ["all_correct", "all_wrong", "grm_top", "grm_bottom", "none"])
def test_mle_falls_back_to_map_on_extreme_patterns(est_mixed_test, pattern):
    k = est_mixed_test.n_categories
    responses = {"all_correct": k - 1, "all_wrong": np.zeros_like(k), "none": np.full_like(k, -1),
                 "grm_top": np.where(k > 2, k - 1, -1), "grm_bottom": np.where(k > 2, 0, -1)}[pattern]
    est = mle(est_mixed_test, responses)
    assert est.method == METHOD_MLE_FALLBACK
    assert np.isfinite(est.theta) and np.isfinite(est.se)
    ref = map_estimate(est_mixed_test, responses)
    assert est.theta == pytest.approx(ref.theta, abs=1e-12)
    if pattern in ("all_correct", "grm_top"):
        assert est.theta > 1.0
    elif pattern in ("all_wrong", "grm_bottom"):
        assert est.theta < -1.0


def test_mle_is_finite_for_mixed_extreme_categories(est_mixed_test):
    # lowest category on some items and highest on others is a mixed pattern: the MLE exists
    k = est_mixed_test.n_categories
    responses = np.where(np.arange(len(k)) % 2 == 0, k - 1, 0)
    est = mle(est_mixed_test, responses)
    assert est.method == "MLE" and -4 < est.theta < 4


# -- MAP ----------------------------------------------------------------------------------------

def test_map_equals_numerical_mode_with_laplace_se(est_mixed_test):
    rng = np.random.default_rng(9)
    for prior_mean, prior_sd in ((0.0, 1.0), (0.8, 0.6)):
        responses = _simulate(est_mixed_test, np.array([rng.normal()]), rng)[0]

        def neg_log_post(t, r=responses, m=prior_mean, s=prior_sd):
            return -(est_mixed_test.log_likelihood([t], r)[0] - 0.5 * ((t - m) / s) ** 2)

        ref = optimize.minimize_scalar(neg_log_post, bounds=(-6, 6), method="bounded",
                                       options={"xatol": 1e-10})
        est = map_estimate(est_mixed_test, responses, prior_mean, prior_sd)
        assert est.theta == pytest.approx(ref.x, abs=1e-5)
        h = 1e-4
        t = est.theta
        curv = (neg_log_post(t + h) - 2 * neg_log_post(t) + neg_log_post(t - h)) / h**2
        assert est.se == pytest.approx(1 / np.sqrt(curv), rel=1e-4)


def test_map_converges_from_a_far_start_on_a_non_concave_three_pl_test():
    params = ItemParameters.dichotomous(a=[2.5] * 6, b=[-1, -0.5, 0, 0.5, 1, 1.5], c=[0.3] * 6)
    responses = np.array([1, 1, 0, 1, 0, 0])
    grid = np.linspace(-8, 8, 160001)
    log_post = params.log_likelihood(grid, responses) - 0.5 * grid**2
    for start in (-7.0, 0.0, 7.0):
        est = map_estimate(params, responses, start=start)
        assert est.theta == pytest.approx(grid[np.argmax(log_post)], abs=2e-4)


# -- multidimensional ---------------------------------------------------------------------------

def _multi_test(rng, n_per_area=6, n_areas=5):
    """Per area: n_per_area - 1 dichotomous items (~20% 3PL) and one 4-category GRM item."""
    n_dich = (n_per_area - 1) * n_areas
    a = rng.lognormal(np.log(1.2), 0.25, n_dich)
    c = np.where(rng.random(n_dich) < 0.2, 0.2, 0.0)
    dich = ItemParameters.dichotomous(a=a, b=rng.normal(0, 1, n_dich), c=c)
    grm = ItemParameters.graded(a=rng.lognormal(np.log(1.2), 0.25, n_areas),
                                thresholds=np.sort(rng.normal(0, 1, (n_areas, 3)), axis=1) + [-0.5, 0, 0.5])
    params = ItemParameters.concatenate([dich, grm])
    dims = np.concatenate([np.repeat(np.arange(n_areas), n_per_area - 1), np.arange(n_areas)])
    return params, dims


def test_identity_prior_equals_per_area_map():
    rng = np.random.default_rng(21)
    params, dims = _multi_test(rng)
    theta = rng.normal(size=5)
    responses = _simulate_items(params, theta[dims], rng)
    est = MultidimensionalPosterior(np.zeros(5), np.eye(5)).estimate(params, dims, responses)
    for k in range(5):
        one = map_estimate(params.subset(dims == k), responses[dims == k])
        assert est.theta[k] == pytest.approx(one.theta, abs=1e-6)
        assert est.se[k] == pytest.approx(one.se, rel=1e-5)
    np.testing.assert_allclose(est.covariance - np.diag(np.diag(est.covariance)), 0, atol=1e-14)


@pytest.mark.parametrize("rho", [0.6, -0.5])
def test_an_answer_in_one_area_moves_correlated_areas(rho):
    params = ItemParameters.dichotomous(a=[1.5], b=[0.0])
    prior = MultidimensionalPosterior(np.zeros(2), [[1.0, rho], [rho, 1.0]])
    right = prior.estimate(params, np.array([0]), np.array([1]))
    wrong = prior.estimate(params, np.array([0]), np.array([0]))
    assert right.theta[0] > 0 and wrong.theta[0] < 0
    assert np.sign(right.theta[1]) == np.sign(rho) and np.sign(wrong.theta[1]) == -np.sign(rho)
    # with the likelihood only on area 1 the conditional-normal prior gives theta_2 = rho * theta_1 exactly
    assert right.theta[1] == pytest.approx(rho * right.theta[0], rel=1e-6)
    # ... and area 2's variance shrinks too
    assert right.se[1] < 1.0


def test_laplace_covariance_is_close_to_grid_posterior_covariance():
    # 2 areas, 12 2PL items each, correlation 0.7: a near-Gaussian posterior. Laplace error is
    # O(1/n) of the posterior scale; we allow 0.03 logit on the mean and 12% on (co)variances.
    rng = np.random.default_rng(13)
    n = 12
    params = ItemParameters.dichotomous(a=rng.lognormal(np.log(1.3), 0.2, 2 * n), b=rng.normal(0, 1, 2 * n))
    dims = np.repeat([0, 1], n)
    cov = np.array([[1.0, 0.7], [0.7, 1.0]])
    true = np.array([0.6, 0.2])
    responses = _simulate_items(params, true[dims], rng)
    est = MultidimensionalPosterior(np.zeros(2), cov).estimate(params, dims, responses)

    g = np.linspace(-5, 5, 801)
    ll0 = params.subset(dims == 0).log_likelihood(g, responses[dims == 0])
    ll1 = params.subset(dims == 1).log_likelihood(g, responses[dims == 1])
    t0, t1 = np.meshgrid(g, g, indexing="ij")
    prec = np.linalg.inv(cov)
    log_post = ll0[:, None] + ll1[None, :] - 0.5 * (prec[0, 0] * t0**2 + 2 * prec[0, 1] * t0 * t1
                                                    + prec[1, 1] * t1**2)
    w = np.exp(log_post - log_post.max())
    w /= w.sum()
    mean = np.array([np.sum(w * t0), np.sum(w * t1)])
    c00 = np.sum(w * (t0 - mean[0]) ** 2)
    c11 = np.sum(w * (t1 - mean[1]) ** 2)
    c01 = np.sum(w * (t0 - mean[0]) * (t1 - mean[1]))
    grid_cov = np.array([[c00, c01], [c01, c11]])
    # the mode of the grid posterior equals our Newton mode (to the grid resolution)
    i, j = np.unravel_index(np.argmax(log_post), log_post.shape)
    np.testing.assert_allclose(est.theta, [g[i], g[j]], atol=g[1] - g[0])
    np.testing.assert_allclose(est.theta, mean, atol=0.03)
    np.testing.assert_allclose(est.covariance, grid_cov, rtol=0.12)


def test_multidimensional_mode_has_zero_gradient_and_laplace_covariance_is_inverse_hessian():
    rng = np.random.default_rng(17)
    params, dims = _multi_test(rng)  # includes 3PL items
    corr = 0.5 + 0.5 * np.eye(5)
    post = MultidimensionalPosterior(np.full(5, 0.1), corr)
    theta_true = rng.multivariate_normal(np.zeros(5), corr)
    responses = _simulate_items(params, theta_true[dims], rng)
    est = post.estimate(params, dims, responses)

    def lp(t):
        ll = sum(params.subset(dims == k).log_likelihood([t[k]], responses[dims == k])[0] for k in range(5))
        r = t - post.prior_mean
        return ll - 0.5 * r @ post.precision_ @ r

    h = 1e-4
    eye = np.eye(5)
    grad = np.array([(lp(est.theta + h * e) - lp(est.theta - h * e)) / (2 * h) for e in eye])
    np.testing.assert_allclose(grad, 0, atol=1e-5)
    hess = np.array([[(lp(est.theta + h * ei + h * ej) - lp(est.theta + h * ei - h * ej)
                       - lp(est.theta - h * ei + h * ej) + lp(est.theta - h * ei - h * ej)) / (4 * h * h)
                      for ej in eye] for ei in eye])
    if np.all(np.linalg.eigvalsh(-hess) > 0):  # the observed Hessian is used when it is concave
        np.testing.assert_allclose(est.covariance, np.linalg.inv(-hess), rtol=1e-3, atol=1e-6)
    # warm start lands on the same mode
    warm = post.estimate(params, dims, responses, start=est.theta + 0.3)
    np.testing.assert_allclose(warm.theta, est.theta, atol=1e-6)


def test_multidimensional_ignores_unadministered_items_and_returns_prior_without_answers():
    rng = np.random.default_rng(2)
    params, dims = _multi_test(rng)
    post = MultidimensionalPosterior.from_correlation(0.4 + 0.6 * np.eye(5), sd=1.0)
    none = post.estimate(params, dims, np.full(len(dims), -1))
    np.testing.assert_allclose(none.theta, 0.0)
    np.testing.assert_allclose(none.covariance, post.prior_cov)
    responses = np.full(len(dims), -1)
    responses[:7] = [1, 0, 1, 1, 0, 1, 1]
    full = post.estimate(params, dims, responses)
    part = post.estimate(params.subset(np.arange(7)), dims[:7], responses[:7])
    np.testing.assert_allclose(full.theta, part.theta, atol=1e-12)


def test_correlated_prior_reduces_error_in_simulation():
    # Known truth from the same correlated prior: borrowing strength through the correlation must
    # lower the total squared error versus independent per-area MAP (200 simulees, 3 items/area).
    rng = np.random.default_rng(31)
    params, dims = _multi_test(rng, n_per_area=3)
    corr = 0.75 + 0.25 * np.eye(5)
    joint = MultidimensionalPosterior(np.zeros(5), corr)
    indep = MultidimensionalPosterior(np.zeros(5), np.eye(5))
    theta = rng.multivariate_normal(np.zeros(5), corr, size=200)
    err_joint, err_indep = [], []
    for t in theta:
        r = _simulate_items(params, t[dims], rng)
        err_joint.append(joint.estimate(params, dims, r).theta - t)
        err_indep.append(indep.estimate(params, dims, r).theta - t)
    assert np.mean(np.square(err_joint)) < 0.9 * np.mean(np.square(err_indep))


def test_multidimensional_validation():
    with pytest.raises(ValidationError, match="positive definite"):
        MultidimensionalPosterior(np.zeros(2), [[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValidationError, match="symmetric"):
        MultidimensionalPosterior(np.zeros(2), [[1.0, 0.2], [0.3, 1.0]])
    with pytest.raises(ValidationError) as err:
        MultidimensionalPosterior(np.zeros(3), np.eye(2))
    assert err.value.field == "prior_cov"
    post = MultidimensionalPosterior(np.zeros(2), np.eye(2))
    params = ItemParameters.dichotomous(a=[1.0, 1.0], b=[0.0, 0.0])
    with pytest.raises(ValidationError) as err:
        post.estimate(params, np.array([0, 2]), np.array([1, 0]))
    assert err.value.field == "item_dims"
    with pytest.raises(ValidationError) as err:
        post.estimate(params, np.array([0, 1]), np.array([1, 0]), start=[0.0])
    assert err.value.field == "start"


# -- proficiency levels --------------------------------------------------------------------------

CUTS = np.array([-2.0, -1.2, -0.5, 0.0, 0.6, 1.3, 2.1])


def test_level_probabilities_under_a_normal_posterior():
    probs = level_probabilities(0.3, 0.4, CUTS)
    edges = np.concatenate([[-np.inf], CUTS, [np.inf]])
    expected = stats.norm.cdf(edges[1:], 0.3, 0.4) - stats.norm.cdf(edges[:-1], 0.3, 0.4)
    np.testing.assert_allclose(probs, expected, atol=1e-15)
    assert probs.sum() == pytest.approx(1.0)
    assert most_likely_level(probs) == 5


@pytest.mark.parametrize(("theta", "level"), [(-3.0, 1), (-2.0, 2), (-0.1, 4), (0.0, 5), (5.0, 8)])
def test_point_posterior_falls_in_the_level_between_cuts(theta, level):
    assert level_of(theta, CUTS) == level
    assert most_likely_level(level_probabilities(theta, 0.0, CUTS)) == level
    assert most_likely_level(level_probabilities(theta + 1e-9, 1e-6, CUTS)) == level


def test_level_probabilities_from_the_eap_quadrature_posterior(est_mixed_test):
    # a long 2PL test gives a near-normal posterior: the grid and normal versions agree
    rng = np.random.default_rng(4)
    params = ItemParameters.dichotomous(a=np.full(60, 1.3), b=np.linspace(-2.5, 2.5, 60))
    responses = _simulate(params, np.array([0.4]), rng)[0]
    est = eap(params, responses, n_quadrature=241)
    from_grid = level_probabilities(est.theta, est.se, CUTS, grid=est.grid, posterior=est.posterior)
    normal = level_probabilities(est.theta, est.se, CUTS)
    assert from_grid.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(from_grid, normal, atol=0.03)
    assert most_likely_level(from_grid) == most_likely_level(normal)


def test_level_validation():
    with pytest.raises(ValidationError, match="at least one cut"):
        level_probabilities(0.0, 1.0, CUTS[:0])
    with pytest.raises(ValidationError, match="increasing"):
        level_probabilities(0.0, 1.0, CUTS[::-1])
    with pytest.raises(ValidationError):
        level_probabilities(0.0, -1.0, CUTS)
    with pytest.raises(ValidationError):
        most_likely_level([1.0])


@pytest.mark.parametrize("n_cuts", [1, 3, 6, 7, 10])
def test_the_number_of_levels_comes_from_the_cuts(n_cuts):
    cuts = np.linspace(-2.0, 2.0, n_cuts)
    probs = level_probabilities(0.25, 0.5, cuts)
    assert probs.shape == (n_cuts + 1,)
    edges = np.concatenate([[-np.inf], cuts, [np.inf]])
    np.testing.assert_allclose(probs, np.diff(stats.norm.cdf(edges, 0.25, 0.5)), atol=1e-15)
    assert most_likely_level(probs) == level_of(0.25, cuts)
    assert level_of(5.0, cuts) == n_cuts + 1


def test_scalar_and_batched_level_probabilities_are_one_function():
    from adaptive.estimation import level_probabilities_batch

    rng = np.random.default_rng(8)
    cuts = np.sort(rng.normal(0, 1.2, (4, 5)), axis=1)           # 4 areas, 6 levels each
    theta, se = rng.normal(0, 1, (30, 4)), rng.uniform(0.0, 0.8, (30, 4))
    se[0, 1] = 0.0                                                 # a point mass among them
    batch = level_probabilities_batch(theta, se, cuts)
    assert batch.shape == (30, 4, 6)
    np.testing.assert_allclose(level_probabilities(theta, se, cuts), batch, rtol=0, atol=0)
    for r in range(30):
        for d in range(4):
            np.testing.assert_allclose(batch[r, d], level_probabilities(theta[r, d], se[r, d], cuts[d]),
                                       rtol=0, atol=1e-15)
    np.testing.assert_allclose(batch.sum(axis=-1), 1.0, atol=1e-12)
    assert np.all(batch >= 0)
    assert batch[0, 1].max() == 1.0 and most_likely_level(batch[0, 1]) == level_of(theta[0, 1], cuts[1])


def test_estimators_reject_bad_priors_and_patterns(est_mixed_test):
    ok = np.zeros(len(est_mixed_test), dtype=int)
    with pytest.raises(ValidationError, match="prior SD"):
        eap(est_mixed_test, ok, prior_sd=0.0)
    with pytest.raises(ValidationError, match="prior SD"):
        map_estimate(est_mixed_test, ok, prior_sd=-1.0)
    with pytest.raises(ValidationError, match="item index 0"):
        eap(est_mixed_test, np.r_[2, ok[1:]])
