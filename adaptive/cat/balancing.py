"""Content balancing: which items may be given next (per examinee, vectorised over examinees).

- no repeats, never an enemy of an item already given;
- at most ``max_items_per_area`` per area, and once the remaining test is just long enough to meet the
  areas' minimums, only areas still below their minimum;
- Kingsbury-Zara spread: within an area, only the competences furthest below their target share
  (equal shares of the area's items) that still have items, so an area's items spread over its
  competences.

Per examinee the engine keeps, per competence, how many items are still available (not given, not
blocked by an enemy), so the competence rule costs O(competences), not O(items).
"""

from __future__ import annotations

import numpy as np

from adaptive.cat.tables import BankTables

_NEVER = np.iinfo(np.int64).max      # count of a competence that cannot be chosen


class ContentBalancer:
    def __init__(self, tables: BankTables, item_dim: np.ndarray, n_dims: int, max_items: int,
                 min_items_per_area: int, max_items_per_area: int, competence_balancing: bool = True):
        self.tables = tables
        self.item_dim = item_dim                  # (n,) area dimension of each item, -1 outside the test
        self.n_dims = n_dims
        self.max_items = max_items
        self.min_per_area = min_items_per_area
        self.max_per_area = max_items_per_area
        self.competence_balancing = competence_balancing
        in_test = item_dim >= 0
        self.operational = in_test & (tables.status == "active")
        self.pilot = in_test & (tables.status == "pilot")
        comp_dim = np.full(len(tables.competence_ids), -1, dtype=np.intp)
        comp_dim[tables.item_competence[in_test]] = item_dim[in_test]
        self.competence_dim = comp_dim            # (C,) area dimension of each competence, -1 outside
        self.area_competences = [np.flatnonzero(comp_dim == d) for d in range(n_dims)]
        # operational items per competence: the starting 'available' counts
        self.competence_pool = np.bincount(tables.item_competence[self.operational],
                                           minlength=len(tables.competence_ids))
        # the tested competences grouped by area, for per-area reductions in one call (reduceat)
        sizes = [len(c) for c in self.area_competences]
        self._grouped = None
        if sizes and min(sizes) > 0:
            self._grouped = (np.concatenate(self.area_competences),
                             np.r_[0, np.cumsum(sizes)[:-1]].astype(np.intp),
                             np.repeat(np.arange(n_dims), sizes))

    def area_any(self, per_competence: np.ndarray) -> np.ndarray:
        """(R, D): whether any competence of each area is set in ``per_competence`` (R, C) bool."""
        if self._grouped is not None:
            order, starts, _ = self._grouped
            return np.logical_or.reduceat(per_competence[:, order], starts, axis=1)
        out = np.zeros((len(per_competence), self.n_dims), dtype=bool)
        for d, comps in enumerate(self.area_competences):
            out[:, d] = per_competence[:, comps].any(axis=1)
        return out

    def open_areas(self, n_area: np.ndarray, n_items: np.ndarray, area_done: np.ndarray,
                   min_items: int) -> np.ndarray:
        """(R, D) areas that may receive the next operational item."""
        below_max = n_area < self.max_per_area
        open_ = below_max & ~area_done
        # every area done but the test is still shorter than min_items: keep going in any area
        short = (n_items < min_items) & ~open_.any(axis=1)
        open_[short] = below_max[short]
        # the remaining slots are just enough for the areas' minimums: only deficient areas
        deficit = np.maximum(self.min_per_area - n_area, 0)
        tight = (self.max_items - n_items) <= deficit.sum(axis=1)
        open_[tight] &= deficit[tight] > 0
        return open_

    def allowed_competences(self, available: np.ndarray, n_competence: np.ndarray, open_areas: np.ndarray,
                            spread: bool | None = None) -> np.ndarray:
        """(R, C) competences the next item may come from."""
        dim = np.maximum(self.competence_dim, 0)
        ok = (available > 0) & (self.competence_dim >= 0) & open_areas[:, dim]
        if self.competence_balancing if spread is None else spread:
            count = np.where(ok, n_competence, _NEVER)
            if self._grouped is not None:      # the loop below in one pass: per-area minimum by reduceat
                order, starts, area = self._grouped
                c = count[:, order]
                ok[:, order] &= c == np.minimum.reduceat(c, starts, axis=1)[:, area]
                return ok
            for comps in self.area_competences:
                if len(comps):
                    c = count[:, comps]
                    ok[:, comps] &= c == c.min(axis=1, keepdims=True)
        return ok

    def eligible(self, used: np.ndarray, allowed_competences: np.ndarray) -> np.ndarray:
        """(R, n) operational items that may be given next (``used``: given or blocked by an enemy)."""
        return self.operational & ~used & allowed_competences[:, self.tables.item_competence]

    def pilot_eligible(self, used: np.ndarray) -> np.ndarray:
        return self.pilot & ~used
