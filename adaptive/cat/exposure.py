"""Exposure control: turn a selection criterion (R, n) into one item per examinee.

The caller passes uniform draws ``u`` (R, >= N_UNIFORMS) so a session (draws derived from its seed and
position) and the batched simulator (one generator for all simulees) share the same code.
"""

from __future__ import annotations

import numpy as np

N_UNIFORMS = 64        # uniforms per selection step; Sympson-Hetter looks at most this far down the list


def _top_sorted(crit: np.ndarray, k: int, ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Item ids (R, k) of each row's k best columns, best first (ties: lower item id first), and their
    values. ``ids`` (R, m) maps columns to item ids (default: column j is item j)."""
    k = min(k, crit.shape[1])
    if k == crit.shape[1]:
        part = np.broadcast_to(np.arange(k), crit.shape)
    else:
        part = np.argpartition(-crit, k - 1, axis=1)[:, :k]
    r = np.arange(len(crit))[:, None]
    vals = crit[r, part]
    items = part if ids is None else ids[r, part]
    order = np.lexsort((items, -vals), axis=1)
    return items[r, order], vals[r, order]


class MaxCriterion:
    """No exposure control: the best item."""

    need = 1

    def choose(self, crit: np.ndarray, u: np.ndarray, ids: np.ndarray | None = None) -> np.ndarray:
        items, vals = _top_sorted(crit, 1, ids)
        return np.where(np.isfinite(vals[:, 0]), items[:, 0], -1)


class Randomesque:
    """Kingsbury-Zara randomesque: one of the k best items, uniformly."""

    def __init__(self, k: int = 5):
        self.k = k
        self.need = k

    def choose(self, crit: np.ndarray, u: np.ndarray, ids: np.ndarray | None = None) -> np.ndarray:
        items, vals = _top_sorted(crit, self.k, ids)
        k_eff = np.isfinite(vals).sum(axis=1)
        pick = np.minimum((u[:, 0] * k_eff).astype(np.intp), np.maximum(k_eff - 1, 0))
        return np.where(k_eff > 0, items[np.arange(len(items)), pick], -1)


class SympsonHetter:
    """Sympson-Hetter: go down the ranked list, giving item i with probability K_i.

    A rejected item is out of this examinee's test (``rejected`` lists them so the engine can mark them
    used), as in the original procedure; when every ranked item is rejected, none is put out of the test
    and the one with the largest K is given.
    ``lotteries`` counts how often each item reached the lottery (the selection rate P(S_i) of the
    calibration). ``K`` comes from :func:`adaptive.cat.simulation.calibrate_sympson_hetter`.
    """

    need = N_UNIFORMS

    def __init__(self, k_values: np.ndarray):
        self.k_values = np.asarray(k_values, dtype=float)
        self.lotteries = np.zeros(len(self.k_values), dtype=np.int64)
        self.rejected: tuple[np.ndarray, np.ndarray] = (np.zeros(0, np.intp), np.zeros(0, np.intp))

    def choose(self, crit: np.ndarray, u: np.ndarray, ids: np.ndarray | None = None) -> np.ndarray:
        items, vals = _top_sorted(crit, N_UNIFORMS, ids)
        finite = np.isfinite(vals)
        k_ranked = self.k_values[items]
        accept = finite & (u[:, : items.shape[1]] < k_ranked)
        some = accept.any(axis=1)
        # every candidate rejected: give the one with the largest K (the least exposure-prone; ties go
        # to the better rank), not the best one, whose forced administrations would push its exposure
        # over the target whatever K it gets
        fallback = np.argmax(np.where(finite, k_ranked, -1.0), axis=1)
        first = np.where(some, np.argmax(accept, axis=1), fallback)
        col = np.arange(items.shape[1])[None, :]
        reached = finite & ((col <= first[:, None]) | ~some[:, None])
        np.add.at(self.lotteries, items[reached], 1)
        rejected = reached & (col < first[:, None]) & some[:, None]
        self.rejected = (np.nonzero(rejected)[0], items[rejected])
        return np.where(finite[:, 0], items[np.arange(len(items)), first], -1)


def make_exposure(config, tables) -> MaxCriterion | Randomesque | SympsonHetter:
    if config.exposure is None:
        return MaxCriterion()
    if config.exposure == "randomesque":
        return Randomesque(config.randomesque_k)
    k_values = np.ones(tables.n_items)
    for item_id, k in (config.exposure_parameters or {}).items():
        i = tables.index.get(item_id)
        if i is not None:
            k_values[i] = float(k)
    return SympsonHetter(k_values)
