"""Unidimensional marginal maximum likelihood (Bock-Aitkin EM) for 1PL, 2PL, 3PL and GRM items.

The core follows mirt's defaults so results agree with it: theta ~ N(0, 1) on 61 equally spaced
quadrature points on [-6, 6], slope-intercept parameters, the likelihood taken over observed
responses only. The E-step is two sparse products (responses x categories indicator ``Y``):
``log L(person, q) = Y @ log P`` and expected counts ``R = Y.T @ posterior``, so a sparse CAT log
costs O(responses x quadrature points) per cycle. The M-step is a vectorised Fisher-scoring step per
item with step halving (a generalised EM: each cycle raises the marginal likelihood).

Standard errors (observed information, cross-products, Louis blocks, bootstrap) are in
:mod:`adaptive.calibration.standard_errors`, report tables in :mod:`adaptive.calibration.em_tables`;
the estimator's methods of those names call them.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, logit

from adaptive.calibration import em_tables, kernels, standard_errors
from adaptive.calibration.data import ResponseData
from adaptive.errors import ValidationError

DICHOTOMOUS = ("1PL", "2PL", "3PL")


def quadrature(n_points: int = 61, bound: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """mirt's default grid: equally spaced points with normalised standard normal weights."""
    theta = np.linspace(-bound, bound, n_points)
    w = np.exp(-0.5 * theta**2)
    return theta, w / w.sum()


@dataclass
class _Group:
    model: str
    n_categories: int
    items: np.ndarray  # item indices into the fitted item list
    cols: np.ndarray  # (J_g, K) columns of the category indicator matrix
    free: np.ndarray  # (J_g,) bool: estimated (False: held fixed, e.g. anchors)
    params: np.ndarray  # (J_g, p)


def _as_response_data(X, item_ids=None) -> ResponseData:
    if isinstance(X, ResponseData):
        return X
    if sp.issparse(X):
        raise ValidationError("pass a dense matrix with NaN for missing, or a ResponseData")
    return ResponseData.from_matrix(X, item_ids=item_ids)


