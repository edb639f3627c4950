"""Item response kernels in mirt's slope-intercept form, vectorised over items x quadrature points.

Each kernel takes a parameter block ``params (J, p)`` for J items of one model with K categories and
the quadrature grid ``theta (Q,)`` and returns category probabilities ``P (J, K, Q)`` and their
derivatives ``dP (J, K, Q, p)``. Parameters:

- 1PL/2PL: ``[a, d]`` with ``P(X=1) = 1 / (1 + exp(-(a theta + d)))`` (difficulty b = -d / a);
- 3PL: ``[a, d, g]`` with ``c = expit(g)`` (the logit keeps c inside (0, 1) during Newton steps);
- GRM: ``[a, d_1, ..., d_{K-1}]`` with ``P(X>=k) = expit(a theta + d_k)``, d decreasing (b_k = -d_k / a).

``adaptive.irt`` is the definition of these models; this is a specialised copy for the EM only because
the EM needs derivatives w.r.t. the item parameters, in an items x categories x quadrature layout, for
trial parameters that ``ItemParameters`` would reject (a <= 0 or unordered intercepts during step
halving, screened afterwards by :func:`valid`). ``tests/calibration/test_kernels.py`` pins it to
``ItemParameters.category_probabilities`` and to finite differences of the irt log-likelihood.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

P_FLOOR = 1e-12


def n_params(model: str, n_categories: int) -> int:
    if model in ("1PL", "2PL"):
        return 2
    if model == "3PL":
        return 3
    if model == "GRM":
        return n_categories
    raise ValueError(f"unsupported model {model!r}")


def probabilities(model: str, params: np.ndarray, theta: np.ndarray, derivatives: bool = True):
    a = params[:, 0][:, None]
    if model in ("1PL", "2PL", "3PL"):
        s = expit(a * theta + params[:, 1][:, None])  # (J, Q)
        ds = s * (1.0 - s)
        if model == "3PL":
            c = expit(params[:, 2])[:, None]
            p1 = c + (1.0 - c) * s
            grads = [(1.0 - c) * ds * theta, (1.0 - c) * ds, (1.0 - s) * c * (1.0 - c)]
        else:
            p1 = s
            grads = [ds * theta, ds]
        P = np.stack([1.0 - p1, p1], axis=1)
        if not derivatives:
            return P, None
        g1 = np.stack(grads, axis=-1)  # (J, Q, p)
        return P, np.stack([-g1, g1], axis=1)
    if model == "GRM":
        J, p = params.shape
        K = p
        z = a[:, :, None] * theta + params[:, 1:, None]  # (J, K-1, Q)
        star = expit(z)
        pad = np.concatenate([np.ones((J, 1, len(theta))), star, np.zeros((J, 1, len(theta)))], axis=1)
        P = pad[:, :-1] - pad[:, 1:]
        if not derivatives:
            return P, None
        w = star * (1.0 - star)
        wpad = np.concatenate([np.zeros((J, 1, len(theta))), w, np.zeros((J, 1, len(theta)))], axis=1)
        dP = np.zeros((J, K, len(theta), p))
        dP[..., 0] = theta * (wpad[:, :-1] - wpad[:, 1:])
        for m in range(1, K):  # d_m moves P(X>=m): raises category m, lowers category m-1
            dP[:, m, :, m] += w[:, m - 1]
            dP[:, m - 1, :, m] -= w[:, m - 1]
        return P, dP
    raise ValueError(f"unsupported model {model!r}")


def valid(model: str, params: np.ndarray) -> np.ndarray:
    """Per item: parameters inside the model's domain (finite; GRM intercepts strictly decreasing)."""
    ok = np.all(np.isfinite(params), axis=1) & (np.abs(params[:, 0]) < 50)
    if model == "GRM" and params.shape[1] > 2:
        ok &= np.all(np.diff(params[:, 1:], axis=1) < 0, axis=1)
    return ok
