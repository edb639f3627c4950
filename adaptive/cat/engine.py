"""The CAT state machine for many examinees at once; a session is the case of one examinee.

State is plain arrays (one row per examinee). Each step: ``select`` (pilot slot or content-balanced,
exposure-controlled adaptive choice) then ``record`` (count, update the posterior, apply stopping).
Random choices use uniforms passed in by the caller, so results depend only on those draws.
"""

from __future__ import annotations

import numpy as np

from adaptive.cat.balancing import ContentBalancer
from adaptive.cat.exposure import make_exposure
from adaptive.cat.posterior import BatchPosterior
from adaptive.cat.selection import InformationTable, RankedCandidates, make_selector
from adaptive.cat.start import prior, resolve_areas
from adaptive.cat.stopping import StoppingRule
from adaptive.cat.tables import tables_for

SPARSE_SELECTION = True     # False forces the dense path (the tests check both give the same items)


def pilot_slots(config, n_areas: int, rng: np.random.Generator, n: int = 1) -> np.ndarray:
    """(n, n_pilot) positions (0-based, never the first) at which pilot items are seeded.

    They fall within the shortest possible test so every pilot item is given.
    """
    if config.n_pilot == 0:
        return np.zeros((n, 0), dtype=np.intp)
    shortest = max(config.min_items, min(config.max_items, n_areas * config.min_items_per_area), 1)
    span = shortest + config.n_pilot - 1                  # positions 1..span
    keys = rng.random((n, span))
    return np.sort(np.argsort(keys, axis=1)[:, : config.n_pilot] + 1, axis=1)


