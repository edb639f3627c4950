"""Ability estimation: EAP, MAP, MLE for one area; the between-item multidimensional posterior
over the DigComp areas; proficiency levels from a posterior and cut scores.

Responses are integer arrays aligned with an ``ItemParameters``; -1 marks items not
administered, which do not enter the likelihood (so a whole 1,000-item bank can be passed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg.lapack import dposv
from scipy.special import ndtr

from adaptive.errors import ValidationError
from adaptive.irt import ItemParameters, ResponsePattern

METHOD_EAP = "EAP"
METHOD_MAP = "MAP"
METHOD_MLE = "MLE"
METHOD_MLE_FALLBACK = "MLE->MAP"  # extreme pattern: MLE is infinite, the MAP is returned


@dataclass
class AbilityEstimate:
    """One area's estimate. ``grid``/``posterior`` hold the EAP quadrature posterior (weights sum to 1)."""

    theta: float
    se: float
    method: str
    n_items: int = 0
    grid: np.ndarray | None = field(default=None, repr=False)
    posterior: np.ndarray | None = field(default=None, repr=False)


def _check_prior(prior_mean: float, prior_sd: float) -> None:
    if not np.isfinite(prior_mean):
        raise ValidationError("prior mean must be finite", field="prior_mean")
    if not (np.isfinite(prior_sd) and prior_sd > 0):
        raise ValidationError("prior SD must be finite and > 0", field="prior_sd")


def eap(params: ItemParameters, responses, prior_mean: float = 0.0, prior_sd: float = 1.0,
        n_quadrature: int = 61) -> AbilityEstimate:
    """Expected a posteriori theta on an equally spaced grid over prior_mean +/- 6 prior_sd.

    The grid rule is spectrally accurate for smooth, fast-decaying posteriors; the SE is the
    posterior SD.
    """
    _check_prior(prior_mean, prior_sd)
    if n_quadrature < 3:
        raise ValidationError("need at least 3 quadrature points", field="n_quadrature")
    pattern = ResponsePattern(params, responses)
    grid = prior_mean + prior_sd * np.linspace(-6.0, 6.0, n_quadrature)
    log_post = -0.5 * ((grid - prior_mean) / prior_sd) ** 2
    if pattern.n:
        log_post = log_post + pattern.log_likelihood(grid)
    w = np.exp(log_post - log_post.max())
    w /= w.sum()
    theta = float(w @ grid)
    se = float(np.sqrt(w @ (grid - theta) ** 2))
    return AbilityEstimate(theta, se, METHOD_EAP, pattern.n, grid, w)


def _newton_1d(pattern: ResponsePattern, prior_mean: float, prior_prec: float, start: float,
               bounds: tuple[float, float], max_iter: int = 100, tol: float = 1e-9):
    """Maximise log L + log prior by Newton with step halving inside ``bounds``.

    Returns (theta, -d2 at theta). Where the observed curvature is not negative (3PL/4PL far
    from the data), the Fisher information replaces it so the step still points uphill.
    """
    lo, hi = bounds
    theta = float(np.clip(start, lo, hi))

    def evaluate(t: float):
        ll, d1, d2 = pattern.terms(t)
        r = t - prior_mean
        return (ll.sum() - 0.5 * prior_prec * r * r, d1.sum() - prior_prec * r, d2.sum() - prior_prec)

    f, g, h = evaluate(theta)
    for _ in range(max_iter):
        if h >= 0:
            h = -(pattern.information(theta).sum() + prior_prec)
            if h >= 0:  # flat: no information, no prior
                break
        step = float(np.clip(-g / h, -2.0, 2.0))
        t_new = float(np.clip(theta + step, lo, hi))
        for _ in range(40):
            f_new, g_new, h_new = evaluate(t_new)
            if f_new >= f - 1e-12 * abs(f):
                break
            t_new = theta + 0.5 * (t_new - theta)
        moved = abs(t_new - theta)
        theta, f, g, h = t_new, f_new, g_new, h_new
        if moved < tol:
            break
    if h >= 0:
        h = -(pattern.information(theta).sum() + prior_prec)
    return theta, -h


