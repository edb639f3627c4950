"""Item selection criteria, vectorised over examinees: (R, n) scores, -inf where an item is not eligible.

- ``MaxInfoSelector``: maximum Fisher information at the current theta, one area at a time (the
  eligible area with the largest posterior SE).
- ``DOptimalSelector``: Bayesian D-optimality (Segall 1996). With between-item structure an item j of
  area d adds I_j(theta_d) to one diagonal element of the posterior precision P, so
  det(P + I_j e_d e_d') / det(P) = 1 + I_j * Sigma_post[d, d]: maximising I_j * Sigma_post[d, d] is exact
  and needs no determinant.
- ``ShadowTestSelector``: before each item, a 0-1 program (scipy.optimize.milp) assembles the best full
  remaining test meeting every constraint (length, area min/max, competence spread, enemies); the next
  item is the best free item of that shadow test (van der Linden & Reese 1998).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from adaptive.cat.tables import BankTables


class InformationTable:
    """Fisher information of every test item at each examinee's current theta of its area.

    Tables are float32 (selection only ranks items) and, when an area's items are contiguous in the
    bank (the usual layout), filled by block so each examinee's row is a contiguous copy.
    """

    def __init__(self, tables: BankTables, item_dim: np.ndarray, n_dims: int):
        self.n = tables.n_items
        self.tables = tables
        self.item_dim = item_dim
        self.dim_items = [np.flatnonzero(item_dim == d) for d in range(n_dims)]
        self.dim_info = [np.ascontiguousarray(tables.info[:, idx], dtype=np.float32)
                         for idx in self.dim_items]
        self.dim_slices = [slice(int(idx[0]), int(idx[-1]) + 1)
                           if len(idx) and idx[-1] - idx[0] + 1 == len(idx) else idx
                           for idx in self.dim_items]

    def at(self, theta: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
        """(R, n) information (times ``scale[:, d]`` of each item's area when given); 0 outside the test."""
        gi = self.tables.grid_index(theta)                      # (R, D)
        out = np.zeros((len(theta), self.n), dtype=np.float32)
        for d, cols in enumerate(self.dim_slices):
            block = self.dim_info[d][gi[:, d]]
            if scale is not None:
                block *= scale[:, d : d + 1].astype(np.float32)
            out[:, cols] = block
        return out


def _mask(crit: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    np.copyto(crit, -np.inf, where=~eligible)
    return crit


class RankedCandidates:
    """Sparse selection: per area and grid point the area's items pre-sorted by information.

    For the max-info and D-optimal criteria an item's score is its information times a per-area factor,
    so each examinee's best eligible items of an area are among the first ones in that area's ranking
    at the examinee's grid point. Looking at the first ``depth`` ranked items per area costs
    O(areas x depth) per examinee instead of O(items). Rows where an area's first ``depth`` items hold
    fewer than ``need`` eligible ones are reported so the caller can fall back to the dense criterion;
    the result is then identical to the dense path.
    """

    def __init__(self, info: InformationTable, operational: np.ndarray, depth: int = 48):
        self.info = info
        self.ranked_items, self.ranked_info = [], []
        for d, idx in enumerate(info.dim_items):
            keep = operational[idx]                   # pilot and retired items are never ranked
            table = info.dim_info[d][:, keep]
            order = np.argsort(-table, axis=1, kind="stable")                  # (G, n_d), ties: lower index
            self.ranked_items.append(idx[keep][order].astype(np.intp))
            self.ranked_info.append(np.take_along_axis(table, order, axis=1))
        self.depth = depth
        # When every area has more than ``depth`` ranked items (the usual bank), the first ``depth`` of
        # all areas stack into (D, G, depth) arrays and one examinee's candidates take a few numpy calls
        # instead of a dozen per area; the values and their order are those of the per-area loop.
        self.stacked = None
        if self.ranked_items and all(r.shape[1] > depth for r in self.ranked_items):
            self.stacked = (np.stack([r[:, :depth] for r in self.ranked_items]),
                            np.stack([r[:, :depth] for r in self.ranked_info]),
                            np.arange(len(self.ranked_items))[None, :])

    def candidates(self, theta: np.ndarray, scale: np.ndarray, used: np.ndarray, allowed: np.ndarray,
                   need: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(crit (R, m), item ids (R, m), rows needing the dense path (R,) bool)."""
        gi = self.info.tables.grid_index(theta)
        comp = self.info.tables.item_competence
        if self.stacked is not None:
            items, info, dims = self.stacked
            n_rows, n_dims = gi.shape
            cand = items[dims, gi]                                                  # (R, D, depth)
            crit = info[dims, gi] * scale.astype(np.float32)[:, :, None]
            live = scale > 0
            r3 = np.arange(n_rows)[:, None, None]
            ok = allowed[r3, comp[cand]] & ~used[r3, cand] & live[:, :, None]
            dense = (live & (ok.sum(axis=2) < need)).any(axis=1)
            return (_mask(crit, ok).reshape(n_rows, n_dims * self.depth), cand.reshape(n_rows, -1), dense)
        r = np.arange(len(theta))[:, None]
        crits, ids = [], []
        dense = np.zeros(len(theta), dtype=bool)
        for d in range(len(self.ranked_items)):
            n_d = self.ranked_items[d].shape[1]
            if n_d == 0:
                continue
            depth = min(self.depth, n_d)
            cand = self.ranked_items[d][gi[:, d], :depth]                          # (R, depth)
            crit = self.ranked_info[d][gi[:, d], :depth] * scale[:, d : d + 1].astype(np.float32)
            ok = allowed[r, comp[cand]] & ~used[r, cand] & (scale[:, d : d + 1] > 0)
            if depth < n_d:
                dense |= (scale[:, d] > 0) & (ok.sum(axis=1) < need)
            crits.append(_mask(crit, ok))
            ids.append(cand)
        return np.hstack(crits), np.hstack(ids), dense


class MaxInfoSelector:
    uses_competence_balancing = True
    sparse = True

    def __init__(self, info: InformationTable):
        self.info = info

    def scale(self, theta, cov, area_has) -> np.ndarray:
        """(R, D): 1 for the eligible area with the largest posterior SE, 0 elsewhere."""
        se = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
        target = np.argmax(np.where(area_has, se, -np.inf), axis=1)           # most uncertain area first
        return (np.arange(se.shape[1])[None, :] == target[:, None]).astype(np.float32)

    def criterion(self, theta, cov, eligible, area_has, **_) -> np.ndarray:
        scale = self.scale(theta, cov, area_has)
        dim = np.maximum(self.info.item_dim, 0)
        return _mask(self.info.at(theta, scale), eligible & (scale[:, dim] > 0))


class DOptimalSelector:
    uses_competence_balancing = True
    sparse = True

    def __init__(self, info: InformationTable):
        self.info = info

    def scale(self, theta, cov, area_has) -> np.ndarray:
        return np.diagonal(cov, axis1=1, axis2=2).astype(np.float32)          # Sigma_post[d, d]

    def criterion(self, theta, cov, eligible, area_has, **_) -> np.ndarray:
        return _mask(self.info.at(theta, self.scale(theta, cov, area_has)), eligible)


class ShadowTestSelector:
    """Shadow test with D-optimal item weights; one MIP per examinee and step (not batched)."""

    uses_competence_balancing = False      # the MIP spreads competences itself
    sparse = False

    def __init__(self, info: InformationTable, balancer, max_items: int, pool_per_competence: int = 24):
        self.info = info
        self.balancer = balancer
        self.max_items = max_items
        self.pool_per_competence = pool_per_competence
        t = info.tables
        pairs = [(i, int(j)) for i, e in enumerate(t.enemies) for j in e if j > i]
        self.enemy_pairs = np.array(pairs, dtype=np.intp).reshape(-1, 2)
        # no shadow test holds more than max_per_area / n_competences + 1 items of one competence (the
        # spread constraint); keep 2 spare candidates per competence in case enemies exclude some
        comp_dim = balancer.competence_dim
        n_comps = np.bincount(comp_dim[comp_dim >= 0], minlength=balancer.n_dims)
        need = np.full(len(comp_dim), balancer.max_per_area)
        if balancer.competence_balancing:
            ok = comp_dim >= 0
            need[ok] = np.ceil(balancer.max_per_area / n_comps[comp_dim[ok]]).astype(int) + 1
        self._pool_size = np.minimum(need + 2, pool_per_competence)
        self.n_solved = 0
        self.n_fallback = 0

    def criterion(self, theta, cov, eligible, *, used, n_area, n_competence, n_items, **_) -> np.ndarray:
        weight = self.info.at(theta, np.diagonal(cov, axis1=1, axis2=2)).astype(float)
        crit = np.full(weight.shape, -np.inf)
        for r in range(len(theta)):
            chosen = self._solve(weight[r], used[r], n_area[r], n_competence[r], int(n_items[r]))
            ok = eligible[r] & chosen if chosen is not None else eligible[r]
            if chosen is not None and not ok.any():
                ok = eligible[r]
            crit[r, ok] = weight[r, ok]
        return crit

    def _solve(self, w, used, n_area, n_competence, n_items) -> np.ndarray | None:
        b = self.balancer
        t = self.info.tables
        dim = b.item_dim
        pool = np.flatnonzero(b.operational & ~used & (n_area[np.maximum(dim, 0)] < b.max_per_area))
        if len(pool) == 0:
            return None
        # keep each competence's best candidates: an optimal shadow test never needs more of them
        comp = t.item_competence[pool]
        order = np.lexsort((-w[pool], comp))
        pool, comp = pool[order], comp[order]
        starts = np.r_[0, np.flatnonzero(np.diff(comp)) + 1]
        rank = np.arange(len(pool)) - np.repeat(starts, np.diff(np.r_[starts, len(pool)]))
        keep = rank < self._pool_size[comp]
        pool, comp = pool[keep], comp[keep]
        m = len(pool)
        pdim = dim[pool]
        n_dims = len(n_area)
        # the shadow test fills the remaining test, as far as the areas' maximums and the pool allow
        length = min(self.max_items - n_items, m, int(np.maximum(b.max_per_area - n_area, 0).sum()))
        rows, lb, ub = [np.ones((1, m))], [length], [length]
        area_rows = (pdim[None, :] == np.arange(n_dims)[:, None]).astype(float)
        rows.append(area_rows)
        lb.extend(np.maximum(b.min_per_area - n_area, 0))
        ub.extend(np.maximum(b.max_per_area - n_area, 0))
        spread_rows, spread_lb, spread_ub = [], [], []
        if b.competence_balancing:
            for d in range(n_dims):
                comps = np.flatnonzero(b.competence_dim == d)
                if len(comps) < 2:
                    continue
                q = 1.0 / len(comps)
                for c in comps:
                    # |final n_c - q * final n_d| <= 1
                    spread_rows.append((comp == c).astype(float) - q * area_rows[d])
                    gap = n_competence[c] - q * n_area[d]
                    spread_lb.append(-1.0 - gap)
                    spread_ub.append(1.0 - gap)
        ep = self.enemy_pairs
        enemy = None
        if len(ep):
            pos = np.full(t.n_items, -1)
            pos[pool] = np.arange(m)
            both = (pos[ep[:, 0]] >= 0) & (pos[ep[:, 1]] >= 0)
            if both.any():
                pe = pos[ep[both]]
                k = len(pe)
                enemy = sparse.csr_array((np.ones(2 * k), (np.repeat(np.arange(k), 2), pe.ravel())),
                                         shape=(k, m))
        base = [sparse.csr_array(np.vstack(rows))]
        base_lb, base_ub = list(lb), list(ub)
        if enemy is not None:
            base.append(enemy)
            base_lb.extend([0.0] * enemy.shape[0])
            base_ub.extend([1.0] * enemy.shape[0])
        attempts = [(base + [sparse.csr_array(np.vstack(spread_rows))], base_lb + spread_lb,
                     base_ub + spread_ub)] if spread_rows else []
        attempts.append((base, base_lb, base_ub))     # relax the spread if it cannot be met
        for blocks, lo, hi in attempts:
            res = milp(-w[pool], integrality=np.ones(m), bounds=Bounds(0, 1),
                       constraints=LinearConstraint(sparse.vstack(blocks), lo, hi),
                       options={"time_limit": 5.0})
            if res.x is not None:
                self.n_solved += 1
                chosen = np.zeros(t.n_items, dtype=bool)
                chosen[pool[res.x > 0.5]] = True
                return chosen
        self.n_fallback += 1
        return None


def make_selector(config, info: InformationTable, balancer):
    if config.selection == "max-info":
        return MaxInfoSelector(info)
    if config.selection == "d-optimal":
        return DOptimalSelector(info)
    return ShadowTestSelector(info, balancer, config.max_items, config.shadow_pool_per_competence)
