"""IRT core: probabilities, log-likelihood, information, derivatives, stability, validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adaptive.errors import ValidationError
from adaptive.irt import MODELS, ItemParameters, ResponsePattern


@pytest.fixture
def irt_mixed_params() -> ItemParameters:
    """One item of each model, GRM items with 3 and 5 categories."""
    return ItemParameters(
        model=["1PL", "2PL", "3PL", "4PL", "GRM", "GRM"],
        a=[1.0, 1.7, 1.2, 0.9, 1.4, 0.8],
        b=[[0.3, np.nan, np.nan, np.nan],
           [-0.5, np.nan, np.nan, np.nan],
           [0.8, np.nan, np.nan, np.nan],
           [-1.0, np.nan, np.nan, np.nan],
           [-1.5, 0.5, np.nan, np.nan],
           [-2.0, -0.4, 0.7, 2.2]],
        c=[0, 0, 0.2, 0.15, 0, 0],
        d=[1, 1, 1, 0.9, 1, 1],
        ids=["i1PL", "i2PL", "i3PL", "i4PL", "iGRM3", "iGRM5"],
    )


def _numeric_d1_d2(params, theta, responses, h=1e-4):
    t = np.array([theta - h, theta, theta + h])
    ll = params.log_likelihood(t, responses)
    return (ll[2] - ll[0]) / (2 * h), (ll[2] - 2 * ll[1] + ll[0]) / h**2


# -- reference values -------------------------------------------------------------------------

def test_two_pl_at_difficulty_has_half_probability_and_a_squared_over_four_information():
    p = ItemParameters.dichotomous(a=[0.5, 1.0, 2.5], b=[-1.0, 0.0, 2.0])
    probs = p.category_probabilities(p.b[:, 0])  # theta_j = b_j on the diagonal
    info = p.information(p.b[:, 0])
    for j in range(3):
        assert probs[j, j, 1] == pytest.approx(0.5, abs=1e-15)
        assert info[j, j] == pytest.approx(p.a[j] ** 2 / 4, rel=1e-12)


def test_three_pl_information_matches_birnbaum_formula():
    # Birnbaum (1968): I = a^2 (Q/P) ((P - c)/(1 - c))^2 for the logistic 3PL.
    a, b, c = 1.3, 0.4, 0.22
    p = ItemParameters.dichotomous(a=[a], b=[b], c=[c])
    theta = np.linspace(-4, 4, 17)
    P = c + (1 - c) / (1 + np.exp(-a * (theta - b)))
    expected = a**2 * ((1 - P) / P) * ((P - c) / (1 - c)) ** 2
    np.testing.assert_allclose(p.information(theta)[:, 0], expected, rtol=1e-10)
    np.testing.assert_allclose(p.category_probabilities(theta)[:, 0, 1], P, rtol=1e-12)


def test_grm_probabilities_are_differences_of_cumulative_logistics(irt_mixed_params):
    p = irt_mixed_params
    theta = np.linspace(-5, 5, 21)
    probs = p.category_probabilities(theta)
    for j in (4, 5):
        k = p.n_categories[j]
        star = 1 / (1 + np.exp(-p.a[j] * (theta[:, None] - p.b[j, : k - 1][None, :])))
        cum = np.hstack([np.ones((theta.size, 1)), star, np.zeros((theta.size, 1))])
        np.testing.assert_allclose(probs[:, j, :k], cum[:, :-1] - cum[:, 1:], atol=1e-14)
        assert np.all(probs[:, j, k:] == 0)
    # GRM information sum_k (P_k')^2 / P_k with P_k' by central differences
    h = 1e-5
    dp = (p.category_probabilities(theta + h) - p.category_probabilities(theta - h)) / (2 * h)
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = np.nansum(np.where(probs > 0, dp**2 / probs, 0.0), axis=2)
    np.testing.assert_allclose(p.information(theta), direct, rtol=1e-6, atol=1e-12)


def test_four_pl_has_both_asymptotes(irt_mixed_params):
    p = irt_mixed_params.subset([3])
    probs = p.category_probabilities([-40.0, 40.0])[:, 0, 1]
    np.testing.assert_allclose(probs, [0.15, 0.9], atol=1e-12)


# -- information equals minus the expected second derivative -----------------------------------

@pytest.mark.parametrize("theta", [-2.5, -0.3, 0.0, 1.1, 3.0])
def test_information_is_minus_expected_second_derivative(irt_mixed_params, theta):
    p = irt_mixed_params
    probs = p.category_probabilities([theta])[0]
    info = p.information([theta])[0]
    for j in range(len(p)):
        item = p.subset([j])
        expected = 0.0
        for k in range(p.n_categories[j]):
            _, d2 = _numeric_d1_d2(item, theta, [k])
            expected += probs[j, k] * -d2
        assert info[j] == pytest.approx(expected, rel=1e-5, abs=1e-8), p.ids[j]


def test_analytic_derivatives_match_numerical_ones(irt_mixed_params):
    p = irt_mixed_params
    rng = np.random.default_rng(3)
    for _ in range(10):
        responses = np.array([rng.integers(-1, k) for k in p.n_categories])
        for theta in (-2.0, 0.4, 2.7):
            ll, d1, d2 = p.log_likelihood_derivatives([theta], responses)
            n1, n2 = _numeric_d1_d2(p, theta, responses)
            assert d1[0] == pytest.approx(n1, rel=1e-6, abs=1e-8)
            assert d2[0] == pytest.approx(n2, rel=1e-4, abs=1e-5)
            probs = p.category_probabilities([theta])[0]
            given = responses >= 0
            direct = np.log(probs[np.flatnonzero(given), responses[given]]).sum()
            assert ll[0] == pytest.approx(direct, rel=1e-12, abs=1e-12)


def test_response_pattern_terms_with_one_theta_per_item(irt_mixed_params):
    p = irt_mixed_params
    responses = np.array([1, 0, 1, 0, 2, 3])
    pattern = ResponsePattern(p, responses)
    thetas = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, -0.5])
    ll, d1, d2 = pattern.terms(thetas)
    for j in range(len(p)):
        lj, g1, g2 = p.subset([j]).log_likelihood_derivatives([thetas[j]], responses[[j]])
        np.testing.assert_allclose([ll[j], d1[j], d2[j]], [lj[0], g1[0], g2[0]], rtol=1e-12)


def test_not_administered_items_do_not_enter_the_likelihood(irt_mixed_params):
    p = irt_mixed_params
    theta = np.linspace(-3, 3, 7)
    full = p.log_likelihood(theta, [1, -1, 0, -1, 2, -1])
    part = p.subset([0, 2, 4]).log_likelihood(theta, [1, 0, 2])
    np.testing.assert_allclose(full, part, rtol=1e-14)
    np.testing.assert_array_equal(p.log_likelihood(theta, [-1] * 6), np.zeros(7))


def test_information_at_one_theta_for_the_whole_bank(irt_mixed_params):
    p = irt_mixed_params
    np.testing.assert_allclose(p.information_at(0.7), p.information([0.7])[0], rtol=1e-15)
    assert p.information_at(0.7).shape == (len(p),)


def test_information_with_one_theta_per_item(irt_mixed_params):
    p = irt_mixed_params
    thetas = np.array([-2.0, -0.5, 0.3, 1.0, 2.2, -1.1])
    expected = np.diagonal(p.information(thetas))  # row t, column j: item j at thetas[t]
    np.testing.assert_allclose(p.information_per_item(thetas), expected, rtol=1e-14)
    pattern = ResponsePattern(p, [1, -1, 0, 1, 2, 3])
    given = pattern.index
    np.testing.assert_allclose(pattern.information(thetas[given]), expected[given], rtol=1e-14)


def test_expected_score_is_sum_of_category_scores(irt_mixed_params):
    p = irt_mixed_params
    theta = np.linspace(-3, 3, 13)
    probs = p.category_probabilities(theta)
    direct = np.sum(probs * np.arange(probs.shape[2]), axis=2)
    np.testing.assert_allclose(p.expected_score(theta), direct, rtol=1e-12, atol=1e-14)


# -- numerical stability at extremes ---------------------------------------------------------

def test_extreme_theta_and_slopes_give_no_nan_and_exact_tails():
    p = ItemParameters.concatenate([
        ItemParameters.dichotomous(a=[50.0, 0.01], b=[0.0, 0.0]),
        ItemParameters.dichotomous(a=[40.0], b=[5.0], c=[0.3]),
        ItemParameters.graded(a=[60.0], thresholds=[[-1.0, -0.999, 3.0]]),
    ])
    theta = np.array([-1e3, -30.0, 0.0, 30.0, 1e3])
    # overflow, log(0) and NaN-producing operations fail the test (harmless underflow to 0 is allowed)
    with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
        probs = p.category_probabilities(theta)
        info = p.information(theta)
        score = p.expected_score(theta)
        for k in range(4):
            r = np.array([min(k, 1), min(k, 1), min(k, 1), k])
            ll, d1, d2 = p.log_likelihood_derivatives(theta, r)
            assert np.all(np.isfinite(ll)) and np.all(np.isfinite(d1)) and np.all(np.isfinite(d2))
    for arr in (probs, info, score):
        assert np.all(np.isfinite(arr))
    # the log-likelihood of a wrong answer far above b is -a (theta - b), not log(1e-12)
    ll = p.subset([0]).log_likelihood([1e3], [0])
    assert ll[0] == pytest.approx(-50.0 * 1e3, rel=1e-12)
    # a 3PL wrong answer far above b: log((1 - c) Q*) with Q* = exp(-a (theta - b))
    ll3 = p.subset([2]).log_likelihood([30.0], [0])
    assert ll3[0] == pytest.approx(np.log(0.7) - 40.0 * 25.0, rel=1e-12)


# -- property-based ---------------------------------------------------------------------------

@st.composite
def item_banks(draw):
    n = draw(st.integers(1, 6))
    models, a, b, c, d = [], [], [], [], []
    kmax1 = 5
    for _ in range(n):
        m = draw(st.sampled_from(MODELS))
        models.append(m)
        a.append(draw(st.floats(0.05, 40.0)))
        if m == "GRM":
            k = draw(st.integers(2, kmax1 + 1))
            start = draw(st.floats(-20, 20))
            gaps = draw(st.lists(st.floats(1e-3, 5.0), min_size=k - 2, max_size=k - 2))
            th = np.concatenate([[start], start + np.cumsum(gaps)]) if gaps else np.array([start])
            b.append(np.pad(th, (0, kmax1 - th.size), constant_values=np.nan))
        else:
            b.append(np.pad([draw(st.floats(-20, 20))], (0, kmax1 - 1), constant_values=np.nan))
        ci = draw(st.floats(0.0, 0.4)) if m in ("3PL", "4PL") else 0.0
        di = draw(st.floats(0.6, 1.0)) if m == "4PL" else 1.0
        c.append(ci)
        d.append(di)
    return ItemParameters(model=models, a=a, b=np.array(b), c=c, d=d)


thetas = st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=8)


@settings(max_examples=150, deadline=None)
@given(item_banks(), thetas)
def test_probabilities_are_valid_and_sum_to_one(params, theta):
    probs = params.category_probabilities(theta)
    assert np.all(np.isfinite(probs))
    assert np.all((probs >= 0) & (probs <= 1))
    np.testing.assert_allclose(probs.sum(axis=2), 1.0, atol=1e-12)
    beyond = np.arange(probs.shape[2])[None, :] >= params.n_categories[:, None]
    assert np.all(probs[:, beyond] == 0)
    info = params.information(theta)
    assert np.all(np.isfinite(info)) and np.all(info >= 0)


@settings(max_examples=150, deadline=None)
@given(item_banks(), thetas)
def test_expected_score_and_p_correct_are_monotone_in_theta(params, theta):
    t = np.sort(np.asarray(theta))
    score = params.expected_score(t)
    assert np.all(np.isfinite(score))
    assert np.all(np.diff(score, axis=0) >= -1e-12)
    top = params.category_probabilities(t)[:, np.arange(len(params)), params.n_categories - 1]
    assert np.all(np.diff(top, axis=0) >= -1e-12)  # P(highest category) never falls as theta rises


@settings(max_examples=100, deadline=None)
@given(item_banks(), thetas, st.integers(0, 2**32 - 1))
def test_log_likelihood_is_finite_and_non_positive(params, theta, seed):
    rng = np.random.default_rng(seed)
    responses = np.array([rng.integers(-1, k) for k in params.n_categories])
    ll, d1, d2 = params.log_likelihood_derivatives(theta, responses)
    assert np.all(np.isfinite(ll)) and np.all(ll <= 1e-12)
    assert np.all(np.isfinite(d1)) and np.all(np.isfinite(d2))


# -- validation -------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "field"), [
    ({"a": [1.0, 0.0]}, "a"),
    ({"a": [1.0, np.nan]}, "a"),
    ({"c": [0.0, 1.0], "model": ["2PL", "3PL"]}, "c"),
    ({"c": [0.2, 0.0]}, "c"),
    ({"d": [1.0, 0.9]}, "d"),
    ({"model": ["2PL", "5PL"]}, "model"),
])
def test_bad_parameters_name_the_item_and_field(kwargs, field):
    base = {"model": ["2PL", "2PL"], "a": [1.0, 1.0], "b": [0.0, 1.0], "ids": ["q1", "q2"]}
    base.update(kwargs)
    with pytest.raises(ValidationError) as err:
        ItemParameters(**base)
    assert err.value.field == field
    assert "q" in str(err.value)


def test_grm_thresholds_must_increase():
    with pytest.raises(ValidationError, match="increasing") as err:
        ItemParameters.graded(a=[1.0, 1.0], thresholds=[[-1.0, 1.0], [0.5, 0.5]], ids=["g1", "g2"])
    assert "g2" in str(err.value) and err.value.field == "b"


def test_bad_responses_are_rejected(irt_mixed_params):
    p = irt_mixed_params
    with pytest.raises(ValidationError, match="iGRM3") as err:
        p.log_likelihood([0.0], [1, 0, 1, 0, 3, 0])
    assert err.value.field == "response"
    with pytest.raises(ValidationError, match="expected 6 responses"):
        p.log_likelihood([0.0], [1, 0])
    with pytest.raises(ValidationError, match="integers"):
        p.log_likelihood([0.0], [0.5, 0, 1, 0, 1, 0])
    with pytest.raises(ValidationError, match="finite"):
        p.information([np.nan])


def test_subset_keeps_rows_in_order(irt_mixed_params):
    p = irt_mixed_params
    sub = p.subset([5, 0])
    theta = np.array([-1.0, 0.5])
    np.testing.assert_allclose(sub.information(theta), p.information(theta)[:, [5, 0]], rtol=1e-15)
    assert list(sub.ids) == ["iGRM5", "i1PL"]
    assert sub.is_polytomous.tolist() == [True, False]


# -- log-probabilities and score functions (what the CAT tables and calibration build on) -------

def test_log_probabilities_are_the_log_of_the_probabilities(irt_mixed_params):
    p = irt_mixed_params
    theta = np.linspace(-4, 4, 33)
    probs = p.category_probabilities(theta)
    logp = p.log_category_probabilities(theta)
    real = probs > 0
    np.testing.assert_allclose(logp[real], np.log(probs[real]), rtol=1e-12, atol=1e-12)
    assert np.all(np.isneginf(logp[~real]))
    # each item's log-probability of category k is the log-likelihood of answering k alone
    for j, k in [(0, 1), (2, 0), (3, 1), (4, 2), (5, 3)]:
        responses = np.full(len(p), -1)
        responses[j] = k
        np.testing.assert_allclose(logp[:, j, k], p.log_likelihood(theta, responses), rtol=1e-12)


def test_log_probabilities_are_exact_far_in_the_tails():
    p = ItemParameters.dichotomous(a=[2.0], b=[0.0])
    logp = p.log_category_probabilities([-400.0, 400.0])
    np.testing.assert_allclose(logp[0, 0, 1], -800.0, rtol=1e-12)   # log expit(-800)
    np.testing.assert_allclose(logp[1, 0, 0], -800.0, rtol=1e-12)


def test_category_scores_are_derivatives_of_the_log_probabilities(irt_mixed_params):
    p = irt_mixed_params
    theta = np.linspace(-3.5, 3.5, 29)
    h = 1e-5
    real = np.arange(p.max_categories)[None, :] < p.n_categories[:, None]
    up = p.log_category_probabilities(theta + h)[:, real]
    down = p.log_category_probabilities(theta - h)[:, real]
    scores = p.category_scores(theta)
    np.testing.assert_allclose(scores[:, real], (up - down) / (2 * h), rtol=1e-6, atol=1e-8)
    assert np.all(scores[:, ~real] == 0)
    # expected score is zero and the expected squared score is the Fisher information
    probs = p.category_probabilities(theta)
    np.testing.assert_allclose(np.sum(probs * scores, axis=2), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.sum(probs * scores**2, axis=2), p.information(theta), rtol=1e-10)


def test_item_bank_and_item_parameters_share_one_rule_set():
    from adaptive.irt import parameter_problem

    ok = parameter_problem(["2PL", "GRM"], [1.0, 1.0], [[0.0, np.nan], [-1.0, 1.0]], [0.0, 0.0],
                           [1.0, 1.0], [2, 3])
    assert ok is None
    # a dichotomous item with a second difficulty: the second item, field b
    i, field, reason = parameter_problem(["2PL", "2PL"], [1.0, 1.0], [[0.0, np.nan], [0.0, 0.5]],
                                         [0.0, 0.0], [1.0, 1.0], [2, 2])
    assert (i, field) == (1, "b") and "exactly one difficulty" in reason