class CatEngine:
    def __init__(self, bank, config, n: int = 1, start_theta: dict[str, float] | None = None,
                 prior_mean: np.ndarray | None = None, pilot_positions: np.ndarray | None = None):
        config.validate()
        self.bank = bank
        self.config = config
        self.n = n
        self.tables = t = tables_for(bank)
        self.areas = resolve_areas(bank, config.areas)
        mean, cov = prior(bank, self.areas, start_theta, config.prior_sd, config.independent_areas,
                          config.prior_correlation_shrinkage)
        if prior_mean is not None:
            mean = np.asarray(prior_mean, dtype=float)
        d = len(self.areas)
        dim_of_bank_area = np.full(len(t.area_ids), -1, dtype=np.intp)
        for k, a in enumerate(self.areas):
            dim_of_bank_area[t.area_ids.index(a)] = k
        self.item_dim = dim_of_bank_area[t.item_area]
        cut_scores = getattr(bank, "cut_scores", None) or {}
        self.cuts = (np.array([cut_scores[a] for a in self.areas], dtype=float)
                     if all(a in cut_scores for a in self.areas) else None)
        self.balancer = ContentBalancer(t, self.item_dim, d, config.max_items, config.min_items_per_area,
                                        config.max_items_per_area, config.competence_balancing)
        key = tuple(self.areas)           # structures that depend only on the bank and the tested areas
        if ("info", key) not in t.derived:
            t.derived[("info", key)] = InformationTable(t, self.item_dim, d)
        self.info = t.derived[("info", key)]
        self.selector = make_selector(config, self.info, self.balancer)
        self.exposure = make_exposure(config, t, bank, self.item_dim)
        # sparse path (exact, see RankedCandidates) unless the criterion needs every item's score
        sparse = SPARSE_SELECTION and self.selector.sparse and self.exposure.need <= 16
        self.ranked = None
        if sparse:
            if ("ranked", key) not in t.derived:
                t.derived[("ranked", key)] = RankedCandidates(self.info, self.balancer.operational)
            self.ranked = t.derived[("ranked", key)]
        self.success = None
        if config.gentle_start:
            if "success" not in t.derived:   # (n, G) expected score / max score on the grid
                p = bank.parameters()
                t.derived["success"] = (p.expected_score(t.grid) / np.maximum(t.max_score, 1)).T.copy()
            self.success = t.derived["success"]
        self.stopping = StoppingRule(config, self.cuts)
        self.posterior = BatchPosterior(t, mean, cov, n)
        self._enemy_ptr, self._enemy_idx = t.enemy_ptr, t.enemy_idx

        self.administered = np.zeros((n, t.n_items), dtype=bool)
        self.used = np.zeros((n, t.n_items), dtype=bool)       # given or blocked by a given enemy
        self.available = np.broadcast_to(self.balancer.competence_pool,
                                         (n, len(t.competence_ids))).astype(np.int64)
        self.n_area = np.zeros((n, d), dtype=np.int64)
        self.n_competence = np.zeros((n, len(t.competence_ids)), dtype=np.int64)
        self.n_items = np.zeros(n, dtype=np.int64)            # operational items answered
        self.position = np.zeros(n, dtype=np.int64)           # all items answered, pilots included
        self.area_done = np.zeros((n, d), dtype=bool)
        self.finished = np.zeros(n, dtype=bool)
        self.pilot_positions = (np.zeros((n, 0), dtype=np.intp) if pilot_positions is None
                                else np.asarray(pilot_positions, dtype=np.intp).reshape(n, -1))
        self.excluded = self._excluded(config.exclude_items)
        if self.excluded.any():          # an eligibility mask: out of every examinee's test from the start
            self.used[:, self.excluded] = True
            self.available -= np.bincount(t.item_competence[self.excluded & self.balancer.operational],
                                          minlength=len(t.competence_ids))
        self._update_stopping(np.arange(n))

    def _excluded(self, item_ids: list[str] | None) -> np.ndarray:
        """(n_items,) items ``config.exclude_items`` keeps out of the test, after the fall-backs: an area
        with fewer than ``min_items_per_area`` operational items left gets its excluded items back, and
        so does the whole test if fewer than ``min_items`` are left."""
        t, b = self.tables, self.balancer
        mask = np.zeros(t.n_items, dtype=bool)
        idx = [t.index[i] for i in item_ids or () if i in t.index]
        if not idx:
            return mask
        mask[idx] = True
        mask &= self.item_dim >= 0                             # items outside the tested areas: irrelevant
        left = np.bincount(self.item_dim[b.operational & ~mask], minlength=b.n_dims)
        for d in np.flatnonzero(left < self.config.min_items_per_area):
            mask[self.item_dim == d] = False
        if (b.operational & ~mask).sum() < self.config.min_items:
            mask[:] = False
        return mask

    # -- selection -------------------------------------------------------------------------------
    def select(self, rows: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Next item (bank index, -1 when none is left) and whether it is a pilot item, for ``rows``."""
        rows = np.asarray(rows, dtype=np.intp)
        items = np.full(len(rows), -1, dtype=np.intp)
        if self.pilot_positions.shape[1] == 0:           # no pilot items in this test
            is_pilot = np.zeros(len(rows), dtype=bool)
        else:
            is_pilot = (self.pilot_positions[rows] == self.position[rows, None]).any(axis=1)
        if is_pilot.any():
            pr = np.flatnonzero(is_pilot)
            ok = self.balancer.pilot_eligible(self.used[rows[pr]])
            count = ok.sum(axis=1)
            # the j-th eligible pilot item, j uniform: cumulative count picks it without a loop
            j = np.minimum((u[pr, 0] * count).astype(np.intp), np.maximum(count - 1, 0))
            pick = np.argmax(np.cumsum(ok, axis=1) > j[:, None], axis=1)
            items[pr] = np.where(count > 0, pick, -1)
            is_pilot[pr] &= count > 0
        op = np.flatnonzero(~is_pilot)
        if len(op):
            items[op] = self._select_operational(rows[op], u[op])
        return items, is_pilot

    def _select_operational(self, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
        b = self.balancer
        open_areas = b.open_areas(self.n_area[rows], self.n_items[rows], self.area_done[rows],
                                  self.config.min_items)
        allowed = b.allowed_competences(self.available[rows], self.n_competence[rows], open_areas,
                                        spread=b.competence_balancing
                                        and self.selector.uses_competence_balancing)
        area_has = b.area_any(allowed)
        theta, cov = self.posterior.theta[rows], self.posterior.cov[rows]
        items = np.full(len(rows), -1, dtype=np.intp)
        dense = np.ones(len(rows), dtype=bool)
        if self.ranked is not None:
            scale = self.selector.scale(theta, cov, area_has)
            crit, ids, dense = self.ranked.candidates(theta, scale, self.used[rows], allowed,
                                                      self.exposure.need)
            if self.success is not None:     # gentle start needs the eligibility mask: dense path
                dense = dense | (self.n_items[rows] < self.config.gentle_start)
            sparse = ~dense
            items[sparse] = self.exposure.choose(crit[sparse], u[sparse], ids[sparse], theta[sparse])
        if dense.any():
            dr = rows[dense]
            eligible = b.eligible(self.used[dr], allowed[dense])
            if self.success is not None:
                eligible = self._gentle(eligible, theta[dense], self.n_items[dr])
            crit = self.selector.criterion(theta[dense], cov[dense], eligible, area_has=area_has[dense],
                                           used=self.used[dr], n_area=self.n_area[dr],
                                           n_competence=self.n_competence[dr], n_items=self.n_items[dr])
            items[dense] = self.exposure.choose(crit, u[dense], theta=theta[dense])
            rejected = getattr(self.exposure, "rejected", None)
            if rejected is not None and len(rejected[0]):
                # Sympson-Hetter: a rejected item is out of this examinee's test
                self._make_unavailable(dr[rejected[0]], rejected[1])
        return items

    def _gentle(self, eligible: np.ndarray, theta: np.ndarray, n_items: np.ndarray) -> np.ndarray:
        """Gentle start: rows still within their first ``gentle_start`` items keep only the eligible items
        with predicted success >= ``gentle_p`` at their current estimate (all eligible items if none)."""
        g = np.flatnonzero(n_items < self.config.gentle_start)
        if not len(g):
            return eligible
        th = theta[g][:, np.maximum(self.item_dim, 0)]                 # (Rg, n) theta of each item's area
        p = self.success[np.arange(self.tables.n_items)[None, :], self.tables.grid_index(th)]
        easy = eligible[g] & (p >= self.config.gentle_p)
        eligible = eligible.copy()
        eligible[g] = np.where(easy.any(axis=1)[:, None], easy, eligible[g])
        return eligible

    def _make_unavailable(self, rr: np.ndarray, cols: np.ndarray) -> None:
        newly = ~self.used[rr, cols] & self.balancer.operational[cols]
        self.used[rr, cols] = True
        np.subtract.at(self.available, (rr[newly], self.tables.item_competence[cols[newly]]), 1)

    # -- recording -------------------------------------------------------------------------------
    def record(self, rows: np.ndarray, items: np.ndarray, scores: np.ndarray, is_pilot: np.ndarray) -> None:
        """Record one answered item per row; pilot answers are logged but never scored into theta."""
        rows = np.asarray(rows, dtype=np.intp)
        items = np.asarray(items, dtype=np.intp)
        scores = np.asarray(scores, dtype=np.intp)
        is_pilot = np.asarray(is_pilot, dtype=bool)
        t = self.tables
        self.administered[rows, items] = True
        # the item and its enemies become unavailable; count them out of their competences once
        counts = self._enemy_ptr[items + 1] - self._enemy_ptr[items]
        if counts.any():
            offsets = np.cumsum(counts) - counts
            starts = np.repeat(self._enemy_ptr[items] - offsets, counts)
            cols = np.concatenate((items, self._enemy_idx[starts + np.arange(counts.sum())]))
            self._make_unavailable(np.concatenate((rows, np.repeat(rows, counts))), cols)
        else:
            self._make_unavailable(rows, items)
        self.position[rows] += 1
        op = ~is_pilot
        r, i, s = rows[op], items[op], scores[op]
        dims = self.item_dim[i]
        self.n_area[r, dims] += 1
        self.n_competence[r, t.item_competence[i]] += 1
        self.n_items[r] += 1
        self.posterior.add(r, dims, i, s)
        self.posterior.update(r)
        self._update_stopping(r)

    def _update_stopping(self, rows: np.ndarray) -> None:
        p = self.posterior
        self.area_done[rows] = self.stopping.area_done(p.theta[rows], p.se[rows], self.n_area[rows])
        self.finished[rows] = self.stopping.finished(self.n_items[rows], self.area_done[rows])