def map_estimate(params: ItemParameters, responses, prior_mean: float = 0.0, prior_sd: float = 1.0, *,
                 start: float | None = None, bounds: tuple[float, float] = (-10.0, 10.0)) -> AbilityEstimate:
    """Maximum a posteriori theta under a normal prior; SE from the curvature at the mode (Laplace)."""
    _check_prior(prior_mean, prior_sd)
    pattern = ResponsePattern(params, responses)
    prec = 1.0 / prior_sd**2
    if pattern.n == 0:
        return AbilityEstimate(float(prior_mean), float(prior_sd), METHOD_MAP, 0)
    theta, curv = _newton_1d(pattern, prior_mean, prec, prior_mean if start is None else start, bounds)
    return AbilityEstimate(theta, float(1.0 / np.sqrt(curv)), METHOD_MAP, pattern.n)


def mle(params: ItemParameters, responses, bounds: tuple[float, float] = (-4, 4), *,
        prior_mean: float = 0.0, prior_sd: float = 1.0) -> AbilityEstimate:
    """Maximum likelihood theta within ``bounds``; SE = 1/sqrt(test information).

    For an extreme pattern (no answers, all in the lowest or all in the highest category) the
    MLE is infinite: the MAP under N(prior_mean, prior_sd^2) is returned, method ``"MLE->MAP"``.
    """
    pattern = ResponsePattern(params, responses)
    if pattern.is_extreme():
        est = map_estimate(params, responses, prior_mean, prior_sd)
        est.method = METHOD_MLE_FALLBACK
        return est
    theta, _ = _newton_1d(pattern, 0.0, 0.0, 0.0, (float(bounds[0]), float(bounds[1])))
    info = pattern.information(theta).sum()
    se = float(1.0 / np.sqrt(info)) if info > 0 else float("inf")
    return AbilityEstimate(theta, se, METHOD_MLE, pattern.n)


# -- multidimensional (between-item) ------------------------------------------------------------

@dataclass
class MultidimensionalEstimate:
    theta: np.ndarray        # (D,) posterior mode
    covariance: np.ndarray   # (D, D) Laplace covariance: inverse negative Hessian at the mode
    n_iter: int = 0

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.covariance))


