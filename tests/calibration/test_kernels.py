"""Calibration's slope-intercept kernels agree with the one definition of the models, adaptive.irt.

The kernels stay specialised (derivatives w.r.t. item parameters, items x categories x quadrature
layout for the EM), so they are pinned here to ``ItemParameters``: probabilities on random
parameters, and parameter derivatives against finite differences of the irt log-likelihood.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from adaptive.calibration import kernels
from adaptive.irt import ItemParameters

THETA = np.linspace(-5.0, 5.0, 41)


def _random_block(model: str, n_items: int, n_categories: int, rng) -> np.ndarray:
    """Slope-intercept parameters as the EM holds them (GRM intercepts decreasing)."""
    a = rng.lognormal(0.0, 0.4, n_items)
    if model == "GRM":
        b = np.sort(rng.normal(0.0, 1.2, (n_items, n_categories - 1)), axis=1)
        b += np.arange(n_categories - 1) * 0.05          # strictly increasing thresholds
        return np.column_stack([a, -a[:, None] * b])
    b = rng.normal(0.0, 1.2, n_items)
    if model == "3PL":
        return np.column_stack([a, -a * b, rng.normal(-1.4, 0.5, n_items)])   # c = expit(g)
    return np.column_stack([a, -a * b])


def _irt_parameters(model: str, block: np.ndarray) -> ItemParameters:
    """The same items in adaptive.irt's slope-difficulty form: b = -d / a, c = expit(g)."""
    a = block[:, 0]
    if model == "GRM":
        return ItemParameters.graded(a, -block[:, 1:] / a[:, None])
    c = expit(block[:, 2]) if model == "3PL" else None
    return ItemParameters.dichotomous(a, -block[:, 1] / a, c=c, model=model)


CASES = [("1PL", 2), ("2PL", 2), ("3PL", 2), ("GRM", 3), ("GRM", 5)]


@pytest.mark.parametrize(("model", "n_categories"), CASES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kernel_probabilities_equal_irt_category_probabilities(model, n_categories, seed):
    rng = np.random.default_rng(seed)
    block = _random_block(model, 7, n_categories, rng)
    P, _ = kernels.probabilities(model, block, THETA, derivatives=False)      # (J, K, Q)
    ref = _irt_parameters(model, block).category_probabilities(THETA)          # (Q, J, K)
    np.testing.assert_allclose(P, np.transpose(ref, (1, 2, 0)), rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize(("model", "n_categories"), CASES)
def test_kernel_parameter_derivatives_match_finite_differences_of_the_irt_log_likelihood(model, n_categories):
    rng = np.random.default_rng(10 + n_categories)
    block = _random_block(model, 4, n_categories, rng)
    P, dP = kernels.probabilities(model, block, THETA)                           # dP (J, K, Q, p)
    kernel_scores = dP / P[..., None]                                            # d log P / d param
    h = 1e-6
    for j in range(block.shape[0]):
        for k in range(n_categories):
            responses = np.full(block.shape[0], -1)
            responses[j] = k                       # the log-likelihood of item j answered in category k
            for m in range(block.shape[1]):
                step = np.zeros_like(block)
                step[j, m] = h
                up = _irt_parameters(model, block + step).log_likelihood(THETA, responses)
                down = _irt_parameters(model, block - step).log_likelihood(THETA, responses)
                np.testing.assert_allclose(kernel_scores[j, k, :, m], (up - down) / (2 * h),
                                           rtol=1e-5, atol=1e-7,
                                           err_msg=f"{model} item {j} category {k} parameter {m}")


def test_the_comparison_can_fail():
    """A kernel off by a shifted intercept is caught (the tests above are not vacuous)."""
    rng = np.random.default_rng(3)
    block = _random_block("2PL", 5, 2, rng)
    P, _ = kernels.probabilities("2PL", block + np.array([0.0, 0.01]), THETA, derivatives=False)
    ref = np.transpose(_irt_parameters("2PL", block).category_probabilities(THETA), (1, 2, 0))
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(P, ref, rtol=1e-9, atol=1e-13)
