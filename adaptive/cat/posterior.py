"""Multidimensional posterior of many examinees at once (between-item structure), on grid tables.

Each item loads on one area, so the log-likelihood is a sum of one-dimensional parts, one per area.
A running sum of the items' score functions and information on the theta grid is all the state an
examinee needs; the MAP under the correlated normal prior follows by Fisher scoring and the Laplace
covariance is ``(Sigma^-1 + diag(I_d(theta)))^-1``. An answer in one area moves the others through
the prior correlations. ``adaptive.estimation.MultidimensionalPosterior`` is the reference
implementation; this one trades exactness at the 1e-3 level for batching across examinees.
"""

from __future__ import annotations

import numpy as np

from adaptive.cat.tables import GRID_HI, GRID_LO, GRID_STEP, BankTables

try:  # the LAPACK kernel np.linalg.solve calls, without its ~10 us of checks (our matrices are SPD)
    from numpy.linalg import _umath_linalg

    def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return _umath_linalg.solve(a, b, signature="dd->d")
except ImportError:  # pragma: no cover - another numpy layout
    _solve = np.linalg.solve


class BatchPosterior:
    """MAP + Laplace posterior for ``n`` examinees over ``D`` areas."""

    def __init__(self, tables: BankTables, prior_mean: np.ndarray, prior_cov: np.ndarray, n: int = 1):
        self.tables = tables
        d = prior_cov.shape[0]
        self.prior_mean = np.broadcast_to(np.asarray(prior_mean, dtype=float), (n, d)).copy()
        self.prior_cov = np.asarray(prior_cov, dtype=float)
        self.prior_precision = np.linalg.inv(self.prior_cov)
        # per examinee and area: summed score function [0] and summed information [1] on the grid
        self.sums = np.zeros((n, d, 2, len(tables.grid)))
        self._eye = np.eye(d)
        self._pair = np.array([0, len(tables.grid)])       # flat offsets of the two tables
        self.theta = self.prior_mean.copy()
        self.cov = np.broadcast_to(self.prior_cov, (n, d, d)).copy()

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diagonal(self.cov, axis1=1, axis2=2))

    def add(self, rows: np.ndarray, dims: np.ndarray, items: np.ndarray, scores: np.ndarray) -> None:
        """Add one scored item per row (dims: area dimension of each item)."""
        self.sums[rows, dims, 0] += self.tables.score_fn[items, scores]
        self.sums[rows, dims, 1] += self.tables.info_by_item[items]

    def _at(self, rows: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Summed score function and information of ``rows`` at theta (R, D), linearly interpolated."""
        n_dims, n_grid = self.sums.shape[1], self.sums.shape[3]
        pos = np.minimum(np.maximum((theta - GRID_LO) / GRID_STEP, 0.0), n_grid - 1.000001)
        lo = pos.astype(np.intp)
        flat = ((rows[:, None] * n_dims + np.arange(n_dims)) * (2 * n_grid) + lo)[..., None] + self._pair
        raw = self.sums.reshape(-1)
        v0 = raw[flat]
        v = v0 + (pos - lo)[..., None] * (raw[flat + 1] - v0)      # (R, D, 2)
        return v[..., 0], v[..., 1]

    def update(self, rows: np.ndarray, max_iter: int = 25, tol: float = 1e-3) -> None:
        """Re-estimate theta and covariance of ``rows`` by Fisher scoring (warm start from the current
        theta); 1e-3 is far below any posterior SD a CAT reaches."""
        rows = np.asarray(rows, dtype=np.intp)
        if len(rows) == 0:
            return
        if len(rows) == 1:
            self._update_one(rows, max_iter, tol)
        else:
            self._update_many(rows, max_iter, tol)

    def _update_many(self, rows: np.ndarray, max_iter: int = 25, tol: float = 1e-3) -> None:
        theta = self.theta[rows]
        mu = self.prior_mean[rows]
        lam, eye = self.prior_precision, self._eye
        live = np.arange(len(rows))
        lo_bound, hi_bound = GRID_LO + 0.1, GRID_HI - 0.1
        for _ in range(max_iter):
            th = theta[live]
            score, info = self._at(rows[live], th)
            g = score - (th - mu[live]) @ lam
            step = np.linalg.solve(lam + info[:, :, None] * eye, g[..., None])[..., 0]
            step = np.minimum(np.maximum(step, -1.0), 1.0)   # damp the first steps from a far start
            theta[live] = np.minimum(np.maximum(th + step, lo_bound), hi_bound)
            live = live[np.abs(step).max(axis=1) > tol]
            if len(live) == 0:
                break
        _, info = self._at(rows, theta)
        self.theta[rows] = theta
        self.cov[rows] = np.linalg.inv(lam + info[:, :, None] * eye)

    def _update_one(self, rows: np.ndarray, max_iter: int, tol: float) -> None:
        """``update`` for one examinee (a live session's step): the same arithmetic, operation for
        operation (so the same theta to the last bit), without the bookkeeping of converged rows."""
        n_dims, n_grid = self.sums.shape[1], self.sums.shape[3]
        r = rows[0]
        theta = self.theta[r : r + 1].copy()
        mu = self.prior_mean[r : r + 1]
        lam, eye = self.prior_precision, self._eye
        lo_bound, hi_bound = GRID_LO + 0.1, GRID_HI - 0.1
        raw = self.sums.reshape(-1)
        base = ((r * n_dims + np.arange(n_dims)) * (2 * n_grid))[None, :, None] + self._pair   # (1, D, 2)
        top = n_grid - 1.000001

        def at(th: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            pos = np.minimum(np.maximum((th - GRID_LO) / GRID_STEP, 0.0), top)
            lo = pos.astype(np.intp)
            flat = base + lo[..., None]
            v0 = raw[flat]
            v = v0 + (pos - lo)[..., None] * (raw[flat + 1] - v0)
            return v[..., 0], v[..., 1]

        for _ in range(max_iter):
            score, info = at(theta)
            g = score - (theta - mu) @ lam
            step = _solve(lam + info[:, :, None] * eye, g[..., None])[..., 0]
            step = np.minimum(np.maximum(step, -1.0), 1.0)
            theta = np.minimum(np.maximum(theta + step, lo_bound), hi_bound)
            if not np.abs(step).max() > tol:
                break
        _, info = at(theta)
        self.theta[r] = theta[0]
        self.cov[r] = np.linalg.inv(lam + info[:, :, None] * eye)[0]