class MultidimensionalPosterior:
    """Joint posterior of the area thetas: each item loads on one area, MVN prior couples areas.

    The likelihood is separable per area and only the prior links them, so the Hessian is
    ``diag(per-area curvature) - prior precision`` and one Newton step costs a D x D solve.
    """

    def __init__(self, prior_mean, prior_cov, *, bound: float = 10.0, max_iter: int = 50, tol: float = 1e-7):
        mean = np.asarray(prior_mean, dtype=float).reshape(-1)
        cov = np.asarray(prior_cov, dtype=float)
        dim = mean.shape[0]
        if cov.shape != (dim, dim):
            raise ValidationError(f"prior covariance must be ({dim}, {dim}), got {cov.shape}",
                                  field="prior_cov")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
            raise ValidationError("prior mean and covariance must be finite", field="prior_cov")
        if not np.allclose(cov, cov.T, atol=1e-10):
            raise ValidationError("prior covariance must be symmetric", field="prior_cov")
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError as exc:
            raise ValidationError("prior covariance must be positive definite", field="prior_cov") from exc
        inv_chol = np.linalg.inv(chol)
        self.prior_mean = mean
        self.prior_cov = cov
        self.precision_ = inv_chol.T @ inv_chol  # precomputed once: every update reuses it
        self._eye = np.eye(dim)
        self.dim = dim
        self.bound = float(bound)
        self.max_iter = int(max_iter)
        self.tol = float(tol)

    @classmethod
    def from_correlation(cls, correlation, sd=1.0, mean=None, **kwargs) -> MultidimensionalPosterior:
        corr = np.asarray(correlation, dtype=float)
        sd = np.broadcast_to(np.asarray(sd, dtype=float), (corr.shape[0],))
        mean = np.zeros(corr.shape[0]) if mean is None else mean
        return cls(mean, corr * np.outer(sd, sd), **kwargs)

    def estimate(self, params: ItemParameters, item_dims, responses, start=None) -> MultidimensionalEstimate:
        """Posterior mode (Newton with step halving) and Laplace covariance.

        ``item_dims`` (n,) is each item's area index (0..D-1); ``start`` warm-starts Newton
        (e.g. the previous estimate in a CAT).
        """
        dims_all = np.asarray(item_dims)
        if dims_all.shape != (len(params),):
            raise ValidationError(f"expected {len(params)} item dimensions, got shape {dims_all.shape}",
                                  field="item_dims")
        if dims_all.size and (dims_all.dtype.kind not in "iu" or dims_all.min() < 0
                              or dims_all.max() >= self.dim):
            raise ValidationError(f"item dimensions must be integers in 0..{self.dim - 1}", field="item_dims")
        pattern = ResponsePattern(params, responses)
        dims = dims_all[pattern.index]
        lam, mu, dim, bound = self.precision_, self.prior_mean, self.dim, self.bound
        if start is None:
            theta = mu.copy()
        else:
            theta = np.asarray(start, dtype=float).reshape(-1)
            if theta.shape != (dim,) or not np.all(np.isfinite(theta)):
                raise ValidationError(f"start must be a finite vector of length {dim}", field="start")
            theta = np.minimum(np.maximum(theta, -bound), bound)
        if pattern.n == 0:
            return MultidimensionalEstimate(mu.copy(), self.prior_cov.copy(), 0)

        ll, d1, d2 = pattern.terms(theta[dims])
        lam_r = lam @ (theta - mu)
        f = ll.sum() - 0.5 * (theta - mu) @ lam_r
        n_iter = 0
        while True:
            # One LAPACK call gives both the inverse negative Hessian (Laplace covariance) and the step.
            cov = self._inverse_neg_hessian(pattern, dims, d2, theta)
            step = cov @ (np.bincount(dims, d1, dim) - lam_r)
            biggest = np.abs(step).max()
            if biggest < self.tol or n_iter >= self.max_iter:
                break
            n_iter += 1
            if biggest > 2.0:  # trust region: never jump more than 2 logits at once
                step *= 2.0 / biggest
            t_new = theta + step
            if np.abs(t_new).max() > bound:
                t_new = np.clip(t_new, -bound, bound)
                if np.array_equal(t_new, theta):  # pinned at the bounds
                    break
            for _ in range(40):  # step halving: the log posterior must not decrease
                ll_new, d1_new, d2_new = pattern.terms(t_new[dims])
                r_new = t_new - mu
                lam_r_new = lam @ r_new
                f_new = ll_new.sum() - 0.5 * r_new @ lam_r_new
                if f_new >= f - 1e-12 * abs(f):
                    break
                t_new = theta + 0.5 * (t_new - theta)
            theta, f, d1, d2, lam_r = t_new, f_new, d1_new, d2_new, lam_r_new
        return MultidimensionalEstimate(theta, cov, n_iter)

    def _inverse_neg_hessian(self, pattern: ResponsePattern, dims, d2, theta) -> np.ndarray:
        curv = np.bincount(dims, d2, self.dim)  # <= 0 where the log-likelihood is concave
        if curv.max() > 0:  # 3PL/4PL away from the data: use the Fisher information there
            fisher = np.bincount(dims, pattern.information(theta[dims]), self.dim)
            curv = np.where(curv > 0, -fisher, curv)
        neg_h = self.precision_.copy()
        neg_h.flat[:: self.dim + 1] -= curv  # on the diagonal, in place
        _, inv, info = dposv(neg_h, self._eye)
        if info != 0:  # cannot happen for a PD prior and curv <= 0; keep a clear error regardless
            raise ValidationError("posterior Hessian is not negative definite", field="prior_cov")
        return inv


# -- proficiency levels --------------------------------------------------------------------------
# L levels are separated by L - 1 increasing cut scores: level k+1 when theta >= the k-th cut. The number
# of levels always comes from the cuts (DigComp has 8, nothing here assumes it).

