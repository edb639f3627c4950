"""Item fit and checks on a fitted :class:`MMLCalibrator`.

- S-X2 (Orlando & Thissen 2000) on persons with complete responses to the fitted items: observed vs
  expected category counts per summed-score group (expected via the Lord-Wingersky recursion with
  the item left out), score groups 0 and max dropped, adjacent groups merged while an expected cell
  is below ``mincell`` = 1 (mirt's rule), df = cells - groups - free item parameters.
- For sparse (CAT-log) designs S-X2 is undefined; ``loo_x2`` is reported instead (``fit_test`` says
  which): like S-X2 it conditions on the person's other responses, through the leave-one-out
  posterior predictive, and compares observed and predicted score sums in 10 groups of predictions.
  (Yen's Q1 on EAP groups is available as ``q1_x2`` but is liberal on short tests.)
- Infit / outfit mean squares from leave-one-out posterior predictions (expected 1; review outside
  [0.7, 1.3]); the EAP plug-in version with ``method="eap"``.
- Classical statistics: p-value (mean score / max score) and the point-biserial correlation with the
  rest score (mean proportion score on the person's other items, so it also works for sparse data).
- Dimensionality: eigenvalues of the pairwise-complete Pearson inter-item correlation matrix compared
  with a parallel analysis simulated from the fitted unidimensional model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import chi2

from adaptive.calibration import kernels
from adaptive.calibration.em import MMLCalibrator

MIN_COMPLETE_FOR_SX2 = 100


def _observed_categories(cal: MMLCalibrator) -> np.ndarray:
    """Recoded category (0..K-1) of each observed response (aligned with ``cal._obs``)."""
    _, cols, items = cal._obs
    offsets = np.concatenate([[0], np.cumsum(cal.n_categories_)])
    return cols - offsets[items]


def _dense_categories(cal: MMLCalibrator, persons_subset: np.ndarray | None = None) -> np.ndarray:
    """(N, J) recoded category (0..K-1), -1 = missing; only for ``persons_subset`` rows if given."""
    persons, _, items = cal._obs
    x = _observed_categories(cal)
    n = len(cal.person_ids_)
    if persons_subset is not None:
        pos = np.full(n, -1)
        pos[persons_subset] = np.arange(len(persons_subset))
        keep = pos[persons] >= 0
        persons, items, x, n = pos[persons[keep]], items[keep], x[keep], len(persons_subset)
    X = np.full((n, len(cal.item_ids_)), -1, dtype=np.int64)
    X[persons, items] = x
    return X


def _lord_wingersky(P: np.ndarray) -> np.ndarray:
    """P (J, K, Q) -> (S+1, Q) summed-score distribution given theta."""
    Q = P.shape[2]
    f = np.ones((1, Q))
    for j in range(P.shape[0]):
        K = int(np.sum(P[j].sum(axis=1) > 0))
        new = np.zeros((f.shape[0] + K - 1, Q))
        for k in range(K):
            new[k : k + f.shape[0]] += f * P[j, k]
        f = new
    return f


def _merge_rows(O: np.ndarray, E: np.ndarray, mincell: float = 1.0):
    """mirt's collapsing: drop empty score groups, then merge groups with a small expected cell."""
    keep = O.sum(axis=1) > 0
    O, E = O[keep], E[keep]
    if O.shape[1] > 2:  # polytomous: first merge small categories within a score group
        for r in range(O.shape[0]):
            o, e = list(O[r]), list(E[r])
            while len(e) > 2 and min(e) < mincell:
                w = len(e) - 1 - int(np.argmin(e[::-1]))
                pick = 1 if w == 0 else (w - 1 if w == len(e) - 1 or e[w - 1] <= e[w + 1] else w + 1)
                e[pick] += e[w]
                o[pick] += o[w]
                del e[w], o[w]
            E[r] = e + [0.0] * (O.shape[1] - len(e))
            O[r] = o + [0.0] * (O.shape[1] - len(o))
    while O.shape[0] > 1:
        bad = np.flatnonzero(np.any((E < mincell) & (E != 0), axis=1))
        if not bad.size:
            break
        w = bad[0]
        if w == 0:
            pick = 1
        elif w == O.shape[0] - 1:
            pick = w - 1
        else:
            pick = w - 1 if O[w - 1].sum() <= O[w + 1].sum() else w + 1
        O[pick] += O[w]
        E[pick] += E[w]
        O, E = np.delete(O, w, axis=0), np.delete(E, w, axis=0)
    return O, E