class MMLCalibrator:
    """Marginal maximum likelihood item calibration on one unidimensional scale.

    Parameters
    ----------
    model : "1PL" (common slope; the Rasch model with a free latent SD), "2PL", "3PL" or "GRM", or a
        sequence / mapping giving one per item. Items with more than two observed scores use the GRM.
    c_prior : Beta(alpha, beta) prior on the 3PL lower asymptote c (MAP); None for plain ML.
    a_prior : (mu, sigma) of a log-normal prior on the slopes of 2PL/3PL/GRM items (MAP, as BILOG-MG
        offers); None (default) for plain ML. Sparse CAT logs need it: an item given mostly to persons far
        above its difficulty leaves (a, b) on a ridge, and ML runs off along it to a tiny a and a huge |b|.
        Keep sigma <= ~1: a log-normal's mode is exp(mu - sigma^2), so a "flat" one pulls slopes to 0.
    se_method : "observed" (default), "crossprod", "louis-block" or "none".
    estimate_latent : estimate the latent mean and SD (theta ~ N(mu, sigma) on the same grid) instead of
        fixing N(0, 1). Identified only with fixed (anchor) items; None means "when items are fixed".
    """

    def __init__(
        self,
        model: str | Sequence[str] | Mapping[str, str] = "2PL",
        n_quadrature: int = 61,
        theta_bound: float = 6.0,
        max_iter: int = 500,
        tol: float = 1e-5,
        c_prior: tuple[float, float] | None = (5.0, 17.0),
        a_prior: tuple[float, float] | None = None,
        se_method: str = "observed",
        max_se_work: float = 4e8,
        estimate_latent: bool | None = None,
        progress: bool = False,
    ):
        self.model = model
        self.n_quadrature = n_quadrature
        self.theta_bound = theta_bound
        self.max_iter = max_iter
        self.tol = tol
        self.c_prior = c_prior
        self.a_prior = a_prior
        self.se_method = se_method
        self.max_se_work = max_se_work
        self.estimate_latent = estimate_latent
        self.progress = progress

    # ------------------------------------------------------------------ set-up
    def _item_models(self, item_ids, n_cat) -> list[str]:
        if isinstance(self.model, str):
            models = [self.model.upper()] * len(item_ids)
        elif isinstance(self.model, Mapping):
            models = [str(self.model.get(i, "2PL")).upper() for i in item_ids]
        else:
            models = [str(m).upper() for m in self.model]
            if len(models) != len(item_ids):
                raise ValidationError(f"{len(models)} models given for {len(item_ids)} items", field="model")
        out = []
        for iid, m, k in zip(item_ids, models, n_cat, strict=True):
            if m not in ("1PL", "2PL", "3PL", "GRM", "RASCH"):
                raise ValidationError(f"unsupported model {m!r}", where=f"item {iid!r}", field="model")
            m = "1PL" if m == "RASCH" else m
            out.append("GRM" if k > 2 else ("2PL" if m == "GRM" else m))
        return out

    def _declared_model(self, item_id, j) -> str:
        if isinstance(self.model, str):
            return self.model.upper()
        if isinstance(self.model, Mapping):
            return str(self.model.get(item_id, "2PL")).upper()
        return str(self.model[j]).upper()

    def _start_values(self, model, K, scores_by_cat):
        """Start values from the observed category proportions (a = 1)."""
        n = max(scores_by_cat.sum(), 1)
        cum = np.clip(np.cumsum(scores_by_cat[::-1])[::-1][1:] / n, 0.01, 0.99)  # P(X >= k), k = 1..K-1
        d = logit(cum) * 1.2
        if model == "3PL":
            c0 = 0.2 if self.c_prior is None else (self.c_prior[0] - 1) / max(sum(self.c_prior) - 2, 1e-9)
            p = np.clip((cum[0] - c0) / (1 - c0), 0.05, 0.95)
            return np.array([1.0, logit(p), logit(c0)])
        return np.concatenate([[1.0], d])

    # ------------------------------------------------------------------ fit
    def fit(
        self, X, item_ids: Sequence[str] | None = None, fixed: Mapping[str, Sequence[float]] | None = None
    ) -> MMLCalibrator:
        """Fit to a persons x items matrix (NaN = missing) or a ResponseData.

        ``fixed`` maps item ids to slope-intercept parameters held at those values (anchor items).
        """
        data = _as_response_data(X, item_ids)
        fixed = dict(fixed or {})
        J = data.n_items
        self.item_ids_ = np.asarray(data.item_ids)
        self.person_ids_ = np.asarray(data.person_ids)
        # recode each item's observed scores to 0..K-1 (as mirt does); keep the map. Fixed items keep
        # their raw scores 0..K-1 (K from the fixed parameters) so unobserved categories stay aligned.
        self.categories_ = []
        cat = np.empty_like(data.scores)
        order = np.argsort(data.cols, kind="stable")
        bounds = np.searchsorted(data.cols[order], np.arange(J + 1))
        for j in range(J):
            m = order[bounds[j] : bounds[j + 1]]
            iid = self.item_ids_[j]
            if iid in fixed:
                k_fixed = (
                    len(fixed[iid]) if len(fixed[iid]) > 3 or self._declared_model(iid, j) == "GRM" else 2
                )
                bad = data.scores[m] >= k_fixed
                if bad.any():
                    raise ValidationError(
                        f"score {int(data.scores[m][bad][0])} outside 0..{k_fixed - 1} of the fixed item",
                        where=f"item {iid!r}",
                        field="response",
                    )
                vals, inv = np.arange(k_fixed), data.scores[m]
            else:
                vals, inv = np.unique(data.scores[m], return_inverse=True)
                if len(vals) < 2:
                    raise ValidationError(
                        "no variance in responses (screen items first)",
                        where=f"item {iid!r}",
                        field="response",
                    )
            self.categories_.append(vals)
            cat[m] = inv
        n_cat = np.array([len(v) for v in self.categories_])
        self.n_categories_ = n_cat
        self.models_ = np.array(self._item_models(self.item_ids_, n_cat))
        offsets = np.concatenate([[0], np.cumsum(n_cat)])
        C = int(offsets[-1])
        self._Y = sp.csr_matrix(
            (np.ones(len(cat)), (data.rows, offsets[data.cols] + cat)), shape=(data.n_persons, C)
        )
        self._Yt = self._Y.T.tocsr()
        self._obs = (data.rows, offsets[data.cols] + cat, data.cols)
        self.theta_, self.prior_ = quadrature(self.n_quadrature, self.theta_bound)
        self._log_prior = np.log(self.prior_)
        counts = np.bincount(offsets[data.cols] + cat, minlength=C)

        groups: list[_Group] = []
        for model in ("1PL", "2PL", "3PL", "GRM"):
            for K in sorted(set(n_cat[self.models_ == model])):
                items = np.flatnonzero((self.models_ == model) & (n_cat == K))
                cols = offsets[items][:, None] + np.arange(K)
                params = np.array([self._start_values(model, K, counts[c]) for c in cols])
                free = np.ones(len(items), bool)
                for r, j in enumerate(items):
                    if self.item_ids_[j] in fixed:
                        v = np.asarray(fixed[self.item_ids_[j]], dtype=float)
                        if v.shape != params[r].shape:
                            raise ValidationError(
                                f"fixed parameters need {params.shape[1]} values "
                                f"for a {model} item with {K} categories, got {v.size}",
                                where=f"item {self.item_ids_[j]!r}",
                            )
                        params[r] = v
                        free[r] = False
                if model == "1PL" and free.any():
                    params[free, 0] = 1.0
                groups.append(_Group(model, int(K), items, cols, free, params))
        self._groups = groups
        self._data, self._fixed = data, fixed
        any_fixed = bool(set(fixed) & set(self.item_ids_))
        self._latent = any_fixed if self.estimate_latent is None else bool(self.estimate_latent)
        if self._latent and not any_fixed:
            raise ValidationError("the latent mean and SD are identified only with fixed (anchor) items")
        self.latent_mean_, self.latent_sd_ = 0.0, 1.0
        self._run_em(data)
        self._finish(data)
        return self

    # ------------------------------------------------------------------ packing
    def _pack(self, groups) -> np.ndarray:
        parts = []
        for g in groups:
            f = g.free
            if not f.any():
                continue
            if g.model == "1PL":
                parts += [g.params[f][:1, 0], g.params[f, 1]]
            else:
                parts.append(g.params[f].ravel())
        return np.concatenate(parts) if parts else np.zeros(0)

    def _unpack(self, flat) -> list[_Group]:
        out, pos = [], 0
        for g in self._groups:
            params = g.params.copy()
            f = g.free
            nf = int(f.sum())
            if nf:
                if g.model == "1PL":
                    params[f, 0] = flat[pos]
                    params[f, 1] = flat[pos + 1 : pos + 1 + nf]
                    pos += 1 + nf
                else:
                    p = params.shape[1]
                    params[f] = flat[pos : pos + nf * p].reshape(nf, p)
                    pos += nf * p
            out.append(_Group(g.model, g.n_categories, g.items, g.cols, g.free, params))
        return out

    def _pack_grad(self, groups, grads) -> np.ndarray:
        parts = []
        for g, gr in zip(groups, grads, strict=True):
            f = g.free
            if not f.any():
                continue
            if g.model == "1PL":
                parts += [np.array([gr[f, 0].sum()]), gr[f, 1]]
            else:
                parts.append(gr[f].ravel())
        return np.concatenate(parts) if parts else np.zeros(0)

    def _flat_index(self, groups) -> list[np.ndarray]:
        """Per group: (J_g, p) index of each parameter in the flat free vector (-1 = fixed)."""
        out, pos = [], 0
        for g in groups:
            idx = np.full(g.params.shape, -1)
            f = g.free
            nf = int(f.sum())
            if nf:
                if g.model == "1PL":
                    idx[f, 0] = pos
                    idx[f, 1] = pos + 1 + np.arange(nf)
                    pos += 1 + nf
                else:
                    p = g.params.shape[1]
                    idx[f] = pos + np.arange(nf * p).reshape(nf, p)
                    pos += nf * p
            out.append(idx)
        return out

    # ------------------------------------------------------------------ E and M steps
    def _estep(self, groups):
        Q = len(self.theta_)
        logP = np.empty((self._Y.shape[1], Q))
        for g in groups:
            P, _ = kernels.probabilities(g.model, g.params, self.theta_, derivatives=False)
            logP[g.cols.ravel()] = np.log(np.clip(P, kernels.P_FLOOR, 1.0)).reshape(-1, Q)
        LL = self._Y @ logP
        LL += self._log_prior
        m = LL.max(axis=1, keepdims=True)
        W = np.exp(LL - m)
        s = W.sum(axis=1, keepdims=True)
        W /= s
        loglik = float(np.sum(m) + np.sum(np.log(s)))
        return loglik, W, self._Yt @ W

    def _log_prior_item(self, g, params):
        """Log prior per item and its gradient (J, p) and Hessian diagonal contributions."""
        lp = np.zeros(len(params))
        grad = np.zeros_like(params)
        hess = np.zeros(params.shape + (params.shape[1],))
        if g.model == "3PL" and self.c_prior is not None:
            al, be = self.c_prior
            c = expit(params[:, 2])
            lp = (al - 1) * np.log(c) + (be - 1) * np.log1p(-c)
            grad[:, 2] = (al - 1) * (1 - c) - (be - 1) * c
            hess[:, 2, 2] = -(al + be - 2) * c * (1 - c)
        if g.model != "1PL" and self.a_prior is not None:
            mu, sigma = self.a_prior
            a = np.maximum(params[:, 0], 1e-6)
            z = (np.log(a) - mu) / sigma
            lp = lp - np.log(a) - 0.5 * z**2
            grad[:, 0] = -(1.0 + z / sigma) / a
            # the prior's curvature where it is concave; never let it make the Newton matrix indefinite
            hess[:, 0, 0] = -1.0 / (sigma**2 * a**2)
        return lp, grad, hess

    def _objective(self, g, params, R):
        P, _ = kernels.probabilities(g.model, params, self.theta_, derivatives=False)
        val = np.einsum("jkq,jkq->j", R, np.log(np.clip(P, kernels.P_FLOOR, 1.0)))
        return val + self._log_prior_item(g, params)[0]

    def _grad_info(self, g, params, R):
        """Gradient of the expected complete-data log-likelihood and its Fisher information, per item."""
        P, dP = kernels.probabilities(g.model, params, self.theta_)
        Pc = np.clip(P, kernels.P_FLOOR, 1.0)
        grad = np.einsum("jkq,jkqp->jp", R / Pc, dP)
        n = R.sum(axis=1)
        info = np.einsum("jq,jkqp,jkqr->jpr", n, dP, dP / Pc[..., None])
        _, pg, ph = self._log_prior_item(g, params)
        return grad + pg, info - ph

    def _mstep_group(self, g, R, n_newton=3):
        f = g.free
        if not f.any():
            return
        params = g.params[f].copy()
        Rf = R[g.cols[f]]
        sub = _Group(g.model, g.n_categories, g.items[f], g.cols[f], f[f], params)
        for _ in range(n_newton):
            grad, info = self._grad_info(sub, params, Rf)
            if g.model == "1PL":  # common slope: intercepts item by item, then the shared slope
                step = np.zeros_like(params)
                step[:, 1] = grad[:, 1] / np.maximum(info[:, 1, 1], 1e-10)
                params = self._halving(sub, params, step, Rf)
                grad, info = self._grad_info(sub, params, Rf)
                sa = grad[:, 0].sum() / max(info[:, 0, 0].sum(), 1e-10)
                step = np.zeros_like(params)
                step[:, 0] = np.clip(sa, -1.0, 1.0)
                params = self._halving(sub, params, step, Rf, joint=True)
            else:
                p = params.shape[1]
                step = np.linalg.solve(info + 1e-8 * np.eye(p), grad[..., None])[..., 0]
                params = self._halving(sub, params, step, Rf)
        g.params[f] = params

    def _halving(self, g, params, step, R, joint=False):
        """Accept per item the largest of step, step/2, ... that does not lower its objective."""
        step = step / np.maximum(1.0, np.abs(step).max(axis=1, keepdims=True))  # at most 1 logit per step
        q0 = self._objective(g, params, R)
        out = params.copy()
        todo = np.ones(len(params), bool)
        t = 1.0
        for _ in range(12):
            cand = params + t * step
            ok = kernels.valid(g.model, cand)
            q1 = np.where(ok, self._objective(g, cand, R), -np.inf)
            if joint:
                if q1.sum() >= q0.sum() - 1e-10:
                    return cand
            else:
                acc = todo & (q1 >= q0 - 1e-10)
                out[acc] = cand[acc]
                todo &= ~acc
                if not todo.any():
                    return out
            t /= 2
        return out if not joint else params

    def _update_latent(self, W):
        """EM update of the normal latent distribution on the fixed grid (Kim's FIPC with weight updating)."""
        answered = np.asarray(self._Y.getnnz(axis=1) > 0)
        nq = W[answered].sum(axis=0)
        mu = float(nq @ self.theta_ / nq.sum())
        sd = float(np.sqrt(nq @ (self.theta_ - mu) ** 2 / nq.sum()))
        self.latent_mean_, self.latent_sd_ = mu, sd
        w = np.exp(-0.5 * ((self.theta_ - mu) / sd) ** 2)
        self.prior_ = w / w.sum()
        self._log_prior = np.log(np.maximum(self.prior_, 1e-300))

    def _run_em(self, data):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        old = self._pack(self._groups)
        if self._latent:
            old = np.concatenate([old, [0.0, 1.0]])
        self.converged_ = False
        self.loglik_history_ = []
        progress = Progress(
            TextColumn("[bold]EM[/] {task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            transient=True,
            disable=not self.progress,
        )
        with progress:
            task = progress.add_task("", total=self.max_iter)
            for it in range(1, self.max_iter + 1):
                ll, W, R = self._estep(self._groups)
                self.loglik_history_.append(ll)
                if self._latent:
                    self._update_latent(W)
                for g in self._groups:
                    self._mstep_group(g, R)
                new = self._pack(self._groups)
                if self._latent:
                    new = np.concatenate([new, [self.latent_mean_, self.latent_sd_]])
                change = float(np.max(np.abs(new - old))) if new.size else 0.0
                old = new
                progress.update(
                    task, advance=1, description=f"cycle {it} logLik {ll:.3f} change {change:.1e}"
                )
                if change < self.tol:
                    self.converged_ = True
                    break
        self.n_iter_ = it
        if not self.converged_:
            warnings.warn(
                f"EM did not converge in {self.max_iter} cycles (last change {change:.2e})",
                RuntimeWarning,
                stacklevel=3,
            )

    # ------------------------------------------------------------------ results
    def _finish(self, data):
        loglik, W, _ = self._estep(self._groups)
        self.loglik_ = loglik
        self.eap_ = W @ self.theta_
        self.eap_sd_ = np.sqrt(np.maximum(W @ self.theta_**2 - self.eap_**2, 0))
        self.n_persons_ = data.n_persons
        self.n_responses_ = data.n_responses
        self.responses_per_item_ = data.responses_per_item()
        flat = self._pack(self._groups)
        self.n_parameters_ = int(flat.size) + (2 if self._latent else 0)
        self.aic_ = -2 * loglik + 2 * self.n_parameters_
        self.bic_ = -2 * loglik + np.log(data.n_persons) * self.n_parameters_
        J = len(self.item_ids_)
        kmax = int(self.n_categories_.max())
        self.a_ = np.zeros(J)
        self.d_ = np.full((J, kmax - 1), np.nan)
        self.c_ = np.zeros(J)
        for g in self._groups:
            self.a_[g.items] = g.params[:, 0]
            if g.model == "3PL":
                self.d_[g.items, 0] = g.params[:, 1]
                self.c_[g.items] = expit(g.params[:, 2])
            else:
                self.d_[g.items, : g.params.shape[1] - 1] = g.params[:, 1:]
        self.b_ = -self.d_ / self.a_[:, None]
        self.fixed_ = np.zeros(J, bool)
        for g in self._groups:
            self.fixed_[g.items] = ~g.free
        self.compute_standard_errors(self.se_method)

    # ------------------------------------------------------------------ standard errors (standard_errors.py)
    def compute_standard_errors(self, method: str = "observed") -> MMLCalibrator:
        """(Re)compute ``se_``/``covariance_`` at the fitted parameters (e.g. only for the chosen model)."""
        return standard_errors.compute_standard_errors(self, method)

    def bootstrap_standard_errors(self, n_boot: int = 100, seed: int | np.random.Generator = 0) -> dict:
        """Nonparametric bootstrap over persons (an option; slow: ``n_boot`` refits). Sets ``se_`` to
        the bootstrap SDs of a, d, b, c and ``se_method_ = "bootstrap"``; returns it."""
        return standard_errors.bootstrap_standard_errors(self, n_boot, seed)

    # ------------------------------------------------------------------ conveniences
    def item_parameters_table(self):
        return em_tables.item_parameters_table(self)

    def category_probabilities(self, theta: np.ndarray) -> np.ndarray:
        """(T, J, K_max) probabilities of the fitted items at ``theta`` (0 beyond an item's categories)."""
        theta = np.atleast_1d(np.asarray(theta, float))
        out = np.zeros((len(theta), len(self.item_ids_), int(self.n_categories_.max())))
        for g in self._groups:
            P, _ = kernels.probabilities(g.model, g.params, theta, derivatives=False)
            out[:, g.items, : g.n_categories] = np.transpose(P, (2, 0, 1))
        return out

    def params_of(self, item_id: str) -> np.ndarray:
        """Slope-intercept parameter vector of one item (the form ``fixed`` accepts)."""
        j = int(np.flatnonzero(self.item_ids_ == item_id)[0])
        for g in self._groups:
            hit = np.flatnonzero(g.items == j)
            if hit.size:
                return g.params[hit[0]].copy()
        raise KeyError(item_id)


class RaschCalibrator(MMLCalibrator):
    """1PL with a common slope on theta ~ N(0, 1): the Rasch model with the latent SD equal to the slope.

    Same likelihood as mirt's ``itemtype="Rasch"`` (a = 1, latent variance free); Rasch-metric
    difficulties are ``a_ * b_`` and the latent SD is ``a_[0]``.
    """

    def __init__(self, **kw):
        super().__init__(model="1PL", **kw)


class OnePLCalibrator(RaschCalibrator):
    pass


class TwoPLCalibrator(MMLCalibrator):
    def __init__(self, **kw):
        super().__init__(model="2PL", **kw)


class ThreePLCalibrator(MMLCalibrator):
    def __init__(self, **kw):
        super().__init__(model="3PL", **kw)


class GRMCalibrator(MMLCalibrator):
    def __init__(self, **kw):
        super().__init__(model="GRM", **kw)
