"""Change between two diagnostics: the reliable change index, and the prior taken out of EAP/MAP scores.

EAP/MAP thetas are shrunk toward the prior (and, with correlated areas, toward the learner's other
areas), so a true gain in one area shows up smaller in the difference of two posterior means: in the
DigComp CAT simulation a true gain of 0.8 logit appears as about 0.5. ``remove_prior`` recovers the
likelihood-based (prior-free) estimate from a posterior mean and its per-area SDs under the normal
(Laplace) approximation: with a between-item design the likelihood factorises over areas, so its
precision ``L`` is diagonal and the posterior precision is ``L + inv(prior_cov)``. ``L`` is solved so the
posterior's marginal SDs match the reported SEs; then ``theta_L = inv(L) (P m - inv(prior_cov) mu0)``.
These estimates are unbiased but noisier (SE ``1/sqrt(L)``); averaged over learners they give unbiased
group and content effects.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from adaptive.errors import ValidationError


def reliable_change(theta_before, se_before, theta_after, se_after, confidence: float = 0.95):
    """(delta, se_delta, rci, change) arrays; change is +1 (reliable gain), -1 (reliable loss) or 0.

    The change's SE combines both measurements' SEs, ``sqrt(se1^2 + se2^2)`` (the IRT form of Jacobson &
    Truax 1991, with each person's own SE instead of one SEM); reliable when ``|rci| > z_(1+conf)/2``."""
    z = critical_value(confidence)
    t1, s1, t2, s2 = (np.asarray(x, dtype=float) for x in (theta_before, se_before, theta_after, se_after))
    delta = t2 - t1
    se = np.sqrt(s1 ** 2 + s2 ** 2)
    rci = delta / se
    change = np.where(rci > z, 1, np.where(rci < -z, -1, 0))
    return delta, se, rci, change


def critical_value(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValidationError(f"must be in (0, 1), got {confidence}", field="confidence")
    return float(norm.ppf(0.5 + confidence / 2))


def remove_prior(theta: np.ndarray, se: np.ndarray, prior_mean: np.ndarray, prior_cov: np.ndarray,
                 n_iter: int = 100, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Prior-free theta and SE per area from posterior means ``theta`` and SDs ``se`` (N, D).

    Areas not tested (NaN) are left out of that learner's prior (the prior's marginal over the tested
    areas). Returns (N, D) arrays, NaN where not tested.
    """
    theta, se = np.atleast_2d(np.asarray(theta, dtype=float)), np.atleast_2d(np.asarray(se, dtype=float))
    mu0, cov0 = np.asarray(prior_mean, dtype=float), np.asarray(prior_cov, dtype=float)
    d = theta.shape[1]
    if mu0.shape != (d,) or cov0.shape != (d, d):
        raise ValidationError(f"prior must have mean ({d},) and covariance ({d}, {d})", field="prior")
    out_t, out_s = np.full_like(theta, np.nan), np.full_like(theta, np.nan)
    tested = ~np.isnan(theta) & ~np.isnan(se)
    patterns, inverse = np.unique(tested, axis=0, return_inverse=True)
    for p, pattern in enumerate(patterns):
        rows, cols = np.flatnonzero(inverse.ravel() == p), np.flatnonzero(pattern)
        if cols.size == 0:
            continue
        m, s = theta[np.ix_(rows, cols)], se[np.ix_(rows, cols)]
        q = np.linalg.inv(cov0[np.ix_(cols, cols)])          # prior precision of the tested areas
        eye = np.eye(cols.size)
        target = 1 / s ** 2
        lik = np.maximum(target - np.diag(q), 1e-8)
        for _ in range(n_iter):
            post_var = np.diagonal(np.linalg.inv(q[None] + lik[:, :, None] * eye), axis1=1, axis2=2)
            step = target - 1 / post_var
            lik = np.maximum(lik + step, 1e-8)
            if np.abs(step).max() < tol * target.max():
                break
        precision = q[None] + lik[:, :, None] * eye
        out_t[np.ix_(rows, cols)] = (np.einsum("nij,nj->ni", precision, m) - q @ mu0[cols]) / lik
        out_s[np.ix_(rows, cols)] = 1 / np.sqrt(lik)
    return out_t, out_s