def s_x2(cal: MMLCalibrator, mincell: float = 1.0) -> pd.DataFrame:
    """S-X2, df and p per item on complete response vectors (NaN when fewer than 100 complete)."""
    J = len(cal.item_ids_)
    complete = np.flatnonzero(np.bincount(cal._obs[0], minlength=len(cal.person_ids_)) == J)
    out = pd.DataFrame({"S_X2": np.nan, "df_S_X2": np.nan, "p_S_X2": np.nan}, index=cal.item_ids_)
    if len(complete) < MIN_COMPLETE_FOR_SX2 or J < 3:
        return out
    Xc = _dense_categories(cal, complete)
    P = np.transpose(cal.category_probabilities(cal.theta_), (1, 2, 0))  # (J, K, Q)
    prior = cal.prior_
    total = Xc.sum(axis=1)
    f_all = _lord_wingersky(P)
    S = f_all.shape[0] - 1
    denom = f_all @ prior  # P(score s)
    n_s = np.bincount(total, minlength=S + 1)
    npar = _free_params_per_item(cal)
    for j in range(J):
        K = int(cal.n_categories_[j])
        f_rest = _lord_wingersky(np.delete(P, j, axis=0))
        E = np.zeros((S + 1, K))
        for k in range(K):
            E[k : k + f_rest.shape[0], k] = (f_rest * P[j, k]) @ prior
        with np.errstate(invalid="ignore", divide="ignore"):
            E = E / denom[:, None] * n_s[:, None]
        O = np.zeros((S + 1, K))
        np.add.at(O, (total, Xc[:, j]), 1)
        O, E = O[1:-1].copy(), E[1:-1].copy()  # scores 0 and max carry no information
        O, E = _merge_rows(O, E, mincell)
        cells = E > 0
        x2 = float(np.sum((O[cells] - E[cells]) ** 2 / E[cells]))
        df = int(cells.sum() - O.shape[0] - npar[j])
        out.iloc[j] = [x2, df, chi2.sf(x2, df) if df > 0 else np.nan]
    return out


def _free_params_per_item(cal: MMLCalibrator) -> np.ndarray:
    n = np.zeros(len(cal.item_ids_))
    for g in cal._groups:
        p = g.params.shape[1]
        n[g.items] = np.where(g.free, 1 if g.model == "1PL" else p, 0)  # 1PL: the slope is shared
    return n


def q1_x2(cal: MMLCalibrator, n_groups: int = 10) -> pd.DataFrame:
    """Yen's Q1-type X2 with persons grouped by EAP deciles among those who answered each item."""
    X = _dense_categories(cal)
    npar = _free_params_per_item(cal)
    rows = []
    for j in range(X.shape[1]):
        ans = np.flatnonzero(X[:, j] >= 0)
        K = int(cal.n_categories_[j])
        th = cal.eap_[ans]
        edges = np.quantile(th, np.linspace(0, 1, n_groups + 1))
        grp = np.clip(np.searchsorted(edges, th, side="right") - 1, 0, n_groups - 1)
        probs = cal.category_probabilities(th)[:, j, :K]
        x2, cells = 0.0, 0
        for g in range(n_groups):
            m = grp == g
            if m.sum() < 5:
                continue
            obs = np.bincount(X[ans[m], j], minlength=K)
            exp = probs[m].sum(axis=0)
            ok = exp > 0
            x2 += float(np.sum((obs[ok] - exp[ok]) ** 2 / exp[ok]))
            cells += int(ok.sum()) - 1
        df = cells - npar[j]
        rows.append((x2, df, chi2.sf(x2, df) if df > 0 else np.nan))
    return pd.DataFrame(rows, columns=["Q1_X2", "df_Q1", "p_Q1"], index=cal.item_ids_)


