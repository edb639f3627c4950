"""Exposure control: turn a selection criterion (R, n) into one item per examinee.

The caller passes uniform draws ``u`` (R, >= N_UNIFORMS) so a session (draws derived from its seed and
position) and the batched simulator (one generator for all simulees) share the same code.
"""

from __future__ import annotations

import numpy as np

N_UNIFORMS = 64        # uniforms per selection step; Sympson-Hetter looks at most this far down the list


def _top_sorted(crit: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (R, k) of each row's k best items, best first (ties: lower index first), and their values."""
    k = min(k, crit.shape[1])
    if k == crit.shape[1]:
        part = np.broadcast_to(np.arange(k), crit.shape).copy()
    else:
        part = np.sort(np.argpartition(-crit, k - 1, axis=1)[:, :k], axis=1)
    vals = np.take_along_axis(crit, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


class MaxCriterion:
    """No exposure control: the best item."""

    def choose(self, crit: np.ndarray, u: np.ndarray) -> np.ndarray:
        best = np.argmax(crit, axis=1)
        ok = np.isfinite(crit[np.arange(len(crit)), best])
        return np.where(ok, best, -1)


class Randomesque:
    """Kingsbury-Zara randomesque: one of the k best items, uniformly."""

    def __init__(self, k: int = 5):
        self.k = k

    def choose(self, crit: np.ndarray, u: np.ndarray) -> np.ndarray:
        items, vals = _top_sorted(crit, self.k)
        k_eff = np.isfinite(vals).sum(axis=1)
        pick = np.minimum((u[:, 0] * k_eff).astype(np.intp), np.maximum(k_eff - 1, 0))
        return np.where(k_eff > 0, items[np.arange(len(items)), pick], -1)


class SympsonHetter:
    """Sympson-Hetter: go down the ranked list, giving item i with probability K_i.

    A rejected item is passed over for this step only; when every ranked item is rejected the best is
    given. ``K`` comes from :func:`adaptive.cat.simulation.calibrate_sympson_hetter`.
    """

    def __init__(self, k_values: np.ndarray):
        self.k_values = np.asarray(k_values, dtype=float)

    def choose(self, crit: np.ndarray, u: np.ndarray) -> np.ndarray:
        items, vals = _top_sorted(crit, N_UNIFORMS)
        finite = np.isfinite(vals)
        accept = finite & (u[:, : items.shape[1]] < self.k_values[items])
        first = np.where(accept.any(axis=1), np.argmax(accept, axis=1), 0)
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