def _check_cuts(cut_scores) -> np.ndarray:
    cuts = np.asarray(cut_scores, dtype=float)
    if cuts.ndim == 0 or cuts.shape[-1] < 1:
        raise ValidationError("need at least one cut score", field="cut_scores")
    if not (np.isfinite(cuts).all() and (cuts[..., 1:] > cuts[..., :-1]).all()):
        raise ValidationError("cut scores must be finite and strictly increasing", field="cut_scores")
    return cuts


def level_probabilities_batch(theta, se, cuts) -> np.ndarray:
    """P(level = 1..L) under normal posteriors N(theta, se^2), vectorised, unchecked (the CAT hot path).

    ``theta``, ``se`` broadcast together (e.g. (R, D)); ``cuts`` (..., L-1) broadcasts against them with
    its last axis the cuts (e.g. (D, L-1), one row per area) -> (..., L). ``se == 0`` is a point mass.
    """
    theta = np.asarray(theta, dtype=float)[..., None]
    se = np.asarray(se, dtype=float)[..., None]
    if se.all():
        cdf = ndtr((cuts - theta) / se)
    else:
        point = se == 0
        cdf = np.where(point, theta < cuts, ndtr((cuts - theta) / np.where(point, 1.0, se)))
    return _levels_from_cdf(cdf)


def _levels_from_cdf(cdf: np.ndarray) -> np.ndarray:
    """Level probabilities from P(theta < cut_k), k = 1..L-1 (last axis); non-negative as the cdf is
    non-decreasing in the cuts."""
    zeros = np.zeros(cdf.shape[:-1] + (1,))
    return np.diff(np.concatenate([zeros, cdf, zeros + 1.0], axis=-1), axis=-1)


def level_probabilities(theta_mean, theta_sd, cut_scores, *, grid=None, posterior=None) -> np.ndarray:
    """P(level = 1..L) from an area posterior, L = len(cut_scores) + 1; checked.

    Normal approximation N(theta_mean, theta_sd^2) by default: scalars give (L,), arrays are batched as
    in :func:`level_probabilities_batch`. With ``grid``/``posterior`` (one EAP quadrature posterior) each
    grid weight is spread uniformly over its cell and the mass between cuts is summed.
    """
    cuts = _check_cuts(cut_scores)
    if grid is not None or posterior is not None:
        if grid is None or posterior is None:
            raise ValidationError("grid and posterior go together", field="posterior")
        if cuts.ndim != 1:
            raise ValidationError("one posterior takes one row of cut scores", field="cut_scores")
        x = np.asarray(grid, dtype=float)
        w = np.asarray(posterior, dtype=float)
        if x.shape != w.shape or x.ndim != 1 or x.size < 2:
            raise ValidationError("grid and posterior must be 1-D arrays of equal length >= 2",
                                  field="posterior")
        w = w / w.sum()
        mid = 0.5 * (x[1:] + x[:-1])
        edges = np.concatenate([[x[0] - (mid[0] - x[0])], mid, [x[-1] + (x[-1] - mid[-1])]])
        return _levels_from_cdf(np.interp(cuts, edges, np.concatenate([[0.0], np.cumsum(w)])))
    theta_mean, theta_sd = np.asarray(theta_mean, dtype=float), np.asarray(theta_sd, dtype=float)
    if not np.isfinite(theta_mean).all():
        raise ValidationError("theta must be finite", field="theta")
    if not (np.isfinite(theta_sd).all() and (theta_sd >= 0).all()):
        raise ValidationError("theta SD must be finite and >= 0", field="se")
    return level_probabilities_batch(theta_mean, theta_sd, cuts)


def most_likely_level(probs) -> int:
    """The level (1..L) with the largest probability."""
    p = np.asarray(probs, dtype=float).reshape(-1)
    if p.size < 2:
        raise ValidationError(f"need at least 2 level probabilities, got {p.size}",
                              field="level_probabilities")
    return int(np.argmax(p)) + 1


def level_of(theta: float, cut_scores) -> int:
    """The level (1..L) a theta point falls in: level k+1 when theta >= the k-th cut."""
    cuts = _check_cuts(cut_scores)
    if cuts.ndim != 1:
        raise ValidationError("need one row of cut scores", field="cut_scores")
    return int(np.searchsorted(cuts, theta, side="right")) + 1