def loo_predictive(cal: MMLCalibrator, chunk: int = 50000):
    """Per observed response: expected score and variance under the person's leave-one-out posterior.

    The posterior of theta given the person's *other* responses (their full posterior divided by the
    item's likelihood term) predicts the response without using it, so residuals are not shrunk the
    way EAP residuals are and have variance 1 under the model, in complete and sparse designs alike.
    Returns (x, expected, variance, item index) arrays over observations.
    """
    persons, cols, items = cal._obs
    _, W, _ = cal._estep(cal._groups)
    Q = len(cal.theta_)
    C = cal._Y.shape[1]
    P = np.empty((C, Q))
    for g in cal._groups:
        Pg, _ = kernels.probabilities(g.model, g.params, cal.theta_, derivatives=False)
        P[g.cols.ravel()] = np.clip(Pg, kernels.P_FLOOR, 1.0).reshape(-1, Q)
    offsets = np.concatenate([[0], np.cumsum(cal.n_categories_)])
    x = (cols - offsets[items]).astype(float)
    e = np.empty(len(x))
    v = np.empty(len(x))
    kmax = int(cal.n_categories_.max())
    for s in range(0, len(x), chunk):
        o = slice(s, s + chunk)
        w = W[persons[o]] / P[cols[o]]
        w /= w.sum(axis=1, keepdims=True)
        m1 = np.zeros(w.shape[0])
        m2 = np.zeros(w.shape[0])
        base = offsets[items[o]]
        K = cal.n_categories_[items[o]]
        for k in range(1, kmax):
            has = k < K
            pk = np.zeros(w.shape[0])
            pk[has] = np.einsum("oq,oq->o", w[has], P[base[has] + k])
            m1 += k * pk
            m2 += k * k * pk
        e[o] = m1
        v[o] = np.maximum(m2 - m1**2, 1e-10)
    return x, e, v, items


