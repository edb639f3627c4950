"""Bank arrays for the CAT hot path: item information and score functions tabulated on a theta grid.

Selecting an item and updating theta happen thousands of times per second, so the IRT functions of
``adaptive.irt`` are evaluated once per bank on a fine grid and looked up afterwards (nearest grid
point for selection, linear interpolation for estimation). With a 0.05 step the interpolation error
of the score function is far below a simulee's posterior SD.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

GRID_LO, GRID_HI, GRID_STEP = -5.0, 5.0, 0.05


@dataclass
class BankTables:
    """Plain arrays describing a bank, indexed by item position in ``bank.items``."""

    item_ids: list[str]
    index: dict[str, int]
    area_ids: list[str]               # bank area order
    item_area: np.ndarray             # (n,) index into area_ids
    competence_ids: list[str]
    item_competence: np.ndarray       # (n,) index into competence_ids
    competence_area: np.ndarray       # (C,) area index of each competence
    status: np.ndarray                # (n,) str
    enemies: list[np.ndarray]         # per item: indices of its enemies (symmetric)
    enemy_ptr: np.ndarray             # (n+1,) CSR form of ``enemies``: enemy_idx[ptr[i]:ptr[i+1]]
    enemy_idx: np.ndarray
    n_categories: np.ndarray          # (n,)
    max_score: np.ndarray             # (n,) highest score of each item
    grid: np.ndarray                  # (G,)
    info: np.ndarray                  # (G, n) Fisher information on the grid
    info_by_item: np.ndarray          # (n, G) the same, item-major (one contiguous row per item)
    score_fn: np.ndarray              # (n, K, G) d/dtheta log P(X = k | theta)
    derived: dict = field(default_factory=dict)   # per-area-set structures sessions share (engine cache)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def grid_index(self, theta: np.ndarray) -> np.ndarray:
        """Nearest grid point of each theta (clipped to the grid)."""
        gi = np.rint((np.asarray(theta) - GRID_LO) / GRID_STEP).astype(np.intp)
        return np.clip(gi, 0, len(self.grid) - 1)

    def interpolate(self, table: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Linear interpolation along the last (grid) axis of ``table`` at ``theta``.

        ``table`` (..., G) and ``theta`` (...) broadcast over the leading axes.
        """
        pos = np.clip((np.asarray(theta) - GRID_LO) / GRID_STEP, 0.0, len(self.grid) - 1.000001)
        lo = pos.astype(np.intp)
        w = pos - lo
        t0 = np.take_along_axis(table, lo[..., None], axis=-1)[..., 0]
        t1 = np.take_along_axis(table, lo[..., None] + 1, axis=-1)[..., 0]
        return t0 + w * (t1 - t0)


def build_tables(bank) -> BankTables:
    params = bank.parameters()
    items = list(bank.items)
    item_ids = [it.id for it in items]
    index = {iid: i for i, iid in enumerate(item_ids)}
    area_ids = [str(a) for a in bank.area_ids]
    item_area = np.asarray(bank.item_areas(), dtype=np.intp)
    competence_ids: list[str] = []
    comp_pos: dict[str, int] = {}
    item_competence = np.empty(len(items), dtype=np.intp)
    for i, it in enumerate(items):
        if it.competence not in comp_pos:
            comp_pos[it.competence] = len(competence_ids)
            competence_ids.append(it.competence)
        item_competence[i] = comp_pos[it.competence]
    competence_area = np.zeros(len(competence_ids), dtype=np.intp)
    competence_area[item_competence] = item_area
    enemy_sets: list[set[int]] = [set() for _ in items]
    for i, it in enumerate(items):
        for e in getattr(it, "enemies", None) or []:
            j = index.get(e)
            if j is not None and j != i:   # unknown enemy ids are the bank validator's business
                enemy_sets[i].add(j)
                enemy_sets[j].add(i)
    enemies = [np.array(sorted(s), dtype=np.intp) for s in enemy_sets]
    enemy_ptr = np.concatenate(([0], np.cumsum([len(e) for e in enemies]))).astype(np.intp)
    enemy_idx = np.concatenate(enemies + [np.zeros(0, dtype=np.intp)]).astype(np.intp)

    grid = np.round(np.arange(GRID_LO, GRID_HI + GRID_STEP / 2, GRID_STEP), 10)
    # analytic information and scores from adaptive.irt; the score is zero for categories an item does
    # not have, so a bad lookup cannot move theta
    info, score_fn = params.information_and_scores(grid)                     # (G, n), (G, n, K)
    info = np.ascontiguousarray(info, dtype=float)
    n_categories = np.asarray(params.n_categories, dtype=np.intp)
    # float32 halves the largest table; the running sums it feeds stay float64
    score_fn = np.ascontiguousarray(np.transpose(score_fn, (1, 2, 0)), dtype=np.float32)   # (n, K, G)
    return BankTables(
        item_ids=item_ids, index=index, area_ids=area_ids, item_area=item_area,
        competence_ids=competence_ids, item_competence=item_competence, competence_area=competence_area,
        status=np.array([it.status for it in items]), enemies=enemies, enemy_ptr=enemy_ptr,
        enemy_idx=enemy_idx, n_categories=n_categories,
        max_score=n_categories - 1, grid=grid, info=info, info_by_item=np.ascontiguousarray(info.T),
        score_fn=score_fn,
    )


def per_bank(build: Callable[[Any], T]) -> Callable[[Any], T]:
    """``build(bank)`` computed once per bank object and dropped with it (an ``ItemBank`` is immutable
    once built, and sessions on the same bank share what is derived from it)."""
    cache: dict[int, tuple[weakref.ref, T]] = {}

    @functools.wraps(build)
    def cached(bank) -> T:  # noqa: ANN001
        key = id(bank)
        hit = cache.get(key)
        if hit is not None and hit[0]() is bank:
            return hit[1]
        value = build(bank)
        try:
            ref = weakref.ref(bank, lambda _r, k=key: cache.pop(k, None))
        except TypeError:  # not weak-referenceable: do not cache
            return value
        cache[key] = (ref, value)
        return value

    return cached


tables_for = per_bank(build_tables)
