"""Standard errors of an MML-EM fit: the observed-data information matrix, and the bootstrap.

- ``"observed"``: central differences of the analytic observed-data gradient (Fisher's identity), i.e.
  the numerically differentiated observed information (mirt's "Richardson"/"Louis" estimate, up to
  O(h^2)); when that costs more than ``max_se_work`` (2 x n_parameters E-steps) the cross-product
  estimate is used instead and ``se_method_`` says so;
- ``"crossprod"``: sum over persons of outer products of their score vectors (mirt's "crossprod"; a
  sparse product, cheap for CAT logs; within a few % of the observed information);
- ``"louis-block"``: item-diagonal blocks of Louis' formula (cross-item terms dropped, so it understates
  SEs by up to ~10 % on short tests);
- ``"none"``.

Functions of a fitted :class:`adaptive.calibration.em.MMLCalibrator` (whose methods of the same names call
them).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from adaptive.calibration import kernels
from adaptive.calibration.data import ResponseData
from adaptive.errors import ValidationError

if TYPE_CHECKING:
    from adaptive.calibration.em import MMLCalibrator


def compute_standard_errors(cal: MMLCalibrator, method: str = "observed") -> MMLCalibrator:
    """(Re)compute ``se_``/``covariance_`` at the fitted parameters (e.g. only for the chosen model)."""
    cal.se_method = method
    flat = cal._pack(cal._groups)
    J = len(cal.item_ids_)
    cal.se_method_ = cal.se_method
    nan = {
        "a": np.full(J, np.nan),
        "d": np.full_like(cal.d_, np.nan),
        "b": np.full_like(cal.d_, np.nan),
        "c": np.full(J, np.nan),
    }
    cal.se_ = nan
    cal.covariance_ = None
    if cal.se_method == "none" or flat.size == 0:
        return cal
    info, cal.se_method_ = information(cal, flat)
    try:
        cov = np.linalg.inv(info)
        if np.any(np.diag(cov) <= 0):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        warnings.warn(
            "information matrix not positive definite: standard errors unavailable",
            RuntimeWarning,
            stacklevel=4,
        )
        return cal
    cal.covariance_ = cov
    cal.information_ = info
    _fill_standard_errors(cal, cov)
    return cal


def information(cal: MMLCalibrator, flat) -> tuple[np.ndarray, str]:
    """The information matrix of the free parameters by ``cal.se_method`` and the method used."""
    p = flat.size
    nnz = cal._Y.nnz
    work = 2.0 * p * nnz * len(cal.theta_)
    method = cal.se_method
    if method == "observed" and work > cal.max_se_work:
        method = "crossprod"
    if method == "observed":
        H = np.empty((p, p))
        for k in range(p):
            h = 1e-4 * max(1.0, abs(flat[k]))
            e = np.zeros(p)
            e[k] = h
            H[:, k] = (_marginal_gradient(cal, flat + e) - _marginal_gradient(cal, flat - e)) / (2 * h)
        return -(H + H.T) / 2, method
    groups = cal._groups
    _, W, R = cal._estep(groups)
    idx = cal._flat_index(groups)
    persons = cal._obs[0]
    if method == "crossprod":
        # per-person score vectors as a sparse (persons x parameters) matrix: G'G stays cheap for
        # CAT logs because each person touches only the parameters of the items they answered
        rr, cc, vv = [], [], []
        for _g, gi, (o, r, sc) in zip(groups, idx, _observed_scores(cal, groups, W), strict=True):
            for k in range(sc.shape[1]):
                cols = gi[r, k]
                ok = cols >= 0
                rr.append(persons[o[ok]])
                cc.append(cols[ok])
                vv.append(sc[ok, k])
        G = sp.csr_matrix(
            (np.concatenate(vv), (np.concatenate(rr), np.concatenate(cc))), shape=(cal._Y.shape[0], p)
        )
        return (G.T @ G).toarray(), method
    # Louis' formula, item-diagonal blocks: sum_{q,k} r (-d2P / P) + sum_persons g g'
    info = np.zeros((p, p))
    for g, gi, (_o, r, sc) in zip(groups, idx, _observed_scores(cal, groups, W), strict=True):
        npar = g.params.shape[1]
        P, _ = kernels.probabilities(g.model, g.params, cal.theta_, derivatives=False)
        Pc = np.clip(P, kernels.P_FLOOR, 1.0)
        Rg = R[g.cols]
        for l in range(npar):
            h = 1e-5
            e = np.zeros(npar)
            e[l] = h
            _, dPp = kernels.probabilities(g.model, g.params + e, cal.theta_)
            _, dPm = kernels.probabilities(g.model, g.params - e, cal.theta_)
            d2 = (dPp - dPm) / (2 * h)  # (J, K, Q, p): d/dparam_l of dP
            blk = -np.einsum("jkq,jkqp->jp", Rg / Pc, d2)
            gg = np.zeros((len(g.params), npar))
            np.add.at(gg, r, sc * sc[:, [l]])
            blk += gg
            for m in range(npar):
                a, b = gi[:, l], gi[:, m]
                ok = (a >= 0) & (b >= 0)
                np.add.at(info, (a[ok], b[ok]), blk[ok, m])
    return (info + info.T) / 2, method


def _marginal_gradient(cal: MMLCalibrator, flat):
    """Gradient of the marginal log-likelihood at the free parameters ``flat`` (Fisher's identity)."""
    groups = cal._unpack(flat)
    _, _, R = cal._estep(groups)
    grads = []
    for g in groups:
        gr, _ = cal._grad_info(g, g.params, R[g.cols])
        grads.append(gr)
    return cal._pack_grad(groups, grads)


def _observed_scores(cal: MMLCalibrator, groups, W):
    """Per observed response: the person's posterior-expected score for that item's parameters."""
    persons, cols, items = cal._obs
    col_group = np.full(cal._Y.shape[1], -1)
    col_local = np.zeros(cal._Y.shape[1], int)
    for gi, g in enumerate(groups):
        col_group[g.cols.ravel()] = gi
        col_local[g.cols.ravel()] = np.arange(g.cols.size)
    out = []
    for gi, g in enumerate(groups):
        P, dP = kernels.probabilities(g.model, g.params, cal.theta_)
        S = (dP / np.clip(P, kernels.P_FLOOR, 1.0)[..., None]).reshape(-1, len(cal.theta_), dP.shape[-1])
        o = np.flatnonzero(col_group[cols] == gi)
        sc = np.empty((len(o), dP.shape[-1]))
        for s in range(0, len(o), 20000):  # chunks bound memory at 20000 x Q x p
            oo = o[s : s + 20000]
            sc[s : s + 20000] = np.einsum("oq,oqp->op", W[persons[oo]], S[col_local[cols[oo]]])
        row_in_group = col_local[cols[o]] // g.n_categories
        out.append((o, row_in_group, sc))
    return out


def _fill_standard_errors(cal: MMLCalibrator, cov) -> None:
    """SEs of a, d, b (delta method, b = -d / a) and c (c = expit(g)) from the covariance."""
    se = cal.se_
    for g, gi in zip(cal._groups, cal._flat_index(cal._groups), strict=True):
        for r, j in enumerate(g.items):
            if not g.free[r]:
                continue
            ix = gi[r]
            C = cov[np.ix_(ix, ix)]
            a = g.params[r, 0]
            se["a"][j] = np.sqrt(C[0, 0])
            nd = 1 if g.model == "3PL" else len(ix) - 1
            for k in range(nd):
                d = g.params[r, 1 + k]
                se["d"][j, k] = np.sqrt(C[1 + k, 1 + k])
                grad = np.array([d / a**2, -1.0 / a])  # b = -d / a
                sub = C[np.ix_([0, 1 + k], [0, 1 + k])]
                se["b"][j, k] = np.sqrt(grad @ sub @ grad)
            if g.model == "3PL":
                c = expit(g.params[r, 2])
                se["c"][j] = c * (1 - c) * np.sqrt(C[2, 2])


def bootstrap_standard_errors(cal: MMLCalibrator, n_boot: int = 100,
                              seed: int | np.random.Generator = 0) -> dict:
    """Nonparametric bootstrap over persons (an option; slow: ``n_boot`` refits). Sets ``se_`` to
    the bootstrap SDs of a, d, b, c and ``se_method_ = "bootstrap"``; returns it."""
    from rich.progress import track

    from adaptive.calibration.em import MMLCalibrator  # the refits (em imports this module)

    rng = np.random.default_rng(seed)
    data = cal._data
    order = np.argsort(data.rows, kind="stable")
    starts = np.searchsorted(data.rows[order], np.arange(data.n_persons + 1))
    draws = {"a": [], "d": [], "b": [], "c": []}
    for _ in track(range(n_boot), description="bootstrap", disable=not cal.progress, transient=True):
        pick = rng.integers(0, data.n_persons, data.n_persons)
        n_i = starts[pick + 1] - starts[pick]
        new_rows = np.repeat(np.arange(len(pick)), n_i)
        first = np.repeat(starts[pick], n_i)
        within = np.arange(n_i.sum()) - np.repeat(np.cumsum(n_i) - n_i, n_i)
        obs = order[first + within]
        boot = ResponseData(
            np.arange(len(pick)).astype(str),
            data.item_ids,
            new_rows,
            data.cols[obs],
            data.scores[obs],
            source=f"bootstrap of {data.source}",
        )
        est = MMLCalibrator(
            model=dict(zip(cal.item_ids_, cal.models_, strict=True)),
            n_quadrature=cal.n_quadrature,
            theta_bound=cal.theta_bound,
            max_iter=cal.max_iter,
            tol=cal.tol,
            c_prior=cal.c_prior,
            a_prior=cal.a_prior,
            se_method="none",
            estimate_latent=cal.estimate_latent,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                est.fit(boot, fixed=cal._fixed)
            except ValidationError:  # an item without variance in this resample: skip the draw
                continue
        for k in draws:
            draws[k].append(getattr(est, f"{k}_"))
    cal.se_ = {k: np.nanstd(np.array(v), axis=0, ddof=1) for k, v in draws.items()}
    cal.se_["c"] = np.where(cal.models_ == "3PL", cal.se_["c"], np.nan)
    cal.se_["a"] = np.where(cal.fixed_, np.nan, cal.se_["a"])
    cal.se_method_ = "bootstrap"
    cal.n_bootstrap_ = len(draws["a"])
    return cal.se_