def loo_x2(cal: MMLCalibrator, n_groups: int = 10, _pred=None) -> pd.DataFrame:
    """Item fit for any design: persons grouped by their leave-one-out predicted score (deciles);
    X2 = sum over groups of (observed - expected score sum)^2 / predicted variance sum, df = groups -
    free item parameters."""
    x, e, v, items = _pred if _pred is not None else loo_predictive(cal)
    npar = _free_params_per_item(cal)
    J = len(cal.item_ids_)
    order = np.argsort(items, kind="stable")
    bounds = np.searchsorted(items[order], np.arange(J + 1))
    rows = []
    for j in range(J):
        o = order[bounds[j] : bounds[j + 1]]
        G = int(min(n_groups, max(len(o) // 20, 1)))
        rank = np.argsort(np.argsort(e[o], kind="stable"), kind="stable")
        grp = rank * G // len(o)
        O = np.bincount(grp, weights=x[o], minlength=G)
        E = np.bincount(grp, weights=e[o], minlength=G)
        V = np.bincount(grp, weights=v[o], minlength=G)
        x2 = float(np.sum((O - E) ** 2 / V))
        df = G - npar[j]
        rows.append((x2, df, chi2.sf(x2, df) if df > 0 else np.nan))
    return pd.DataFrame(rows, columns=["LOO_X2", "df_LOO", "p_LOO"], index=cal.item_ids_)


def infit_outfit(cal: MMLCalibrator, method: str = "loo", _pred=None) -> pd.DataFrame:
    """Infit (information-weighted) and outfit (unweighted) mean squares; expected value 1.

    ``method="loo"`` (default) uses leave-one-out posterior predictions (see :func:`loo_predictive`);
    ``"eap"`` the classical plug-in of the EAP score (shrunk: outfit tends to fall below 1 on short tests).
    """
    if method == "loo":
        x, e, v, items = _pred if _pred is not None else loo_predictive(cal)
    else:
        persons, _, items = cal._obs
        x = _observed_categories(cal).astype(float)
        e, v = np.empty(len(x)), np.empty(len(x))
        for j in range(len(cal.item_ids_)):
            m = items == j
            K = int(cal.n_categories_[j])
            pr = cal.category_probabilities(cal.eap_[persons[m]])[:, j, :K]
            k = np.arange(K)
            e[m] = pr @ k
            v[m] = np.maximum(pr @ k**2 - e[m] ** 2, 1e-10)
    J = len(cal.item_ids_)
    r2 = (x - e) ** 2
    n = np.bincount(items, minlength=J)
    outfit = np.bincount(items, weights=r2 / v, minlength=J) / n
    infit = np.bincount(items, weights=r2, minlength=J) / np.bincount(items, weights=v, minlength=J)
    return pd.DataFrame({"infit": infit, "outfit": outfit}, index=cal.item_ids_)


def classical(cal: MMLCalibrator) -> pd.DataFrame:
    """p-value (mean proportion of the maximum score) and point-biserial with the rest score."""
    persons, _, items = cal._obs
    maxs = (cal.n_categories_ - 1).astype(float)
    x = _observed_categories(cal) / maxs[items]
    N = len(cal.person_ids_)
    tot = np.bincount(persons, weights=x, minlength=N)
    cnt = np.bincount(persons, minlength=N)
    J = len(cal.item_ids_)
    pval = np.bincount(items, weights=x, minlength=J) / np.bincount(items, minlength=J)
    # correlation of the item score with the rest score, per item, from bincount moments (vectorised)
    rest_n = cnt[persons] - 1
    ok = rest_n > 0
    it, xi = items[ok], x[ok]
    rest = (tot[persons][ok] - xi) / rest_n[ok]
    n = np.bincount(it, minlength=J).astype(float)

    def mom(w):
        return np.bincount(it, weights=w, minlength=J)

    with np.errstate(invalid="ignore", divide="ignore"):
        cov = mom(xi * rest) / n - mom(xi) * mom(rest) / n**2
        var_x = mom(xi**2) / n - (mom(xi) / n) ** 2
        var_r = mom(rest**2) / n - (mom(rest) / n) ** 2
        pbis = cov / np.sqrt(var_x * var_r)
    pbis[(n < 3) | (var_x <= 1e-12) | (var_r <= 1e-12)] = np.nan
    return pd.DataFrame({"p_value": pval, "point_biserial": pbis}, index=cal.item_ids_)


def _pairwise_correlation(rows, cols, x, n_persons, n_items, min_pairs):
    """Pairwise-complete Pearson correlations from sparse triplets (sums over persons with both items)."""
    M = sp.csr_matrix((np.ones(len(x)), (rows, cols)), shape=(n_persons, n_items))
    X = sp.csr_matrix((x.astype(float), (rows, cols)), shape=(n_persons, n_items))
    X2 = sp.csr_matrix((x.astype(float) ** 2, (rows, cols)), shape=(n_persons, n_items))
    n = (M.T @ M).toarray()
    sx = (X.T @ M).toarray()  # [j, k]: sum of x_j over persons who answered j and k
    sxx = (X2.T @ M).toarray()
    sxy = (X.T @ X).toarray()
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = n * sxy - sx * sx.T
        var_j = n * sxx - sx**2
        R = cov / np.sqrt(var_j * var_j.T)
    R[(n < min_pairs) | ~np.isfinite(R)] = 0.0  # too little overlap: treated alike in the reference data
    np.fill_diagonal(R, 1.0)
    return R, n


def dimensionality(cal: MMLCalibrator, min_pairs: int = 30, n_replications: int = 10, seed: int = 0) -> dict:
    """Eigenvalues of the inter-item correlation matrix, with a model-based parallel analysis.

    Pearson correlations (pairwise complete; pairs with fewer than ``min_pairs`` common persons set to 0)
    are computed for the data and for ``n_replications`` data sets simulated from the fitted
    unidimensional model with the same missing-data pattern. The area is read as unidimensional when the
    observed second eigenvalue does not exceed the 95th percentile of the simulated ones: phi-coefficient
    and sparse-design artefacts are then calibrated away. The plain ratio lambda1 / lambda2 is reported too.
    """
    persons, cols, items = cal._obs
    offsets = np.concatenate([[0], np.cumsum(cal.n_categories_)])
    x = cols - offsets[items]
    N, J = len(cal.person_ids_), len(cal.item_ids_)
    if J < 3:
        return {
            "n_items": J,
            "eigenvalues": [],
            "ratio_1_2": float("nan"),
            "unidimensional": None,
            "note": "fewer than 3 items",
        }
    R, n = _pairwise_correlation(persons, items, x, N, J, min_pairs)
    ev = np.sort(np.linalg.eigvalsh(R))[::-1]
    rng = np.random.default_rng(seed)
    sim_l2 = []
    kmax = int(cal.n_categories_.max())
    for _ in range(n_replications):
        theta = rng.standard_normal(N) * getattr(cal, "latent_sd_", 1.0) + getattr(cal, "latent_mean_", 0.0)
        xs = np.empty(len(x), dtype=np.int64)
        order = np.argsort(persons, kind="stable")
        for s in range(0, len(order), 200000):
            o = order[s : s + 200000]
            up = np.unique(persons[o])
            probs = cal.category_probabilities(theta[up])  # (n_up, J, K)
            pos = np.searchsorted(up, persons[o])
            cum = np.cumsum(probs[pos, items[o]], axis=1)
            u = rng.random((len(o), 1))
            xs[o] = np.minimum((cum < u).sum(axis=1), kmax - 1)
        Rs, _ = _pairwise_correlation(persons, items, xs, N, J, min_pairs)
        sim_l2.append(np.sort(np.linalg.eigvalsh(Rs))[-2])
    q95 = float(np.quantile(sim_l2, 0.95)) if sim_l2 else float("nan")
    ratio = float(ev[0] / ev[1]) if ev[1] > 0 else float("inf")
    return {
        "n_items": J,
        "pair_coverage": float(np.mean(n[np.triu_indices(J, 1)] >= min_pairs)),
        "eigenvalues": [round(float(v), 4) for v in ev[:5]],
        "ratio_1_2": ratio,
        "lambda2_simulated_q95": q95,
        "unidimensional": bool(ev[1] <= q95) if sim_l2 else None,
        "note": "Pearson inter-item correlations; parallel analysis against the fitted unidimensional model",
    }


def item_fit_table(
    cal: MMLCalibrator,
    b_range: tuple[float, float] = (-4.0, 4.0),
    min_a: float = 0.4,
    alpha: float = 0.01,
    min_responses: int = 100,
) -> pd.DataFrame:
    """All item statistics plus ``flags`` (semicolon-separated reasons to review)."""
    pred = loo_predictive(cal)
    fit = s_x2(cal)
    if fit["S_X2"].notna().any():
        fit = fit.rename(columns={"S_X2": "fit_X2", "df_S_X2": "fit_df", "p_S_X2": "fit_p"})
        fit["fit_test"] = "S-X2"
    else:
        fit = loo_x2(cal, _pred=pred).rename(
            columns={"LOO_X2": "fit_X2", "df_LOO": "fit_df", "p_LOO": "fit_p"}
        )
        fit["fit_test"] = "LOO-X2"
    table = pd.concat([fit, infit_outfit(cal, _pred=pred), classical(cal)], axis=1)
    flags = []
    for j, iid in enumerate(cal.item_ids_):
        f = []
        if np.isfinite(table.loc[iid, "fit_p"]) and table.loc[iid, "fit_p"] < alpha:
            f.append(f"misfit ({table.loc[iid, 'fit_test']} p<{alpha})")
        if cal.a_[j] < min_a:
            f.append(f"low discrimination (a<{min_a})")
        K = int(cal.n_categories_[j])
        b = cal.b_[j, : K - 1]
        if np.any(b < b_range[0]) or np.any(b > b_range[1]):
            f.append(f"b outside [{b_range[0]:g}, {b_range[1]:g}]")
        if cal.responses_per_item_[j] < min_responses:
            f.append(f"few responses (<{min_responses})")
        if not (0.7 <= table.loc[iid, "infit"] <= 1.3 and 0.7 <= table.loc[iid, "outfit"] <= 1.3):
            f.append("infit/outfit outside [0.7, 1.3]")
        flags.append("; ".join(f))
    table["flags"] = flags
    return table
